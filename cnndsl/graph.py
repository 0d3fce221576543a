"""The resolved layer graph: layers with Keras arguments, names and their inputs.

The graph is what every back end consumes. The resolver builds it from the
syntax tree; the checker fills in each node's output shape and parameter counts.
Nodes are kept in topological order, so one pass in list order visits every
node after its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Iterable
from typing import Any

from cnndsl.layers import LayerKind, Shape
from cnndsl.syntax import Source, Span


@dataclass
class InputNode:
    """A model input (keras.Input): its name and shape without the batch axis."""

    name: str
    shape: Shape
    span: Span

    @property
    def inputs(self) -> tuple[str, ...]:
        return ()


@dataclass
class LayerNode:
    """One Keras layer: its kind, Keras arguments, unique name and input tensors.

    `scope` lists the block instances the layer belongs to, outermost first, and
    `source` is the spec the layer was written in when it is not the network's own
    (a block imported with `use`).
    `output_shape`, `trainable_params` and `non_trainable_params` are None until
    the checker has run, and stay None for layers whose input shape is unknown
    because of an earlier error. `kind` and `config` are None only in a network
    that failed to resolve, which never reaches a back end.
    """

    name: str
    kind: LayerKind | None
    config: dict[str, Any] | None
    inputs: tuple[str, ...]
    span: Span
    output_shape: Shape | None = None
    trainable_params: int | None = None
    non_trainable_params: int | None = None
    scope: tuple[str, ...] = ()
    source: Source | None = None

    @property
    def params(self) -> int:
        return (self.trainable_params or 0) + (self.non_trainable_params or 0)

    def keras_arguments(self) -> dict[str, Any]:
        return self.kind.keras_arguments(self.config)


Node = InputNode | LayerNode


def count_params(layers: Iterable[LayerNode]) -> tuple[int, int]:
    """Return the trainable and non-trainable parameters of `layers`; an unchecked layer counts as 0."""
    trainable = non_trainable = 0
    for layer in layers:
        trainable += layer.trainable_params or 0
        non_trainable += layer.non_trainable_params or 0
    return trainable, non_trainable


@dataclass
class BlockInstance:
    """One expansion of a block call: `stage2_block1`, a copy of block `bottleneck`.

    `inputs` and `output` are the tensors entering and leaving the instance;
    `scope` is the instance path, the same as its layers' scope prefix.
    """

    name: str
    block: str
    scope: tuple[str, ...]
    span: Span
    inputs: tuple[str, ...]
    output: str | None = None


@dataclass
class Network:
    """A resolved network: its name, nodes in topological order, and output node names."""

    name: str
    source: Source
    nodes: list[Node] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    block_instances: list[BlockInstance] = field(default_factory=list)
    tensor_names: dict[str, str] = field(default_factory=dict)  # node name -> `-> name` given in the spec
    _by_name: dict[str, Node] = field(default_factory=dict, repr=False)

    def add(self, node: Node) -> None:
        """Append `node`, which must come after all of its inputs."""
        self.nodes.append(node)
        self._by_name[node.name] = node

    @property
    def inputs(self) -> list[InputNode]:
        return [node for node in self.nodes if isinstance(node, InputNode)]

    @property
    def layers(self) -> list[LayerNode]:
        return [node for node in self.nodes if isinstance(node, LayerNode)]

    def node(self, name: str) -> Node:
        return self._by_name[name]

    def remove(self, names: list[str]) -> None:
        """Remove nodes that no remaining node reads."""
        doomed = set(names)
        self.nodes = [node for node in self.nodes if node.name not in doomed]
        for name in doomed:
            del self._by_name[name]
            self.tensor_names.pop(name, None)

    def rename(self, old: str, new: str) -> None:
        """Rename a node that no other node reads yet."""
        node = self._by_name.pop(old)
        node.name = new
        self._by_name[new] = node
        if old in self.tensor_names:
            self.tensor_names[new] = self.tensor_names.pop(old)

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def consumers(self) -> dict[str, list[str]]:
        """Return, for every node name, the names of the layers that read its output."""
        readers: dict[str, list[str]] = {node.name: [] for node in self.nodes}
        for node in self.nodes:
            for name in node.inputs:
                readers[name].append(node.name)
        return readers

    def is_chain(self) -> bool:
        """Return True when every node feeds only the next one (Sequential-compatible)."""
        if len(self.inputs) != 1 or len(self.outputs) != 1:
            return False
        previous = None
        for node in self.nodes:
            if previous is not None and node.inputs != (previous,):
                return False
            previous = node.name
        return self.outputs == [previous]

    def output_shape(self, name: str) -> Shape | None:
        node = self.node(name)
        return node.shape if isinstance(node, InputNode) else node.output_shape

    @property
    def trainable_params(self) -> int:
        return count_params(self.layers)[0]

    @property
    def non_trainable_params(self) -> int:
        return count_params(self.layers)[1]

    @property
    def total_params(self) -> int:
        return sum(count_params(self.layers))
