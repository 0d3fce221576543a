"""Arithmetic kept as text and value, so that one rule gives both a count and its explanation.

`product(16, total(product(6, 5, 5), 1))` is the Formula `16 x (6 x 5 x 5 + 1)`
with the value 2,416. Layer kinds write their MAC, parameter and output-size
rules with these helpers, and `cnndsl summary --explain` prints the text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

# Binding strength of a formula's outermost operator. A product wraps a sum
# operand in brackets, and a sum never needs to wrap anything.
_SUM, _PRODUCT, _ATOM = 0, 1, 2


@dataclass(frozen=True)
class Formula:
    """An integer expression: its text, with numbers filled in, and its value."""

    text: str
    value: int
    precedence: int = _ATOM

    def __str__(self) -> str:
        """Write `text = value`, or the value alone when the text is just that number."""
        result = f"{self.value:,}"
        return result if self.text == result else f"{self.text} = {result}"


Term = Union[Formula, int]


def number(value: int) -> Formula:
    return Formula(f"{value:,}", value)


def _formula(term: Term) -> Formula:
    return term if isinstance(term, Formula) else number(term)


def _operand(term: Formula, precedence: int) -> str:
    return f"({term.text})" if term.precedence < precedence else term.text


def product(*terms: Term) -> Formula:
    """Return the product of `terms`, written `a x b x c`."""
    formulas = [_formula(term) for term in terms]
    if len(formulas) == 1:
        return formulas[0]
    text = " x ".join(_operand(formula, _PRODUCT) for formula in formulas)
    return Formula(text, math.prod(formula.value for formula in formulas), _PRODUCT)


def total(*terms: Term) -> Formula:
    """Return the sum of `terms`, written `a + b + c`."""
    formulas = [_formula(term) for term in terms]
    if len(formulas) == 1:
        return formulas[0]
    text = " + ".join(formula.text for formula in formulas)
    return Formula(text, sum(formula.value for formula in formulas), _SUM)


def group(term: Term) -> Formula:
    """Return `term` in brackets, to show how a product splits: `(10 x 10 x 16) x (5 x 5 x 6)`."""
    formula = _formula(term)
    if formula.precedence == _ATOM:
        return formula
    return Formula(f"({formula.text})", formula.value)


def named(text: str, value: int) -> Formula:
    """Return a formula whose text was written by the caller, such as `floor((28 - 5) / 1) + 1`."""
    return Formula(text, value, _SUM)


ZERO = number(0)
