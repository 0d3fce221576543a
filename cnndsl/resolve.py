"""Resolve the syntax tree into the layer graph: layer kinds, Keras arguments, names.

Compact forms (`k5`, `s2`, `same`, `nobias`) become Keras argument names here
and nowhere else. Every problem found is collected as a diagnostic, so that
one run reports all independent errors.
"""

from __future__ import annotations

import keyword
import re
from pathlib import PurePath
from typing import Any

from cnndsl import syntax
from cnndsl.errors import Diagnostic, OptionError, Severity, did_you_mean
from cnndsl.graph import InputNode, LayerNode, Network
from cnndsl.layers import KINDS_BY_NAME, LayerKind, OptionSpec
from cnndsl.layers.shape_rules import format_size
from cnndsl.syntax import Span, Value, ValueKind

INPUT_NAME = "input"
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
COMPACT_NUMBER = re.compile(r"\d+(x\d+)*\Z")


class Resolver:
    """Turns one Spec into a Network, collecting diagnostics instead of stopping."""

    def __init__(self, spec: syntax.Spec):
        self.spec = spec
        self.diagnostics: list[Diagnostic] = []

    def error(self, message: str, span: Span | None, fix: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(Severity.ERROR, message, span, fix))

    def warning(self, message: str, span: Span | None, fix: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(Severity.WARNING, message, span, fix))

    def resolve(self) -> Network:
        network = Network(name=self._network_name(), source=self.spec.source)

        input_node = self._input_node()
        if input_node is not None:
            network.add(input_node)

        calls = self._layer_calls(input_node)
        names = self._layer_names(calls)
        previous = input_node.name if input_node else INPUT_NAME
        for call, name in zip(calls, names):
            network.add(self._layer_node(call, name, previous))
            previous = name

        network.outputs = [previous] if input_node is not None else []
        return network

    # ---- Header ----------------------------------------------------------

    def _network_name(self) -> str:
        declarations = [s for s in self.spec.statements if isinstance(s, syntax.NetworkDecl)]
        for extra in declarations[1:]:
            self.error(f"the network is named twice (`{declarations[0].name}` and `{extra.name}`)", extra.span,
                       "keep one `network NAME` line")
        if declarations:
            name = declarations[0].name
            if keyword.iskeyword(name):
                self.error(f"`{name}` is a Python keyword and cannot name the network", declarations[0].span,
                           "choose another name")
            return name
        return default_network_name(self.spec.source.name)

    def _input_node(self) -> InputNode | None:
        declarations = [s for s in self.spec.statements if isinstance(s, syntax.InputDecl)]
        if not declarations:
            self.error("the spec has no `input` line", None,
                       "declare the input shape before the first layer, e.g. `input 28x28x1`")
            return None
        for extra in declarations[1:]:
            self.error("the input is declared twice", extra.span, "keep one `input` line")

        declaration = declarations[0]
        shape = self._input_shape(declaration.shape)
        if shape is None:
            return None
        self._warn_channels_first(shape, declaration.shape.span)
        return InputNode(name=INPUT_NAME, shape=shape, span=declaration.span)

    def _input_shape(self, value: Value) -> tuple[int, ...] | None:
        fix = "write the input as HEIGHTxWIDTHxCHANNELS (e.g. `input 28x28x1`) or as a length (`input 784`)"
        if value.kind not in (ValueKind.SIZE, ValueKind.NUMBER):
            self.error(f"`{value.text}` is not an input shape", value.span, fix)
            return None
        try:
            shape = tuple(int(part) for part in value.text.split("x"))
        except ValueError:
            self.error(f"`{value.text}` is not an input shape: sizes must be whole numbers", value.span, fix)
            return None
        if any(size < 1 for size in shape):
            self.error(f"every input size must be at least 1 but received `{value.text}`", value.span, fix)
            return None
        return shape

    def _warn_channels_first(self, shape: tuple[int, ...], span: Span) -> None:
        if len(shape) == 3 and shape[0] in (1, 3, 4) and shape[2] > 4 and shape[1] > 4:
            self.warning(
                f"input {format_size(shape)} looks channels-first ({shape[0]} channels of "
                f"{shape[1]}x{shape[2]}), but cnndsl and Keras read it as height x width x channels",
                span, f"write `input {shape[1]}x{shape[2]}x{shape[0]}` if the data has {shape[0]} channels",
            )

    # ---- Layers ----------------------------------------------------------

    def _layer_calls(self, input_node: InputNode | None) -> list[syntax.LayerCall]:
        calls: list[syntax.LayerCall] = []
        input_line = next((s.span.line for s in self.spec.statements if isinstance(s, syntax.InputDecl)), None)
        for statement in self.spec.statements:
            if not isinstance(statement, syntax.Chain):
                continue
            if input_line is not None and statement.span.line < input_line:
                self.error("layers come before the `input` line", statement.span,
                           "move the `input` line above the first layer")
            calls.extend(statement.layers)
        if not calls and input_node is not None:
            self.error("the network has no layers", input_node.span,
                       "add layers after the input, e.g. `flatten > dense 10 softmax`")
        return calls

    def _layer_names(self, calls: list[syntax.LayerCall]) -> list[str]:
        """Return one unique Keras layer name per call: `name=` where given, else `conv1`, `conv2`, ..."""
        explicit: list[str | None] = [self._explicit_name(call) for call in calls]
        taken = {INPUT_NAME}
        for call, name in zip(calls, explicit):
            if name is None:
                continue
            if name in taken:
                self.error(f"the layer name `{name}` is used twice", call.span, "give every layer its own name")
            taken.add(name)

        counters: dict[str, int] = {}
        names: list[str] = []
        for call, name in zip(calls, explicit):
            if name is None:
                kind = KINDS_BY_NAME.get(call.kind)
                base = kind.keyword if kind else call.kind
                name = _next_free(base, counters, taken)
                taken.add(name)
            names.append(name)
        return names

    def _explicit_name(self, call: syntax.LayerCall) -> str | None:
        named = [option for option in call.options if option.keyword == "name"]
        for extra in named[1:]:
            self.error("the layer is named twice", extra.span, "keep one `name=` option")
        if not named:
            return None
        value = named[0].value
        if value.kind is not ValueKind.WORD or not NAME_PATTERN.match(value.text):
            self.error(f"`{value.text}` is not a valid layer name", value.span,
                       "use letters, digits and `_`, starting with a letter")
            return None
        if keyword.iskeyword(value.text) or value.text.startswith("__"):
            self.error(f"`{value.text}` cannot name a layer because it is reserved in Python", value.span,
                       "choose another name")
            return None
        return value.text

    def _layer_node(self, call: syntax.LayerCall, name: str, previous: str) -> LayerNode:
        kind = KINDS_BY_NAME.get(call.kind)
        if kind is None:
            self.error(f"unknown layer kind `{call.kind}`", call.kind_span,
                       did_you_mean(call.kind, KINDS_BY_NAME) or "see docs/language.md for the layer kinds")
            return LayerNode(name=name, kind=None, config=None, inputs=(previous,), span=call.span)

        config = OptionReader(self, kind, call).read()
        return LayerNode(name=name, kind=kind, config=config, inputs=(previous,), span=call.span)


class OptionReader:
    """Reads the options of one layer call into a complete Keras config.

    An invalid optional value is reported and replaced by its default, so that
    the checker can go on and report independent errors further down. A layer
    that lacks a required option gets no config, and its shape stays unknown.
    """

    def __init__(self, resolver: Resolver, kind: LayerKind, call: syntax.LayerCall):
        self.resolver = resolver
        self.kind = kind
        self.call = call
        self.values: dict[str, Any] = {}
        self.where: dict[str, Span] = {}
        self.attempted: set[str] = set()

    def read(self) -> dict[str, Any] | None:
        for option in self.call.options:
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
                self._error(f"{self.call.kind}: {error.message}", self.call.span, error.fix)
                return None
        return config

    def _error(self, message: str, span: Span, fix: str | None = None) -> None:
        self.resolver.error(message, span, fix)

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

        spec = next((s for s in self.kind.options if s.positional and s.name not in self.values), None)
        if spec is None:
            self._error(f"{self.call.kind} takes no more bare values but received `{option.value.text}`",
                        option.value.span, self._keyword_fix())
            return None
        return self._parse(spec, option.value)

    def _match_word(self, value: Value) -> tuple[OptionSpec, Any] | None:
        word = value.text
        for spec in self.kind.options:
            if word in spec.flags:
                return spec, spec.flags[word]

        for spec in sorted(self.kind.options, key=lambda s: -len(s.prefix or "")):
            if spec.prefix and word.startswith(spec.prefix) and COMPACT_NUMBER.match(word[len(spec.prefix):]):
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
            self._error(f"{self.call.kind} {spec.name} `{written}` is invalid: {error.message}", value.span,
                        error.fix or f"{spec.name} takes {spec.type.describe()}")
            return None

    def _set(self, spec: OptionSpec, value: Any, span: Span) -> None:
        if spec.name in self.values:
            first = self.where[spec.name]
            self._error(f"{self.call.kind} sets {spec.name} twice (first at line {first.line}, "
                        f"column {first.column})", span, "keep one of the two")
            return
        self.values[spec.name] = value
        self.where[spec.name] = span

    def _require_all(self) -> bool:
        """Report required options that were not given; return False if any value is missing."""
        complete = True
        for spec in self.kind.options:
            if spec.required and spec.name not in self.values:
                complete = False
                if spec.name not in self.attempted:
                    self._error(f"{self.call.kind} needs {spec.name} ({spec.help})", self.call.span,
                                f"add {_forms(spec)}")
        return complete

    def _unknown_keyword(self, option: syntax.Option) -> None:
        known = [name for spec in self.kind.options for name in (spec.name, *spec.aliases)] + ["name"]
        hint = did_you_mean(option.keyword, known)
        fix = hint or (f"{self.call.kind} accepts {', '.join(f'`{n}=`' for n in known)}" if known else None)
        key_span = Span(option.span.line, option.span.column, option.span.line,
                        option.span.column + len(option.keyword))
        self._error(f"{self.call.kind} has no option `{option.keyword}`", key_span, fix)

    def _unknown_word(self, value: Value) -> None:
        word = value.text
        if word in KINDS_BY_NAME:
            self._error(f"`{word}` is a layer kind, not an option of {self.call.kind}", value.span,
                        "separate layers with `>` or a new line")
            return

        words = [flag for spec in self.kind.options for flag in spec.flags]
        hint = self._compact_hint(word) or did_you_mean(word, words)
        if hint is None:
            examples = [f"{spec.prefix}3" for spec in self.kind.options if spec.prefix]
            accepted = words[:12] + examples
            hint = (f"{self.call.kind} accepts {', '.join(f'`{w}`' for w in accepted)}" if accepted
                    else f"{self.call.kind} takes no options")
        self._error(f"unknown option `{word}` for {self.call.kind}", value.span, hint)

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
            return f"remove the value: {self.call.kind} takes no options"
        return "name the option, e.g. " + ", ".join(f"`{name}=...`" for name in names[:4])


def _forms(spec: OptionSpec) -> str:
    forms = []
    if spec.positional:
        forms.append("a bare value")
    if spec.prefix:
        forms.append(f"`{spec.prefix}3`")
    forms.append(f"`{spec.name}=...`")
    return " or ".join(forms)


def _next_free(base: str, counters: dict[str, int], taken: set[str]) -> str:
    while True:
        counters[base] = counters.get(base, 0) + 1
        separator = "_" if base[-1].isdigit() else ""
        name = f"{base}{separator}{counters[base]}"
        if name not in taken:
            return name


def default_network_name(source_name: str) -> str:
    """Derive a Python-identifier network name from a spec's file name."""
    stem = PurePath(source_name).stem if source_name != "<stdin>" else "network"
    name = re.sub(r"\W", "_", stem) or "network"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = "net_" + name
    return name


def resolve(spec: syntax.Spec) -> tuple[Network, list[Diagnostic]]:
    """Resolve `spec` into a Network and the diagnostics found on the way."""
    resolver = Resolver(spec)
    network = resolver.resolve()
    return network, resolver.diagnostics
