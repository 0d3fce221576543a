"""Read IDX files, the format of MNIST and its look-alikes (Fashion-MNIST, KMNIST, EMNIST).

An IDX file is a big-endian header followed by the values, row-major:
two zero bytes, a type code (0x08 for unsigned bytes), the number of
dimensions, then one 4-byte size per dimension. MNIST image files have
3 dimensions (magic number 2051) and label files 1 (magic number 2049).
Files may be gzip-compressed; the gzip magic bytes tell, not the file name.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from cnndsl.training.errors import DataError

IMAGES_MAGIC = 0x0803  # unsigned bytes, 3 dimensions: count, rows, columns
LABELS_MAGIC = 0x0801  # unsigned bytes, 1 dimension: count
UNSIGNED_BYTE = 0x08
GZIP_MAGIC = b"\x1f\x8b"

# The standard MNIST file names, without the optional .gz suffix.
IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def is_idx_folder(folder: Path) -> bool:
    """Return True when `folder` contains at least one file with a standard MNIST name."""
    return any(_candidates(folder, name) for name in IDX_NAMES.values())


def find_idx_file(folder: Path, name: str) -> Path:
    """Return the path of the IDX file `name` in `folder`, compressed or not."""
    found = _candidates(folder, name)
    if not found:
        present = ", ".join(IDX_NAMES.values())
        raise DataError(f"{folder / name}(.gz) not found; an MNIST-format data folder needs the four files "
                        f"{present}, each raw or with .gz")
    return found[0]


def _candidates(folder: Path, name: str) -> list[Path]:
    return [path for path in (folder / name, folder / f"{name}.gz") if path.is_file()]


def read_idx_file(path: Path, magic: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes whose magic number must be `magic`.

    Raises DataError naming the file for a bad magic number, a truncated file,
    trailing bytes or a damaged gzip stream.
    """
    data = _file_bytes(path)
    shape, header_size = _parse_header(path, data, magic)

    expected = int(np.prod(shape, dtype=np.int64))
    available = len(data) - header_size
    if available < expected:
        raise DataError(f"{path} is truncated: its header announces {_describe(shape)} ({expected:,} bytes of "
                        f"values) but only {available:,} bytes follow; download the file again")
    if available > expected:
        raise DataError(f"{path} has {available - expected:,} bytes after the {_describe(shape)} its header "
                        "announces; the file is damaged or not an IDX file, download it again")
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)


def _file_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}") from None
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise DataError(f"{path} is truncated: the gzip stream ends early; download the file again") from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise DataError(f"{path} is not a valid gzip file ({error}); download the file again") from None


def _parse_header(path: Path, data: bytes, magic: int) -> tuple[tuple[int, ...], int]:
    """Return the shape the header announces and the header's size in bytes."""
    if len(data) < 4:
        raise DataError(f"{path} is truncated: {len(data)} bytes, shorter than the 4-byte IDX magic number")

    found = int.from_bytes(data[:4], "big")
    if found != magic:
        kind = "image" if magic == IMAGES_MAGIC else "label"
        raise DataError(f"{path} has the magic number {found} (0x{found:08x}), not {magic} (0x{magic:08x}) of "
                        f"an IDX {kind} file; check that the file is an MNIST-format {kind} file and not "
                        "damaged")

    dimensions = data[3]
    header_size = 4 + 4 * dimensions
    if len(data) < header_size:
        raise DataError(f"{path} is truncated: {len(data)} bytes, shorter than its {header_size}-byte header")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dimensions))
    return shape, header_size


def _describe(shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        return f"{shape[0]:,} labels"
    return f"{shape[0]:,} images of {'x'.join(str(size) for size in shape[1:])}"


def load_idx_pair(folder: Path, images_name: str, labels_name: str) -> tuple[np.ndarray, np.ndarray, Path]:
    """Read one images file and its labels file; return (images NHWC, labels, images path)."""
    images_path = find_idx_file(folder, IDX_NAMES[images_name])
    labels_path = find_idx_file(folder, IDX_NAMES[labels_name])
    images = read_idx_file(images_path, IMAGES_MAGIC)
    labels = read_idx_file(labels_path, LABELS_MAGIC)

    if len(images) != len(labels):
        raise DataError(f"{labels_path} has {len(labels):,} labels but {images_path} has {len(images):,} "
                        "images; the two files must come from the same data set")
    return images[..., np.newaxis], labels.astype(np.int64), images_path


def write_idx_file(path: Path, values: np.ndarray) -> None:
    """Write unsigned bytes as an IDX file, gzip-compressed when `path` ends in .gz."""
    values = np.ascontiguousarray(values, dtype=np.uint8)
    header = bytes([0, 0, UNSIGNED_BYTE, values.ndim])
    header += b"".join(size.to_bytes(4, "big") for size in values.shape)
    data = header + values.tobytes()
    if path.suffix == ".gz":
        # mtime=0 keeps the compressed bytes identical from run to run.
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
