"""Rows in the diagram: chains written on one line of the spec sit side by side.

In a network with blocks or branches, the boxes of a chain written on one
line of the spec (or of a block body) sit side by side on one rank, at most
MAX_ROW_LENGTH to a row. The row that continues the chain starts under the
first box of the row above, as wrapped text does. So the diagram keeps the
lines of the spec: collapsed, `bottleneck(128) x4` is one row of four boxes,
and the line `conv > bn > relu` is one row of three.

A row is a DOT subgraph with rank=same. `dot` places its boxes left to right
in the order of the edges between them, unless crossing reduction swaps
them (see arrange_rows).
"""

from __future__ import annotations

from collections import defaultdict

from cnndsl.backends.graphviz_blocks import Cluster, CollapsedInstance, DiagramView, DrawnNode

# Rows hold at most this many boxes, so that a row of boxes of the usual
# width (about 230 points) stays within about 2,300 points, the width of a
# wide screen at 100 % zoom. A longer chain continues on the next row.
MAX_ROW_LENGTH = 10


def arrange_rows(view: DiagramView) -> None:
    """Fill in the rows of every cluster of `view` and its alignments.

    The top level always gets rows. A block instance gets them only when it
    is straight and so is every instance around it. In an instance that
    branches or merges, the long edges of the shortcut or the branches pass
    the ends of the rows. `dot` (2.43) then reverses the order of boxes in a
    row to shorten those edges, so such an instance keeps its boxes in columns.
    """
    inputs, consumers = _adjacency(view.edges)
    runs: list[list[str]] = []
    _arrange_cluster(view.root, True, inputs, consumers, runs)
    view.alignments = _alignments(runs, view.edges, inputs)


def _arrange_cluster(cluster: Cluster, parent_has_rows: bool, inputs: dict[str, list[str]],
                     consumers: dict[str, list[str]], runs: list[list[str]]) -> None:
    has_rows = parent_has_rows and (cluster.facts is None or _is_straight(cluster, inputs, consumers))
    if has_rows:
        cluster_runs = _runs(cluster, inputs, consumers)
    else:
        cluster_runs = [[item.id] for item in cluster.items if not isinstance(item, Cluster)]

    cluster.rows = [run for run in cluster_runs if len(run) > 1]
    runs += cluster_runs
    for item in cluster.items:
        if isinstance(item, Cluster):
            _arrange_cluster(item, has_rows, inputs, consumers, runs)


def _is_straight(cluster: Cluster, inputs: dict[str, list[str]], consumers: dict[str, list[str]]) -> bool:
    """Return True when the boxes in `cluster`, nested clusters included, form one path.

    No box in the cluster may read two boxes of the cluster, and no box
    anywhere may feed two boxes of the cluster. A tensor from outside may
    join the path in a merge, as the skip tensor of a U-Net step does, but a
    shortcut around the path, which reads the cluster's input twice, makes
    it branch.
    """
    inside = _box_ids(cluster)
    for box in inside:
        if len([source for source in inputs[box] if source in inside]) > 1:
            return False

    for box, targets in consumers.items():
        if len({target for target in targets if target in inside}) > 1:
            return False
    return True


def _box_ids(cluster: Cluster) -> set[str]:
    ids = set()
    for item in cluster.items:
        ids |= _box_ids(item) if isinstance(item, Cluster) else {item.id}
    return ids


def _runs(cluster: Cluster, inputs: dict[str, list[str]], consumers: dict[str, list[str]]) -> list[list[str]]:
    """Split the boxes drawn directly in `cluster` into runs: chains written on one line of the spec.

    A box continues the run of its first input when that input feeds nothing
    else, both come from the same line, and the run has fewer than
    MAX_ROW_LENGTH boxes. All boxes of one cluster come from one file (the
    spec or one block body), so the line number identifies the line. Every
    box is in exactly one run, many of them alone.
    """
    runs: list[list[str]] = []
    run_ending_at: dict[str, list[str]] = {}
    lines: dict[str, int] = {}

    for item in cluster.items:
        if isinstance(item, Cluster):
            continue
        lines[item.id] = _line(item)
        previous = inputs[item.id][0] if inputs[item.id] else None
        run = run_ending_at.pop(previous, None)

        if run is not None and _continues(run, item.id, previous, consumers, lines):
            run.append(item.id)
        else:
            run = [item.id]
            runs.append(run)
        run_ending_at[item.id] = run

    return runs


def _line(item: DrawnNode | CollapsedInstance) -> int:
    """Return the spec line of a box: the line of a layer, or of the call of a collapsed instance."""
    if isinstance(item, CollapsedInstance):
        return item.facts.instance.span.line
    return item.node.span.line


def _continues(run: list[str], box: str, previous: str, consumers: dict[str, list[str]],
               lines: dict[str, int]) -> bool:
    return (
        set(consumers[previous]) == {box}
        and lines[previous] == lines[box]
        and len(run) < MAX_ROW_LENGTH
    )


def _alignments(runs: list[list[str]], edges: list[tuple[str, str]],
                inputs: dict[str, list[str]]) -> list[tuple[str, str]]:
    """Pair the starts of two runs when the second continues the chain that ends the first.

    The second run continues the chain when its first box has the last box of
    the first run as its first input. Two single boxes are not paired,
    because the edge between them already places them one above the other.
    """
    run_of = {box: run for run in runs for box in run}
    pairs: dict[tuple[str, str], None] = {}

    for source, target in edges:
        above, below = run_of[source], run_of[target]
        if above is below or source != above[-1] or target != below[0]:
            continue
        if inputs[target][0] == source and len(above) + len(below) > 2:
            pairs[(above[0], below[0])] = None

    return list(pairs)


def _adjacency(edges: list[tuple[str, str]]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Return the inputs and the consumers of every drawn box, in edge order."""
    inputs: dict[str, list[str]] = defaultdict(list)
    consumers: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        inputs[target].append(source)
        consumers[source].append(target)
    return inputs, consumers
