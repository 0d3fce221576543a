"""Random specs for the differential tests: chains, named tensors, merges, residual, parallel and blocks.

`SpecGenerator.spec()` returns a `SpecPlan`: the structure of a spec with
every layer's Keras arguments, which keras_oracle.py builds in Keras, and
`SpecPlan.text()`, the same spec in the DSL for cnndsl. The generator keeps a
rough estimate of every tensor's shape, so that most specs build. It also
draws a mistake now and then, such as a window larger than the input, a merge
of different shapes or a layer of the wrong rank, so that both outcomes occur.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Union

from cnndsl.layers import KINDS_BY_NAME
from specgen_kinds import SHAPE_KEEPING, ANY_RANK_KINDS, SPATIAL_KINDS, draw_layer, draw_same_shape_conv
from specgen_layers import Context, Draw, LayerPlan, ParamExpr, Shape

MERGES = {"add": "Add", "subtract": "Subtract", "multiply": "Multiply", "average": "Average",
          "maximum": "Maximum", "minimum": "Minimum", "concat": "Concatenate", "concatenate": "Concatenate"}


@dataclass
class MergePlan:
    """A merge call: `add(a, b)` starting a chain, or `> concat(skip)` merging the current tensor."""

    keras_class: str
    arguments: dict[str, Any]
    tensors: list[str]
    continues: bool  # the current tensor is the first input
    text: str
    keyword: str


@dataclass
class ResidualPlan:
    """`residual { body } shortcut if condition { shortcut }`: Add()([body, shortcut or input])."""

    body: list[ChainPlan]
    shortcut: list[ChainPlan] | None = None
    condition: str | None = None  # a block parameter; the shortcut applies when it is true


@dataclass
class ParallelPlan:
    """`parallel merge options { one branch per line }`."""

    keras_class: str
    arguments: dict[str, Any]
    header: str
    branches: list[ChainPlan]
    keyword: str


@dataclass
class BlockPlan:
    name: str
    params: list[tuple[str, str | None]]  # name and default text
    body: list[ChainPlan]


@dataclass
class BlockCallPlan:
    """`name(arguments) xN first(overrides)`; argument values are ints or "true"/"false"."""

    block: BlockPlan
    arguments: dict[str, Any]
    first: dict[str, Any]
    repeat: int
    text: str


Step = Union[LayerPlan, MergePlan, ResidualPlan, ParallelPlan, BlockCallPlan, str]  # str: "identity"


@dataclass
class ChainPlan:
    start: str | None = None  # a tensor name the chain starts from; None continues from the current tensor
    steps: list[Step] = field(default_factory=list)
    binding: str | None = None


@dataclass
class SpecPlan:
    network: str | None
    inputs: list[tuple[str | None, Shape]]
    blocks: list[BlockPlan]
    chains: list[ChainPlan]
    outputs: list[str] = field(default_factory=list)  # empty: the last chain's result

    def text(self) -> str:
        lines = [f"network {self.network}"] if self.network else []
        for block in self.blocks:
            params = ", ".join(name if default is None else f"{name}={default}" for name, default in block.params)
            lines.append(f"block {block.name}({params}) {{")
            lines += _chain_lines(block.body, "    ")
            lines.append("}")
        lines += [f"input {name} {_size(shape)}" if name else f"input {_size(shape)}" for name, shape in self.inputs]
        lines += _chain_lines(self.chains, "")
        if self.outputs:
            lines.append("output " + ", ".join(self.outputs))
        return "\n".join(lines) + "\n"


def _size(shape: Shape) -> str:
    return "x".join(str(size) for size in shape)


def _chain_lines(chains: list[ChainPlan], indent: str) -> list[str]:
    lines: list[str] = []
    for chain in chains:
        parts = [chain.start] if chain.start else []
        parts += [_step_text(step, indent) for step in chain.steps]
        text = indent + " > ".join(parts)
        if chain.binding:
            text += f" -> {chain.binding}"
        lines += text.split("\n")
    return lines


def _step_text(step: Step, indent: str) -> str:
    inner = indent + "    "
    if isinstance(step, str):
        return step
    if isinstance(step, (LayerPlan, MergePlan, BlockCallPlan)):
        return step.text
    if isinstance(step, ResidualPlan):
        text = "residual {\n" + "\n".join(_chain_lines(step.body, inner)) + f"\n{indent}}}"
        if step.shortcut is not None:
            condition = f" if {step.condition}" if step.condition else ""
            text += f" shortcut{condition} {{\n" + "\n".join(_chain_lines(step.shortcut, inner)) + f"\n{indent}}}"
        return text
    return f"{step.header} {{\n" + "\n".join(_chain_lines(step.branches, inner)) + f"\n{indent}}}"


@dataclass
class Scope:
    """The generator's view of one scope: named tensors and the current tensor, with estimated shapes."""

    tensors: dict[str, Shape | None] = field(default_factory=dict)
    current: Shape | None = None
    has_current: bool = False
    params: dict[str, int] = field(default_factory=dict)
    flags: tuple[str, ...] = ()  # boolean block parameters, usable in `shortcut if`


class SpecGenerator:
    """Draws one random spec; `max_layers` bounds the size of each chain."""

    def __init__(self, draw: Draw, max_layers: int = 5):
        self.draw = draw
        self.max_layers = max_layers
        self.names = 0
        self.blocks: list[BlockPlan] = []
        self.block_names = 0
        self.depth = 0

    def spec(self) -> SpecPlan:
        draw = self.draw
        scope = Scope()
        inputs = self._inputs(scope)
        chains = [self.chain(scope) for _ in range(draw.integer(1, 3))]
        outputs: list[str] = []
        bound = [name for name in scope.tensors if name.startswith("t")]
        if len(bound) >= 2 and draw.chance(0.2):
            outputs = bound[-2:]
        network = draw.choice(("Net", "tiny_net")) if draw.chance(0.2) else None
        return SpecPlan(network, inputs, self.blocks, chains, outputs)

    def _inputs(self, scope: Scope) -> list[tuple[str | None, Shape]]:
        draw = self.draw
        count = 1 if draw.chance(0.8) else draw.integer(2, 3)
        inputs = []
        for index in range(count):
            if draw.chance(0.85):
                side = draw.integer(3, 20)
                shape: Shape = (side, side if draw.chance(0.7) else draw.integer(3, 20), draw.integer(1, 6))
            else:
                shape = (draw.integer(2, 32),)
            if count > 1 and index > 0 and draw.chance(0.6):
                shape = inputs[0][1]  # equal shapes make the merges of several inputs valid
            name = "abc"[index] if count > 1 else None
            inputs.append((name, shape))
            scope.tensors[name or "input"] = shape
        if count == 1:
            scope.current, scope.has_current = inputs[0][1], True
        return inputs

    # ---- Chains --------------------------------------------------------------------

    def chain(self, scope: Scope, max_steps: int | None = None, allow_start: bool = True) -> ChainPlan:
        draw = self.draw
        plan = ChainPlan()
        shape, started = scope.current, scope.has_current
        if scope.tensors and allow_start and (not started or draw.chance(0.25)):
            plan.start = draw.choice(sorted(scope.tensors))
            shape, started = scope.tensors[plan.start], True
        elif not started:
            return ChainPlan(start=None, steps=[self.layer(Context(None, scope.params))])  # "this chain has no input"

        if len(scope.tensors) >= 2 and draw.chance(0.1):
            plan.start = None
            merge, shape = self.merge(scope, shape, starts=True)
            plan.steps.append(merge)

        for _ in range(draw.integer(1, max_steps or self.max_layers)):
            step, shape = self.step(scope, shape)
            plan.steps.append(step)

        if draw.chance(0.3):
            self.names += 1
            plan.binding = f"t{self.names}"
            scope.tensors[plan.binding] = shape
        scope.current, scope.has_current = shape, True
        return plan

    def step(self, scope: Scope, shape: Shape | None) -> tuple[Step, Shape | None]:
        draw = self.draw
        roll = draw.integer(0, 99)
        nested = self.depth < 2
        if roll < 8 and scope.tensors:
            return self.merge(scope, shape, starts=False)
        if roll < 16 and nested:
            return self.residual(scope, shape)
        if roll < 23 and nested:
            return self.parallel(scope, shape)
        if roll < 30 and nested:
            return self.block_call(scope, shape)
        layer = self.layer(Context(shape, scope.params))
        return layer, layer.estimate

    def layer(self, context: Context) -> LayerPlan:
        return draw_layer(self.draw, context)

    # ---- Merges --------------------------------------------------------------------

    def merge(self, scope: Scope, shape: Shape | None, starts: bool) -> tuple[MergePlan, Shape | None]:
        draw = self.draw
        keyword = draw.choice(sorted(MERGES))
        matching = [name for name, other in scope.tensors.items() if other == shape]
        pool = matching if matching and draw.chance(0.8) else sorted(scope.tensors)
        count = draw.integer(2, 3) if starts else 1
        if keyword == "subtract":
            count = 2 if starts else 1
        tensors = [draw.choice(pool) for _ in range(count)]
        arguments: dict[str, Any] = {}
        options = []
        if MERGES[keyword] == "Concatenate" and draw.chance(0.3):
            arguments["axis"] = draw.choice((-1, -1, 1, 2, 3, -2))
            options.append(f"axis={arguments['axis']}")
        text = f"{keyword}({', '.join(tensors + options)})"
        estimate = shape if starts is False else scope.tensors[tensors[0]]
        plan = MergePlan(MERGES[keyword], arguments, tensors, continues=not starts, text=text, keyword=keyword)
        return plan, estimate if "axis" not in arguments and MERGES[keyword] != "Concatenate" else None

    def residual(self, scope: Scope, shape: Shape | None) -> tuple[ResidualPlan, Shape | None]:
        draw = self.draw
        channels = shape[-1] if shape else 4
        projected = draw.chance(0.3)
        self.depth += 1
        body_chain = ChainPlan()
        filters: int | ParamExpr = draw.integer(1, 8) if projected else channels
        if "f" in scope.params and projected:
            filters = ParamExpr("f", lambda env: env["f"])
        body_chain.steps.append(draw_same_shape_conv(draw, Context(shape, scope.params), filters))
        for _ in range(draw.integer(0, 2)):
            body_chain.steps.append(self._shape_keeping(Context(shape, scope.params)))
        plan = ResidualPlan(body=[body_chain])
        if projected:
            plan.shortcut = [ChainPlan(steps=[draw_same_shape_conv(draw, Context(shape, scope.params), filters)])]
            if scope.flags and draw.chance(0.5):
                plan.condition = scope.flags[0]
        self.depth -= 1
        return plan, shape

    def _shape_keeping(self, context: Context) -> LayerPlan:
        kinds = {**SPATIAL_KINDS, **ANY_RANK_KINDS}
        image = context.shape is not None and len(context.shape) == 3
        choices = [kind for kind in SHAPE_KEEPING if image or kind != "spatialdropout"]
        if self.draw.chance(context.invalid_rate):
            return draw_layer(self.draw, context)
        return kinds[self.draw.choice(choices)](self.draw, context)

    def parallel(self, scope: Scope, shape: Shape | None) -> tuple[ParallelPlan, Shape | None]:
        draw = self.draw
        keyword = draw.choice(("concat", "concat", "add", "maximum", "average", "multiply"))
        channels = shape[-1] if shape else 4
        branches = []
        self.depth += 1
        for _ in range(draw.integer(2, 3)):
            if draw.chance(0.25):
                branches.append(ChainPlan(steps=["identity"]))
                continue
            filters = draw.integer(1, 8) if keyword == "concat" else channels
            steps: list[Step] = [draw_same_shape_conv(draw, Context(shape, scope.params), filters)]
            if draw.chance(0.4):
                steps.append(self._shape_keeping(Context(shape, scope.params)))
            branches.append(ChainPlan(steps=steps))
        self.depth -= 1
        arguments: dict[str, Any] = {}
        header = f"parallel {keyword}"
        if keyword == "concat" and draw.chance(0.3):
            arguments["axis"] = draw.choice((-1, 3, -1))
            header += draw.choice((f" axis={arguments['axis']}", f" {arguments['axis']}"))
        estimate = shape if keyword != "concat" else None
        return ParallelPlan(MERGES[keyword], arguments, header, branches, keyword), estimate

    # ---- Blocks --------------------------------------------------------------------

    def block_call(self, scope: Scope, shape: Shape | None) -> tuple[BlockCallPlan, Shape | None]:
        draw = self.draw
        f = draw.integer(1, 8)
        if not self.blocks or (len(self.blocks) < 2 and draw.chance(0.4)):
            self.blocks.append(self._block(shape, f))
        block = draw.choice(self.blocks)
        params = dict(block.params)
        arguments: dict[str, Any] = {"f": f}
        texts = [draw.choice((str(f), f"f={f}"))]
        if "s" in params and draw.chance(0.3):
            arguments["s"] = draw.integer(1, 2)
            texts.append(f"s={arguments['s']}")
        if "p" in params and draw.chance(0.3):
            arguments["p"] = draw.choice(("true", "false"))
            texts.append(f"p={arguments['p']}")
        text = f"{block.name}({', '.join(texts)})"
        repeat, first = 1, {}
        if draw.chance(0.35):
            repeat = draw.integer(1, 3)
            text += f" x{repeat}"
            if draw.chance(0.5):
                first = {"s": 2} if "s" in params else {"f": draw.integer(1, 8)}
                if "p" in params and draw.chance(0.5):
                    first["p"] = "true"
                text += " first(" + ", ".join(f"{name}={value}" for name, value in first.items()) + ")"
        return BlockCallPlan(block, arguments, first, repeat, text), None

    def _block(self, shape: Shape | None, f: int) -> BlockPlan:
        draw = self.draw
        self.block_names += 1  # a counter, because a block drawn inside another is listed before it
        name = f"blk{self.block_names}"
        params: list[tuple[str, str | None]] = [("f", None)]
        if draw.chance(0.5):
            params.append(("s", "1"))
        if draw.chance(0.4):
            params.append(("p", "false"))
        values = {"f": f, "s": 1}
        inner = Scope(current=shape, has_current=True, params=values,
                      flags=("p",) if any(param == "p" for param, _ in params) else ())
        self.depth += 1
        body = [self._block_chain(inner, shape, "s" in dict(params))]
        if draw.chance(0.4):
            body.append(self.chain(inner, max_steps=2, allow_start=False))
        self.depth -= 1
        return BlockPlan(name, params, body)

    def _block_chain(self, inner: Scope, shape: Shape | None, strided: bool) -> ChainPlan:
        draw = self.draw
        plan = ChainPlan()
        if draw.chance(0.4):
            step, shape = self.residual(inner, shape)
            plan.steps.append(step)
        else:
            conv = draw_same_shape_conv(draw, Context(shape, inner.params), ParamExpr("f", lambda env: env["f"]))
            if strided:
                conv.arguments["strides"] = ParamExpr("s", lambda env: env["s"])
                conv.text += " " + draw.choice(("strides=s", "stride=s"))
                shape = None
            plan.steps.append(conv)
            shape = conv.estimate if not strided else None
        for _ in range(draw.integer(0, 2)):
            layer = self._shape_keeping(Context(shape, inner.params))
            plan.steps.append(layer)
        inner.current, inner.has_current = shape, True
        return plan


def constructs_of(plan: SpecPlan) -> Counter:
    """Count the layer kinds (by cnndsl keyword) and graph constructs that a plan uses."""
    found: Counter = Counter()
    found["several inputs"] += len(plan.inputs) > 1
    found["output line"] += bool(plan.outputs)
    pending: list = [*plan.chains, *(chain for block in plan.blocks for chain in block.body)]
    while pending:
        item = pending.pop()
        if isinstance(item, ChainPlan):
            found["named start"] += item.start is not None
            found["binding"] += item.binding is not None
            pending += item.steps
        elif isinstance(item, LayerPlan):
            found[KINDS_BY_NAME[item.keyword].keyword if item.keyword in KINDS_BY_NAME else item.keyword] += 1
        elif isinstance(item, MergePlan):
            found[KINDS_BY_NAME[item.keyword].keyword] += 1
            found["merge in a chain" if item.continues else "merge starting a chain"] += 1
        elif isinstance(item, ResidualPlan):
            found["residual"] += 1
            found["shortcut"] += item.shortcut is not None
            found["shortcut if"] += item.condition is not None
            pending += [*item.body, *(item.shortcut or [])]
        elif isinstance(item, ParallelPlan):
            found["parallel"] += 1
            found[KINDS_BY_NAME[item.keyword].keyword] += 1
            pending += item.branches
        elif isinstance(item, BlockCallPlan):
            found["block call"] += 1
            found["repeat"] += item.repeat > 1
            found["first(...)"] += bool(item.first)
        elif item == "identity":
            found["identity"] += 1
    return +found  # unary plus drops the constructs counted zero times
