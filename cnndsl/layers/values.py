"""Value types of layer options: each turns a written value into the Keras argument.

A value type parses one `Value` node and raises OptionError with the rule that
failed and the received text. The resolver adds the source position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from cnndsl.errors import OptionError, shortened
from cnndsl.syntax import Value, ValueKind

# Sizes and counts beyond 2**31 - 1 are mistakes in a spec, and many TensorFlow
# kernels index tensor axes with 32-bit integers. Longer numbers are rejected
# before conversion, because int() refuses literals of more than 4,300 digits.
MAX_INTEGER = 2**31 - 1
MAX_NUMBER_LENGTH = 40


def integer_too_large(literal: str) -> bool:
    """Return True for an integer literal (optionally negative) whose magnitude exceeds MAX_INTEGER."""
    digits = literal.removeprefix("-")
    return digits.isascii() and digits.isdigit() and (len(digits) > 10 or int(digits) > MAX_INTEGER)


def _integers(value: Value) -> list[int]:
    if value.kind not in (ValueKind.NUMBER, ValueKind.SIZE):
        raise OptionError(f"expected an integer but received `{shortened(value.text)}`")
    parts = value.text.split("x")
    if any(integer_too_large(part) for part in parts):
        raise OptionError(f"`{shortened(value.text)}` is too large: integers in a spec are limited to {MAX_INTEGER:,}",
                          "use a smaller value")
    try:
        return [int(part) for part in parts]
    except ValueError:
        raise OptionError(f"expected an integer but received `{shortened(value.text)}`") from None


def _number(value: Value) -> float | Fraction:
    if len(value.text) > MAX_NUMBER_LENGTH:
        raise OptionError(f"`{shortened(value.text)}` has more than {MAX_NUMBER_LENGTH} characters",
                          "write the number with an exponent, e.g. 1.5e-7")
    if value.kind is ValueKind.FRACTION:
        numerator, denominator = value.text.split("/")
        if float(denominator) == 0:
            raise OptionError(f"`{value.text}` divides by zero")
        return Fraction(numerator) / Fraction(denominator)
    if value.kind is ValueKind.NUMBER:
        number = float(value.text)
        if not math.isfinite(number):
            raise OptionError(f"`{value.text}` is not a finite number")
        return number
    raise OptionError(f"expected a number but received `{value.text}`")


@dataclass(frozen=True)
class Integer:
    """A whole number of at least `minimum` (filters, units)."""

    minimum: int = 1

    def parse(self, value: Value) -> int:
        numbers = _integers(value)
        if len(numbers) != 1:
            raise OptionError(f"expected one integer but received `{value.text}`")
        if numbers[0] < self.minimum:
            raise OptionError(f"must be at least {self.minimum} but received {numbers[0]}")
        return numbers[0]

    def describe(self) -> str:
        return "integer" if self.minimum <= 0 else f"integer >= {self.minimum}"


@dataclass(frozen=True)
class Pair:
    """Height and width: `5` means 5x5, `3x5` means height 3 and width 5."""

    minimum: int = 1

    def parse(self, value: Value) -> tuple[int, int]:
        numbers = _integers(value)
        if len(numbers) == 1:
            numbers = numbers * 2
        if len(numbers) != 2:
            raise OptionError(f"expected N or HxW but received `{value.text}`")
        for number in numbers:
            if number < self.minimum:
                raise OptionError(f"every size must be at least {self.minimum} but received `{value.text}`")
        return (numbers[0], numbers[1])

    def describe(self) -> str:
        return "N or HxW"


@dataclass(frozen=True)
class Padding2D:
    """Rows and columns to add or remove: N, HxW, or TOPxBOTTOMxLEFTxRIGHT."""

    def parse(self, value: Value) -> tuple[tuple[int, int], tuple[int, int]]:
        numbers = _integers(value)
        if any(number < 0 for number in numbers):
            raise OptionError(f"sizes must not be negative but received `{value.text}`")
        if len(numbers) == 1:
            numbers = numbers * 4
        elif len(numbers) == 2:
            numbers = [numbers[0], numbers[0], numbers[1], numbers[1]]
        if len(numbers) != 4:
            raise OptionError(f"expected N, HxW or TOPxBOTTOMxLEFTxRIGHT but received `{value.text}`")
        return ((numbers[0], numbers[1]), (numbers[2], numbers[3]))

    def describe(self) -> str:
        return "N, HxW or TxBxLxR"


@dataclass(frozen=True)
class TargetShape:
    """A Reshape target such as 7x7x64 or -1x64, with at most one -1."""

    def parse(self, value: Value) -> tuple[int, ...]:
        numbers = _integers(value)
        if numbers.count(-1) > 1:
            raise OptionError(f"at most one dimension can be -1 but received `{value.text}`")
        if any(number == 0 or number < -1 for number in numbers):
            raise OptionError(f"dimensions must be positive (or -1 for one inferred dimension) "
                              f"but received `{value.text}`")
        return tuple(numbers)

    def describe(self) -> str:
        return "shape such as 7x7x64"


@dataclass(frozen=True)
class Number:
    """A real number, optionally limited to [minimum, maximum]; ratios such as 1/255 allowed."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_maximum: bool = False

    def parse(self, value: Value) -> float | Fraction:
        number = _number(value)
        if self.minimum is not None and number < self.minimum:
            raise OptionError(f"must be at least {self.minimum:g} but received {value.text}")
        if self.maximum is not None:
            too_large = number >= self.maximum if self.exclusive_maximum else number > self.maximum
            if too_large:
                bound = "below" if self.exclusive_maximum else "at most"
                raise OptionError(f"must be {bound} {self.maximum:g} but received {value.text}")
        return number

    def describe(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f"number in [{self.minimum:g}, {self.maximum:g}{')' if self.exclusive_maximum else ']'}"
        return "number"


@dataclass(frozen=True)
class Choice:
    """One word out of a fixed set (padding, interpolation, activation)."""

    choices: tuple[str, ...]

    def parse(self, value: Value) -> str:
        if value.kind is not ValueKind.WORD or value.text not in self.choices:
            from cnndsl.errors import did_you_mean

            hint = did_you_mean(value.text, self.choices)
            raise OptionError(f"`{value.text}` is not one of {', '.join(self.choices)}", hint)
        return value.text

    def describe(self) -> str:
        return " | ".join(self.choices)


@dataclass(frozen=True)
class Boolean:
    """`true` or `false`."""

    def parse(self, value: Value) -> bool:
        if value.kind is ValueKind.WORD and value.text in ("true", "false"):
            return value.text == "true"
        raise OptionError(f"expected true or false but received `{value.text}`")

    def describe(self) -> str:
        return "true | false"


def python_literal(value: Any) -> str:
    """Render an option value as Python source: ratios stay `1 / 255`, tuples stay tuples."""
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return f"{value.numerator}.0"
        return f"{value.numerator} / {value.denominator}"
    if isinstance(value, tuple):
        inner = ", ".join(python_literal(item) for item in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def keras_value(value: Any) -> Any:
    """Convert an option value to what Keras accepts (ratios become floats)."""
    if isinstance(value, Fraction):
        return float(value)
    if isinstance(value, tuple):
        return tuple(keras_value(item) for item in value)
    return value
