"""The layer kinds of the language, by keyword and alias.

To add a layer kind, define one LayerKind in the module of its family and
list it in that module's KINDS; nothing else changes.
"""

from __future__ import annotations

from cnndsl.layers import activations, convolution, core, merging, normalization, pooling, resizing
from cnndsl.layers.base import REQUIRED, Config, LayerKind, OptionSpec, Shape

ALL_KINDS: tuple[LayerKind, ...] = (
    *convolution.KINDS,
    *pooling.KINDS,
    *core.KINDS,
    *normalization.KINDS,
    *resizing.KINDS,
    *activations.KINDS,
    *merging.KINDS,
)


def _index(kinds: tuple[LayerKind, ...]) -> dict[str, LayerKind]:
    index: dict[str, LayerKind] = {}
    for kind in kinds:
        for name in (kind.keyword, *kind.aliases):
            if name in index:
                raise RuntimeError(f"layer name `{name}` is defined twice")
            index[name] = kind
    return index


KINDS_BY_NAME: dict[str, LayerKind] = _index(ALL_KINDS)

__all__ = ["ALL_KINDS", "KINDS_BY_NAME", "REQUIRED", "Config", "LayerKind", "OptionSpec", "Shape"]
