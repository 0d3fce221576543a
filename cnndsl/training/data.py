"""Training data: load a source, fit its images to the network's input and split it.

A source is a folder of MNIST-format IDX files, an .npz file with x_train,
y_train, x_test and y_test, a folder of images with one sub-folder per class,
or, when none is given, the 8x8 digits that ship inside scikit-learn.
Images are kept as NHWC arrays, uint8 where the source stores bytes, until
`model_inputs` turns them into float32 for Keras.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnndsl.training import idx, images
from cnndsl.training.errors import DataError

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass
class Dataset:
    """Training and test images (NHWC) with integer labels, and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    description: str
    origin: str  # the path named in messages about the images

    @property
    def class_count(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class Fitting:
    """The network's input shape, and the changes to the images that may make them fit it."""

    input_shape: tuple[int, ...]  # without the batch axis: (height, width, channels) or (features,)
    resize: bool = False
    convert_channels: bool = False
    test_split: float = 0.2  # fraction held out for testing when the source has no test set
    seed: int = 0


def load_dataset(source: str | None, fitting: Fitting) -> Dataset:
    """Load `source` (None: scikit-learn's digits) and fit its images to `fitting.input_shape`."""
    if source is None:
        return _load_digits(fitting)

    path = Path(source)
    if not path.exists():
        raise DataError(f"{source}: no such file or folder; give --data an MNIST-format IDX folder, an .npz file "
                        "or a folder of class sub-folders")
    if path.is_dir() and idx.is_idx_folder(path):
        return _load_idx(path, fitting)
    if path.is_dir():
        return _load_image_folder(path, fitting)
    if path.suffix.lower() == ".npz":
        return _load_npz(path, fitting)
    raise DataError(f"{source} is neither a folder nor an .npz file; give --data an MNIST-format IDX folder, "
                    "an .npz file or a folder of class sub-folders")


# ---- Sources --------------------------------------------------------------------------------

def _load_idx(folder: Path, fitting: Fitting) -> Dataset:
    x_train, y_train, train_path = idx.load_idx_pair(folder, "train_images", "train_labels")
    x_test, y_test, test_path = idx.load_idx_pair(folder, "test_images", "test_labels")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(f"{test_path} contains {_size(x_test)} images but {train_path} contains {_size(x_train)} "
                        "images; both must have the same size")

    x_train = fit_images(x_train, fitting, str(train_path))
    x_test = fit_images(x_test, fitting, str(test_path))
    return _dataset(x_train, y_train, x_test, y_test, f"MNIST-format IDX files in {folder}", str(train_path))


def _load_npz(path: Path, fitting: Fitting) -> Dataset:
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path} is not a readable .npz file (not a zip archive); save it with numpy.savez")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in NPZ_KEYS if key not in archive.files]
            if missing:
                raise DataError(f"{path} lacks the arrays {', '.join(missing)} (it has "
                                f"{', '.join(archive.files) or 'none'}); save it with "
                                "numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)")
            arrays = {key: archive[key] for key in NPZ_KEYS}
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise DataError(f"{path} is not a readable .npz file ({error}); save it again with numpy.savez") from None
    except ValueError as error:
        raise DataError(f"{path} contains an array numpy cannot load without pickle ({error}); save plain "
                        "numeric arrays") from None

    x_train = _npz_images(arrays["x_train"], path, "x_train")
    x_test = _npz_images(arrays["x_test"], path, "x_test")
    y_train = _npz_labels(arrays["y_train"], len(x_train), path, "y_train", "x_train")
    y_test = _npz_labels(arrays["y_test"], len(x_test), path, "y_test", "x_test")
    origin = f"{path} (x_train)"
    x_train = fit_images(x_train, fitting, origin)
    x_test = fit_images(x_test, fitting, f"{path} (x_test)")
    return _dataset(x_train, y_train, x_test, y_test, f"arrays in {path}", origin)


def _npz_images(array: np.ndarray, path: Path, key: str) -> np.ndarray:
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4 or not np.issubdtype(array.dtype, np.number):
        raise DataError(f"{path}: {key} has shape {array.shape} and type {array.dtype}; images must be numbers "
                        "shaped (count, height, width) or (count, height, width, channels)")
    return array


def _npz_labels(array: np.ndarray, count: int, path: Path, key: str, images_key: str) -> np.ndarray:
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise DataError(f"{path}: {key} has shape {array.shape}; labels must be class numbers shaped (count,), "
                        "not one-hot rows (use numpy.argmax(y, axis=1))")
    if len(array) != count:
        raise DataError(f"{path}: {key} has {len(array):,} labels but {images_key} has {count:,} images; "
                        "save matching arrays")
    if not np.issubdtype(array.dtype, np.integer) and not np.all(np.mod(array, 1) == 0):
        raise DataError(f"{path}: {key} contains values that are not whole numbers; labels must be class numbers")
    return array.astype(np.int64)


def _load_image_folder(folder: Path, fitting: Fitting) -> Dataset:
    if len(fitting.input_shape) != 3:
        raise DataError(f"{folder} contains images but the network's input is the vector "
                        f"{fitting.input_shape}; start the spec with an image input such as `input 28x28x1`")
    height, width, channels = fitting.input_shape
    scanned = images.scan_image_folder(folder)
    images.check_images(scanned.train + scanned.test, height, width, channels, fitting.resize,
                        fitting.convert_channels)

    x_train, y_train = images.load_images(scanned.train, height, width, channels)
    if scanned.test:
        x_test, y_test = images.load_images(scanned.test, height, width, channels)
    else:
        x_train, y_train, x_test, y_test = split_fraction(x_train, y_train, fitting.test_split, fitting.seed)
    return _dataset(x_train, y_train, x_test, y_test, f"image folder {folder}", str(folder),
                    class_names=scanned.class_names)


def _load_digits(fitting: Fitting) -> Dataset:
    """Load scikit-learn's 1,797 digits (8x8, values 0-16), resized and converted to the network's input."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    # Scale the 17 grey levels to bytes so that the digits are treated like any 8-bit image.
    x = np.round(digits.images * (255 / 16)).astype(np.uint8)[..., np.newaxis]
    y = digits.target.astype(np.int64)
    automatic = Fitting(fitting.input_shape, resize=True, convert_channels=True, seed=fitting.seed)
    x = fit_images(x, automatic, "the scikit-learn digits")

    x_train, y_train, x_test, y_test = split_fraction(x, y, fitting.test_split, fitting.seed)
    return _dataset(x_train, y_train, x_test, y_test, "the scikit-learn digits (8x8, resized; no --data given)",
                    "the scikit-learn digits")


def _dataset(x_train, y_train, x_test, y_test, description: str, origin: str,
             class_names: tuple[str, ...] | None = None) -> Dataset:
    for labels in (y_train, y_test):
        if len(labels) and labels.min() < 0:
            raise DataError(f"{origin}: labels must be class numbers from 0, but one is {labels.min()}")
    if class_names is None:
        highest = max(int(y_train.max(initial=0)), int(y_test.max(initial=0)))
        class_names = tuple(str(label) for label in range(highest + 1))
    if len(x_train) == 0:
        raise DataError(f"{origin} contains no training images")
    return Dataset(x_train, y_train, x_test, y_test, class_names, description, origin)


# ---- Fitting images to the input ------------------------------------------------------------

def fit_images(x: np.ndarray, fitting: Fitting, origin: str) -> np.ndarray:
    """Check images (count, height, width, channels) against the input; resize or convert when allowed."""
    target = fitting.input_shape
    if len(target) == 1:
        return _flatten(x, target[0], origin)
    if len(target) != 3:
        raise DataError(f"{origin} contains images, but the network's input has the shape {target}; "
                        "cnndsl train feeds images to `input HxWxC` and flat vectors to `input N`")

    height, width, channels = target
    if x.shape[-1] != channels:
        if not fitting.convert_channels:
            raise DataError(f"{origin} contains images with {x.shape[-1]} channel{'s' if x.shape[-1] != 1 else ''} "
                            f"but the network's input has {channels}; add --convert-channels to convert "
                            "grayscale to RGB or RGB to grayscale")
        x = convert_channels(x, channels, origin)
    if x.shape[1:3] != (height, width):
        if not fitting.resize:
            raise DataError(f"{origin} contains {_size(x)} images but the network's input is {height}x{width}; "
                            f"add --resize to resize them to {height}x{width}")
        x = resize_images(x, height, width)
    return x


def _flatten(x: np.ndarray, features: int, origin: str) -> np.ndarray:
    if int(np.prod(x.shape[1:])) != features:
        raise DataError(f"{origin} contains {_size(x)} images ({int(np.prod(x.shape[1:]))} values each) but the "
                        f"network's input is a vector of {features}; change the spec's input to "
                        f"`input {'x'.join(str(size) for size in x.shape[1:])}`")
    return x.reshape(len(x), features)


def convert_channels(x: np.ndarray, channels: int, origin: str) -> np.ndarray:
    """Convert grayscale to RGB by repeating the channel, and RGB(A) to grayscale by luma."""
    have = x.shape[-1]
    if have == 1 and channels == 3:
        return np.repeat(x, 3, axis=-1)
    if have in (3, 4) and channels == 1:
        # ITU-R BT.601 luma, the weights of Pillow's convert("L") and tf.image.rgb_to_grayscale.
        luma = x[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return _like(luma[..., np.newaxis], x.dtype)
    if have == 4 and channels == 3:
        return x[..., :3]
    raise DataError(f"{origin} contains images with {have} channels, which cannot be converted to {channels}; "
                    "convert the data yourself or change the spec's input")


def resize_images(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize every image bilinearly (with Pillow's antialiasing when shrinking)."""
    from PIL import Image

    resized = np.empty((len(x), height, width, x.shape[-1]), dtype=np.float32)
    for index in range(len(x)):
        for channel in range(x.shape[-1]):
            plane = Image.fromarray(x[index, :, :, channel].astype(np.float32), mode="F")
            resized[index, :, :, channel] = np.asarray(plane.resize((width, height), Image.Resampling.BILINEAR))
    return _like(resized, x.dtype)


def _like(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype == np.uint8:
        return np.clip(np.round(x), 0, 255).astype(np.uint8)
    return x.astype(dtype)


def _size(x: np.ndarray) -> str:
    return "x".join(str(size) for size in x.shape[1:])


# ---- Splits and model inputs ----------------------------------------------------------------

def split_fraction(x: np.ndarray, y: np.ndarray, fraction: float,
                   seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out `fraction` of each class, chosen at random with `seed`; return (x_kept, y_kept, x_out, y_out).

    Splitting per class keeps the class balance, and shuffling matters because
    image folders and some files are sorted by class.
    """
    generator = np.random.default_rng(seed)
    held_out = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        count = int(round(len(members) * fraction))
        held_out.append(generator.permutation(members)[:count])
    out = np.sort(np.concatenate(held_out)) if held_out else np.array([], dtype=np.int64)
    keep = np.setdiff1d(np.arange(len(y)), out)
    if len(out) == 0 or len(keep) == 0:
        raise DataError(f"splitting {len(y)} images by {fraction} leaves an empty part; use more data or "
                        "another fraction")
    return x[keep], y[keep], x[out], y[out]


def model_inputs(x: np.ndarray, rescale: bool) -> np.ndarray:
    """Return float32 inputs; bytes become 0-1 unless the network rescales them itself (`rescale` False)."""
    if x.dtype == np.uint8 and rescale:
        return x.astype(np.float32) / np.float32(255)
    return x.astype(np.float32)
