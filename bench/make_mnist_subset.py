"""Write the small MNIST subset that the training tests use (tests/data/mnist-small).

    python bench/make_mnist_subset.py [MNIST_FOLDER]

MNIST_FOLDER contains the four original gzip-compressed IDX files (default:
../shared/data/mnist from the repository root). The subset is the first
2,000 training and the first 500 test images with their labels, written as
gzip-compressed IDX files with a zero timestamp, so a rerun with the same
zlib build reproduces the committed files byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from cnndsl.training.idx import IDX_NAMES, IMAGES_MAGIC, LABELS_MAGIC, find_idx_file, read_idx_file, write_idx_file

REPO = Path(__file__).resolve().parent.parent
TRAIN_COUNT, TEST_COUNT = 2000, 500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mnist", nargs="?", default=str(REPO.parent / "shared" / "data" / "mnist"),
                        help="folder with the original MNIST IDX files")
    parser.add_argument("-o", "--output", default=str(REPO / "tests" / "data" / "mnist-small"),
                        help="folder for the subset (default: tests/data/mnist-small)")
    arguments = parser.parse_args()

    source, target = Path(arguments.mnist), Path(arguments.output)
    target.mkdir(parents=True, exist_ok=True)
    counts = {"train": TRAIN_COUNT, "test": TEST_COUNT}
    for key, name in IDX_NAMES.items():
        magic = IMAGES_MAGIC if key.endswith("images") else LABELS_MAGIC
        values = read_idx_file(find_idx_file(source, name), magic)
        path = target / f"{name}.gz"
        write_idx_file(path, values[: counts[key.split("_")[0]]])
        print(f"{path}: {hashlib.md5(path.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()
