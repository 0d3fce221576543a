"""Training data sources, and the plain errors for corrupt or mismatched data.

Every data file here is either the committed MNIST subset in tests/data or
made by the test itself in a temporary folder.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from cnndsl.cli import main
from cnndsl.training import idx
from cnndsl.training.data import Fitting, fit_images, load_dataset, split_fraction
from cnndsl.training.errors import DataError

MNIST_SMALL = Path(__file__).resolve().parent / "data" / "mnist-small"
MNIST_INPUT = Fitting((28, 28, 1))
SMALL_SPEC = "input 28x28x1\nconv 4 k3 relu > maxpool 2\nflatten > dense 10 softmax\n"


@pytest.fixture
def mnist_copy(tmp_path) -> Path:
    """A writable copy of the MNIST subset, to damage one file at a time."""
    folder = tmp_path / "mnist"
    shutil.copytree(MNIST_SMALL, folder)
    return folder


def train_error(tmp_path, capsys, *arguments: str) -> str:
    """Run `cnndsl train` in this process on a small spec; return standard error and check the exit code."""
    spec = tmp_path / "small.cnn"
    spec.write_text(SMALL_SPEC)
    code = main(["train", str(spec), "-o", str(tmp_path / "out"), *arguments])
    error = capsys.readouterr().err
    assert code == 1, error
    assert "Traceback" not in error
    assert not (tmp_path / "out").exists()
    return error


def save_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


# ---- IDX ------------------------------------------------------------------------------------

def test_mnist_subset_loads():
    dataset = load_dataset(str(MNIST_SMALL), MNIST_INPUT)
    assert dataset.x_train.shape == (2000, 28, 28, 1)
    assert dataset.x_test.shape == (500, 28, 28, 1)
    assert dataset.x_train.dtype == np.uint8
    assert dataset.class_names == tuple(str(digit) for digit in range(10))
    assert dataset.y_train[:5].tolist() == [5, 0, 4, 1, 9]  # the first MNIST training labels


def test_mnist_subset_checksums():
    readme = (MNIST_SMALL.parent / "README.md").read_text()
    for path in sorted(MNIST_SMALL.iterdir()):
        digest = hashlib.md5(path.read_bytes()).hexdigest()
        assert f"| {path.name} | {path.stat().st_size} | {digest} |" in readme, path.name


def test_idx_round_trip_raw_and_gzip(tmp_path):
    values = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("images-idx3-ubyte", "images-idx3-ubyte.gz"):
        idx.write_idx_file(tmp_path / name, values)
        assert np.array_equal(idx.read_idx_file(tmp_path / name, idx.IMAGES_MAGIC), values)


def test_bad_magic_number(mnist_copy, tmp_path, capsys):
    path = mnist_copy / "train-labels-idx1-ubyte.gz"
    idx.write_idx_file(path, np.zeros((5, 2, 2), dtype=np.uint8))

    error = train_error(tmp_path, capsys, "--data", str(mnist_copy))

    assert f"{path} has the magic number 2051 (0x00000803), not 2049 (0x00000801)" in error


def test_truncated_gzip(mnist_copy, tmp_path, capsys):
    path = mnist_copy / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:5000])

    error = train_error(tmp_path, capsys, "--data", str(mnist_copy))

    assert f"{path} is truncated: the gzip stream ends early" in error


def test_truncated_values(mnist_copy, tmp_path, capsys):
    path = mnist_copy / "t10k-images-idx3-ubyte.gz"
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[:-100]))

    error = train_error(tmp_path, capsys, "--data", str(mnist_copy))

    assert f"{path} is truncated: its header announces 500 images of 28x28 (392,000 bytes of values)" in error


def test_bytes_after_values(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3]))
    with pytest.raises(DataError, match="has 1 bytes after the 2 labels"):
        idx.read_idx_file(path, idx.LABELS_MAGIC)


def test_not_gzip_despite_name(mnist_copy, tmp_path, capsys):
    path = mnist_copy / "train-labels-idx1-ubyte.gz"
    path.write_bytes(b"\x1f\x8b" + b"not really gzip data")

    error = train_error(tmp_path, capsys, "--data", str(mnist_copy))

    assert f"{path} is not a valid gzip file" in error


def test_label_count_mismatch(mnist_copy, tmp_path, capsys):
    labels = mnist_copy / "train-labels-idx1-ubyte.gz"
    idx.write_idx_file(labels, np.zeros(1999, dtype=np.uint8))

    error = train_error(tmp_path, capsys, "--data", str(mnist_copy))

    assert f"{labels} has 1,999 labels but {mnist_copy / 'train-images-idx3-ubyte.gz'} has 2,000 images" in error


def test_missing_test_files(mnist_copy, tmp_path, capsys):
    (mnist_copy / "t10k-labels-idx1-ubyte.gz").unlink()

    error = train_error(tmp_path, capsys, "--data", str(mnist_copy))

    assert f"{mnist_copy / 't10k-labels-idx1-ubyte'}(.gz) not found" in error


def test_raw_idx_files_load(tmp_path):
    for path in MNIST_SMALL.iterdir():
        (tmp_path / path.name.removesuffix(".gz")).write_bytes(gzip.decompress(path.read_bytes()))
    assert load_dataset(str(tmp_path), MNIST_INPUT).x_test.shape == (500, 28, 28, 1)


def test_wrong_image_size_suggests_resize(tmp_path, capsys):
    spec = tmp_path / "small.cnn"
    spec.write_text("input 32x32x1\nconv 4 k3 relu\nflatten > dense 10 softmax\n")

    code = main(["train", str(spec), "--data", str(MNIST_SMALL), "-o", str(tmp_path / "out")])

    error = capsys.readouterr().err
    assert code == 1
    assert f"{MNIST_SMALL / 'train-images-idx3-ubyte.gz'} contains 28x28x1 images but the network's input is " \
           "32x32; add --resize" in error


def test_resize_and_convert_channels():
    dataset = load_dataset(str(MNIST_SMALL), Fitting((32, 32, 3), resize=True, convert_channels=True))
    assert dataset.x_train.shape == (2000, 32, 32, 3)
    assert np.array_equal(dataset.x_train[..., 0], dataset.x_train[..., 2])


def test_grayscale_network_on_rgb_needs_flag():
    rgb = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    with pytest.raises(DataError, match="add --convert-channels"):
        fit_images(rgb, Fitting((4, 4, 1)), "rgb.npz")
    gray = fit_images(rgb + 255, Fitting((4, 4, 1), convert_channels=True), "rgb.npz")
    assert gray.shape == (2, 4, 4, 1)
    assert gray.max() == 255


def test_flat_input_gets_flattened_images():
    dataset = load_dataset(str(MNIST_SMALL), Fitting((784,)))
    assert dataset.x_train.shape == (2000, 784)


# ---- npz ------------------------------------------------------------------------------------

def test_npz_loads(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x_train=np.zeros((6, 28, 28), np.uint8), y_train=np.arange(6) % 3,
             x_test=np.zeros((3, 28, 28), np.uint8), y_test=np.array([[0], [1], [2]]))
    dataset = load_dataset(str(path), MNIST_INPUT)
    assert dataset.x_train.shape == (6, 28, 28, 1)
    assert dataset.y_test.tolist() == [0, 1, 2]
    assert dataset.class_count == 3


def test_npz_missing_arrays(tmp_path, capsys):
    path = tmp_path / "data.npz"
    np.savez(path, x_train=np.zeros((6, 28, 28), np.uint8), y_train=np.zeros(6))

    error = train_error(tmp_path, capsys, "--data", str(path))

    assert f"{path} lacks the arrays x_test, y_test (it has x_train, y_train)" in error


def test_npz_label_count_mismatch(tmp_path, capsys):
    path = tmp_path / "data.npz"
    np.savez(path, x_train=np.zeros((6, 28, 28), np.uint8), y_train=np.zeros(5, int),
             x_test=np.zeros((3, 28, 28), np.uint8), y_test=np.zeros(3, int))

    error = train_error(tmp_path, capsys, "--data", str(path))

    assert f"{path}: y_train has 5 labels but x_train has 6 images" in error


def test_npz_not_a_zip(tmp_path, capsys):
    path = tmp_path / "data.npz"
    path.write_text("not numpy")

    error = train_error(tmp_path, capsys, "--data", str(path))

    assert f"{path} is not a readable .npz file" in error


def test_too_few_outputs_for_labels(tmp_path, capsys):
    spec = tmp_path / "five.cnn"
    spec.write_text("input 28x28x1\nflatten > dense 5 softmax\n")

    code = main(["train", str(spec), "--data", str(MNIST_SMALL), "-o", str(tmp_path / "out")])

    error = capsys.readouterr().err
    assert code == 1
    assert "has 10 classes (labels 0 to 9) but the network outputs 5 scores; end the spec with " \
           "`dense 10 softmax`" in error


def test_missing_source(tmp_path, capsys):
    error = train_error(tmp_path, capsys, "--data", str(tmp_path / "nowhere"))
    assert "nowhere: no such file or folder" in error


# ---- Image folders --------------------------------------------------------------------------

def make_image_folder(root: Path, size: int = 28, mode_rgb: bool = False) -> Path:
    generator = np.random.default_rng(0)
    for label in ("cat", "dog"):
        for index in range(4):
            shape = (size, size, 3) if mode_rgb else (size, size)
            save_png(root / label / f"{index}.png", generator.integers(0, 256, shape, dtype=np.uint8))
    return root


def test_image_folder_loads_with_test_split(tmp_path):
    folder = make_image_folder(tmp_path / "pets")
    (folder / "README.txt").write_text("files beside the class folders are ignored")
    (folder / "cat" / ".DS_Store").write_bytes(b"hidden files are skipped")

    dataset = load_dataset(str(folder), Fitting((28, 28, 1), test_split=0.25))

    assert dataset.class_names == ("cat", "dog")
    assert dataset.x_train.shape == (6, 28, 28, 1)
    assert sorted(dataset.y_test.tolist()) == [0, 1]


def test_image_folder_train_and_test(tmp_path):
    make_image_folder(tmp_path / "pets" / "train")
    make_image_folder(tmp_path / "pets" / "test")
    dataset = load_dataset(str(tmp_path / "pets"), MNIST_INPUT)
    assert len(dataset.x_train) == 8
    assert len(dataset.x_test) == 8


def test_image_folder_non_image_file(tmp_path, capsys):
    folder = make_image_folder(tmp_path / "pets")
    notes = folder / "dog" / "notes.txt"
    notes.write_text("not an image")

    error = train_error(tmp_path, capsys, "--data", str(folder))

    assert f"{notes} is not an image file (supported: .bmp, .gif, .jpeg, .jpg, .png)" in error


def test_image_folder_unreadable_image(tmp_path, capsys):
    folder = make_image_folder(tmp_path / "pets")
    broken = folder / "cat" / "broken.png"
    broken.write_bytes(b"this is no PNG")

    error = train_error(tmp_path, capsys, "--data", str(folder))

    assert f"{broken} is not a readable image although its name ends in .png" in error


def test_image_folder_wrong_size(tmp_path, capsys):
    folder = make_image_folder(tmp_path / "pets", size=20)

    error = train_error(tmp_path, capsys, "--data", str(folder))

    assert f"{folder / 'cat' / '0.png'} is 20x20 but the network's input is 28x28 (8 images differ); " \
           "add --resize" in error


def test_image_folder_colour_mismatch(tmp_path, capsys):
    folder = make_image_folder(tmp_path / "pets", mode_rgb=True)

    error = train_error(tmp_path, capsys, "--data", str(folder))

    assert "is RGB but the network's input has 1 channel (8 images differ); add --convert-channels" in error


def test_image_folder_resized_and_converted(tmp_path):
    folder = make_image_folder(tmp_path / "pets", size=20, mode_rgb=True)
    dataset = load_dataset(str(folder), Fitting((28, 28, 1), resize=True, convert_channels=True, test_split=0.5))
    assert dataset.x_train.shape == (4, 28, 28, 1)


def test_image_folder_needs_two_classes(tmp_path, capsys):
    save_png(tmp_path / "pets" / "cat" / "0.png", np.zeros((28, 28), np.uint8))
    error = train_error(tmp_path, capsys, "--data", str(tmp_path / "pets"))
    assert "has 1 class folder; an image folder needs one sub-folder per class and at least two classes" in error


# ---- Splits and the default data set --------------------------------------------------------

def test_split_keeps_class_balance_and_repeats():
    labels = np.repeat(np.arange(4), 10)
    images = np.arange(40)
    first = split_fraction(images, labels, 0.2, seed=3)
    second = split_fraction(images, labels, 0.2, seed=3)

    assert np.bincount(first[3]).tolist() == [2, 2, 2, 2]
    assert np.array_equal(first[2], second[2])
    assert len(np.intersect1d(first[0], first[2])) == 0


def test_digits_default_fits_input():
    dataset = load_dataset(None, Fitting((28, 28, 3), seed=1))
    assert dataset.x_train.shape[1:] == (28, 28, 3)
    assert len(dataset.x_train) + len(dataset.x_test) == 1797
    assert dataset.x_train.max() == 255
