"""Build the layer graph by walking statements: chains, merges, residuals, parallels, blocks.

The builder keeps a "current tensor": the result of the last chain. A chain
continues from it unless it starts from a tensor name or with a merge. Block
calls are expanded in place by BlockExpander (cnndsl/resolve/blocks.py).
"""

from __future__ import annotations

import keyword

from cnndsl import syntax
from cnndsl.errors import Diagnostic, OptionError, Severity, did_you_mean
from cnndsl.graph import BlockInstance, InputNode, LayerNode, Network
from cnndsl.layers import KINDS_BY_NAME, LayerKind
from cnndsl.resolve.blocks import (
    MAX_NODES,
    NAME_PATTERN,
    BlockExpander,
    foreign,
    next_free_name,
)
from cnndsl.resolve.imports import BlockTable
from cnndsl.resolve.options import OptionReader
from cnndsl.resolve.scope import Scope, substitute_options
from cnndsl.syntax import Span, ValueKind

# Limits that keep a mistaken or hostile spec from running for minutes or
# exhausting Python's stack: real networks have a few thousand layers and nest
# blocks a few levels deep, and bench/scaling.py checks 100,000-layer specs.
# MAX_NODES, the number of layers, is in cnndsl/resolve/blocks.py.
MAX_NESTING = 50  # residual, parallel and block calls inside one another
IDENTITY = "identity"


class GraphBuilder(BlockExpander):
    """Expands statements into nodes of `network`, collecting diagnostics instead of stopping."""

    def __init__(self, network: Network, blocks: BlockTable):
        self.network = network
        self.blocks = blocks.blocks
        self.diagnostics: list[Diagnostic] = []
        self.counters: dict[str, int] = {}
        self.call_stack: list[str] = []
        self.open_instances: list[BlockInstance] = []
        self.too_large = False
        self.quiet_without_input = False  # set when the inputs failed and were reported already
        self.default_named: set[str] = set()  # layers named conv1, conv2, ... rather than by `name=`
        self.read: set[str] = set()  # nodes that some layer reads
        self.depth = 0  # residual, parallel and block calls open around the current step
        self.input_count = len(network.inputs)  # inputs are added before the builder runs
        self.too_deep = False

    # ---- Reporting -----------------------------------------------------------

    def error(self, scope: Scope, message: str, span: Span | None, fix: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(Severity.ERROR, message + scope.trace, span, fix, foreign(scope)))

    def warning(self, scope: Scope, message: str, span: Span | None, fix: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(Severity.WARNING, message + scope.trace, span, fix, foreign(scope)))

    # ---- Statements ------------------------------------------------------------

    def run(self, statements: tuple[syntax.Statement, ...], scope: Scope, current: str | None,
            nested: bool = True) -> str | None:
        """Expand the chains among `statements`; return the final current tensor.

        After a chain fails, the chains that continue from it are still checked
        for their own errors, but "this chain has no input" is not reported again.
        """
        failed = False
        for statement in statements:
            if isinstance(statement, syntax.Chain):
                current = self.chain(statement, scope, current, after_failure=failed)
                failed = current is None
            elif nested:
                self.error(scope, "only chains of layers can appear inside braces", statement.span,
                           "move `network`, `input`, `output`, `use`, `block` and `train` to the top level")
        return current

    def chain(self, chain: syntax.Chain, scope: Scope, current: str | None, after_failure: bool = False) -> str | None:
        steps = list(chain.steps)
        first = steps[0]

        if _is_tensor_reference(first, scope):
            current = scope.lookup(first.kind)
            steps = steps[1:]
        elif _is_tensor_like(first):
            if not (first.kind == "input" and len(steps) == 1):  # reported with the inputs
                self._unknown_layer(first, scope, may_be_tensor=True)
            return None
        elif isinstance(first, syntax.Call) and _merge_kind(first.callee):
            # `add(a, b)` merges only the named tensors; `add(skip)` on its own line
            # has too few of them, so it merges the previous line's result with skip.
            named = sum(1 for argument in first.arguments if argument.keyword is None)
            continues = current is not None and named < _merge_kind(first.callee).min_inputs
            current = self.merge_call(first, scope, current if continues else None)
            steps = steps[1:]
        elif current is None:
            if self.quiet_without_input or after_failure:
                return None
            names = [node.name for node in self.network.inputs]
            fix = ("start it from one of the inputs: " + ", ".join(f"`{name} > ...`" for name in names)
                   if len(names) > 1 else "start it from a tensor name (`name > ...`)")
            self.error(scope, "this chain has no input", chain.span, fix)
            return None

        for step in steps:
            if current is None:
                return None
            current = self.step(step, scope, current)

        if chain.binding is not None and current is not None:
            current = self._bind(scope, chain.binding, current, chain.binding_span)
        return current

    def step(self, step: syntax.Step, scope: Scope, current: str) -> str | None:
        if isinstance(step, syntax.LayerCall):
            return self.layer(step, scope, current)
        if isinstance(step, syntax.Call) and _merge_kind(step.callee):
            return self.merge_call(step, scope, current)

        # Each nested residual, parallel or block call recurses a few Python
        # frames deeper, so the nesting is limited well below the recursion limit.
        if self.depth >= MAX_NESTING:
            self._report_too_deep(scope, step)
            return None
        self.depth += 1
        try:
            if isinstance(step, syntax.Call):
                return self.block_call(step, scope, current)
            if isinstance(step, syntax.Residual):
                return self.residual(step, scope, current)
            return self.parallel(step, scope, current)
        finally:
            self.depth -= 1

    def _report_too_deep(self, scope: Scope, step: syntax.Step) -> None:
        if self.too_deep:
            return
        self.too_deep = True
        construct = (f"block call `{step.callee}(...)`" if isinstance(step, syntax.Call)
                     else type(step).__name__.lower())
        self.diagnostics.append(Diagnostic(
            Severity.ERROR, f"this {construct} is nested more than {MAX_NESTING} levels deep in residual, parallel "
            "and block calls", step.span, "flatten the structure: repeat a block with `xN` instead of nesting it",
            foreign(scope)))

    # ---- Layers ----------------------------------------------------------------

    def layer(self, call: syntax.LayerCall, scope: Scope, current: str) -> str | None:
        if call.kind == IDENTITY:
            if call.options:
                self.error(scope, "identity takes no options", call.options[0].span, "write `identity` alone")
            return current
        if call.kind in scope.tensors and not call.options:
            self.error(scope, f"`{call.kind}` is a tensor name, so it can only start a chain", call.span,
                       f"start a new line with `{call.kind} > ...`, or merge it with `add({call.kind})`")
            return None

        kind = KINDS_BY_NAME.get(call.kind)
        if kind is None or kind.merge:
            self._unknown_layer(call, scope)
            return None

        options = self._substituted(call.options, scope)
        config = None if options is None else OptionReader(self._reporter(scope), kind, call.kind, options,
                                                           call.span).read()
        name = self._name(scope, kind, call.options, call.span)
        return self._add(LayerNode(name=name, kind=kind, config=config, inputs=(current,), span=call.span,
                                   source=scope.source))

    def merge_call(self, call: syntax.Call, scope: Scope, current: str | None) -> str | None:
        kind = _merge_kind(call.callee)
        if call.repeat is not None:
            self.error(scope, f"a merge cannot be repeated (`{call.callee}(...) x{call.repeat.count}`)",
                       call.repeat.span, "remove the repeat count")

        inputs = [current] if current is not None else []
        options = []
        for argument in call.arguments:
            if argument.keyword is not None:
                options.append(argument)
                continue
            node = self._tensor_argument(argument, scope, call.callee)
            if node is None:
                return None
            inputs.append(node)

        return self._merge(kind, call.callee, inputs, tuple(options), scope, call.span)

    def _merge(self, kind: LayerKind, written: str, inputs: list[str], options: tuple[syntax.Option, ...],
               scope: Scope, span: Span) -> str | None:
        if len(inputs) < kind.min_inputs or (kind.max_inputs is not None and len(inputs) > kind.max_inputs):
            wanted = f"{kind.min_inputs}" if kind.max_inputs == kind.min_inputs else f"at least {kind.min_inputs}"
            if kind.max_inputs is not None and kind.max_inputs != kind.min_inputs:
                wanted = f"{kind.min_inputs} to {kind.max_inputs}"
            self.error(scope, f"{written} needs {wanted} inputs but receives {len(inputs)}", span,
                       f"list the tensors to merge, e.g. `{written}(a, b)`, or use `{written}(b)` inside a chain")
            return None

        substituted = self._substituted(options, scope)
        config = None if substituted is None else OptionReader(self._reporter(scope), kind, written, substituted,
                                                               span).read()
        name = self._name(scope, kind, options, span)
        return self._add(LayerNode(name=name, kind=kind, config=config, inputs=tuple(inputs), span=span,
                                   source=scope.source))

    # ---- Residual and parallel ---------------------------------------------------

    def residual(self, residual: syntax.Residual, scope: Scope, current: str) -> str | None:
        body = self.run(residual.body, scope, current)
        shortcut = current
        if residual.shortcut is not None and self._condition(residual, scope):
            shortcut = self.run(residual.shortcut, scope, current)
        if body is None or shortcut is None:
            return None
        if body == current:
            self.error(scope, "the residual body is empty", residual.span, "put at least one layer in `residual { }`")
            return None
        return self._merge(KINDS_BY_NAME["add"], "residual", [body, shortcut], (), scope, residual.span)

    def _condition(self, residual: syntax.Residual, scope: Scope) -> bool:
        if residual.condition is None:
            return True
        value = scope.params.get(residual.condition)
        if value is None:
            self.error(scope, f"`shortcut if {residual.condition}` needs a block parameter named "
                       f"`{residual.condition}`", residual.condition_span,
                       "declare it in the block, e.g. `block b(filters, project=false)`")
            return False
        if value.kind is not ValueKind.WORD or value.text not in ("true", "false"):
            self.error(scope, f"`{residual.condition}` must be true or false but is `{value.text}`",
                       residual.condition_span, f"pass `{residual.condition}=true` or `false`")
            return False
        return value.text == "true"

    def parallel(self, parallel: syntax.Parallel, scope: Scope, current: str) -> str | None:
        kind = _merge_kind(parallel.merge)
        if kind is None:
            merges = [name for name, k in KINDS_BY_NAME.items() if k.merge]
            self.error(scope, f"`{parallel.merge}` is not a merge", parallel.merge_span,
                       did_you_mean(parallel.merge, merges) or f"use one of {', '.join(merges)}")
            return None

        outputs = []
        for branch in parallel.branches:
            if not isinstance(branch, syntax.Chain):
                self.error(scope, "only chains of layers can be branches of `parallel`", branch.span,
                           "move declarations out of the braces")
                continue
            outputs.append(self.chain(branch, scope, current))
        if any(output is None for output in outputs):
            return None
        if len(outputs) < kind.min_inputs:
            self.error(scope, f"parallel {parallel.merge} needs at least {kind.min_inputs} branches but has "
                       f"{len(outputs)}", parallel.span, "write one branch per line inside the braces "
                       "(`identity` passes the input through)")
            return None
        return self._merge(kind, parallel.merge, outputs, parallel.options, scope, parallel.span)

    # ---- Names and tensors -----------------------------------------------------------

    def _name(self, scope: Scope, kind: LayerKind, options: tuple[syntax.Option, ...], span: Span) -> str:
        named = [option for option in options if option.keyword == "name"]
        for extra in named[1:]:
            self.error(scope, "the layer is named twice", extra.span, "keep one `name=` option")
        if named:
            value = named[0].value
            if value.kind is not ValueKind.WORD or not NAME_PATTERN.match(value.text):
                self.error(scope, f"`{value.text}` is not a valid layer name", value.span,
                           "use letters, digits and `_`, starting with a letter")
            elif keyword.iskeyword(value.text) or value.text.startswith("__"):
                self.error(scope, f"`{value.text}` cannot name a layer because it is reserved in Python",
                           value.span, "choose another name")
            else:
                full = scope.layer_name(value.text)
                if full in self.network:
                    self.error(scope, f"the layer name `{full}` is used twice", span, "give every layer its own name")
                return full
        name = next_free_name(kind.keyword, self.counters, scope, self.network)
        self.default_named.add(name)
        return name

    def _add(self, node: LayerNode) -> str | None:
        if len(self.network.nodes) - self.input_count >= MAX_NODES:
            if not self.too_large:
                self.diagnostics.append(Diagnostic(Severity.ERROR, f"the network has more than {MAX_NODES:,} "
                                                   "layers", node.span, "split the network or lower the repeat "
                                                   "counts", node.source))
            self.too_large = True
            return None
        if node.name in self.network:
            node.name = next_free_name(node.name, self.counters, Scope(self.network.source), self.network)
        node.scope = self._current_path()
        self.network.add(node)
        self.read.update(node.inputs)
        return node.name

    def _current_path(self) -> tuple[str, ...]:
        return self.open_instances[-1].scope if self.open_instances else ()

    def _bind(self, scope: Scope, name: str, node: str, span: Span | None) -> str:
        """Bind a tensor name; return the node's name, which becomes the tensor name when it had a default one."""
        if name in KINDS_BY_NAME or name in self.blocks or name == IDENTITY:
            self.error(scope, f"`{name}` is a layer kind or block and cannot name a tensor", span,
                       "choose another tensor name")
            return node
        previous = scope.tensors.get(name)
        if previous is not None and isinstance(self.network.node(previous.node), InputNode) \
                and previous.span is None and not scope.path:
            self.error(scope, f"`{name}` is the name of a network input and cannot be rebound", span,
                       "choose another tensor name")
            return node
        if previous is not None and not previous.used:
            self.warning(scope, f"the tensor `{name}` is rebound before it is used", previous.span,
                         "use it, or remove the earlier `-> name`")

        node = self._rename_after_tensor(scope, name, node)
        scope.bind(name, node, span)
        if not isinstance(self.network.node(node), InputNode):
            self.network.tensor_names[node] = scope.layer_name(name)
        return node

    def _rename_after_tensor(self, scope: Scope, name: str, node: str) -> str:
        """Name the layer after the tensor it produces (`-> stem` names it `stem`) when that is safe.

        Only a layer with a default name, produced at this block level and not
        read yet, is renamed; anything else keeps its name.
        """
        new = scope.layer_name(name)
        layer = self.network.node(node)
        safe = (node in self.default_named and node not in self.read and new not in self.network
                and isinstance(layer, LayerNode) and layer.scope == self._current_path())
        if not safe:
            return node
        self.network.rename(node, new)
        self.default_named.discard(node)
        return new

    def _tensor_argument(self, argument: syntax.Option, scope: Scope, callee: str) -> str | None:
        value = argument.value
        if value.kind is ValueKind.WORD:
            node = scope.lookup(value.text)
            if node is not None:
                return node
        self.error(scope, f"`{value.text}` is not a tensor name", value.span,
                   did_you_mean(value.text, scope.tensors)
                   or f"{callee} merges named tensors; bind one with `-> name` first"
                   + (" (options are written `axis=...`)" if value.kind is not ValueKind.WORD else ""))
        return None

    def warn_unused(self, scope: Scope, results: list[str | None]) -> None:
        """Warn about tensor names bound in `scope` that nothing reads; `results` count as read."""
        for name, binding in scope.tensors.items():
            if not binding.used and binding.span is not None and binding.node not in results:
                self.warning(scope, f"the tensor `{name}` is never used", binding.span,
                             "use it, list it in `output`, or remove `-> " + name + "`")

    def _substituted(self, options: tuple[syntax.Option, ...], scope: Scope) -> tuple[syntax.Option, ...] | None:
        """Substitute block parameters and arithmetic; report each failure at its option and return None.

        A layer with a failed option gets no config, so that the option's
        absence is not reported again as a missing required option.
        """
        if not scope.params and all(option.value.kind is not ValueKind.EXPRESSION for option in options):
            return options  # nothing to substitute outside blocks, except arithmetic

        substituted = []
        for option in options:
            try:
                substituted += substitute_options((option,), scope)
            except OptionError as error:
                self.error(scope, error.message, option.span, error.fix)
        return tuple(substituted) if len(substituted) == len(options) else None

    def _reporter(self, scope: Scope):
        return lambda message, span, fix: self.error(scope, message, span, fix)

    def _unknown_layer(self, call: syntax.LayerCall, scope: Scope, may_be_tensor: bool = False) -> None:
        kinds = [name for name, kind in KINDS_BY_NAME.items() if not kind.merge]
        hint = did_you_mean(call.kind, [*kinds, *scope.tensors, *self.blocks])
        if call.kind in self.blocks:
            hint = f"call the block with parentheses: `{call.kind}(...)`"
        elif call.kind in KINDS_BY_NAME:
            hint = f"merges take tensors: `{call.kind}(a, b)`"
        what = "layer kind or tensor name" if may_be_tensor else "layer kind"
        self.error(scope, f"unknown {what} `{call.kind}`", call.kind_span,
                   hint or "see docs/language.md for the layer kinds")


def _merge_kind(name: str) -> LayerKind | None:
    kind = KINDS_BY_NAME.get(name)
    return kind if kind is not None and kind.merge else None


def _is_tensor_reference(step: syntax.Step, scope: Scope) -> bool:
    return isinstance(step, syntax.LayerCall) and not step.options and step.kind in scope.tensors


def _is_tensor_like(step: syntax.Step) -> bool:
    """Return True for a bare unknown word at the start of a chain, such as a misspelt tensor name."""
    return isinstance(step, syntax.LayerCall) and not step.options and step.kind not in KINDS_BY_NAME \
        and step.kind != IDENTITY
