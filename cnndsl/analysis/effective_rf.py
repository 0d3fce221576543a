"""Effective receptive field: how strongly each input pixel acts on one output position.

The method is that of Luo, Li, Urtasun and Zemel, "Understanding the
Effective Receptive Field in Deep Convolutional Neural Networks" (NeurIPS
2016): set the gradient of the chosen layer's output to 1 at its centre
position (all channels) and 0 elsewhere, back-propagate it to the input, and
average |gradient| over several random initialisations of the weights and
over the input images. The effective size is the side of the smallest square,
centred on the theoretical field's centre, that contains 95% of that gradient.

This is the only analysis module that imports TensorFlow, inside its functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnndsl.analysis.receptive_field import SpatialField, receptive_fields
from cnndsl.errors import did_you_mean
from cnndsl.graph import InputNode, LayerNode, Network

MASS = 0.95
"""Share of the gradient that the effective square must hold."""


class EffectiveFieldError(Exception):
    """Raised for a request that cannot be measured; the message names the value and the fix."""


@dataclass(frozen=True)
class EffectiveField:
    """The measured field of one output position.

    `gradient` is the mean |d output / d input| over runs, images and input
    channels, shape (height, width), scaled to sum to 1. `rows` and `columns`
    are the first and last input pixels of the theoretical field (they may lie
    outside the image), and `centre` is its centre. `effective_size` is the
    side of the centred square holding MASS of the gradient, and `spread` the
    standard deviation of the gradient along rows and along columns, in pixels.
    `constant_weights` is True when every run used kernels of 1 and biases of 0.
    """

    layer: str
    position: tuple[int, int]
    gradient: np.ndarray
    rows: tuple[int, int]
    columns: tuple[int, int]
    centre: tuple[float, float]
    effective_size: int
    spread: tuple[float, float]
    runs: int
    images: int
    constant_weights: bool = False

    @property
    def averaged_over(self) -> str:
        """Describe what the gradient was averaged over: `8 random initialisations and 4 images`."""
        if self.constant_weights:
            text = f"{self.runs} run{'s' if self.runs != 1 else ''} with constant weights (kernels 1, biases 0)"
        else:
            text = f"{self.runs} random initialisation{'s' if self.runs != 1 else ''}"
        if self.images:
            text += f" and {self.images} image{'s' if self.images != 1 else ''}"
        return text

    @property
    def theoretical_size(self) -> tuple[int, int]:
        return (self.rows[1] - self.rows[0] + 1, self.columns[1] - self.columns[0] + 1)


def spatial_layers(network: Network) -> list[LayerNode]:
    """Return the layers whose output has height, width and channels, in topological order."""
    return [layer for layer in network.layers if layer.output_shape is not None and len(layer.output_shape) == 3]


def choose_layer(network: Network, name: str | None) -> LayerNode:
    """Return the layer called `name`, or the last layer with spatial axes when `name` is None."""
    candidates = spatial_layers(network)
    if not candidates:
        raise EffectiveFieldError(f"{network.name} has no layer with height and width; the effective receptive "
                                  "field needs an image network")
    if name is None:
        return candidates[-1]
    if name in network and isinstance(network.node(name), LayerNode):
        layer = network.node(name)
        if layer in candidates:
            return layer
        raise EffectiveFieldError(f"layer `{name}` has output shape {layer.output_shape}, without height and width; "
                                  f"choose a layer before the flatten or global pooling, such as "
                                  f"`{candidates[-1].name}`")
    hint = did_you_mean(name, [layer.name for layer in network.layers])
    raise EffectiveFieldError(f"no layer named `{name}` (`cnndsl rf SPEC` lists every layer)"
                              + (f"; {hint}" if hint else ""))


def image_input(network: Network) -> InputNode:
    inputs = network.inputs
    if len(inputs) != 1 or len(inputs[0].shape) != 3:
        raise EffectiveFieldError("the effective receptive field needs a network with exactly one image input "
                                  "(height x width x channels)")
    return inputs[0]


def centre_position(layer: LayerNode) -> tuple[int, int]:
    """Return the output position whose field is measured: the middle one, (height // 2, width // 2)."""
    return (layer.output_shape[0] // 2, layer.output_shape[1] // 2)


def _theoretical(network: Network, layer: LayerNode, position: tuple[int, int]) -> tuple[tuple[int, int], ...]:
    state = receptive_fields(network)[layer.name].get(image_input(network).name)
    if not isinstance(state, SpatialField):
        raise EffectiveFieldError(f"layer `{layer.name}` has no spatial receptive field (it sees the whole input "
                                  "or a field cnndsl cannot compute); choose an earlier layer")
    row, column = position
    return ((state.height.first(row), state.height.last(row)), (state.width.first(column), state.width.last(column)))


def load_images(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """Load images for the gradient from an .npy or .npz file, as float32 (N, height, width, channels).

    An .npz file is read from its array `x`, `images` or `x_train`, else its
    first array. Single-channel images may omit the channel axis.
    """
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise EffectiveFieldError(f"{path}: no such file; give an .npy or .npz file of images") from None
    except (OSError, ValueError) as error:
        raise EffectiveFieldError(f"cannot read images from {path}: {error}; give an .npy or .npz file") from None

    if isinstance(data, np.lib.npyio.NpzFile):
        keys = [key for key in ("x", "images", "x_train") if key in data.files] or data.files[:1]
        if not keys:
            raise EffectiveFieldError(f"{path} contains no arrays; save the images with numpy.savez(path, x=images)")
        data = data[keys[0]]
    return _image_batch(np.asarray(data), shape, path)


def _image_batch(images: np.ndarray, shape: tuple[int, ...], path: Path) -> np.ndarray:
    shape = tuple(shape)
    if tuple(images.shape) == shape:
        images = images[np.newaxis]
    elif shape[-1] == 1 and tuple(images.shape) == shape[:-1]:
        images = images[np.newaxis, ..., np.newaxis]
    elif shape[-1] == 1 and tuple(images.shape[1:]) == shape[:-1]:
        images = images[..., np.newaxis]

    if tuple(images.shape[1:]) != shape:
        received = "x".join(str(size) for size in images.shape[1:]) or "a scalar"
        raise EffectiveFieldError(f"{path} contains images of shape {received}, but the network's input is "
                                  f"{'x'.join(str(size) for size in shape)}; resize the images or change the "
                                  "spec's input")
    if not np.issubdtype(images.dtype, np.number):
        raise EffectiveFieldError(f"{path} contains {images.dtype} values, not numbers; save the images as numbers")
    return images.astype("float32")


def effective_size(gradient: np.ndarray, centre: tuple[float, float], mass: float = MASS) -> int:
    """Return the side of the smallest square centred on `centre` that contains `mass` of `gradient`.

    Squares around a whole-pixel centre have odd sides, around a half-pixel
    centre even sides. Pixels outside the input contribute nothing.
    """
    rows, columns = np.indices(gradient.shape)
    distance = np.maximum(np.abs(rows - centre[0]), np.abs(columns - centre[1]))
    order = np.argsort(distance, axis=None, kind="stable")
    distances = distance.ravel()[order]
    cumulative = np.cumsum(gradient.ravel()[order]) / gradient.sum()

    index = int(np.searchsorted(cumulative, mass - 1e-9))
    index = min(index, len(distances) - 1)
    return round(2 * distances[index] + 1)


def spread(gradient: np.ndarray) -> tuple[float, float]:
    """Return the standard deviation of the gradient's row and column distributions, in pixels."""
    weights = gradient / gradient.sum()
    result = []
    for axis in (1, 0):
        marginal = weights.sum(axis=axis)
        positions = np.arange(marginal.size)
        mean = float((marginal * positions).sum())
        result.append(float(np.sqrt((marginal * (positions - mean) ** 2).sum())))
    return (result[0], result[1])


def _set_constant_weights(model) -> None:
    """Set every kernel to 1 and every bias to 0, as in the uniform-weights experiment of Luo et al."""
    for layer in model.layers:
        for variable in layer.weights:
            name = variable.path.rsplit("/", 1)[-1]
            if name.endswith("kernel"):
                variable.assign(np.ones(variable.shape, dtype="float32"))
            elif name == "bias":
                variable.assign(np.zeros(variable.shape, dtype="float32"))


def _gradient_sum(network: Network, layer: LayerNode, position: tuple[int, int], inputs: np.ndarray,
                  constant_weights: bool) -> np.ndarray:
    """Build the model once and return the sum of |gradient| over images and channels, shape (H, W)."""
    import tensorflow as tf

    from cnndsl.backends.keras_backend import build_model, import_keras

    keras = import_keras()
    model = build_model(network)
    if constant_weights:
        _set_constant_weights(model)
    truncated = keras.Model(model.inputs, model.get_layer(layer.name).output)

    total = np.zeros(inputs.shape[1:3], dtype="float64")
    for start in range(0, len(inputs), 32):
        batch = tf.convert_to_tensor(inputs[start:start + 32])
        with tf.GradientTape() as tape:
            tape.watch(batch)
            output = truncated(batch, training=False)
            target = tf.reduce_sum(output[:, position[0], position[1], :])
        gradient = tape.gradient(target, batch)
        total += np.abs(gradient.numpy()).sum(axis=(0, 3))
    return total


def effective_receptive_field(network: Network, layer_name: str | None = None, runs: int = 8,
                              images: np.ndarray | None = None, seed: int = 0,
                              constant_weights: bool = False) -> EffectiveField:
    """Measure the effective receptive field of the centre position of one layer.

    Each run builds the Keras model with new random weights (seeded by
    `seed + run`, or constant weights) and feeds `images`, or one standard
    normal image per run when `images` is None.
    """
    from cnndsl.backends.keras_backend import import_keras

    if runs < 1:
        raise EffectiveFieldError(f"runs must be at least 1, not {runs}")
    layer = choose_layer(network, layer_name)
    shape = image_input(network).shape
    position = centre_position(layer)
    rows, columns = _theoretical(network, layer, position)
    keras = import_keras()

    total = np.zeros(shape[:2], dtype="float64")
    for run in range(runs):
        keras.utils.set_random_seed(seed + run)
        inputs = images if images is not None else np.random.default_rng(seed + run).standard_normal(
            (1, *shape)).astype("float32")
        total += _gradient_sum(network, layer, position, inputs, constant_weights)

    if not total.sum() > 0:
        raise EffectiveFieldError(f"the gradient of `{layer.name}` is zero at every input pixel (dead units?); "
                                  "try more --runs or another --layer")
    gradient = total / total.sum()
    centre = ((rows[0] + rows[1]) / 2, (columns[0] + columns[1]) / 2)
    return EffectiveField(
        layer=layer.name, position=position, gradient=gradient, rows=rows, columns=columns, centre=centre,
        effective_size=effective_size(gradient, centre), spread=spread(gradient), runs=runs,
        images=0 if images is None else len(images), constant_weights=constant_weights,
    )
