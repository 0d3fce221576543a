"""Static cost and receptive-field analysis of a checked network, without TensorFlow.

`analyse_network` collects, for every node, the MACs, the activation memory and
the theoretical receptive field, plus the totals and the block instances'
totals. The text, JSON and CSV reports (table.py, report.py) and the explain
mode (explain.py) read this one object. effective_rf.py, the only module here
that imports TensorFlow, measures the effective receptive field.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnndsl.analysis.costs import FLOPS_PER_MAC, BlockTotals, block_totals, network_macs
from cnndsl.analysis.memory import DTYPE_BYTES, MemoryReport, memory_report
from cnndsl.analysis.receptive_field import FieldSummary, receptive_fields, summarize
from cnndsl.graph import Network, Node
from cnndsl.layers.formulas import ZERO, Formula


@dataclass(frozen=True)
class NodeAnalysis:
    """The analysis of one node (an input or a layer), per sample."""

    node: Node
    macs: Formula
    activation_bytes: int
    live_bytes: int
    fields: list[FieldSummary]

    @property
    def flops(self) -> int:
        return FLOPS_PER_MAC * self.macs.value


@dataclass(frozen=True)
class Analysis:
    """The analysis of a whole network for one dtype and batch size."""

    network: Network
    dtype: str
    batch_size: int
    nodes: list[NodeAnalysis]
    memory: MemoryReport
    blocks: list[BlockTotals]

    @property
    def total_macs(self) -> int:
        return sum(node.macs.value for node in self.nodes)

    @property
    def total_flops(self) -> int:
        return FLOPS_PER_MAC * self.total_macs


def analyse_network(network: Network, dtype: str = "float32", batch_size: int = 1) -> Analysis:
    """Analyse a checked network; `dtype` is a key of DTYPE_BYTES and `batch_size` at least 1."""
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPE_BYTES)}")
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, not {batch_size}")

    macs = network_macs(network)
    memory = memory_report(network, dtype)
    fields = receptive_fields(network)
    nodes = [
        NodeAnalysis(node, macs.get(node.name, ZERO), memory.activation_bytes[node.name],
                     memory.live_bytes[node.name], summarize(fields[node.name]))
        for node in network.nodes
    ]
    return Analysis(network, dtype, batch_size, nodes, memory, block_totals(network, macs))
