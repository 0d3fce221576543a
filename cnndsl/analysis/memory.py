"""Memory of a forward pass: parameter bytes and activation bytes, per sample.

Every node's output is one tensor of its output shape. The peak is found by
running the nodes in topological order (the order of Network.nodes): a node's
output is allocated when it runs and freed after its last reader has run,
except the network's outputs, which are kept. A layer needs its inputs and its
output at once, so the tensors alive while it runs are those allocated before
it and not yet freed, plus its own output. Multiply by the batch size for a
batch: the schedule does not depend on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cnndsl.graph import Network

DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}
"""Bytes per value of each dtype that `--dtype` accepts."""


@dataclass(frozen=True)
class MemoryReport:
    """Bytes of one forward pass for one sample.

    `activation_bytes` is the size of each node's output tensor and
    `live_bytes` the bytes of all tensors alive while that node runs, both by
    node name. `peak_bytes` is the largest `live_bytes`, reached first at
    `peak_node`, and `total_activation_bytes` the sum of all outputs.
    """

    bytes_per_value: int
    parameter_bytes: int
    activation_bytes: dict[str, int]
    live_bytes: dict[str, int]
    peak_bytes: int
    peak_node: str | None
    total_activation_bytes: int


def tensor_bytes(shape: tuple[int | None, ...] | None, bytes_per_value: int) -> int:
    """Return the bytes of one sample's tensor; an unknown shape counts as empty."""
    if shape is None or any(size is None for size in shape):
        return 0
    return math.prod(shape) * bytes_per_value


def _last_readers(network: Network) -> dict[str, str]:
    """Return, for every tensor that is read, the name of the node that reads it last."""
    last: dict[str, str] = {}
    for node in network.nodes:
        for name in node.inputs:
            last[name] = node.name
    return last


def memory_report(network: Network, dtype: str = "float32") -> MemoryReport:
    """Return the parameter and activation memory of one sample's forward pass, in `dtype`."""
    bytes_per_value = DTYPE_BYTES[dtype]
    sizes = {node.name: tensor_bytes(network.output_shape(node.name), bytes_per_value) for node in network.nodes}
    live = _live_bytes(network, sizes)

    peak_node = max(live, key=live.get) if live else None
    return MemoryReport(
        bytes_per_value=bytes_per_value,
        parameter_bytes=network.total_params * bytes_per_value,
        activation_bytes=sizes,
        live_bytes=live,
        peak_bytes=live[peak_node] if peak_node else 0,
        peak_node=peak_node,
        total_activation_bytes=sum(sizes.values()),
    )


def _live_bytes(network: Network, sizes: dict[str, int]) -> dict[str, int]:
    """Run the schedule and return the bytes alive while each node runs."""
    last_reader = _last_readers(network)
    kept = set(network.outputs)
    freed_after: dict[str, list[str]] = {}
    for tensor, reader in last_reader.items():
        if tensor not in kept:
            freed_after.setdefault(reader, []).append(tensor)

    alive = 0
    live: dict[str, int] = {}
    for node in network.nodes:
        alive += sizes[node.name]
        live[node.name] = alive

        for tensor in freed_after.get(node.name, []):
            alive -= sizes[tensor]
        # An output that nothing reads is dropped at once.
        if node.name not in last_reader and node.name not in kept:
            alive -= sizes[node.name]
    return live
