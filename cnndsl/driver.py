"""The compiler driver: spec text → checked layer graph → Keras, Python and Graphviz outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cnndsl.graph import Network
from cnndsl.memory_guard import DEFAULT_MAX_MEMORY, check_memory
from cnndsl.outputs import OutputError, StagedOutputs, ensure_directory
from cnndsl.pipeline import Checked, analyse
from cnndsl.syntax import Source

TARGETS = ("keras", "python", "graphviz")
STYLES = ("sequential", "functional", "subclass")
FORMATS = ("svg", "png", "pdf", "dot")


@dataclass
class CompileOptions:
    """Settings of `cnndsl compile`: the outputs to write and their directory."""

    output_dir: Path = Path(".")
    targets: tuple[str, ...] = TARGETS
    style: str | None = None  # None: sequential for chains, functional otherwise
    diagram_format: str = "svg"
    stem: str | None = None  # output file name without suffix; default: the spec's file name
    # Draw each block instance nested `collapse_depth` deep (1: top level) as one box.
    collapse: bool = False
    collapse_depth: int = 1
    # Bytes that building the Keras model may need (estimated); a larger model is refused.
    max_memory: int = DEFAULT_MAX_MEMORY


@dataclass
class CompileResult:
    checked: Checked
    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def compile_spec(source: Source, options: CompileOptions, input_path: Path | None = None) -> CompileResult:
    """Compile `source`: check it, then write every requested target or none of them."""
    checked = analyse(source)
    network = checked.network
    result = CompileResult(checked)
    stem = options.stem or output_stem(source, network)
    if "keras" in options.targets:
        check_memory(network, options.max_memory)  # before any output is written or TensorFlow imported

    ensure_directory(options.output_dir)
    with StagedOutputs(options.output_dir, protected=input_path) as outputs:
        if "python" in options.targets:
            outputs.write_text(f"{stem}.py", _python_source(network, options, source))
        if "graphviz" in options.targets:
            _write_diagram(network, options, stem, outputs, result)
        if "keras" in options.targets:
            _write_keras(network, stem, outputs)
        result.written = outputs.commit()
    return result


def output_stem(source: Source, network: Network) -> str:
    """Name outputs after the spec file (lenet.cnn → lenet.py), or after the network for stdin."""
    if source.name == "<stdin>":
        return network.name
    return Path(source.name).stem or network.name


def default_style(network: Network) -> str:
    return "sequential" if network.is_chain() else "functional"


def _python_source(network: Network, options: CompileOptions, source: Source) -> str:
    from cnndsl.backends.python_source import generate_source

    return generate_source(network, options.style or default_style(network), Path(source.name).name)


def _write_diagram(network: Network, options: CompileOptions, stem: str, outputs: StagedOutputs,
                   result: CompileResult) -> None:
    from cnndsl.backends import graphviz_backend

    dot_source = graphviz_backend.to_dot(network, collapse=options.collapse, collapse_depth=options.collapse_depth)
    outputs.write_text(f"{stem}.dot", dot_source)
    if options.diagram_format == "dot":
        return
    try:
        image = graphviz_backend.render(dot_source, options.diagram_format)
    except graphviz_backend.GraphvizNotFound as error:
        result.notes.append(str(error))
        return
    outputs.write_bytes(f"{stem}.{options.diagram_format}", image)


def _write_keras(network: Network, stem: str, outputs: StagedOutputs) -> None:
    from cnndsl.backends.keras_backend import build_model, save_model

    model = build_model(network)
    try:
        outputs.write_with(f"{stem}.keras", lambda path: save_model(model, path))
    except OSError as error:
        # A full disk or a file size limit surfaces here, from inside Keras's zip writer.
        raise OutputError(f"cannot save the Keras model {stem}.keras in {outputs.directory}: "
                          f"{error.strerror or error}; free some space or choose another directory with -o DIR"
                          ) from None
