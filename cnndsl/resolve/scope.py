"""Scopes of tensor names and block parameters, and the arithmetic on parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from cnndsl import syntax
from cnndsl.errors import OptionError, shortened
from cnndsl.layers.values import MAX_INTEGER, MAX_NUMBER_LENGTH
from cnndsl.syntax import Source, Span, Value, ValueKind

# Fraction("1e999999999") would compute a billion-digit integer, so arithmetic
# accepts exponents up to this size only, and stops once an intermediate result
# outgrows MAX_INTERMEDIATE, so that a long product cannot grow for minutes.
MAX_EXPONENT = 64
MAX_INTERMEDIATE = 2**256
_EXPONENT = re.compile(r"[eE]([+-]?\d+)\Z")


@dataclass
class Binding:
    """A tensor name: the node it refers to, where it was bound, and whether it was read."""

    node: str
    span: Span | None
    used: bool = False


@dataclass
class Scope:
    """The names visible in the top level of a spec or in one block instance.

    Block bodies see only their own tensors and parameters, never the caller's
    names, so a block means the same wherever it is called.
    """

    source: Source
    prefix: str = ""
    path: tuple[str, ...] = ()
    params: dict[str, Value] = field(default_factory=dict)
    tensors: dict[str, Binding] = field(default_factory=dict)
    trace: str = ""  # " (in block `b` called at line 12)", appended to messages

    def layer_name(self, name: str) -> str:
        return f"{self.prefix}_{name}" if self.prefix else name

    def bind(self, name: str, node: str, span: Span | None) -> None:
        self.tensors[name] = Binding(node, span)

    def lookup(self, name: str) -> str | None:
        binding = self.tensors.get(name)
        if binding is None:
            return None
        binding.used = True
        return binding.node


def substitute(value: Value, scope: Scope) -> Value:
    """Replace a parameter name by its argument and evaluate `( ... )` arithmetic.

    Raises OptionError for arithmetic on something that is not a number.
    """
    if value.kind is ValueKind.WORD and value.text in scope.params:
        argument = scope.params[value.text]
        return Value(argument.kind, argument.text, value.span, argument.expression)
    if value.kind is ValueKind.EXPRESSION:
        number = _evaluate(value.expression, scope)
        if abs(number) > MAX_INTEGER:
            raise OptionError(f"`{shortened(value.text)}` evaluates to a number beyond {MAX_INTEGER:,}",
                              "check the arithmetic and the block arguments")
        text = str(number.numerator) if number.denominator == 1 else str(float(number))
        return Value(ValueKind.NUMBER, text, value.span)
    return value


def substitute_options(options: tuple[syntax.Option, ...], scope: Scope) -> tuple[syntax.Option, ...]:
    """Substitute the value of each option; an option whose value does not change is kept as it is."""
    substituted = []
    for option in options:
        value = substitute(option.value, scope)
        substituted.append(option if value is option.value else syntax.Option(value, option.span, option.keyword))
    return tuple(substituted)


def _evaluate(expression: syntax.Expression, scope: Scope) -> Fraction:
    """Evaluate block arithmetic with an explicit stack, so that `1 + 1 + ... + 1` cannot exhaust Python's."""
    results: list[Fraction] = []
    pending: list[tuple[syntax.Expression, bool]] = [(expression, False)]
    while pending:
        node, operands_done = pending.pop()
        if isinstance(node, syntax.BinaryOperation):
            if operands_done:
                right = results.pop()
                left = results.pop()
                result = _apply(node.operator, left, right)
                if abs(result.numerator) > MAX_INTERMEDIATE or result.denominator > MAX_INTERMEDIATE:
                    raise OptionError(f"block arithmetic grows beyond {MAX_INTEGER:,} at `{node.operator}`",
                                      "check the arithmetic and the block arguments")
                results.append(result)
            else:
                pending += [(node, True), (node.right, False), (node.left, False)]
            continue

        value = substitute(node, scope) if node.kind is not ValueKind.EXPRESSION else node
        if value.kind is ValueKind.EXPRESSION:
            pending.append((value.expression, False))
            continue
        results.append(_operand(value, node.text, scope))
    return results[0]


def _operand(value: Value, written: str, scope: Scope) -> Fraction:
    if value.kind is not ValueKind.NUMBER:
        known = ", ".join(sorted(scope.params)) or "none"
        raise OptionError(f"`{shortened(written)}` in arithmetic is not a number or block parameter "
                          f"(parameters here: {known})")
    exponent = _EXPONENT.search(value.text)
    if len(value.text) > MAX_NUMBER_LENGTH or (exponent and abs(int(exponent.group(1))) > MAX_EXPONENT):
        raise OptionError(f"`{shortened(value.text)}` is too long or too large for block arithmetic",
                          f"write at most {MAX_NUMBER_LENGTH} characters and exponents up to {MAX_EXPONENT}")
    return Fraction(value.text)


def _apply(operator: str, left: Fraction, right: Fraction) -> Fraction:
    if operator == "+":
        return left + right
    if operator == "-":
        return left - right
    if operator == "*":
        return left * right
    if right == 0:
        raise OptionError("division by zero in block arithmetic")
    return Fraction(left // right)
