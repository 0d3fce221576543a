"""Image folders: one sub-folder per class, optionally split into train/ and test/.

The folder is scanned first with Pillow, which reads only each file's header,
so a wrong size, a wrong colour mode or a file that is not an image is
reported, with its path, before TensorFlow starts. The images are then loaded
with keras.utils.load_img, which also resizes and converts colours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnndsl.training.errors import DataError

# The formats that keras.utils.image_dataset_from_directory accepts (Keras 3.x ALLOWLIST_FORMATS).
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")

# Pillow modes without colour; every other mode is loaded as RGB. Alpha is dropped on loading.
GRAYSCALE_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


@dataclass(frozen=True)
class ImageFile:
    path: Path
    label: int
    width: int
    height: int
    channels: int  # 1 for grayscale modes, 3 for colour


@dataclass(frozen=True)
class ImageFolder:
    """The scanned images of a folder: training files, test files (empty without test/), class names."""

    root: Path
    train: tuple[ImageFile, ...]
    test: tuple[ImageFile, ...]
    class_names: tuple[str, ...]


def scan_image_folder(root: Path) -> ImageFolder:
    """List and check the images under `root` without decoding them.

    With `train/` and `test/` sub-folders each contains one folder per class;
    otherwise `root` itself contains the class folders. Hidden files and folders
    (names starting with a dot) are skipped.
    """
    train_root, test_root = root / "train", root / "test"
    if train_root.is_dir() and test_root.is_dir():
        class_names = _class_names(train_root)
        test_classes = _class_names(test_root)
        unknown = sorted(set(test_classes) - set(class_names))
        if unknown:
            raise DataError(f"{test_root} has the class folders {', '.join(unknown)} that {train_root} lacks; "
                            "both must contain the same classes")
        return ImageFolder(root, _scan_classes(train_root, class_names), _scan_classes(test_root, class_names),
                           class_names)

    class_names = _class_names(root)
    return ImageFolder(root, _scan_classes(root, class_names), (), class_names)


def _class_names(folder: Path) -> tuple[str, ...]:
    names = tuple(sorted(path.name for path in folder.iterdir() if path.is_dir() and not path.name.startswith(".")))
    if len(names) < 2:
        raise DataError(f"{folder} has {len(names)} class folder{'s' if len(names) != 1 else ''}; an image "
                        "folder needs one sub-folder per class and at least two classes")
    stray = sorted(path for path in folder.iterdir() if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)
    if stray:
        raise DataError(f"{stray[0]} is not in a class folder; move every image into the sub-folder of its class")
    return names


def _scan_classes(folder: Path, class_names: tuple[str, ...]) -> tuple[ImageFile, ...]:
    files = []
    for label, name in enumerate(class_names):
        class_folder = folder / name
        if not class_folder.is_dir():
            continue  # a class with no test images
        found = [_scan_file(path, label) for path in _visible_files(class_folder)]
        if not found:
            raise DataError(f"the class folder {class_folder} contains no images; add images or remove the folder")
        files.extend(found)
    return tuple(files)


def _visible_files(folder: Path) -> list[Path]:
    """Return the files under `folder`, in sorted order, skipping hidden files and folders."""
    paths = []
    for path in sorted(folder.rglob("*")):
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        if path.is_file() and not hidden:
            paths.append(path)
    return paths


def _scan_file(path: Path, label: int) -> ImageFile:
    from PIL import Image, UnidentifiedImageError

    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise DataError(f"{path} is not an image file (supported: {', '.join(IMAGE_SUFFIXES)}); remove it or "
                        "move it out of the class folders")
    try:
        with Image.open(path) as image:
            width, height = image.size
            channels = 1 if image.mode in GRAYSCALE_MODES else 3
    except UnidentifiedImageError:
        raise DataError(f"{path} is not a readable image although its name ends in {path.suffix}; "
                        "replace or remove the file") from None
    except OSError as error:
        raise DataError(f"cannot read {path}: {error}") from None
    return ImageFile(path, label, width, height, channels)


def check_images(files: tuple[ImageFile, ...], height: int, width: int, channels: int, resize: bool,
                 convert_channels: bool) -> None:
    """Raise DataError naming the first image whose size or colour does not fit the network's input."""
    if not resize:
        wrong_size = [file for file in files if (file.height, file.width) != (height, width)]
        if wrong_size:
            first = wrong_size[0]
            raise DataError(f"{first.path} is {first.height}x{first.width} but the network's input is "
                            f"{height}x{width} ({_count(wrong_size)} differ); add --resize to resize every "
                            f"image to {height}x{width}")
    if not convert_channels and channels in (1, 3):
        wrong_colour = [file for file in files if file.channels != channels]
        if wrong_colour:
            first = wrong_colour[0]
            raise DataError(f"{first.path} is {_colour(first.channels)} but the network's input has "
                            f"{channels} channel{'s' if channels != 1 else ''} ({_count(wrong_colour)} differ); "
                            f"add --convert-channels to convert every image to {_colour(channels)}")


def _count(files: list[ImageFile]) -> str:
    return f"{len(files)} image{'s' if len(files) != 1 else ''}"


def _colour(channels: int) -> str:
    return "grayscale" if channels == 1 else "RGB"


def load_images(files: tuple[ImageFile, ...], height: int, width: int,
                channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Decode `files` into uint8 arrays of shape (count, height, width, channels), and their labels.

    Images of another size are resized bilinearly; colour modes are converted
    to `channels` (1: grayscale, 3: RGB, 4: RGBA).
    """
    from cnndsl.backends.keras_backend import import_keras

    keras = import_keras()
    color_mode = {1: "grayscale", 3: "rgb", 4: "rgba"}.get(channels)
    if color_mode is None:
        raise DataError(f"image folders can feed inputs with 1, 3 or 4 channels, not {channels}; change the "
                        "spec's input, or store the data as .npz")

    images = np.empty((len(files), height, width, channels), dtype=np.uint8)
    for index, file in enumerate(files):
        try:
            image = keras.utils.load_img(file.path, color_mode=color_mode, target_size=(height, width),
                                         interpolation="bilinear")
        except (OSError, ValueError, SyntaxError) as error:
            raise DataError(f"cannot decode {file.path} ({error}); replace or remove the file") from None
        images[index] = keras.utils.img_to_array(image, dtype="uint8")
    labels = np.array([file.label for file in files], dtype=np.int64)
    return images, labels
