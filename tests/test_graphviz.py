"""Tests of the Graphviz back end, rendered with the real `dot` program."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

from cnndsl.backends.graphviz_backend import (
    FAMILY_BY_KERAS_CLASS, PALETTE, PNG_DPI, GraphvizError, GraphvizNotFound, dot_available, render, to_dot,
)
from cnndsl.graph import InputNode, LayerNode, Network
from cnndsl.layers import ALL_KINDS, KINDS_BY_NAME
from cnndsl.pipeline import analyse_text
from cnndsl.syntax import Source, Span

requires_dot = pytest.mark.skipif(
    not dot_available(),
    reason="the Graphviz `dot` program is not installed (apt-get install graphviz); CI installs it",
)

LENET = """\
network LeNet5
input 28x28x1
conv 6 k5 same relu > maxpool 2 > conv 16 k5 relu > maxpool 2
flatten > dense 120 relu > dense 84 relu > dense 10 softmax
"""

LENET_LAYERS = [
    ("conv1", "28×28×6", "156 params"),
    ("maxpool1", "14×14×6", None),
    ("conv2", "10×10×16", "2,416 params"),
    ("maxpool2", "5×5×16", None),
    ("flatten1", "400", None),
    ("dense1", "120", "48,120 params"),
    ("dense2", "84", "10,164 params"),
    ("dense3", "10", "850 params"),
]

SPAN = Span(1, 1, 1, 2)

HOSTILE_NETWORK_NAME = 'Net\'s "quoted" <b>bold</b> {braces} & more\nsecond line \\'
HOSTILE_INPUT_NAME = "in<put> ]; x -> y [label=\\"
HOSTILE_LAYER_NAME = 'dense "x" </TD></TR></TABLE>> n0 -> n1 { }'

SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"


def lenet() -> Network:
    return analyse_text(LENET, "lenet.cnn").network


def hostile_network() -> Network:
    """Build a network by hand whose names no spec could contain, to test escaping."""
    network = Network(name=HOSTILE_NETWORK_NAME, source=Source("hostile.cnn", ""))
    network.add(InputNode(name=HOSTILE_INPUT_NAME, shape=(4,), span=SPAN))

    dense = KINDS_BY_NAME["dense"]
    network.add(LayerNode(
        name=HOSTILE_LAYER_NAME, kind=dense, config={"units": 2, "activation": "relu", "use_bias": True},
        inputs=(HOSTILE_INPUT_NAME,), span=SPAN, output_shape=(2,), trainable_params=10, non_trainable_params=0,
    ))
    network.outputs.append(HOSTILE_LAYER_NAME)
    return network


def svg_texts(svg: bytes) -> list[str]:
    """Parse an SVG document and return the content of its <text> elements."""
    root = ElementTree.fromstring(svg)
    return [element.text or "" for element in root.iter(f"{SVG_NAMESPACE}text")]


def png_size(png: bytes) -> tuple[int, int]:
    """Read the width and height from the IHDR chunk, which follows the 8-byte signature."""
    return struct.unpack(">II", png[16:24])


def test_lenet_dot_lists_every_layer() -> None:
    dot = to_dot(lenet())

    for name, shape, params in LENET_LAYERS:
        assert f"<B>{name}</B>" in dot
        assert f">{shape}<" in dot
        if params:
            assert f">{params}<" in dot


def test_lenet_dot_shows_input_and_totals() -> None:
    dot = to_dot(lenet())

    assert ">28×28×1<" in dot
    assert ">LeNet5<" in dot
    assert "Total params: 61,706" in dot
    assert "trainable 61,706" in dot
    assert "non-trainable 0" in dot


def test_lenet_dot_shows_hyperparameters() -> None:
    dot = to_dot(lenet())

    assert "6 filters, 5x5, same, relu" in dot
    assert "120 units, relu" in dot
    assert ">Conv2D<" in dot
    assert ">MaxPooling2D<" in dot


def test_parameter_free_layers_show_no_count() -> None:
    dot = to_dot(lenet())

    assert ">0 params<" not in dot
    assert ">0 param<" not in dot


def test_lenet_dot_edges_follow_chain() -> None:
    dot = to_dot(lenet())

    edges = re.findall(r"^\s*(n\d+) -> (n\d+)$", dot, flags=re.MULTILINE)
    assert edges == [(f"n{index}", f"n{index + 1}") for index in range(8)]


def test_dot_is_deterministic() -> None:
    first = to_dot(lenet())
    second = to_dot(lenet())

    assert first == second
    assert first.encode() == second.encode()


def test_non_trainable_params_are_shown() -> None:
    network = analyse_text("input 8x8x3\nconv 4 k3 > batchnorm\n", "bn.cnn").network

    dot = to_dot(network)

    assert ">16 params<" in dot
    assert "8 non-trainable" in dot


def test_every_keras_class_has_family() -> None:
    for kind in ALL_KINDS:
        assert kind.keras_class in FAMILY_BY_KERAS_CLASS, kind.keyword


def test_every_family_has_colours() -> None:
    for family in set(FAMILY_BY_KERAS_CLASS.values()):
        assert family in PALETTE


def test_graph_id_is_plain_network_name() -> None:
    dot = to_dot(lenet())

    assert dot.startswith("digraph LeNet5 {")


def test_hostile_names_are_escaped() -> None:
    dot = to_dot(hostile_network())

    assert dot.startswith("digraph network {")
    assert "<b>" not in dot
    assert "&lt;b&gt;bold&lt;/b&gt;" in dot
    assert "&quot;quoted&quot;" in dot
    assert "Net&#x27;s" in dot
    assert "&amp; more" in dot
    assert "in&lt;put&gt;" in dot
    assert "&lt;/TD&gt;&lt;/TR&gt;&lt;/TABLE&gt;&gt;" in dot
    assert "\nsecond line" not in dot


@requires_dot
def test_hostile_names_render_as_text() -> None:
    svg = render(to_dot(hostile_network()), "svg")

    texts = svg_texts(svg)
    assert 'Net\'s "quoted" <b>bold</b> {braces} & more second line \\' in texts
    assert "in<put> ]; x -> y [label=\\" in texts
    assert HOSTILE_LAYER_NAME in texts


@requires_dot
def test_render_svg_contains_layer_names() -> None:
    svg = render(to_dot(lenet()), "svg")

    texts = svg_texts(svg)
    for name, shape, params in LENET_LAYERS:
        assert name in texts
        assert shape in texts
        if params:
            assert params in texts


@requires_dot
def test_render_png_has_signature() -> None:
    png = render(to_dot(lenet()), "png")

    assert png.startswith(b"\x89PNG\r\n\x1a\n")


@requires_dot
def test_render_png_uses_high_dpi() -> None:
    dot = to_dot(lenet())
    svg = render(dot, "svg")
    png = render(dot, "png")

    svg_width_points = float(ElementTree.fromstring(svg).get("width").removesuffix("pt"))
    width, _ = png_size(png)
    assert width == pytest.approx(svg_width_points * PNG_DPI / 72, abs=4)


@requires_dot
def test_render_pdf_has_signature() -> None:
    pdf = render(to_dot(lenet()), "pdf")

    assert pdf.startswith(b"%PDF-")


def test_render_rejects_unknown_format() -> None:
    with pytest.raises(ValueError, match="choose one of svg, png, pdf"):
        render(to_dot(lenet()), "gif")


@requires_dot
def test_render_reports_dot_failure() -> None:
    with pytest.raises(GraphvizError, match="syntax error") as caught:
        render("digraph {", "svg")

    assert not isinstance(caught.value, GraphvizNotFound)


def test_dot_available_matches_path() -> None:
    assert dot_available() == (shutil.which("dot") is not None)


MISSING_DOT_SCRIPT = """
import json
from pathlib import Path
from cnndsl.backends.graphviz_backend import GraphvizNotFound, dot_available, render

result = {"available": dot_available()}
for dot_path in (None, Path("out/lenet.dot")):
    try:
        render("digraph { a -> b }", "png", dot_path)
    except GraphvizNotFound as error:
        result[str(dot_path)] = str(error)
print(json.dumps(result))
"""


def run_without_dot(tmp_path, script: str) -> dict:
    """Run `script` in a fresh Python whose PATH is an empty folder, so `dot` cannot be found."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()

    completed = subprocess.run(
        [sys.executable, "-c", script], env={"PATH": str(empty)}, cwd=tmp_path,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_missing_dot_is_reported(tmp_path) -> None:
    result = run_without_dot(tmp_path, MISSING_DOT_SCRIPT)

    assert result["available"] is False
    message = result["None"]
    assert "`dot` program was not found" in message
    assert "apt-get install graphviz" in message
    assert "brew install graphviz" in message
    assert "conda install graphviz" in message
    assert "https://graphviz.org/download/" in message
    assert "The .dot file was still written" in message
    assert "`dot -Tpng FILE.dot -o FILE.png`" in message


def test_missing_dot_names_dot_file(tmp_path) -> None:
    result = run_without_dot(tmp_path, MISSING_DOT_SCRIPT)

    message = result["out/lenet.dot"]
    assert "out/lenet.dot was still written" in message
    assert "`dot -Tpng out/lenet.dot -o out/lenet.png`" in message


def test_check_does_not_import_graphviz(tmp_path) -> None:
    script = (
        "import json, sys\n"
        "import cnndsl.backends.graphviz_backend\n"
        "from cnndsl.pipeline import analyse_text\n"
        f"analyse_text({LENET!r}, 'lenet.cnn')\n"
        "print(json.dumps({'loaded': 'graphviz' in sys.modules}))\n"
    )

    result = run_without_dot(tmp_path, script)

    assert result["loaded"] is False
