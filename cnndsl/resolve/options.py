"""Read the options of one layer into Keras arguments.

Compact forms (`k5`, `s2`, `same`, `nobias`) become Keras argument names here
and nowhere else. Every problem is reported through a callback, so that one
run reports all independent errors.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from cnndsl import syntax
from cnndsl.errors import OptionError, did_you_mean
from cnndsl.layers import KINDS_BY_NAME, LayerKind, OptionSpec
from cnndsl.syntax import Span, Value, ValueKind

Report = Callable[[str, Span, "str | None"], None]
"""Callback that records an error: (message, span, fix)."""

COMPACT_NUMBER = re.compile(r"\d+(x\d+)*\Z")


class OptionReader:
    """Reads the options of one layer call into a complete Keras config.

    An invalid optional value is reported and replaced by its default, so that
    the checker can go on and report independent errors further down. A layer
    that lacks a required option gets no config, and its shape stays unknown.
    """

    def __init__(self, report: Report, kind: LayerKind, written: str, options: tuple[syntax.Option, ...],
                 span: Span):
        self.report = report
        self.kind = kind
        self.written = written
        self.options = options
        self.span = span
        self.values: dict[str, Any] = {}
        self.where: dict[str, Span] = {}
        self.attempted: set[str] = set()

    def read(self) -> dict[str, Any] | None:
        for option in self.options:
            if option.keyword == "name":
                continue
            found = self._match(option)
            if found is not None:
                self._set(*found, option.span)

        if not self._require_all():
            return None

        config = {**self.kind.defaults(), **self.values}
        if self.kind.validate is not None:
            try:
                self.kind.validate(config)
            except OptionError as error:
                self._error(f"{self.written}: {error.message}", self.span, error.fix)
                return None
        return config

    def _error(self, message: str, span: Span, fix: str | None = None) -> None:
        self.report(message, span, fix)

    def _match(self, option: syntax.Option) -> tuple[OptionSpec, Any] | None:
        """Return the option spec and parsed value that `option` sets, or None after an error."""
        if option.keyword is not None:
            spec = self.kind.option(option.keyword)
            if spec is None:
                self._unknown_keyword(option)
                return None
            return self._parse(spec, option.value)

        if option.value.kind is ValueKind.WORD:
            return self._match_word(option.value)

        spec = next((s for s in self.kind.positional_options if s.name not in self.values), None)
        if spec is None:
            self._error(f"{self.written} takes no more bare values but received `{option.value.text}`",
                        option.value.span, self._keyword_fix())
            return None
        return self._parse(spec, option.value)

    def _match_word(self, value: Value) -> tuple[OptionSpec, Any] | None:
        word = value.text
        flag = self.kind.flag_options.get(word)
        if flag is not None:
            return flag

        for spec in self.kind.prefixed_options:
            if word.startswith(spec.prefix) and COMPACT_NUMBER.match(word[len(spec.prefix):]):
                digits = word[len(spec.prefix):]
                kind = ValueKind.SIZE if "x" in digits else ValueKind.NUMBER
                return self._parse(spec, Value(kind, digits, value.span), shown=word)

        self._unknown_word(value)
        return None

    def _parse(self, spec: OptionSpec, value: Value, shown: str | None = None) -> tuple[OptionSpec, Any] | None:
        self.attempted.add(spec.name)
        try:
            return spec, spec.type.parse(value)
        except OptionError as error:
            written = shown or value.text
            self._error(f"{self.written} {spec.name} `{written}` is invalid: {error.message}", value.span,
                        error.fix or f"{spec.name} takes {spec.type.describe()}")
            return None

    def _set(self, spec: OptionSpec, value: Any, span: Span) -> None:
        if spec.name in self.values:
            first = self.where[spec.name]
            self._error(f"{self.written} sets {spec.name} twice (first at line {first.line}, "
                        f"column {first.column})", span, "keep one of the two")
            return
        self.values[spec.name] = value
        self.where[spec.name] = span

    def _require_all(self) -> bool:
        """Report required options that were not given; return False if any value is missing."""
        complete = True
        for spec in self.kind.required_options:
            if spec.name not in self.values:
                complete = False
                if spec.name not in self.attempted:
                    self._error(f"{self.written} needs {spec.name} ({spec.help})", self.span,
                                f"add {_forms(spec)}")
        return complete

    def _unknown_keyword(self, option: syntax.Option) -> None:
        known = [name for spec in self.kind.options for name in (spec.name, *spec.aliases)] + ["name"]
        hint = did_you_mean(option.keyword, known)
        fix = hint or (f"{self.written} accepts {', '.join(f'`{n}=`' for n in known)}" if known else None)
        key_span = Span(option.span.line, option.span.column, option.span.line,
                        option.span.column + len(option.keyword))
        self._error(f"{self.written} has no option `{option.keyword}`", key_span, fix)

    def _unknown_word(self, value: Value) -> None:
        word = value.text
        if word in KINDS_BY_NAME:
            self._error(f"`{word}` is a layer kind, not an option of {self.written}", value.span,
                        "separate layers with `>` or a new line")
            return

        words = [flag for spec in self.kind.options for flag in spec.flags]
        hint = self._compact_hint(word) or did_you_mean(word, words)
        if hint is None:
            examples = [f"{spec.prefix}3" for spec in self.kind.options if spec.prefix]
            accepted = words[:12] + examples
            hint = (f"{self.written} accepts {', '.join(f'`{w}`' for w in accepted)}" if accepted
                    else f"{self.written} takes no options")
        self._error(f"unknown option `{word}` for {self.written}", value.span, hint)

    def _compact_hint(self, word: str) -> str | None:
        """Suggest `s2` or `strides=2` for a word such as `stride2` or `strides2`."""
        match = re.fullmatch(r"([A-Za-z_]+?)_?(\d+(?:x\d+)*)", word)
        if match is None:
            return None
        spec = self.kind.option(match.group(1))
        if spec is None:
            return None
        forms = ([f"`{spec.prefix}{match.group(2)}`"] if spec.prefix else []) + [f"`{spec.name}={match.group(2)}`"]
        return "write " + " or ".join(forms)

    def _keyword_fix(self) -> str:
        names = [spec.name for spec in self.kind.options]
        if not names:
            return f"remove the value: {self.written} takes no options"
        return "name the option, e.g. " + ", ".join(f"`{name}=...`" for name in names[:4])


def _forms(spec: OptionSpec) -> str:
    forms = []
    if spec.positional:
        forms.append("a bare value")
    if spec.prefix:
        forms.append(f"`{spec.prefix}3`")
    forms.append(f"`{spec.name}=...`")
    return " or ".join(forms)
