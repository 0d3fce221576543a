"""Explain mode: every parameter count, output size and MAC count as a formula with its numbers.

    conv2 (Conv2D): (None, 14, 14, 6) -> (None, 10, 10, 16)
        params: 16 x (6 x 5 x 5 + 1) = 2,416
        height, width: floor((14 - 5) / 1) + 1 = 10
        MACs: (10 x 10 x 16) x (5 x 5 x 6) = 240,000

The formulas come from the layer kinds (LayerKind.explain_params,
explain_shape and macs), so each rule is written once, next to the rule that
computes the number.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnndsl.analysis.costs import layer_macs
from cnndsl.graph import InputNode, LayerNode, Network
from cnndsl.layers.base import AxisFormula
from cnndsl.summary import format_shape


@dataclass(frozen=True)
class Explanation:
    """The formulas of one layer, as (label, text) lines."""

    layer: LayerNode
    header: str
    lines: list[tuple[str, str]]


def explain_params(layer: LayerNode, shape) -> str:
    """Write the parameter count: `4 x 64 = 256 (non-trainable: 2 x 64 = 128)`."""
    if layer.kind.explain_params is None:
        return "0 (no weights)"
    everything, non_trainable = layer.kind.explain_params(layer.config, shape)
    if non_trainable.value:
        return f"{everything} (non-trainable: {non_trainable})"
    return str(everything)


def _merged_axes(lines: list[AxisFormula]) -> list[tuple[str, str]]:
    """Write `height, width: ...` once when both axes have the same formula."""
    merged: list[tuple[str, str]] = []
    for index, (axis, formula) in enumerate(lines):
        text = str(formula)
        if merged and axis.replace("width", "height") == merged[-1][0] and text == merged[-1][1]:
            merged[-1] = (merged[-1][0].replace("height", "height, width"), text)
            continue
        merged.append((axis, text))
    return merged


def explain_shape(network: Network, layer: LayerNode) -> list[tuple[str, str]]:
    """Write each output size that takes arithmetic, or state that the shape is unchanged."""
    shapes = [network.output_shape(name) for name in layer.inputs]
    shape = shapes if layer.kind.merge else shapes[0]
    lines = layer.kind.explain_shape(layer.config, shape, layer.output_shape)
    if lines:
        return _merged_axes(lines)
    if all(input_shape == layer.output_shape for input_shape in shapes):
        return [("output", "same shape as the input" + ("s" if len(shapes) > 1 else ""))]
    return []


def explain_layer(network: Network, layer: LayerNode) -> Explanation:
    """Return the formulas of one layer of a checked network."""
    shapes = [network.output_shape(name) for name in layer.inputs]
    arrow = ", ".join(format_shape(shape) for shape in shapes)
    header = f"{layer.name} ({layer.kind.keras_class}): {arrow} -> {format_shape(layer.output_shape)}"

    lines = [("params", explain_params(layer, shapes[0]))] if not layer.kind.merge else []
    lines += explain_shape(network, layer)
    lines.append(("MACs", str(layer_macs(network, layer))))
    return Explanation(layer, header, lines)


def explain_network(network: Network) -> str:
    """Return the explanation of every layer, one paragraph per layer."""
    paragraphs = []
    for node in network.nodes:
        if isinstance(node, InputNode):
            paragraphs.append(f"{node.name} (Input): {format_shape(node.shape)}")
            continue
        explanation = explain_layer(network, node)
        body = [f"    {label}: {text}" for label, text in explanation.lines]
        paragraphs.append("\n".join([explanation.header, *body]))
    return "\n\n".join(paragraphs)
