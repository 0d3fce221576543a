"""Command-line interface: `cnndsl compile | check | summary | rf | train SPEC`.

Exit codes: 0 success, 1 invalid spec or unreadable/unwritable file,
2 usage error (argparse), 3 internal error (a bug in cnndsl).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from cnndsl.errors import CnnDslError, Diagnostic, Severity, format_diagnostics
from cnndsl.syntax import Source, Span, Spec

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class InputError(Exception):
    """Raised when the spec file cannot be read."""


def read_source(argument: str) -> tuple[Source, Path | None]:
    """Read the spec named on the command line; `-` reads standard input."""
    if argument == "-":
        return decode_source("<stdin>", sys.stdin.buffer.read()), None

    path = Path(argument)
    if path.is_dir():
        raise InputError(f"{argument} is a directory; give the path of a .cnn spec file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{argument}: no such file; check the path") from None
    except OSError as error:
        raise InputError(f"cannot read {argument}: {error.strerror}") from None
    return decode_source(argument, data), path


def decode_source(name: str, data: bytes) -> Source:
    """Decode a spec as UTF-8; raise CnnDslError at the line and column of the first invalid byte."""
    try:
        return Source(name, data.decode("utf-8"))
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        line = data.count(b"\n", 0, error.start) + 1
        column = len(data[line_start:error.start].decode("utf-8", errors="replace")) + 1
        shown = Source(name, data.decode("utf-8", errors="replace"))
        diagnostic = Diagnostic(Severity.ERROR, f"the spec is not UTF-8 text: byte 0x{data[error.start]:02x} is "
                                f"invalid", Span(line, column, line, column + 1), "save the spec as UTF-8", shown)
        raise CnnDslError(shown, [diagnostic]) from None


def print_warnings(source: Source, warnings: list[Diagnostic]) -> None:
    if warnings:
        print(format_diagnostics(source, warnings), file=sys.stderr)


def command_check(arguments: argparse.Namespace) -> int:
    from cnndsl.pipeline import analyse
    from cnndsl.summary import format_shape

    source, _ = read_source(arguments.spec)
    checked = analyse(source)
    _check_train_section(checked.spec)
    print_warnings(source, checked.warnings)
    network = checked.network
    outputs = ", ".join(format_shape(network.output_shape(name)) for name in network.outputs)
    layers = len(network.layers)
    print(f"{source.name}: ok: {layers} layer{'s' if layers != 1 else ''}, {network.total_params:,} parameters, "
          f"output {outputs}")
    return EXIT_OK


def _check_train_section(spec: Spec) -> None:
    """Raise CnnDslError for an invalid `train` section, which only `cnndsl train` reads otherwise."""
    from cnndsl.training.settings import settings_from_spec

    settings_from_spec(spec)


def command_compile(arguments: argparse.Namespace) -> int:
    from cnndsl.driver import CompileOptions, compile_spec
    from cnndsl.summary import summary_table

    source, path = read_source(arguments.spec)
    options = CompileOptions(
        output_dir=Path(arguments.output_dir),
        targets=tuple(arguments.targets),
        style=arguments.style,
        diagram_format=arguments.format,
        collapse=arguments.collapse or arguments.collapse_depth is not None,
        collapse_depth=arguments.collapse_depth or 1,
        max_memory=arguments.max_memory,
    )
    result = compile_spec(source, options, input_path=path)
    print_warnings(source, result.checked.warnings)
    print(summary_table(result.checked.network))
    for note in result.notes:
        print(f"cnndsl: note: {note}", file=sys.stderr)
    print("wrote " + ", ".join(str(target) for target in result.written))
    return EXIT_OK


def _targets(text: str) -> list[str]:
    from cnndsl.driver import TARGETS

    targets = [target.strip() for target in text.split(",") if target.strip()]
    unknown = [target for target in targets if target not in TARGETS]
    if unknown or not targets:
        raise argparse.ArgumentTypeError(
            f"invalid target {', '.join(unknown) or '(none)'}; choose from {', '.join(TARGETS)}")
    return targets


def memory_size_argument(text: str) -> int:
    """Parse a --max-memory value for argparse."""
    from cnndsl.memory_guard import parse_memory_size

    try:
        return parse_memory_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _collapse_depth(text: str) -> int:
    try:
        depth = int(text)
    except ValueError:
        depth = 0
    if depth < 1:
        raise argparse.ArgumentTypeError(f"invalid depth {text!r}; give a whole number of 1 or more")
    return depth


def build_parser() -> argparse.ArgumentParser:
    from cnndsl.driver import FORMATS, STYLES, TARGETS

    parser = argparse.ArgumentParser(prog="cnndsl", description="Compile .cnn network specs into Keras models, "
                                     "Python source and Graphviz diagrams.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    spec_help = "the .cnn spec file, or - to read standard input"

    compile_parser = commands.add_parser("compile", help="check a spec and write the Keras model, source and diagram")
    compile_parser.add_argument("spec", help=spec_help)
    compile_parser.add_argument("-o", "--output-dir", default=".", metavar="DIR",
                                help="directory for the outputs (default: the current directory)")
    compile_parser.add_argument("--targets", type=_targets, default=list(TARGETS), metavar="LIST",
                                help=f"comma-separated outputs to write (default: {','.join(TARGETS)})")
    compile_parser.add_argument("--style", choices=STYLES, default=None,
                                help="style of the Python source (default: sequential for a chain of layers, "
                                     "functional otherwise)")
    compile_parser.add_argument("--format", choices=FORMATS, default="svg",
                                help="diagram format; the .dot file is always written (default: svg)")
    compile_parser.add_argument("--collapse", action="store_true",
                                help="draw each top-level block instance as one box with its block, input and "
                                     "output shapes and parameter count")
    compile_parser.add_argument("--collapse-depth", type=_collapse_depth, default=None, metavar="N",
                                help="collapse the block instances nested N deep and draw those around them as "
                                     "frames; implies --collapse (default: 1, the top-level instances)")
    compile_parser.add_argument("--max-memory", type=memory_size_argument, default="4GiB", metavar="SIZE",
                                help="maximum memory that building the Keras model may need, estimated as "
                                     "float32 parameters plus one sample's activations; a larger model is "
                                     "refused before TensorFlow starts. Units: B, KB, MB, GB, KiB, MiB, GiB "
                                     "(default: 4GiB)")
    compile_parser.set_defaults(handler=command_compile)

    check_parser = commands.add_parser("check", help="check a spec; errors and warnings go to standard error")
    check_parser.add_argument("spec", help=spec_help)
    check_parser.set_defaults(handler=command_check)

    from cnndsl.analysis.command import add_analysis_parsers

    add_analysis_parsers(commands, spec_help)

    from cnndsl.training.command import add_train_parser

    add_train_parser(commands, spec_help)
    return parser


# Commands that never import TensorFlow run with the cyclic garbage collector
# paused from start to end, not only while the spec is analysed. When it ran
# again after the analysis, it scanned every object of a long spec several
# times (0.3 s of checking a 100,000-layer spec). These commands exit soon
# after, so the few reference cycles they leave cost nothing.
COLLECTOR_PAUSED_COMMANDS = ("check", "summary", "rf")


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        with _collector_paused(arguments.command in COLLECTOR_PAUSED_COMMANDS):
            return arguments.handler(arguments)
    except CnnDslError as error:
        print(str(error), file=sys.stderr)
        return EXIT_INVALID
    except (InputError, _output_error()) as error:
        print(f"cnndsl: error: {error}", file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:
        # The reader of our output went away (`cnndsl summary x.cnn | head`): not an error.
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print("cnndsl: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the last line of defence against a traceback
        if os.environ.get("CNNDSL_DEBUG"):
            traceback.print_exc()
        print(f"cnndsl: internal error: {type(error).__name__}: {error}\n"
              "This is a bug in cnndsl; rerun with CNNDSL_DEBUG=1 to see the traceback and report it.",
              file=sys.stderr)
        return EXIT_INTERNAL


def _collector_paused(paused: bool):
    from contextlib import nullcontext

    from cnndsl.pipeline import collector_paused

    return collector_paused() if paused else nullcontext()


def _output_error() -> type[Exception]:
    from cnndsl.outputs import OutputError

    return OutputError


if __name__ == "__main__":
    sys.exit(main())
