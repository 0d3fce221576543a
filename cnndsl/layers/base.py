"""The definition of a layer kind: its DSL form, Keras class and rules, in one object.

Every layer kind in cnndsl is one `LayerKind`. The resolver reads its options to
turn a written layer into Keras arguments, the checker calls its shape and
parameter rules, and the back ends read its Keras class and diagram label.
"""

from __future__ import annotations

import functools
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from cnndsl.layers.formulas import ZERO, Formula
from cnndsl.layers.values import Pair, python_literal
from cnndsl.layers.windows import PASS_THROUGH, Window

Shape = tuple[int | None, ...]
"""A tensor shape without the batch dimension."""

Config = Mapping[str, Any]
"""Keras constructor arguments of one layer, by Keras argument name."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class OptionSpec:
    """One Keras argument of a layer kind and every way a spec may write it.

    `name` is the Keras argument name, which is also the keyword form
    (`kernel_size=5`), and `aliases` are shorter keywords (`kernel=5`). A bare
    number or size fills the first unset `positional` option. `prefix` enables
    the compact form (`k5`, `s2`), and `flags` maps bare words to values (`same`,
    `nobias`). `keras_positional` options are passed positionally in generated code.
    """

    name: str
    type: Any
    default: Any = REQUIRED
    help: str = ""
    aliases: tuple[str, ...] = ()
    positional: bool = False
    prefix: str | None = None
    flags: Mapping[str, Any] = field(default_factory=dict)
    keras_positional: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def render(self, value: Any) -> str:
        """Render `value` as Python source, writing a square pair such as (5, 5) as 5."""
        if isinstance(self.type, Pair) and isinstance(value, tuple) and value[0] == value[1]:
            return str(value[0])
        return python_literal(value)


def no_params(config: Config, shape: Shape) -> tuple[int, int]:
    return (0, 0)


def same_shape(config: Config, shape: Shape) -> Shape:
    return shape


def no_warnings(config: Config, shape: Shape) -> list[tuple[str, str]]:
    return []


def no_macs(config: Config, shape: Shape, output: Shape) -> Formula:
    return ZERO


def pass_through(config: Config, shape: Shape, output: Shape) -> Window:
    return PASS_THROUGH


ParamsFormula = tuple[Formula, Formula]
"""The parameter count as formulas: (all parameters, the non-trainable ones)."""

AxisFormula = tuple[str, Formula]
"""One output size as a formula, with the axis it sizes: ("height", floor((28 - 5) / 1) + 1)."""


@dataclass(frozen=True)
class LayerKind:
    """A layer kind of the language, such as `conv` (keras.layers.Conv2D).

    `input_rank` is the rank (without batch) Keras requires, or None for any
    rank of at least `min_rank`. `output_shape` and `params` are the shape and
    parameter rules. Both receive the resolved config and the input shape, and
    `output_shape` raises ShapeError where Keras would fail. `warnings` lists
    (message, fix) pairs for inputs that Keras accepts but users rarely mean.
    `fixed` are Keras arguments set by the kind itself (Activation("relu")).
    A merge kind (`merge=True`) takes `min_inputs` to `max_inputs` tensors; its
    rules receive the list of input shapes instead of one shape.

    The analysis rules receive the config, the input shape and the output shape.
    `macs` counts multiply-accumulates per sample (docs/analysis.md gives the
    convention), `receptive_field` says which input positions each output
    position reads (a merge returns one window per input), and
    `explain_params` and `explain_shape` write the parameter
    count and the output sizes as formulas. `explain_params` is None for kinds
    without weights, and `explain_shape` returns an empty list where the output
    shape needs no arithmetic.
    """

    keyword: str
    keras_class: str
    summary: str
    options: tuple[OptionSpec, ...] = ()
    aliases: tuple[str, ...] = ()
    input_rank: int | None = None
    min_rank: int = 1
    output_shape: Callable[[Config, Shape], Shape] = same_shape
    params: Callable[[Config, Shape], tuple[int, int]] = no_params
    label: Callable[[Config], str] = lambda config: ""
    warnings: Callable[[Config, Shape], list[tuple[str, str]]] = no_warnings
    validate: Callable[[Config], None] | None = None
    fixed: Mapping[str, Any] = field(default_factory=dict)
    merge: bool = False
    min_inputs: int = 1
    max_inputs: int | None = 1
    macs: Callable[[Config, Any, Shape], Formula] = no_macs
    receptive_field: Callable[[Config, Any, Shape], Window] = pass_through
    explain_params: Callable[[Config, Shape], ParamsFormula] | None = None
    explain_shape: Callable[[Config, Any, Shape], list[AxisFormula]] = lambda config, shape, output: []

    def option(self, name: str) -> OptionSpec | None:
        """Return the option whose Keras name or alias is `name`."""
        for option in self.options:
            if name == option.name or name in option.aliases:
                return option
        return None

    def defaults(self) -> Mapping[str, Any]:
        """Return the default of every optional option, read-only (it is computed once per kind)."""
        return self._defaults

    @functools.cached_property
    def _defaults(self) -> Mapping[str, Any]:
        return types.MappingProxyType({option.name: option.default for option in self.options
                                       if not option.required})

    @functools.cached_property
    def required_options(self) -> tuple[OptionSpec, ...]:
        return tuple(option for option in self.options if option.required)

    @functools.cached_property
    def positional_options(self) -> tuple[OptionSpec, ...]:
        """Return the options that a bare value sets, in the order bare values fill them."""
        return tuple(option for option in self.options if option.positional)

    @functools.cached_property
    def flag_options(self) -> Mapping[str, tuple[OptionSpec, Any]]:
        """Map each flag word (`same`, `relu`) to its option and value; the first option with the word wins."""
        table: dict[str, tuple[OptionSpec, Any]] = {}
        for option in self.options:
            for word, value in option.flags.items():
                table.setdefault(word, (option, value))
        return types.MappingProxyType(table)

    @functools.cached_property
    def prefixed_options(self) -> tuple[OptionSpec, ...]:
        """Return the options with a compact prefix (`k` in `k5`), longest prefix first."""
        return tuple(sorted((option for option in self.options if option.prefix), key=lambda o: -len(o.prefix)))

    def keras_arguments(self, config: Config) -> dict[str, Any]:
        """Return every Keras constructor argument: fixed ones, then the options."""
        return {**self.fixed, **config}

    def call_arguments(self, config: Config) -> tuple[list[str], list[tuple[str, str]]]:
        """Return the Keras call as source: positional values, then non-default keywords.

        Only arguments that differ from the Keras default are written, so the
        generated call stays short and builds the same layer.
        """
        positional: list[str] = []
        keywords: list[tuple[str, str]] = [(name, python_literal(value)) for name, value in self.fixed.items()]

        for option in self.options:
            value = config[option.name]
            if option.keras_positional:
                positional.append(option.render(value))
            elif option.required or value != option.default:
                keywords.append((option.name, option.render(value)))

        return positional, keywords
