"""Random layers for the differential tests: each is drawn as Keras arguments, then written in the DSL.

The Keras arguments are the ground truth. The DSL text is written from them
in the forms that docs/language.md documents: bare values, compact `k3`,
keywords and their aliases, and flag words, chosen at random. The forms are
typed here by hand rather than read from cnndsl's option tables, so that a
wrong table in cnndsl shows up as a disagreement with Keras.

A `Draw` supplies every random choice, so the same code runs under
Hypothesis (which can shrink a failing spec) and under `random.Random` (for
the long benchmark run). Layers inside a block may take a sizing argument from
a block parameter, written as a `ParamExpr`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence, TypeVar

from cnndsl.layers.common import ACTIVATIONS

T = TypeVar("T")

Shape = tuple[int, ...]

STANDALONE_ACTIVATIONS = {
    "relu": "relu", "relu6": "relu6", "selu": "selu", "gelu": "gelu", "silu": "silu", "swish": "silu",
    "sigmoid": "sigmoid", "hard_sigmoid": "hard_sigmoid", "hard_silu": "hard_silu", "hard_swish": "hard_silu",
    "tanh": "tanh", "softmax": "softmax", "softplus": "softplus", "mish": "mish",
}
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5", "area")


class Draw(Protocol):
    """The source of every random choice of the generator."""

    def integer(self, low: int, high: int) -> int: ...

    def choice(self, options: Sequence[T]) -> T: ...

    def chance(self, probability: float) -> bool: ...


class RandomDraw:
    """Draws from `random.Random`, for the long run in bench/differential.py."""

    def __init__(self, seed: int):
        self.random = random.Random(seed)

    def integer(self, low: int, high: int) -> int:
        return self.random.randint(low, high)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.random.randrange(len(options))]

    def chance(self, probability: float) -> bool:
        return self.random.random() < probability


class HypothesisDraw:
    """Draws through Hypothesis, which shrinks towards small integers, first options and no rare branches."""

    def __init__(self, draw: Callable):
        from hypothesis import strategies

        self.draw = draw
        self.strategies = strategies

    def integer(self, low: int, high: int) -> int:
        return self.draw(self.strategies.integers(low, high))

    def choice(self, options: Sequence[T]) -> T:
        return self.draw(self.strategies.sampled_from(list(options)))

    def chance(self, probability: float) -> bool:
        return self.draw(self.strategies.integers(0, 999)) >= round(1000 * (1 - probability))


@dataclass(frozen=True)
class ParamExpr:
    """A layer argument computed from block parameters: its DSL text and its value for given arguments."""

    text: str
    evaluate: Callable[[dict[str, Any]], Any]


@dataclass
class LayerPlan:
    """One Keras layer: its class, its constructor arguments and the same layer in the DSL."""

    keras_class: str
    arguments: dict[str, Any]
    text: str
    keyword: str  # the cnndsl layer kind, for the coverage check
    estimate: Shape | None = None  # the generator's guess of the output shape, used only to steer it


@dataclass
class Context:
    """The estimated input shape and block parameters at the place where a layer is drawn."""

    shape: Shape | None
    params: dict[str, int] = field(default_factory=dict)  # estimated values of integer block parameters
    invalid_rate: float = 0.08  # how often a value is drawn outside what Keras accepts


# ---- Writing options ------------------------------------------------------------


def pair_text(value: int | tuple[int, int]) -> str:
    return str(value) if isinstance(value, int) else f"{value[0]}x{value[1]}"


def option_text(draw: Draw, value: str, *, bare: bool = False, compact: str | None = None,
                keywords: Sequence[str] = ()) -> str:
    """Write one option in one of its documented forms."""
    forms = [value] if bare else []
    if compact and all(part.isdigit() for part in value.split("x")):
        forms.append(compact + value)
    forms += [f"{keyword}={value}" for keyword in keywords]
    return draw.choice(forms)


def shuffled(draw: Draw, items: list[str]) -> list[str]:
    remaining = list(items)
    result = []
    while remaining:
        result.append(remaining.pop(draw.integer(0, len(remaining) - 1)))
    return result


def layer_text(draw: Draw, names: Sequence[str], options: list[str]) -> str:
    return " ".join([draw.choice(names), *shuffled(draw, [option for option in options if option])])


def evaluated(value: Any, params: dict[str, int]) -> Any:
    return value.evaluate(params) if isinstance(value, ParamExpr) else value


# ---- Values -----------------------------------------------------------------------


def draw_count(draw: Draw, context: Context, low: int = 1, high: int = 12) -> int | ParamExpr:
    """Filters or units: a number, or inside a block an expression of the parameter `f`."""
    if "f" in context.params and draw.chance(0.6):
        return draw.choice((ParamExpr("f", lambda env: env["f"]), ParamExpr("(f * 2)", lambda env: env["f"] * 2),
                            ParamExpr("(f // 2 + 1)", lambda env: env["f"] // 2 + 1)))
    if draw.chance(context.invalid_rate / 2):
        return 0
    return draw.integer(low, high)


def count_text(value: int | ParamExpr) -> str:
    return value.text if isinstance(value, ParamExpr) else str(value)


def spatial(context: Context) -> tuple[int, int]:
    shape = context.shape
    if shape is None or len(shape) != 3:
        return (8, 8)
    return (max(1, shape[0]), max(1, shape[1]))


def draw_window(draw: Draw, context: Context, high: int = 5) -> int | tuple[int, int]:
    """A kernel or pool size that usually fits the input; sometimes too large, rarely 0."""
    if draw.chance(context.invalid_rate / 3):
        return 0
    limit = max(1, min(high, *spatial(context)))
    if draw.chance(context.invalid_rate):
        limit = high + 2
    if draw.chance(0.2):
        return (draw.integer(1, limit), draw.integer(1, limit))
    return draw.integer(1, limit)


def draw_step(draw: Draw, high: int = 3) -> int | tuple[int, int]:
    if draw.chance(0.15):
        return (draw.integer(1, high), draw.integer(1, high))
    return draw.integer(1, high)


def both(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else value


def draw_activation(draw: Draw) -> str | None:
    return draw.choice(ACTIVATIONS) if draw.chance(0.4) else None


def activation_text(draw: Draw, activation: str | None) -> str:
    if activation is None:
        return ""
    return draw.choice((activation, f"activation={activation}"))


def bias_text(draw: Draw, use_bias: bool) -> str:
    if use_bias:
        return draw.choice(("", "", "bias", "use_bias=true", "bias=true"))
    return draw.choice(("nobias", "use_bias=false", "bias=false"))


def number_text(value: float) -> str:
    return repr(value)
