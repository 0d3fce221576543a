"""Block instances in the diagram: which boxes are drawn, in which cluster, on which rank.

This module decides what the diagram shows and graphviz_backend decides how
it looks. Every block instance of the network is either expanded or
collapsed:

- An expanded instance is a cluster (a framed subgraph) around its layers
  and around the instances nested in it.
- A collapsed instance is a single box that stands for all of its layers.
  Edges that enter or leave any of those layers enter or leave the box.

`collapse_depth` selects which instances are collapsed. With depth 1 every
top-level instance is one box. With depth 2 the top-level instances are
clusters, and the instances called inside them are boxes, and so on. None
expands every instance.

graphviz_rows then places chains written on one line of the spec side by
side, in rows.

Node IDs are `n<index>` for the nodes of the network and `b<index>` for the
collapsed instances, by position in `network.nodes` and
`network.block_instances`; clusters are `cluster_b<index>`. IDs never
contain spec text, for the reason given in graphviz_backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnndsl.graph import BlockInstance, LayerNode, Network, Node, count_params
from cnndsl.layers import Shape


@dataclass(frozen=True)
class InstanceFacts:
    """A block instance with the layers it contains, nested instances included.

    `input_tensors` are the tensors from outside the instance that its layers
    read, in the order they are first read. They include tensors passed as
    block arguments (the skip tensor of a U-Net step), which
    `BlockInstance.inputs` does not list.
    """

    id: str
    instance: BlockInstance
    layers: tuple[LayerNode, ...]
    input_tensors: tuple[str, ...]

    @property
    def trainable_params(self) -> int:
        return count_params(self.layers)[0]

    @property
    def non_trainable_params(self) -> int:
        return count_params(self.layers)[1]

    @property
    def params(self) -> int:
        return sum(count_params(self.layers))


@dataclass(frozen=True)
class DrawnNode:
    """A network node drawn as its own box, with its node ID."""

    id: str
    node: Node


@dataclass(frozen=True)
class CollapsedInstance:
    """One box standing for a collapsed block instance, with its input and output shapes."""

    facts: InstanceFacts
    input_shapes: tuple[Shape | None, ...]
    output_shape: Shape | None

    @property
    def id(self) -> str:
        return self.facts.id


@dataclass
class Cluster:
    """A frame around the items of one expanded block instance, or the whole diagram.

    `items` are drawn nodes, collapsed instances and nested clusters in the
    order they first appear in the network, which is a topological order.
    `rows` lists IDs of items that share one rank. `facts` is None for the
    whole diagram.
    """

    id: str
    facts: InstanceFacts | None
    items: list[DrawnNode | CollapsedInstance | Cluster] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class DiagramView:
    """What the diagram draws: the tree of clusters and the edges between drawn boxes.

    `alignments` are pairs of boxes that should stand one above the other.
    Each box starts a row or stands alone, and the chain that ends the first
    row continues at the second box.
    """

    root: Cluster
    edges: list[tuple[str, str]]
    alignments: list[tuple[str, str]] = field(default_factory=list)


def build_view(network: Network, collapse_depth: int | None = None) -> DiagramView:
    """Sort the nodes of a checked network into clusters and collapsed instances.

    Raise ValueError when `collapse_depth` is below 1.
    """
    if collapse_depth is not None and collapse_depth < 1:
        raise ValueError(f"the collapse depth must be 1 or more, not {collapse_depth}")

    facts = instance_facts(network)
    root = Cluster("root", None)
    clusters: dict[tuple[str, ...], Cluster] = {(): root}
    collapsed: dict[tuple[str, ...], CollapsedInstance] = {}
    drawn_as: dict[str, str] = {}

    for index, node in enumerate(network.nodes):
        scope = node.scope if isinstance(node, LayerNode) else ()
        hidden_in = _collapsed_scope(scope, collapse_depth)
        container = _cluster(clusters, facts, scope if hidden_in is None else hidden_in[:-1])

        if hidden_in is None:
            drawn_as[node.name] = f"n{index}"
            container.items.append(DrawnNode(f"n{index}", node))
            continue

        if hidden_in not in collapsed:
            collapsed[hidden_in] = _collapsed_instance(network, facts[hidden_in])
            container.items.append(collapsed[hidden_in])
        drawn_as[node.name] = facts[hidden_in].id

    return DiagramView(root, _edges(network, drawn_as, {box.id for box in collapsed.values()}))


def instance_facts(network: Network) -> dict[tuple[str, ...], InstanceFacts]:
    """Collect every block instance's layers and outside inputs, by instance scope."""
    layers_by_scope: dict[tuple[str, ...], list[LayerNode]] = {}
    for layer in network.layers:
        for depth in range(1, len(layer.scope) + 1):
            layers_by_scope.setdefault(layer.scope[:depth], []).append(layer)

    facts = {}
    for index, instance in enumerate(network.block_instances):
        layers = tuple(layers_by_scope.get(instance.scope, ()))
        facts[instance.scope] = InstanceFacts(f"b{index}", instance, layers, _outside_inputs(layers))
    return facts


def _outside_inputs(layers: tuple[LayerNode, ...]) -> tuple[str, ...]:
    inside = {layer.name for layer in layers}
    outside = [name for layer in layers for name in layer.inputs if name not in inside]
    return tuple(dict.fromkeys(outside))


def _collapsed_scope(scope: tuple[str, ...], collapse_depth: int | None) -> tuple[str, ...] | None:
    """Return the scope of the collapsed instance that hides a node, or None when the node is drawn."""
    if collapse_depth is None or len(scope) < collapse_depth:
        return None
    return scope[:collapse_depth]


def _cluster(clusters: dict[tuple[str, ...], Cluster], facts: dict[tuple[str, ...], InstanceFacts],
             scope: tuple[str, ...]) -> Cluster:
    """Return the cluster of `scope`, creating it and its enclosing clusters on first use.

    A cluster is appended to its parent when its first node is met, so it
    takes its place among the parent's items in topological order.
    """
    if scope in clusters:
        return clusters[scope]

    parent = _cluster(clusters, facts, scope[:-1])
    instance = facts[scope]
    cluster = Cluster(f"cluster_{instance.id}", instance)
    parent.items.append(cluster)
    clusters[scope] = cluster
    return cluster


def _collapsed_instance(network: Network, facts: InstanceFacts) -> CollapsedInstance:
    output = facts.instance.output
    return CollapsedInstance(
        facts=facts,
        input_shapes=tuple(network.output_shape(name) for name in facts.input_tensors),
        output_shape=network.output_shape(output) if output is not None else None,
    )


def _edges(network: Network, drawn_as: dict[str, str], collapsed: set[str]) -> list[tuple[str, str]]:
    """Return an edge for every input of every drawn layer, and one per outside tensor of a collapsed box.

    A layer that reads the same tensor twice (`add(x, x)`) gets two edges.
    Edges between layers of one collapsed instance disappear, and several
    layers of a collapsed instance that read the same tensor (the branches
    of an Inception module) give one edge.
    """
    edges: list[tuple[str, str]] = []
    seen: set[tuple[str, str, str]] = set()

    for node in network.nodes:
        target = drawn_as[node.name]
        for name in node.inputs:
            source = drawn_as[name]
            if source == target:
                continue
            if target in collapsed:
                key = (source, name, target)
                if key in seen:
                    continue
                seen.add(key)
            edges.append((source, target))

    return edges
