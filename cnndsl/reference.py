"""Render the layer reference of docs/language.md from the layer registry.

`python -m cnndsl.reference` prints the reference as Markdown, and
`python -m cnndsl.reference --write docs/language.md` replaces the section
between the two GENERATED LAYER REFERENCE marker comments of that file.
tests/test_reference.py fails when the file and the registry disagree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnndsl.errors import CnnDslError
from cnndsl.layers import ALL_KINDS, KINDS_BY_NAME, LayerKind, OptionSpec
from cnndsl.layers.base import REQUIRED
from cnndsl.layers.common import ACTIVATIONS
from cnndsl.layers.shape_rules import format_size
from cnndsl.layers.values import Choice, Pair, python_literal
from cnndsl.pipeline import analyse_text

BEGIN_MARKER = "<!-- BEGIN GENERATED LAYER REFERENCE -->"
END_MARKER = "<!-- END GENERATED LAYER REFERENCE -->"
WRITE_COMMAND = "python -m cnndsl.reference --write docs/language.md"

# One example per layer kind: the input shape it is shown on, and the layer line.
# A kind missing here gets its bare keyword as the example if it has no
# required option, and no example otherwise.
EXAMPLES: dict[str, tuple[str, str]] = {
    "conv": ("32x32x3", "conv 32 k3 same relu"),
    "dwconv": ("32x32x16", "dwconv 3 s2 same relu"),
    "sepconv": ("32x32x16", "sepconv 32 k3 same relu nobias"),
    "deconv": ("8x8x64", "deconv 32 k3 s2 op1 same relu"),
    "maxpool": ("32x32x16", "maxpool k3 s2 same"),
    "avgpool": ("32x32x16", "avgpool 2"),
    "gavgpool": ("8x8x64", "gavgpool"),
    "gmaxpool": ("8x8x64", "gmaxpool keepdims"),
    "dense": ("128", "dense 10 softmax"),
    "flatten": ("7x7x64", "flatten"),
    "reshape": ("784", "reshape 28x28x1"),
    "dropout": ("128", "dropout 0.5"),
    "spatialdropout": ("16x16x32", "spatialdropout 0.2"),
    "rescale": ("28x28x1", "rescale 1/255"),
    "batchnorm": ("16x16x32", "batchnorm momentum=0.9"),
    "layernorm": ("128", "layernorm eps=1e-6"),
    "zeropad": ("28x28x1", "zeropad 2"),
    "crop": ("32x32x1", "crop 2x0x2x0"),
    "upsample": ("16x16x32", "upsample 2 bilinear"),
    "leaky_relu": ("128", "leaky_relu 0.1"),
    "elu": ("128", "elu 0.5"),
    "add": ("8x8x16", "conv 16 k3 same > add(input)"),
    "subtract": ("8x8x16", "conv 16 k3 same > subtract(input)"),
    "multiply": ("8x8x16", "conv 16 k1 sigmoid > multiply(input)"),
    "average": ("8x8x16", "conv 16 k3 same > average(input)"),
    "maximum": ("8x8x16", "conv 16 k3 same > maximum(input)"),
    "minimum": ("8x8x16", "conv 16 k3 same > minimum(input)"),
    "concat": ("8x8x16", "conv 32 k3 same > concat(input)"),
}

DEFAULT_IMAGE_INPUT = "32x32x3"
DEFAULT_VECTOR_INPUT = "128"

OPTION_COLUMNS = ("Option", "Aliases", "Compact form", "Flag words", "Bare value", "Default", "Value", "Meaning")
PLAIN_COLUMNS = ("Layer kind", "Aliases", "Keras layer", "Summary", "Input", "Example")
FLAG_LIST_LIMIT = 6


# ---- Examples -------------------------------------------------------------


def example_for(kind: LayerKind) -> tuple[str, str] | None:
    """Return the (input shape, layer line) example of `kind`, or None if it has none."""
    if kind.keyword in EXAMPLES:
        return EXAMPLES[kind.keyword]
    if any(option.required for option in kind.options):
        return None
    default_input = DEFAULT_IMAGE_INPUT if kind.input_rank == 3 else DEFAULT_VECTOR_INPUT
    return default_input, kind.keyword


def example_spec(input_shape: str, line: str) -> str:
    """Return the complete spec that checks an example line."""
    return f"input {input_shape}\n{line}\n"


def _example_result(kind: LayerKind, input_shape: str, line: str) -> tuple[str, int]:
    """Check an example and return its output shape (as written in specs) and parameter count."""
    try:
        checked = analyse_text(example_spec(input_shape, line), name=f"<example of {kind.keyword}>")
    except CnnDslError as error:
        raise ValueError(f"the example `{line}` of layer kind `{kind.keyword}` is invalid. "
                         f"Fix EXAMPLES in cnndsl/reference.py:\n{error}") from None
    layer = checked.network.layers[-1]
    return format_size(layer.output_shape), layer.params


def _example_sentence(kind: LayerKind) -> str:
    example = example_for(kind)
    if example is None:
        return "No example yet."
    input_shape, line = example
    output_shape, params = _example_result(kind, input_shape, line)
    noun = "parameter" if params == 1 else "parameters"
    return f"Example: `{line}` on input `{input_shape}` gives output `{output_shape}` with {params:,} {noun}."


# ---- Table cells ------------------------------------------------------------


def _cell(text: str) -> str:
    """Escape a table cell, because a bare `|` would end the cell even inside backticks."""
    return text.replace("|", "\\|").replace("\n", " ")


def _table(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return lines


def _code_list(words) -> str:
    return ", ".join(f"`{word}`" for word in words)


def describe_keras_class(kind: LayerKind) -> str:
    """Return the Keras class with the arguments the kind fixes: `keras.layers.Activation("relu")`."""
    if not kind.fixed:
        return f"`keras.layers.{kind.keras_class}`"
    arguments = ", ".join(f"{name}={python_literal(value)}" for name, value in kind.fixed.items())
    return f"`keras.layers.{kind.keras_class}({arguments})`"


def describe_input(kind: LayerKind) -> str:
    """Describe the input rank (batch axis excluded) that the kind accepts."""
    if kind.input_rank == 3:
        return "image (height x width x channels)"
    if kind.input_rank is not None:
        return f"{kind.input_rank}-D tensor"
    if kind.min_rank > 1:
        return f"any rank from {kind.min_rank}"
    return "any rank"


def describe_compact(option: OptionSpec) -> str:
    if option.prefix is None:
        return ""
    forms = [f"{option.prefix}N"]
    if isinstance(option.type, Pair):
        forms.append(f"{option.prefix}HxW")
    return _code_list(forms)


def describe_flags(option: OptionSpec) -> str:
    """List the flag words of an option, with the value each sets unless the word is the value."""
    if not option.flags:
        return ""
    if all(word == value for word, value in option.flags.items()):
        words = list(option.flags)
        if isinstance(option.type, Choice) and set(words) == set(option.type.choices) and len(words) > FLAG_LIST_LIMIT:
            return f"every value, e.g. `{words[0]}`"
        return _code_list(words)
    return ", ".join(f"`{word}` (`{option.name}={_spec_word(value)}`)" for word, value in option.flags.items())


def _spec_word(value) -> str:
    """Write a flag's value as a spec would: `false`, not Python's `False`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe_bare(kind: LayerKind, option: OptionSpec) -> str:
    if not option.positional:
        return "no"
    positional = [spec.name for spec in kind.options if spec.positional]
    if len(positional) == 1:
        return "yes"
    return f"yes ({_ordinal(positional.index(option.name) + 1)})"


def _ordinal(number: int) -> str:
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number if number < 20 else number % 10, "th")
    return f"{number}{suffix}"


def describe_default(option: OptionSpec) -> str:
    if option.default is REQUIRED:
        return "required"
    return f"`{python_literal(option.default)}`"


def option_row(kind: LayerKind, option: OptionSpec) -> tuple[str, ...]:
    return (
        f"`{option.name}=`",
        _code_list(f"{alias}=" for alias in option.aliases),
        describe_compact(option),
        describe_flags(option),
        describe_bare(kind, option),
        describe_default(option),
        option.type.describe(),
        option.help,
    )


# ---- Sections ---------------------------------------------------------------


def _overview(kinds: tuple[LayerKind, ...]) -> list[str]:
    rows = [(_kind_link(kind), _code_list(kind.aliases), describe_keras_class(kind), kind.summary)
            for kind in kinds]
    return ["### Overview", "", *_table(("Layer kind", "Aliases", "Keras layer", "Summary"), rows), ""]


def _kind_link(kind: LayerKind) -> str:
    if kind.options:
        return f"[`{kind.keyword}`](#{kind.keyword})"
    return f"`{kind.keyword}`"


def kind_section(kind: LayerKind) -> list[str]:
    """Render the section of one layer kind that has options."""
    aliases = _code_list(kind.aliases) if kind.aliases else "none"
    lines = [
        f"### {kind.keyword}",
        "",
        f"{kind.summary[0].upper()}{kind.summary[1:]}.",
        "",
        f"- Keras layer: {describe_keras_class(kind)}",
        f"- Aliases: {aliases}",
        f"- Input: {describe_input(kind)}",
        f"- {_example_sentence(kind)}",
        "",
    ]
    lines += _table(OPTION_COLUMNS, [option_row(kind, option) for option in kind.options])
    return [*lines, ""]


def _plain_kinds_section(kinds: list[LayerKind]) -> list[str]:
    rows = []
    for kind in kinds:
        example = example_for(kind)
        example_text = ""
        if example is not None:
            output_shape, _ = _example_result(kind, *example)
            example_text = f"`{example[1]}` on input `{example[0]}` gives `{output_shape}`"
        rows.append((f"`{kind.keyword}`", _code_list(kind.aliases), describe_keras_class(kind), kind.summary,
                     describe_input(kind), example_text))
    return [
        "### Layer kinds without options",
        "",
        "These layer kinds accept only `name=`.",
        "",
        *_table(PLAIN_COLUMNS, rows),
        "",
    ]


def _activation_section() -> list[str]:
    rows = []
    for name in ACTIVATIONS:
        kind = KINDS_BY_NAME.get(name)
        standalone = f"`{name}`: {describe_keras_class(kind)}" if kind else "no"
        rows.append((f"`{name}`", f"`keras.activations.{name}`", standalone))
    options = [kind.keyword for kind in ALL_KINDS if kind.option("activation") is not None]
    return [
        "### Activation names",
        "",
        (f"The `activation` option of {_code_list(options)} accepts each name below, as a flag word "
         "(`relu`) or as `activation=relu`. Keras applies the function `keras.activations.NAME`. "
         "Names with a layer kind can also be written as a layer of their own."),
        "",
        *_table(("Name", "As an `activation` option", "As a layer"), rows),
        "",
    ]


def _introduction() -> list[str]:
    return [
        "## Layer reference",
        "",
        (f"<!-- Generated from cnndsl/layers by `{WRITE_COMMAND}`. "
         "Edit the layer kinds or cnndsl/reference.py, not this section. -->"),
        "",
        ("Every layer kind also accepts `name=NAME`. In the option tables, *Option* is the Keras argument name, "
         "which is also the keyword form, and *Aliases* are shorter keywords for it. "
         "*Compact form* is an option written as one word, such as `k3` for `kernel_size=3`. "
         "*Flag words* are bare words that set the option. "
         "*Bare value* says whether a bare number, size or ratio can set the option. "
         "*Default* is the value that an omitted option takes, written as the Python value Keras receives."),
        "",
    ]


def layer_reference_markdown() -> str:
    """Render the Markdown reference of every layer kind in the registry, in registry order."""
    with_options = [kind for kind in ALL_KINDS if kind.options]
    without_options = [kind for kind in ALL_KINDS if not kind.options]

    lines = [*_introduction(), *_overview(ALL_KINDS)]
    for kind in with_options:
        lines += kind_section(kind)
    lines += _plain_kinds_section(without_options)
    lines += _activation_section()
    return "\n".join(lines).rstrip("\n") + "\n"


# ---- The generated section of docs/language.md ------------------------------


class MarkerError(ValueError):
    """Raised when a document lacks the marker comments of the generated section."""


def _marker_positions(text: str) -> tuple[int, int]:
    begin = text.find(BEGIN_MARKER)
    end = text.find(END_MARKER)
    if begin < 0 or end < 0 or end < begin:
        raise MarkerError(f"the document needs a line `{BEGIN_MARKER}` followed by a line `{END_MARKER}`")
    return begin + len(BEGIN_MARKER), end


def generated_section(text: str) -> str:
    """Return the text between the marker lines of a document, without the markers."""
    start, end = _marker_positions(text)
    return text[start:end].removeprefix("\n")


def replace_generated_section(text: str, markdown: str) -> str:
    """Return `text` with the section between the marker lines replaced by `markdown`."""
    start, end = _marker_positions(text)
    return text[:start] + "\n" + markdown + text[end:]


def write_reference(path: Path) -> bool:
    """Rewrite the generated section of `path` and return True if the file changed."""
    text = path.read_text(encoding="utf-8")
    updated = replace_generated_section(text, layer_reference_markdown())
    if updated == text:
        return False
    path.write_text(updated, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cnndsl.reference",
        description="Print the Markdown layer reference generated from the layer registry.",
    )
    parser.add_argument("--write", metavar="FILE", type=Path,
                        help=f"replace the section between {BEGIN_MARKER} and {END_MARKER} in FILE "
                             "instead of printing")
    arguments = parser.parse_args(argv)

    if arguments.write is None:
        sys.stdout.write(layer_reference_markdown())
        return 0
    try:
        changed = write_reference(arguments.write)
    except (OSError, MarkerError) as error:
        print(f"python -m cnndsl.reference: error: {arguments.write}: {error}", file=sys.stderr)
        return 1
    print(f"{arguments.write}: {'updated' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
