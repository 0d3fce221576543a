"""The `cnndsl summary` and `cnndsl rf` sub-commands: their options and handlers.

Neither builds a model except `rf --effective`, which imports TensorFlow
inside its handler; building the parser imports no TensorFlow.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnndsl.analysis.memory import DTYPE_BYTES
from cnndsl.analysis.table import COLUMNS, DEFAULT_COLUMNS

EXIT_OK, EXIT_USAGE = 0, 2
FORMATS = ("text", "json", "csv")
EFFECTIVE_OPTIONS = ("runs", "images", "output", "seed", "constant_weights")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid whole number {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small; give 1 or more")
    return value


def _columns(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in COLUMNS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"invalid column {', '.join(unknown) or '(none)'}; choose from "
                                         f"{', '.join(COLUMNS)}")
    return names


def add_analysis_parsers(commands: argparse._SubParsersAction, spec_help: str) -> None:
    """Add the `summary` and `rf` sub-commands to the `cnndsl` parser."""
    _add_summary_parser(commands, spec_help)
    _add_rf_parser(commands, spec_help)


def _add_summary_parser(commands: argparse._SubParsersAction, spec_help: str) -> None:
    parser = commands.add_parser(
        "summary", help="print every layer's shape, parameters, MACs, memory and receptive field",
        description="Print the layer table with totals and per-block totals, computed without TensorFlow. "
                    "docs/analysis.md states how MACs, memory and receptive fields are counted.")
    parser.add_argument("spec", help=spec_help)
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="text table, JSON with the keys listed in docs/analysis.md, or CSV with one row per "
                             "layer (default: text)")
    parser.add_argument("--columns", type=_columns, default=None, metavar="LIST",
                        help=f"comma-separated table columns from {', '.join(COLUMNS)} "
                             f"(default: {','.join(DEFAULT_COLUMNS)})")
    parser.add_argument("--all", action="store_true", help="show every table column")
    parser.add_argument("--explain", action="store_true",
                        help="after the table, write each layer's parameter count, output size and MACs as a "
                             "formula with its numbers")
    parser.add_argument("--dtype", choices=tuple(DTYPE_BYTES), default="float32",
                        help="dtype of parameters and activations, for the byte counts (default: float32)")
    parser.add_argument("--batch-size", type=_positive_int, default=1, metavar="N",
                        help="samples per batch, for the activation memory per batch (default: 1)")
    parser.set_defaults(handler=command_summary)


def _add_rf_parser(commands: argparse._SubParsersAction, spec_help: str) -> None:
    parser = commands.add_parser(
        "rf", help="print the theoretical receptive field of every layer, or measure the effective one",
        description="Without --effective, print each layer's theoretical receptive field (size, jump and start "
                    "in input pixels), computed without TensorFlow. With --effective, build the Keras model, "
                    "back-propagate from the centre position of a layer and write a heatmap PNG.")
    parser.add_argument("spec", help=spec_help)
    parser.add_argument("--layer", metavar="NAME",
                        help="the layer to show or measure (default: all layers; with --effective, the last "
                             "layer with height and width)")
    parser.add_argument("--effective", action="store_true",
                        help="measure the effective receptive field with TensorFlow (Luo et al., 2016)")
    effective = parser.add_argument_group("effective receptive field (with --effective)")
    effective.add_argument("--runs", type=_positive_int, metavar="N",
                           help="random weight initialisations to average over (default: 8)")
    effective.add_argument("--images", type=Path, metavar="PATH",
                           help="an .npy or .npz file of input images, shape N x height x width x channels "
                                "(default: one random normal image per run)")
    effective.add_argument("-o", "--output", type=Path, metavar="FILE.png",
                           help="heatmap file to write (default: NETWORK_erf.png in the current directory)")
    effective.add_argument("--seed", type=int, metavar="N", help="seed of the first run; run i uses N + i "
                           "(default: 0)")
    effective.add_argument("--constant-weights", action="store_true",
                           help="set every kernel weight to 1 and every bias to 0 instead of random weights")
    parser.set_defaults(handler=command_rf)


def _usage_error(command: str, message: str) -> int:
    print(f"cnndsl {command}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _checked_network(spec: str):
    from cnndsl.cli import print_warnings, read_source
    from cnndsl.pipeline import analyse

    source, _ = read_source(spec)
    checked = analyse(source)
    print_warnings(source, checked.warnings)
    return checked.network


def command_summary(arguments: argparse.Namespace) -> int:
    from cnndsl.analysis import analyse_network
    from cnndsl.analysis.explain import explain_network
    from cnndsl.analysis.report import summary_csv, summary_json
    from cnndsl.analysis.table import summary_text

    text_only = [option for option, given in (("--columns", arguments.columns), ("--all", arguments.all),
                                              ("--explain", arguments.explain)) if given]
    if arguments.format != "text" and text_only:
        return _usage_error("summary", f"{', '.join(text_only)} applies to --format text only; the JSON output "
                                       "always contains every column and formula")

    network = _checked_network(arguments.spec)
    analysis = analyse_network(network, arguments.dtype, arguments.batch_size)
    if arguments.format == "json":
        print(summary_json(analysis))
    elif arguments.format == "csv":
        sys.stdout.write(summary_csv(analysis))
    else:
        columns = tuple(COLUMNS) if arguments.all else (arguments.columns or DEFAULT_COLUMNS)
        print(summary_text(analysis, columns))
        if arguments.explain:
            print("\nHow each number is computed (MACs per sample):\n")
            print(explain_network(network))
    return EXIT_OK


def command_rf(arguments: argparse.Namespace) -> int:
    if not arguments.effective:
        misplaced = [option for option in EFFECTIVE_OPTIONS if getattr(arguments, option) not in (None, False)]
        if misplaced:
            options = ", ".join("--" + option.replace("_", "-") for option in misplaced)
            return _usage_error("rf", f"{options} needs --effective")

    network = _checked_network(arguments.spec)
    if arguments.effective:
        return _effective(network, arguments)
    return _theoretical(network, arguments.layer)


def _theoretical(network, layer: str | None) -> int:
    from cnndsl.analysis.rf_table import field_table

    if layer is not None and layer not in network:
        from cnndsl.cli import InputError
        from cnndsl.errors import did_you_mean

        hint = did_you_mean(layer, [node.name for node in network.nodes])
        raise InputError(f"no layer named `{layer}` (`cnndsl rf SPEC` lists every layer)"
                         + (f"; {hint}" if hint else ""))
    print(field_table(network, layer))
    return EXIT_OK


def _effective(network, arguments: argparse.Namespace) -> int:
    from cnndsl.analysis.effective_rf import (
        EffectiveFieldError,
        effective_receptive_field,
        image_input,
        load_images,
    )
    from cnndsl.analysis.heatmap import write_heatmap
    from cnndsl.analysis.rf_table import describe_effective
    from cnndsl.cli import InputError

    output = arguments.output or Path(f"{network.name}_erf.png")
    if output.suffix.lower() != ".png":
        raise InputError(f"{output}: the heatmap is a PNG file; give a name ending in .png")
    try:
        images = None
        if arguments.images is not None:
            images = load_images(arguments.images, image_input(network).shape)
        field = effective_receptive_field(network, arguments.layer, arguments.runs or 8, images,
                                          arguments.seed or 0, arguments.constant_weights)
    except EffectiveFieldError as error:
        raise InputError(str(error)) from None

    written = write_heatmap(field, network.name, output)
    print(describe_effective(network, field))
    print(f"wrote {written}")
    return EXIT_OK
