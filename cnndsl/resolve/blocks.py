"""Block calls: expand a block's body in place, once per copy, with its arguments as parameters.

An instance's layers are named after it (`stage2_block1_conv1`) and remember
the instances they belong to. BlockExpander is a part of GraphBuilder
(cnndsl/resolve/builder.py): it uses the builder's reporting, `run` and
`warn_unused`, and the builder calls `block_call`.
"""

from __future__ import annotations

import re

from cnndsl import syntax
from cnndsl.errors import Diagnostic, OptionError, Severity, did_you_mean
from cnndsl.graph import BlockInstance, Network
from cnndsl.layers import KINDS_BY_NAME
from cnndsl.resolve.scope import Scope, substitute
from cnndsl.syntax import Source, ValueKind

NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")  # Keras rejects scope names starting with "_"
MAX_NODES = 200_000  # layers, not counting the inputs; see MAX_NESTING in builder.py


class BlockExpander:
    """The block-call methods of GraphBuilder."""

    def block_call(self, call: syntax.Call, scope: Scope, current: str) -> str | None:
        block = self.blocks.get(call.callee)
        if block is None:
            candidates = [*self.blocks, *(name for name, kind in KINDS_BY_NAME.items() if kind.merge)]
            self.error(scope, f"unknown block or merge `{call.callee}`", call.callee_span,
                       did_you_mean(call.callee, candidates) or "define it with `block NAME(...) { ... }`")
            return None
        if block.name in self.call_stack:
            cycle = " -> ".join([*self.call_stack[self.call_stack.index(block.name):], block.name])
            self.error(scope, f"block `{block.name}` calls itself ({cycle})", call.span,
                       "blocks cannot be recursive; repeat a block with `xN` instead")
            return None

        arguments = [a for a in call.arguments if a.keyword != "name"]
        base = self._instance_base(call, scope)
        count = call.repeat.count if call.repeat else 1
        if count < 1:
            self.error(scope, "a block must be repeated at least once", call.repeat.span, "use x1 or more")
            return None

        if call.repeat and call.repeat.first_name not in (None, "first"):
            self.error(scope, f"`{call.repeat.first_name}(...)` after `x{count}` is not understood",
                       call.repeat.span, "write `first(...)` to give the first copy its own arguments")
            return None

        for index in range(count):
            first = call.repeat.first if call.repeat and index == 0 else ()
            name = base if count == 1 else f"{base}_block{index + 1}"
            nodes_before = len(self.network.nodes)
            current = self._instance(block, call, _override(block, arguments, first), name, scope, current)
            if current is None or self.too_large:
                return None
            if index == 0 and count > 1 and self._repeat_too_large(call, scope, count,
                                                                   len(self.network.nodes) - nodes_before):
                return None
        return current

    def _repeat_too_large(self, call: syntax.Call, scope: Scope, count: int, per_instance: int) -> bool:
        """Report a repeat that would exceed MAX_NODES, before expanding the remaining copies."""
        expected = len(self.network.nodes) - self.input_count + (count - 1) * per_instance
        if expected <= MAX_NODES:
            return False
        self.too_large = True
        self.diagnostics.append(Diagnostic(
            Severity.ERROR, f"`{call.callee}(...) x{count:,}` would make the network about {expected:,} layers, "
            f"more than the limit of {MAX_NODES:,}", call.repeat.span,
            "lower the repeat count", foreign(scope)))
        return True

    def _instance(self, block: syntax.BlockDef, call: syntax.Call, arguments: list[syntax.Option], name: str,
                  scope: Scope, current: str) -> str | None:
        inner = self._block_scope(block, call, arguments, name, scope)
        if inner is None:
            return None

        instance = BlockInstance(name=inner.prefix, block=block.name, scope=inner.path, span=call.span,
                                 inputs=(current,))
        self.network.block_instances.append(instance)
        self.call_stack.append(block.name)
        self.open_instances.append(instance)
        output = self.run(block.body, inner, current)
        self.open_instances.pop()
        self.call_stack.pop()

        self.warn_unused(inner, [output])
        if output == current:
            self.error(scope, f"block `{block.name}` has no layers", block.span, "add layers to the block body")
            return None
        instance.output = output
        return output

    def _block_scope(self, block: syntax.BlockDef, call: syntax.Call, arguments: list[syntax.Option], name: str,
                     scope: Scope) -> Scope | None:
        values: dict[str, syntax.Value] = {}
        positional = [param.name for param in block.params]
        for argument in arguments:
            if argument.keyword is not None and argument.keyword in values:
                self.error(scope, f"block `{block.name}` receives `{argument.keyword}` twice", argument.span,
                           "give each argument once")
                return None
            if argument.keyword is None:
                if not positional:
                    self.error(scope, f"block `{block.name}` takes {len(block.params)} arguments but receives more",
                               argument.span, f"its parameters are: {', '.join(p.name for p in block.params)}")
                    return None
                values[positional.pop(0)] = argument.value
                continue
            if argument.keyword not in {param.name for param in block.params}:
                self.error(scope, f"block `{block.name}` has no parameter `{argument.keyword}`", argument.span,
                           did_you_mean(argument.keyword, [p.name for p in block.params])
                           or f"its parameters are: {', '.join(p.name for p in block.params) or 'none'}")
                return None
            if argument.keyword in positional:
                positional.remove(argument.keyword)
            values[argument.keyword] = argument.value

        inner = Scope(source=block.source or scope.source, prefix=scope.layer_name(name), path=(*scope.path, name),
                      trace=f" (in block `{block.name}` called at line {call.span.line})" + scope.trace)
        for param in block.params:
            value = values.get(param.name, param.default)
            if value is None:
                self.error(scope, f"block `{block.name}` needs the argument `{param.name}`", call.span,
                           f"call it as `{block.name}({', '.join(p.name + '=...' for p in block.params)})`")
                return None
            try:
                value = substitute(value, scope)
            except OptionError as error:
                self.error(scope, error.message, value.span, error.fix)
                return None
            inner.params[param.name] = value
            if value.kind is ValueKind.WORD and value.text in scope.tensors:
                inner.bind(param.name, scope.lookup(value.text), None)
                inner.tensors[param.name].used = True
        return inner

    def _instance_base(self, call: syntax.Call, scope: Scope) -> str:
        """Return the instance name relative to `scope`; _block_scope adds the caller's prefix."""
        named = [a for a in call.arguments if a.keyword == "name"]
        if named and named[0].value.kind is ValueKind.WORD and NAME_PATTERN.match(named[0].value.text):
            return named[0].value.text
        full = next_free_name(call.callee, self.counters, scope, self.network)
        return full[len(scope.prefix) + 1:] if scope.prefix else full


def _override(block: syntax.BlockDef, arguments: list[syntax.Option],
              first: tuple[syntax.Option, ...]) -> list[syntax.Option]:
    """Return the call's arguments with those of `first(...)` replacing the ones they name.

    A positional argument is matched to its parameter as _block_scope matches
    it, so `b(64) x3 first(filters=32)` replaces the 64 for the first copy.
    """
    replaced = {option.keyword for option in first if option.keyword is not None}
    if not replaced:
        return [*arguments, *first]
    unfilled = [param.name for param in block.params]
    remaining = []
    for argument in arguments:
        if argument.keyword is not None:
            name = argument.keyword
            if name in unfilled:
                unfilled.remove(name)
        else:
            name = unfilled.pop(0) if unfilled else None
        if name in replaced:
            continue
        if argument.keyword is None and name is not None:
            argument = syntax.Option(argument.value, argument.span, keyword=name)
        remaining.append(argument)
    return [*remaining, *first]


def foreign(scope: Scope) -> Source | None:
    """Return the source that diagnostics in `scope` point into: another file's for a block from `use`."""
    return scope.source


def next_free_name(base: str, counters: dict[str, int], scope: Scope, network: Network) -> str:
    """Return the first of `base1`, `base2`, ... (`base_1` after a digit) in `scope` that no layer has yet."""
    key = scope.layer_name(base)
    while True:
        counters[key] = counters.get(key, 0) + 1
        separator = "_" if base[-1].isdigit() else ""
        name = scope.layer_name(f"{base}{separator}{counters[key]}")
        if name not in network:
            return name
