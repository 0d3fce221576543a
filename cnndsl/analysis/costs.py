"""Compute cost: multiply-accumulates (MACs) per layer, per block instance and in total.

Each layer kind counts its own MACs (LayerKind.macs). Only layers that multiply
by weights count: convolutions of every kind and dense layers. Pooling,
normalization, activations, merges and reshaping count zero, as
docs/analysis.md explains. FLOPs are always 2 x MACs.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnndsl.graph import BlockInstance, LayerNode, Network
from cnndsl.layers.formulas import Formula

FLOPS_PER_MAC = 2  # one multiplication and one addition


def layer_macs(network: Network, layer: LayerNode) -> Formula:
    """Return the MACs of one sample through `layer`, as a formula."""
    shapes = [network.output_shape(name) for name in layer.inputs]
    shape = shapes if layer.kind.merge else shapes[0]
    return layer.kind.macs(layer.config, shape, layer.output_shape)


def network_macs(network: Network) -> dict[str, Formula]:
    """Return every layer's MACs per sample, by layer name."""
    return {layer.name: layer_macs(network, layer) for layer in network.layers}


@dataclass(frozen=True)
class BlockTotals:
    """Parameters and MACs of the layers inside one block instance, nested instances included."""

    instance: BlockInstance
    layers: int
    trainable_params: int
    non_trainable_params: int
    macs: int

    @property
    def params(self) -> int:
        return self.trainable_params + self.non_trainable_params


def _inside(layer: LayerNode, instance: BlockInstance) -> bool:
    return layer.scope[:len(instance.scope)] == instance.scope


def block_totals(network: Network, macs: dict[str, Formula]) -> list[BlockTotals]:
    """Return the totals of every block instance, in the order the instances were expanded."""
    totals = []
    for instance in network.block_instances:
        layers = [layer for layer in network.layers if _inside(layer, instance)]
        totals.append(BlockTotals(
            instance=instance,
            layers=len(layers),
            trainable_params=sum(layer.trainable_params or 0 for layer in layers),
            non_trainable_params=sum(layer.non_trainable_params or 0 for layer in layers),
            macs=sum(macs[layer.name].value for layer in layers),
        ))
    return totals
