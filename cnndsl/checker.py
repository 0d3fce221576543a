"""Static checker: output shapes and parameter counts of every layer, without TensorFlow.

The checker walks the resolved graph in topological order and applies each
layer kind's shape and parameter rules. Where Keras would fail to build the
layer, it reports an error at the layer's position. A layer whose input is
unknown because of an earlier error is skipped, so one mistake is reported once.
"""

from __future__ import annotations

from cnndsl.errors import Diagnostic, MergeMismatch, OptionError, ShapeError, Severity
from cnndsl.graph import InputNode, LayerNode, Network
from cnndsl.layers import Shape
from cnndsl.layers.shape_rules import format_size

RANK_WORDS = {1: "a vector", 2: "a 2-D tensor", 3: "an image (height x width x channels)"}


def check(network: Network) -> list[Diagnostic]:
    """Fill in every layer's output shape and parameters; return the errors and warnings."""
    diagnostics: list[Diagnostic] = []
    shapes: dict[str, Shape | None] = {}

    for node in network.nodes:
        if isinstance(node, InputNode):
            shapes[node.name] = node.shape
            continue
        input_shapes = [shapes.get(name) for name in node.inputs]
        shapes[node.name] = None
        if node.kind is None or node.config is None or any(shape is None for shape in input_shapes):
            continue
        if node.kind.merge:
            shapes[node.name] = _check_merge(network, node, input_shapes, diagnostics)
        else:
            shapes[node.name] = _check_layer(node, input_shapes[0], diagnostics)

    return diagnostics


def _error(node: LayerNode, message: str, fix: str | None) -> Diagnostic:
    return Diagnostic(Severity.ERROR, message + _where(node), node.span, fix, node.source)


def _where(node: LayerNode) -> str:
    return f" (in block instance `{node.scope[-1]}`)" if node.scope else ""


def _check_merge(network: Network, node: LayerNode, shapes: list[Shape], diagnostics: list[Diagnostic]) -> Shape | None:
    try:
        output = node.kind.output_shape(node.config, shapes)
    except MergeMismatch as mismatch:
        first = _describe_input(network, node.inputs[mismatch.first], shapes[mismatch.first])
        second = _describe_input(network, node.inputs[mismatch.second], shapes[mismatch.second])
        what = _axis_word(mismatch.axis, len(shapes[mismatch.first]))
        diagnostics.append(_error(node, f"{node.kind.keyword}: {first} and {second} differ in {what}", mismatch.fix))
        return None
    except OptionError as error:
        diagnostics.append(_error(node, f"{node.kind.keyword}: {error.message}", error.fix))
        return None

    node.output_shape = output
    node.trainable_params, node.non_trainable_params = 0, 0
    return output


def _describe_input(network: Network, name: str, shape: Shape) -> str:
    producer = network.node(name)
    return f"{format_size(shape)} (from line {producer.span.line}, `{name}`)"


def _axis_word(axis: int | None, rank: int) -> str:
    if axis is None:
        return "rank"
    if rank == 3:
        return ("height", "width", "channels")[axis]
    return f"axis {axis + 1}"


def _check_layer(node: LayerNode, shape: Shape, diagnostics: list[Diagnostic]) -> Shape | None:
    kind = node.kind

    rank_problem = _rank_problem(node, shape)
    if rank_problem:
        diagnostics.append(_error(node, rank_problem[0], rank_problem[1]))
        return None

    try:
        output = kind.output_shape(node.config, shape)
    except ShapeError as error:
        diagnostics.append(_error(node, error.message, error.fix))
        return None

    if any(size is not None and size < 1 for size in output):
        diagnostics.append(_error(
            node, f"{kind.keyword} would produce the empty shape {format_size(output)} from {format_size(shape)}",
            "every output size must be at least 1; use a larger input or a smaller window",
        ))
        return None

    for message, fix in kind.warnings(node.config, shape):
        diagnostics.append(Diagnostic(Severity.WARNING, message + _where(node), node.span, fix, node.source))

    node.output_shape = output
    node.trainable_params, node.non_trainable_params = kind.params(node.config, shape)
    return output


def _rank_problem(node: LayerNode, shape: Shape) -> tuple[str, str] | None:
    kind = node.kind
    if kind.input_rank is not None and len(shape) != kind.input_rank:
        wanted = RANK_WORDS.get(kind.input_rank, f"a {kind.input_rank}-D tensor")
        fix = ("move it before `flatten`/`dense`, or restore the image with `reshape HxWxC`"
               if len(shape) < kind.input_rank else "flatten or reshape the input first")
        return (f"{kind.keyword} expects {wanted} but receives shape {format_size(shape)} ({len(shape)}-D)", fix)
    if len(shape) < kind.min_rank:
        return (f"{kind.keyword} expects at least {kind.min_rank} axes but receives shape {format_size(shape)}",
                "reshape the input first")
    return None
