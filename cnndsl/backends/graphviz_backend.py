"""Graphviz back end: draw the checked layer graph as DOT source and render it with `dot`.

The diagram runs top to bottom with one box per layer. Each box shows the
layer name, its Keras class, its key hyperparameters, its output shape and its
parameter count, and its fill colour marks the layer family. The title gives
the network name and the parameter totals in Keras's summary terms.

Output shapes sit inside the nodes rather than on the edges. Every layer has
exactly one output tensor, so the shape belongs to the layer, and when one
output feeds several layers, a shape in the node is written once instead of
once per edge. `dot` also places edge labels beside the edge, which widens the
drawing and pushes the column of boxes off centre. Shapes in the nodes keep a
chain straight and keep each layer's facts in one box.

Networks with blocks or branches are drawn differently (graphviz_blocks and
graphviz_rows decide the structure). Each block instance is a cluster
labelled with its name, block and parameter count, or, when collapsed, one
box with its input and output shapes. A chain written on one line of the
spec is a row of boxes, so a long network wraps like text.

Spec strings (network and layer names, labels) reach the DOT source only
inside HTML-like labels, escaped with `html.escape`. Node IDs are `n0`, `n1`,
... by position, and the graph ID is the network name only when that is a
plain DOT identifier. The reason is that the graphviz package (0.21) passes
`<...>` strings through unquoted and does not repair a trailing backslash.

`graphviz` is imported inside the functions so that `cnndsl check` never loads it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from cnndsl.backends.graphviz_blocks import Cluster, CollapsedInstance, DrawnNode, InstanceFacts, build_view
from cnndsl.backends.graphviz_rows import arrange_rows
from cnndsl.graph import InputNode, LayerNode, Network
from cnndsl.layers import Shape

RENDER_FORMATS = ("svg", "png", "pdf")

FONT = "Helvetica"
NODE_FONT_SIZE = 11
TITLE_FONT_SIZE = 16
MUTED_TEXT = "#5F6368"
EDGE_COLOUR = "#6B6B6B"

# Estimated advance of one character of NODE_FONT_SIZE text, in points, used to
# give every box the same columns. Graphviz treats a cell WIDTH as a minimum,
# so text wider than the estimate only widens its own box.
CHARACTER_WIDTH = 7.5

# Characters of space between the left and the right column.
COLUMN_GAP = 3

# Graphviz 2.43 draws bitmaps at 96 dpi by default, which turns coarse when a
# PNG is scaled up on slides or high-density screens. SVG and PDF are vectors.
PNG_DPI = 192

FAMILY_BY_KERAS_CLASS: dict[str, str] = {
    "Conv2D": "convolution",
    "DepthwiseConv2D": "convolution",
    "SeparableConv2D": "convolution",
    "Conv2DTranspose": "convolution",
    "MaxPooling2D": "pooling",
    "AveragePooling2D": "pooling",
    "GlobalAveragePooling2D": "pooling",
    "GlobalMaxPooling2D": "pooling",
    "Dense": "dense",
    "BatchNormalization": "normalization",
    "LayerNormalization": "normalization",
    "Activation": "activation",
    "LeakyReLU": "activation",
    "ELU": "activation",
    "Dropout": "regularization",
    "SpatialDropout2D": "regularization",
    "Flatten": "reshaping",
    "Reshape": "reshaping",
    "ZeroPadding2D": "reshaping",
    "Cropping2D": "reshaping",
    "UpSampling2D": "reshaping",
    "Rescaling": "preprocessing",
    "Add": "merge",
    "Subtract": "merge",
    "Multiply": "merge",
    "Average": "merge",
    "Maximum": "merge",
    "Minimum": "merge",
    "Concatenate": "merge",
}

# (fill, border) per family: light fills keep black text readable in colour and
# in greyscale print, and a darker border of the same hue separates neighbouring boxes.
PALETTE: dict[str, tuple[str, str]] = {
    "input": ("#FFFFFF", "#5F6368"),
    "preprocessing": ("#FFFFFF", "#5F6368"),
    "convolution": ("#DCE8F5", "#4C78A8"),
    "pooling": ("#DFF0DC", "#54A24B"),
    "dense": ("#FBE3CC", "#E17C05"),
    "normalization": ("#EAE0F2", "#7F5FA5"),
    "activation": ("#FBF1C7", "#B8A12C"),
    "regularization": ("#ECECEC", "#8C8C8C"),
    "reshaping": ("#F6DEDC", "#B0605A"),
    "merge": ("#D9F0EE", "#2A9D8F"),
    "other": ("#F7F7F7", "#5F6368"),
}

# A collapsed block instance stands for many layers of several families, so
# it gets a neutral fill and a double border, which no layer box has.
BLOCK_COLOURS = ("#F1F3F4", "#3C4043")

# Fills of block clusters by nesting depth, from the outermost, repeated
# when blocks nest deeper. Each level is a little darker than the one around it.
CLUSTER_FILLS = ("#F8F9FA", "#EEF0F2", "#E4E7EA")
CLUSTER_BORDER = "#9AA0A6"

# Layout of networks with blocks or branches. Plain chains keep the plain
# layout. Splines route the shortcut edges of residual blocks around the
# boxes, and the wider rank and node separation leaves room for edges that cross.
GRAPH_LAYOUT = {"splines": "spline", "nodesep": "0.35", "ranksep": "0.35"}

# Weight of the invisible edge that puts a row under the start of the row
# above. The edge from the end of that row has weight 1, so this one wins.
ROW_ALIGNMENT_WEIGHT = 10

INSTALL_HINT = (
    "Install Graphviz, which provides `dot`: `apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS), `conda install graphviz`, or a download from https://graphviz.org/download/"
)

_DOT_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# XML 1.0, which Graphviz uses to parse HTML-like labels, forbids these
# characters even as character references.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class GraphvizError(Exception):
    """Rendering with the Graphviz `dot` program failed."""


class GraphvizNotFound(GraphvizError):
    """The Graphviz `dot` program is not installed or not on PATH."""


@dataclass(frozen=True)
class BoxText:
    """The plain text of one node's box, before escaping and layout.

    The column methods return the widest text of each column in characters.
    """

    name: str
    keras_class: str
    description: str
    shape: str
    params: str
    non_trainable: str

    def left_column(self) -> int:
        return max(len(self.name), len(self.shape))

    def right_column(self) -> int:
        return max(len(self.keras_class), len(self.params), len(self.non_trainable))


def to_dot(network: Network, collapse: bool = False, collapse_depth: int = 1) -> str:
    """Build the DOT source of the diagram of a checked network.

    Block instances are drawn as clusters around their layers. With
    `collapse`, each instance nested `collapse_depth` deep (1: the top-level
    instances) is one box showing its name, block, input and output shapes
    and parameter count, and the instances around it stay clusters. The
    output depends only on the arguments, so the same network always gives
    byte-identical source. Raise ValueError when `collapse_depth` is below 1.
    """
    import graphviz

    view = build_view(network, collapse_depth if collapse else None)
    # A plain chain without blocks keeps the classic single column.
    graph_layout = bool(network.block_instances) or not network.is_chain()
    if graph_layout:
        arrange_rows(view)

    graph = graphviz.Digraph(name=_graph_id(network.name))
    graph.attr(
        rankdir="TB", labelloc="t", label=_title_label(network), fontname=FONT,
        bgcolor="white", pad="0.3", nodesep="0.3", ranksep="0.28",
    )
    if graph_layout:
        graph.attr(**GRAPH_LAYOUT)
    graph.attr("node", shape="box", style="rounded,filled", fontname=FONT, fontsize=str(NODE_FONT_SIZE),
               margin="0.1,0.05", penwidth="1.2")
    graph.attr("edge", color=EDGE_COLOUR, arrowsize="0.7", penwidth="1.1")

    boxes = _boxes(view.root)
    widths = _column_widths(list(boxes.values()))
    _draw_cluster(graph, view.root, boxes, widths)

    for source, target in view.edges:
        graph.edge(source, target)

    # The edge from the end of one row to the start of the next would pull the
    # next row to the right, into a staircase. A heavier invisible edge
    # between the starts of the rows aligns them on the left, as lines of text.
    for above, below in view.alignments:
        graph.edge(above, below, style="invis", weight=str(ROW_ALIGNMENT_WEIGHT))

    return graph.source


def render(dot_source: str, fmt: str, dot_path: Path | None = None) -> bytes:
    """Render DOT source to svg, png or pdf bytes with the Graphviz `dot` program.

    Callers write the .dot file before rendering, because the message of
    GraphvizNotFound states that it exists and names `dot_path` when
    given. Raise ValueError for another format, GraphvizNotFound when `dot` is
    not on PATH and GraphvizError when `dot` fails.
    """
    import graphviz

    if fmt not in RENDER_FORMATS:
        raise ValueError(f"cannot render the diagram as `{fmt}`: choose one of {', '.join(RENDER_FORMATS)}")
    if fmt == "png":
        dot_source = _with_graph_attribute(dot_source, f"dpi={PNG_DPI}")

    try:
        return graphviz.Source(dot_source).pipe(format=fmt)
    except graphviz.ExecutableNotFound as error:
        raise GraphvizNotFound(_not_found_message(fmt, dot_path)) from error
    except graphviz.CalledProcessError as error:
        detail = (error.stderr or b"").decode(errors="replace").strip()
        raise GraphvizError(f"Graphviz `dot` failed to render {fmt}: {detail}") from error


def dot_available() -> bool:
    """Return True when the Graphviz `dot` program runs (checked with `dot -V`)."""
    import graphviz

    try:
        graphviz.version()
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError, RuntimeError):
        return False
    return True


def _boxes(cluster: Cluster) -> dict[str, BoxText]:
    """Collect the box text of every node and collapsed instance in `cluster`, by node ID."""
    boxes = {}
    for item in cluster.items:
        if isinstance(item, Cluster):
            boxes.update(_boxes(item))
        elif isinstance(item, CollapsedInstance):
            boxes[item.id] = instance_box_text(item)
        elif isinstance(item, DrawnNode):
            boxes[item.id] = box_text(item.node)
    return boxes


def _draw_cluster(graph, cluster: Cluster, boxes: dict[str, BoxText], widths: tuple[int, int],
                  depth: int = 0) -> None:
    """Add the boxes and nested clusters of `cluster` to `graph`, a graphviz Digraph or subgraph."""
    for item in cluster.items:
        if isinstance(item, Cluster):
            subgraph = _empty_subgraph(graph, item.id)
            subgraph.attr(label=_cluster_label(item.facts), **_cluster_style(depth))
            _draw_cluster(subgraph, item, boxes, widths, depth + 1)
            graph.subgraph(subgraph)
        elif isinstance(item, CollapsedInstance):
            fill, border = BLOCK_COLOURS
            graph.node(item.id, label=_box_label(boxes[item.id], widths), fillcolor=fill, color=border,
                       peripheries="2")
        else:
            fill, border = PALETTE[_family(item.node)]
            graph.node(item.id, label=_box_label(boxes[item.id], widths), fillcolor=fill, color=border)

    # Boxes on one rank sit side by side, in the order of the edges between them.
    for row in cluster.rows:
        same_rank = _empty_subgraph(graph)
        same_rank.attr(rank="same")
        for node_id in row:
            same_rank.node(node_id)
        graph.subgraph(same_rank)


def _empty_subgraph(graph, name: str | None = None):
    """Return an empty graph of `graph`'s class, to add to it with `graph.subgraph(...)` once filled.

    `with graph.subgraph()` would copy the parent's whole body into every new
    subgraph (graphviz 0.21), which made drawing quadratic in the number of rows.
    """
    return type(graph)(name=name)


def _cluster_style(depth: int) -> dict[str, str]:
    return {
        "style": "rounded,filled", "fillcolor": CLUSTER_FILLS[depth % len(CLUSTER_FILLS)],
        "color": CLUSTER_BORDER, "labeljust": "l", "fontsize": str(NODE_FONT_SIZE), "margin": "10",
    }


def box_text(node: InputNode | LayerNode) -> BoxText:
    """Collect the text of a node's box: name, Keras class, hyperparameters, shape and parameters."""
    if isinstance(node, InputNode):
        return BoxText(node.name, "Input", "", format_shape(node.shape), "", "")

    non_trainable = ""
    if node.non_trainable_params:
        non_trainable = f"{format_count(node.non_trainable_params)} non-trainable"

    return BoxText(
        name=node.name,
        keras_class=node.kind.keras_class,
        description=_layer_description(node),
        shape=format_shape(node.output_shape),
        params=_params_text(node),
        non_trainable=non_trainable,
    )


def instance_box_text(box: CollapsedInstance) -> BoxText:
    """Collect the text of a collapsed block instance: name, block, shapes, layers and parameters.

    The description row shows the input shapes and the output shape. The
    cell under the name, which shows the output shape in a layer's box,
    shows the number of layers here.
    """
    facts = box.facts
    inputs = ", ".join(format_shape(shape) for shape in box.input_shapes)
    count = len(facts.layers)

    non_trainable = ""
    if facts.non_trainable_params:
        non_trainable = f"{format_count(facts.non_trainable_params)} non-trainable"

    return BoxText(
        name=facts.instance.name,
        keras_class=facts.instance.block,
        description=f"{inputs} → {format_shape(box.output_shape)}",
        shape=f"{count} layer" if count == 1 else f"{count} layers",
        params=_count_text(facts.params),
        non_trainable=non_trainable,
    )


def escape(text: str) -> str:
    """Escape spec text for an HTML-like label, writing control characters as spaces."""
    return html.escape(_CONTROL_CHARACTERS.sub(" ", text), quote=True)


def format_shape(shape: Shape | None) -> str:
    """Write a tensor shape without the batch axis as `28×28×6`, with `?` for unknown sizes."""
    if shape is None:
        return "?"
    return "×".join("?" if size is None else str(size) for size in shape)


def format_count(count: int) -> str:
    """Write a count with thousands separators: 61,706."""
    return f"{count:,}"


def _layer_description(node: LayerNode) -> str:
    """Return the layer's key hyperparameters, or the function of an Activation layer.

    An Activation layer has an empty label because its keyword names the
    function, but an explicit `name=` hides the keyword, so the box states it.
    """
    label = node.kind.label(node.config)
    if label:
        return label
    if node.kind.keras_class == "Activation":
        return str(node.keras_arguments().get("activation", ""))
    return ""


def _params_text(node: LayerNode) -> str:
    """Return `156 params`, or "" for a layer without parameters so that its box shows none."""
    return _count_text(node.params)


def _count_text(params: int) -> str:
    if not params:
        return ""
    unit = "param" if params == 1 else "params"
    return f"{format_count(params)} {unit}"


def _column_widths(boxes: list[BoxText]) -> tuple[int, int]:
    """Estimate (left, right) column widths in points that fit every box of the network.

    Giving every table the same columns lines the boxes of a chain up in one
    column. The description row spans both columns, so the right column grows
    when a description is wider than the two together.
    """
    left = max((box.left_column() for box in boxes), default=0)
    right = max((box.right_column() for box in boxes), default=0) + COLUMN_GAP
    description = max((len(box.description) for box in boxes), default=0)
    right = max(right, description - left)

    return round(left * CHARACTER_WIDTH), round(right * CHARACTER_WIDTH)


def _box_label(box: BoxText, widths: tuple[int, int]) -> str:
    left, right = (f' WIDTH="{width}"' for width in widths)
    rows = [
        f'<TR><TD ALIGN="LEFT"{left}><B>{escape(box.name)}</B></TD>'
        f'<TD ALIGN="RIGHT"{right}>{_muted(box.keras_class)}</TD></TR>'
    ]
    if box.description:
        rows.append(f'<TR><TD ALIGN="LEFT" COLSPAN="2">{escape(box.description)}</TD></TR>')

    rows.append(f'<TR><TD ALIGN="LEFT">{escape(box.shape)}</TD><TD ALIGN="RIGHT">{escape(box.params)}</TD></TR>')
    if box.non_trainable:
        rows.append(f'<TR><TD></TD><TD ALIGN="RIGHT">{_muted(box.non_trainable)}</TD></TR>')

    return _table(rows)


def _title_label(network: Network) -> str:
    totals = (
        f"Total params: {format_count(network.total_params)}  "
        f"(trainable {format_count(network.trainable_params)}, "
        f"non-trainable {format_count(network.non_trainable_params)})"
    )
    rows = [
        f'<TR><TD><FONT POINT-SIZE="{TITLE_FONT_SIZE}"><B>{escape(network.name)}</B></FONT></TD></TR>',
        f'<TR><TD><FONT POINT-SIZE="{NODE_FONT_SIZE}" COLOR="{MUTED_TEXT}">{totals}</FONT></TD></TR>',
        '<TR><TD HEIGHT="6"></TD></TR>',
    ]
    return _table(rows, cell_padding=1)


def _cluster_label(facts: InstanceFacts) -> str:
    """Label a cluster with the instance name in bold, then its block and parameter count."""
    details = facts.instance.block
    if facts.params:
        details += f", {_count_text(facts.params)}"
    return f'<<B>{escape(facts.instance.name)}</B>  {_muted(details)}>'


def _muted(text: str) -> str:
    return f'<FONT COLOR="{MUTED_TEXT}">{escape(text)}</FONT>'


def _table(rows: list[str], cell_padding: int = 2) -> str:
    return (
        f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="{cell_padding}">'
        f'{"".join(rows)}</TABLE>>'
    )


def _graph_id(name: str) -> str:
    """Return the network name as the graph ID when it is a plain identifier, else `network`."""
    return name if _DOT_IDENTIFIER.fullmatch(name) else "network"


def _family(node: InputNode | LayerNode) -> str:
    if isinstance(node, InputNode):
        return "input"
    return FAMILY_BY_KERAS_CLASS.get(node.kind.keras_class, "other")


def _with_graph_attribute(dot_source: str, attribute: str) -> str:
    """Add a root graph attribute statement before the last `}` of the source.

    That brace closes the graph in source from to_dot, which contains one graph
    and ends with it. A later statement overrides an earlier one, so this wins
    over the same attribute set anywhere above it.
    """
    body, brace, rest = dot_source.rpartition("}")
    if not brace:
        return dot_source
    return f"{body}\t{attribute}\n{brace}{rest}"


def _not_found_message(fmt: str, dot_path: Path | None) -> str:
    if dot_path is None:
        written = "The .dot file was still written"
        command = f"dot -T{fmt} FILE.dot -o FILE.{fmt}"
    else:
        written = f"{dot_path} was still written"
        command = f"dot -T{fmt} {dot_path} -o {dot_path.with_suffix('.' + fmt)}"

    # The install hint ends with a URL, so it comes last: a full stop after it
    # would become part of the link in many terminals.
    return (
        f"cannot render {fmt}: the Graphviz `dot` program was not found on PATH. "
        f"{written}, so you can render it later with `{command}`. {INSTALL_HINT}"
    )
