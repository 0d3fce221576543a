"""Diagrams of networks with blocks and branches: clusters, collapsed instances and rows."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ElementTree
from functools import lru_cache

import pytest

from cnndsl.backends.graphviz_backend import dot_available, render, to_dot
from cnndsl.backends.graphviz_rows import MAX_ROW_LENGTH
from cnndsl.graph import Network
from cnndsl.pipeline import analyse_text
from conftest import EXAMPLES, run_cnndsl

requires_dot = pytest.mark.skipif(
    not dot_available(),
    reason="the Graphviz `dot` program is not installed (apt-get install graphviz); CI installs it",
)

SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"

# keras.utils.plot_model(ResNet50(weights=None), show_shapes=True) writes an
# SVG 56,256 points tall (Keras 3.15, pydot 4.0, Graphviz 2.43), which is its
# 20,252-point layout scaled by plot_model's dpi of 200. The collapsed view
# must stay below 3,000 points, which is 4,000 pixels at 100 % zoom.
MAX_COLLAPSED_RESNET_HEIGHT = 3000

REPEATED = """\
network Repeated
input 8x8x4
block stage(filters) {
    conv filters k3 same > relu
}
stage(4) x12
flatten > dense 2
"""

TWICE = """\
network Twice
input 8
dense 8 -> a
add(a, a) > dense 2
"""


@lru_cache(maxsize=None)
def example(name: str) -> Network:
    return analyse_text((EXAMPLES / f"{name}.cnn").read_text(), f"{name}.cnn").network


@lru_cache(maxsize=None)
def example_svg(name: str, collapse: bool) -> bytes:
    return render(to_dot(example(name), collapse=collapse), "svg")


def svg_height(svg: bytes) -> float:
    return float(ElementTree.fromstring(svg).get("height").removesuffix("pt"))


def svg_texts(svg: bytes) -> list[str]:
    root = ElementTree.fromstring(svg)
    return [element.text or "" for element in root.iter(f"{SVG_NAMESPACE}text")]


def svg_titles(svg: bytes, kind: str) -> list[str]:
    """Return the titles (DOT IDs) of the SVG groups of one kind: node, edge or cluster."""
    root = ElementTree.fromstring(svg)
    titles = []
    for group in root.iter(f"{SVG_NAMESPACE}g"):
        if group.get("class") == kind:
            titles.append(group.find(f"{SVG_NAMESPACE}title").text)
    return titles


def dot_edges(dot: str) -> list[tuple[str, str]]:
    """Return the visible edges of DOT source from to_dot, in order."""
    return re.findall(r"^\s*(\w+) -> (\w+)$", dot, flags=re.MULTILINE)


def rows(dot: str) -> list[list[str]]:
    """Return the node IDs of every rank=same subgraph."""
    found = re.findall(r"\{\s*rank=same\s*((?:\w+\s*)+)\}", dot)
    return [row.split() for row in found]


def node_positions(dot: str) -> dict[str, tuple[float, float]]:
    """Lay the graph out with `dot -Tjson0` and return the centre of every node by ID."""
    completed = subprocess.run(["dot", "-Tjson0"], input=dot.encode(), capture_output=True, check=True,
                               timeout=300)
    layout = json.loads(completed.stdout)
    positions = {}
    for item in layout["objects"]:
        if "pos" in item:
            x, y = item["pos"].split(",")
            positions[item["name"]] = (float(x), float(y))
    return positions


# ---- Collapsed view --------------------------------------------------------


@requires_dot
def test_collapsed_resnet_fits_page():
    height = svg_height(example_svg("resnet50", True))

    assert height < MAX_COLLAPSED_RESNET_HEIGHT


@requires_dot
def test_collapsed_resnet_one_box_per_instance():
    network = example("resnet50")
    svg = example_svg("resnet50", True)

    boxes = [title for title in svg_titles(svg, "node") if title.startswith("b")]
    assert len(boxes) == len(network.block_instances) == 16
    texts = svg_texts(svg)
    for instance in network.block_instances:
        assert instance.name in texts


@requires_dot
def test_collapsed_resnet_hides_block_layers():
    network = example("resnet50")
    texts = svg_texts(example_svg("resnet50", True))

    for layer in network.layers:
        if layer.scope:
            assert layer.name not in texts
        else:
            assert layer.name in texts


def test_collapsed_box_shows_shapes_and_counts():
    dot = to_dot(example("resnet50"), collapse=True)

    assert "<B>conv3_block1</B>" in dot
    assert "56×56×256 → 28×28×512" in dot
    assert ">12 layers<" in dot
    assert ">383,232 params<" in dot
    assert ">2,560 non-trainable<" in dot
    assert ">bottleneck<" in dot


def test_collapsed_box_lists_every_input_shape():
    dot = to_dot(example("unet"), collapse=True)

    # up4 reads the bottleneck's output and the skip tensor of level 4.
    assert "8×8×256, 16×16×128 → 16×16×128" in dot


def test_collapsed_edges_connect_boxes():
    network = example("unet")
    dot = to_dot(network, collapse=True)

    ids = {instance.name: f"b{index}" for index, instance in enumerate(network.block_instances)}
    edges = dot_edges(dot)
    assert (ids["down4"], ids["up4"]) in edges
    assert (ids["down1"], ids["up1"]) in edges
    assert (ids["up2"], ids["up1"]) in edges


def test_collapsed_box_has_one_edge_per_tensor():
    network = example("inception_v3")
    dot = to_dot(network, collapse=True)

    # The four branches of mixed0 read maxpool2, which is drawn once.
    ids = {instance.name: f"b{index}" for index, instance in enumerate(network.block_instances)}
    into_mixed0 = [edge for edge in dot_edges(dot) if edge[1] == ids["mixed0"]]
    assert len(into_mixed0) == 1


def test_collapse_depth_two_keeps_outer_clusters():
    network = example("inception_v3")
    dot = to_dot(network, collapse=True, collapse_depth=2)

    ids = {instance.name: f"b{index}" for index, instance in enumerate(network.block_instances)}
    assert f"subgraph cluster_{ids['mixed0']} {{" in dot
    assert f"subgraph cluster_{ids['mixed0_conv_bn1']} {{" not in dot
    assert f"\t\t{ids['mixed0_conv_bn1']} [label=" in dot
    assert "<B>mixed0_conv_bn1_conv1</B>" not in dot


def test_collapse_depth_below_one_rejected():
    with pytest.raises(ValueError, match="collapse depth must be 1 or more"):
        to_dot(example("resnet50"), collapse=True, collapse_depth=0)


def test_collapse_ignored_without_blocks():
    network = example("lenet")

    assert to_dot(network, collapse=True) == to_dot(network)


# ---- Expanded view -----------------------------------------------------------


@requires_dot
def test_expanded_resnet_shows_every_layer():
    network = example("resnet50")
    texts = svg_texts(example_svg("resnet50", False))

    for node in network.nodes:
        assert node.name in texts


@requires_dot
def test_expanded_resnet_has_cluster_per_instance():
    network = example("resnet50")
    svg = example_svg("resnet50", False)

    clusters = svg_titles(svg, "cluster")
    assert len(clusters) == len(network.block_instances)


def test_cluster_label_names_block_and_params():
    dot = to_dot(example("resnet50"))

    assert "label=<<B>conv2_block1</B>  <FONT COLOR=\"#5F6368\">bottleneck, 76,928 params</FONT>>" in dot


def test_nested_instances_nest_clusters():
    network = example("unet")
    dot = to_dot(network)

    ids = {instance.name: f"b{index}" for index, instance in enumerate(network.block_instances)}
    outer = dot.index(f"subgraph cluster_{ids['up4']} {{")
    inner = dot.index(f"subgraph cluster_{ids['up4_double_conv1']} {{")
    after = dot.index(f"subgraph cluster_{ids['up3']} {{")
    assert outer < inner < after
    # The inner cluster is indented one level deeper than the outer one.
    assert f"\n\tsubgraph cluster_{ids['up4']} {{" in dot
    assert f"\n\t\tsubgraph cluster_{ids['up4_double_conv1']} {{" in dot


def test_merge_has_edge_from_every_input():
    network = example("resnet50")
    dot = to_dot(network)

    ids = {node.name: f"n{index}" for index, node in enumerate(network.nodes)}
    into_add = [source for source, target in dot_edges(dot) if target == ids["conv2_block1_add1"]]
    assert sorted(into_add) == sorted([ids["conv2_block1_batchnorm3"], ids["conv2_block1_batchnorm4"]])


def test_merge_of_one_tensor_twice_has_two_edges():
    network = analyse_text(TWICE, "twice.cnn").network
    dot = to_dot(network)

    assert dot_edges(dot).count(("n1", "n2")) == 2


# ---- Rows ------------------------------------------------------------------


def test_repeated_copies_share_row():
    network = example("resnet50")
    dot = to_dot(network, collapse=True)

    ids = {instance.name: f"b{index}" for index, instance in enumerate(network.block_instances)}
    conv4 = [ids[f"conv4_block{number}"] for number in range(1, 7)]
    assert conv4 in rows(dot)


def test_long_chain_wraps_rows():
    network = analyse_text(REPEATED, "repeated.cnn").network
    dot = to_dot(network, collapse=True)

    found = rows(dot)
    assert [len(row) for row in found] == [MAX_ROW_LENGTH, 12 - MAX_ROW_LENGTH, 2]
    # The second row starts under the first: an invisible edge joins their starts.
    assert f"\t{found[0][0]} -> {found[1][0]} [style=invis weight=10]" in dot


def test_branching_block_keeps_columns():
    network = example("resnet50")
    dot = to_dot(network)

    # A bottleneck branches (conv path and shortcut), so its layers get no rows.
    ids = {node.name: f"n{index}" for index, node in enumerate(network.nodes)}
    in_rows = {node_id for row in rows(dot) for node_id in row}
    assert ids["conv2_block1_conv1"] not in in_rows
    assert ids["conv1_conv"] in in_rows


def test_straight_block_gets_rows():
    network = example("unet")
    dot = to_dot(network)

    ids = {node.name: f"n{index}" for index, node in enumerate(network.nodes)}
    row = [ids[name] for name in ("up4_double_conv1_conv1", "up4_double_conv1_batchnorm1", "up4_double_conv1_relu1")]
    assert row in rows(dot)


def test_plain_chain_has_no_rows():
    dot = to_dot(example("lenet"))

    assert "rank=same" not in dot
    assert "subgraph" not in dot


@requires_dot
@pytest.mark.parametrize("name, collapse", [
    ("resnet50", True), ("resnet50", False), ("inception_v3", True), ("unet", False), ("unet", True),
    ("mobilenet_v2", True),
])
def test_rows_read_left_to_right(name, collapse):
    dot = to_dot(example(name), collapse=collapse)
    positions = node_positions(dot)

    for row in rows(dot):
        xs = [positions[node_id][0] for node_id in row]
        ys = {positions[node_id][1] for node_id in row}
        assert xs == sorted(xs), row
        assert len(ys) == 1, row


@requires_dot
def test_wrapped_rows_align_left():
    dot = to_dot(example("resnet50"), collapse=True)
    positions = node_positions(dot)

    starts = [positions[row[0]][0] for row in rows(dot) if len(row) >= 3]
    assert max(starts) - min(starts) < 1


def test_collapsed_dot_is_deterministic():
    assert to_dot(example("inception_v3"), collapse=True) == to_dot(example("inception_v3"), collapse=True)


# ---- Command line ----------------------------------------------------------


def test_cli_collapse_writes_boxes(tmp_path):
    result = run_cnndsl("compile", str(EXAMPLES / "resnet50.cnn"), "-o", str(tmp_path), "--targets", "graphviz",
                        "--format", "dot", "--collapse")

    assert result.returncode == 0, result.stderr
    dot = (tmp_path / "resnet50.dot").read_text()
    assert "\tb15 [label=" in dot
    assert "<B>conv2_block1_conv1</B>" not in dot


def test_cli_collapse_depth_implies_collapse(tmp_path):
    result = run_cnndsl("compile", str(EXAMPLES / "inception_v3.cnn"), "-o", str(tmp_path), "--targets",
                        "graphviz", "--format", "dot", "--collapse-depth", "2")

    assert result.returncode == 0, result.stderr
    dot = (tmp_path / "inception_v3.dot").read_text()
    assert "subgraph cluster_" in dot
    assert "<B>mixed0_conv_bn1</B>" in dot
    assert "<B>mixed0_conv_bn1_conv1</B>" not in dot


def test_cli_rejects_collapse_depth_zero(tmp_path):
    result = run_cnndsl("compile", str(EXAMPLES / "resnet50.cnn"), "-o", str(tmp_path), "--collapse-depth", "0")

    assert result.returncode == 2
    assert "invalid depth '0'" in result.stderr
