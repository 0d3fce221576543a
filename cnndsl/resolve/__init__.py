"""Resolve the syntax tree into the layer graph.

The resolver reads the header (network name, inputs, outputs), collects the
blocks of the spec and of the files it imports, and expands every chain into
layer nodes with complete Keras arguments and unique names. It reports every
problem it finds as a diagnostic instead of stopping at the first.
"""

from __future__ import annotations

import keyword
import re
from pathlib import PurePath

from cnndsl import syntax
from cnndsl.errors import Diagnostic, Severity, did_you_mean, shortened
from cnndsl.graph import InputNode, Network
from cnndsl.layers.shape_rules import format_size
from cnndsl.layers.values import MAX_INTEGER, integer_too_large
from cnndsl.resolve.builder import GraphBuilder
from cnndsl.resolve.imports import collect_blocks
from cnndsl.resolve.scope import Scope
from cnndsl.syntax import Span, Value

INPUT_NAME = "input"


def resolve(spec: syntax.Spec) -> tuple[Network, list[Diagnostic]]:
    """Resolve `spec` into a Network and the diagnostics found on the way."""
    diagnostics: list[Diagnostic] = []

    def error(message: str, span: Span | None, fix: str | None = None) -> None:
        diagnostics.append(Diagnostic(Severity.ERROR, message, span, fix))

    network = Network(name=_network_name(spec, error), source=spec.source)
    scope = Scope(source=spec.source)
    for node in _input_nodes(spec, error, diagnostics):
        network.add(node)
        scope.bind(node.name, node.name, None)
    _check_layers_follow_inputs(spec, error)

    blocks = collect_blocks(spec)
    builder = GraphBuilder(network, blocks)
    builder.quiet_without_input = any(d.severity is Severity.ERROR for d in diagnostics)
    inputs = network.inputs
    last = builder.run(spec.statements, scope, inputs[0].name if len(inputs) == 1 else None, nested=False)
    network.outputs = _outputs(spec, scope, last, error)
    builder.warn_unused(scope, network.outputs)

    diagnostics += blocks.diagnostics + builder.diagnostics
    if inputs and not network.layers and not any(d.severity is Severity.ERROR for d in diagnostics):
        error("the network has no layers", inputs[0].span,
              "add layers after the input, e.g. `flatten > dense 10 softmax`")
    return network, diagnostics


def prune_unreachable(network: Network) -> list[Diagnostic]:
    """Drop layers that no output depends on, as keras.Model does, and warn about each dead end.

    Keras builds a functional model from its outputs backwards, so such layers
    would be counted by the checker but missing from the model. Call it after
    the checker: Keras still constructs and calls a dead-end layer, and raises
    if its input does not fit, so the checker must see it.
    """
    needed = set(network.outputs)
    for node in reversed(network.nodes):
        if node.name in needed:
            needed.update(node.inputs)

    dropped = [node for node in network.layers if node.name not in needed]
    warnings = []
    readers = network.consumers()
    for node in dropped:
        # A dead end bound to a tensor name already has its "never used" warning.
        named = node.name in network.tensor_names
        if not named and not any(reader not in needed for reader in readers[node.name]):
            warnings.append(Diagnostic(
                Severity.WARNING, f"`{node.name}` does not lead to any output, so Keras leaves it out of the model",
                node.span, "list its tensor in `output`, merge it into the network, or remove it", node.source))
    network.remove([node.name for node in dropped])
    return warnings


def _network_name(spec: syntax.Spec, error) -> str:
    declarations = [s for s in spec.statements if isinstance(s, syntax.NetworkDecl)]
    for extra in declarations[1:]:
        error(f"the network is named twice (`{declarations[0].name}` and `{extra.name}`)", extra.span,
              "keep one `network NAME` line")
    if not declarations:
        return default_network_name(spec.source.name)
    name = declarations[0].name
    if keyword.iskeyword(name):
        error(f"`{name}` is a Python keyword and cannot name the network", declarations[0].span,
              "choose another name")
    return name


def _input_nodes(spec: syntax.Spec, error, diagnostics: list[Diagnostic]) -> list[InputNode]:
    declarations = [s for s in spec.statements if isinstance(s, syntax.InputDecl)]
    bare = [s for s in spec.statements if isinstance(s, syntax.Chain) and _is_bare_input(s)]
    if not declarations and bare:
        error("the `input` line has no shape", bare[0].span, "write the shape after it, e.g. `input 28x28x1`")
        return []
    if not declarations:
        # Point at the first statement (or the start of an empty spec), so that
        # every error has a line and column.
        where = spec.statements[0].span if spec.statements else Span(1, 1, 1, 1)
        error("the spec has no `input` line", where,
              "declare the input shape before the first layer, e.g. `input 28x28x1`")
        return []

    nodes: list[InputNode] = []
    for declaration in declarations:
        name = declaration.name or INPUT_NAME
        if len(declarations) > 1 and declaration.name is None:
            error("a network with several inputs must name each of them", declaration.span,
                  f"write `input NAME {declaration.shape.text}`")
            continue
        if any(node.name == name for node in nodes):
            error(f"the input `{name}` is declared twice", declaration.span, "give every input its own name")
            continue
        shape = _input_shape(declaration.shape, error)
        if shape is not None:
            diagnostics += _channels_first_warning(shape, declaration.shape.span)
            nodes.append(InputNode(name=name, shape=shape, span=declaration.span))
    return nodes


def _is_bare_input(chain: syntax.Chain) -> bool:
    first = chain.steps[0]
    return len(chain.steps) == 1 and isinstance(first, syntax.LayerCall) and first.kind == INPUT_NAME


def _input_shape(value: Value, error) -> tuple[int, ...] | None:
    fix = "write the input as HEIGHTxWIDTHxCHANNELS (e.g. `input 28x28x1`) or as a length (`input 784`)"
    if any(integer_too_large(part) for part in value.text.split("x")):
        error(f"the input shape `{shortened(value.text)}` is too large: every size must be at most {MAX_INTEGER:,}",
              value.span, fix)
        return None
    try:
        shape = tuple(int(part) for part in value.text.split("x"))
    except ValueError:
        error(f"`{value.text}` is not an input shape: sizes must be whole numbers", value.span, fix)
        return None
    if any(size < 1 for size in shape):
        error(f"every input size must be at least 1 but received `{value.text}`", value.span, fix)
        return None
    return shape


def _channels_first_warning(shape: tuple[int, ...], span: Span) -> list[Diagnostic]:
    if len(shape) == 3 and shape[0] in (1, 3, 4) and shape[2] > 4 and shape[1] > 4:
        return [Diagnostic(
            Severity.WARNING,
            f"input {format_size(shape)} looks channels-first ({shape[0]} channels of "
            f"{shape[1]}x{shape[2]}), but cnndsl and Keras read it as height x width x channels",
            span, f"write `input {shape[1]}x{shape[2]}x{shape[0]}` if the data has {shape[0]} channels",
        )]
    return []


def _check_layers_follow_inputs(spec: syntax.Spec, error) -> None:
    last_input = max((s.span.line for s in spec.statements if isinstance(s, syntax.InputDecl)), default=None)
    for statement in spec.statements:
        if isinstance(statement, syntax.Chain) and last_input is not None and statement.span.line < last_input:
            error("layers come before the `input` line", statement.span, "move the `input` line above the first layer")
            return


def _outputs(spec: syntax.Spec, scope: Scope, last: str | None, error) -> list[str]:
    declarations = [s for s in spec.statements if isinstance(s, syntax.OutputDecl)]
    if not declarations:
        return [last] if last is not None else []

    outputs = []
    for declaration in declarations:
        for name, span in zip(declaration.names, declaration.spans):
            node = scope.lookup(name)
            if node is None:
                error(f"the output `{name}` is not a tensor name", span,
                      did_you_mean(name, scope.tensors) or "bind a chain's result with `-> name` first")
            elif node in outputs:
                error(f"the output `{name}` is listed twice", span, "list every output once")
            else:
                outputs.append(node)
    return outputs


def default_network_name(source_name: str) -> str:
    """Derive a Python-identifier network name from a spec's file name."""
    stem = PurePath(source_name).stem if source_name not in ("<stdin>", "<spec>") else "network"
    name = re.sub(r"\W", "_", stem) or "network"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = "net_" + name
    return name
