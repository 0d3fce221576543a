"""Generated specs of a given number of layers, for the scaling benchmark.

`chain` is one long chain: convolution, batch normalization and ReLU
repeated, three layers to a line. `residual` repeats one residual unit per
line, `residual { conv > bn > relu > conv > bn } > relu`, whose seven layers
include the Add layer. Both keep a 32x32x16 tensor throughout and end with
global average pooling and a 10-way dense layer, and both have exactly the
requested number of layers, as `cnndsl check` counts them.
"""

from __future__ import annotations

from collections.abc import Callable

HEADER = "input 32x32x16"
HEAD = "gavgpool > dense 10 softmax"  # two layers
CHAIN_CYCLE = ("conv 16 k3 same", "bn", "relu")
RESIDUAL_UNIT = "residual { conv 16 k3 same > bn > relu > conv 16 k3 same > bn } > relu"
RESIDUAL_UNIT_LAYERS = 7  # five in the body, the Add of the shortcut, the ReLU after it
MINIMUM_LAYERS = 3


def chain(layers: int) -> str:
    """Return a spec of one chain of `layers` layers."""
    _check_size(layers)
    body = [CHAIN_CYCLE[index % len(CHAIN_CYCLE)] for index in range(layers - 2)]
    lines = ["network GeneratedChain", HEADER]
    lines += [" > ".join(body[start:start + 3]) for start in range(0, len(body), 3)]
    lines.append(HEAD)
    return "\n".join(lines) + "\n"


def residual(layers: int) -> str:
    """Return a spec of residual units with `layers` layers, with batch normalizations filling the remainder."""
    _check_size(layers)
    units, remainder = divmod(layers - 2, RESIDUAL_UNIT_LAYERS)
    lines = ["network GeneratedResidual", HEADER]
    lines += [RESIDUAL_UNIT] * units
    lines += ["bn"] * remainder
    lines.append(HEAD)
    return "\n".join(lines) + "\n"


GENERATORS: dict[str, Callable[[int], str]] = {"chain": chain, "residual": residual}


def _check_size(layers: int) -> None:
    if layers < MINIMUM_LAYERS:
        raise ValueError(f"a generated spec needs at least {MINIMUM_LAYERS} layers, not {layers}")
