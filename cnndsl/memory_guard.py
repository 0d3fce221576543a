"""Refuse to build a Keras model whose estimated memory is above a limit, before TensorFlow allocates it.

A spec can ask for 10**10 parameters in one line. Building that model would
make TensorFlow allocate 40 GB for the weights, which swaps or kills the
machine long before Keras reports anything. The estimate comes from the
checked network without importing TensorFlow: float32 parameters (4 bytes
each) plus the float32 output of every node for one sample, from
cnndsl.analysis.memory. It is an estimate: Keras and TensorFlow add their own
overhead, and running the model on a batch needs the activations once per sample.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from cnndsl.errors import CnnDslError, Diagnostic, Severity
from cnndsl.graph import LayerNode, Network

DEFAULT_MAX_MEMORY = 4 * 2**30
"""The default limit, 4 GiB: half of a laptop with 8 GB, so that a refused model is clearly too large for one."""

BYTES_PER_VALUE = 4  # float32, the Keras default dtype

UNITS = {
    "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated bytes of a model: its parameters and the activations of one sample, both float32."""

    parameter_bytes: int
    activation_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.parameter_bytes + self.activation_bytes


def parse_memory_size(text: str) -> int:
    """Parse a memory size such as `8GiB`, `500MB`, `1.5GB` or `1000000` (bytes) into bytes.

    Raises ValueError with the accepted forms for anything else, zero included.
    """
    match = _SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in UNITS and unit != "":
        raise ValueError(f"invalid memory size {text!r}: write a number with a unit, e.g. 8GiB, 500MB or 2GB "
                         f"(units: {', '.join(name.upper().replace('I', 'i') for name in UNITS)})")
    size = math.floor(float(match.group(1)) * UNITS[unit or "b"])
    if size < 1:
        raise ValueError(f"invalid memory size {text!r}: the limit must be at least 1 byte")
    return size


def format_memory(count: int) -> str:
    """Write a byte count with a binary unit: 4.00 GiB, 512.00 MiB."""
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.2f} {unit}" if unit != "B" else f"{count} B"
        size /= 1024
    raise AssertionError("unreachable")


def estimate_memory(network: Network) -> MemoryEstimate:
    """Estimate the float32 bytes of a checked network's parameters and of one sample's activations."""
    from cnndsl.analysis.memory import memory_report

    report = memory_report(network, "float32")
    return MemoryEstimate(report.parameter_bytes, report.total_activation_bytes)


def check_memory(network: Network, limit: int, other_outputs: bool = True) -> MemoryEstimate:
    """Return the estimate of a checked network, or raise CnnDslError at its largest layer above `limit` bytes.

    A checked network has at least one layer, which the error points at. The
    fix suggests writing only the other outputs when `other_outputs` is true
    (`cnndsl compile`, which can skip the Keras model).
    """
    estimate = estimate_memory(network)
    if estimate.total_bytes <= limit:
        return estimate

    largest = max(network.layers, key=_layer_bytes)
    suggestion = _suggested_limit(estimate.total_bytes)
    message = (
        f"building the Keras model needs an estimated {format_memory(estimate.total_bytes)} "
        f"({format_memory(estimate.parameter_bytes)} of float32 parameters and "
        f"{format_memory(estimate.activation_bytes)} of activations for one sample), more than the limit of "
        f"{format_memory(limit)}; the largest layer is `{largest.name}` with {largest.params:,} parameters"
    )
    raise_limit = f"raise the limit with `--max-memory {suggestion}`"
    if other_outputs:
        fix = f"shrink the network, {raise_limit}, or write only the other outputs with `--targets python,graphviz`"
    else:
        fix = f"shrink the network or {raise_limit}"
    raise CnnDslError(network.source, [Diagnostic(Severity.ERROR, message, largest.span, fix, largest.source)])


def _suggested_limit(total_bytes: int) -> str:
    """Return a --max-memory value 10 % above the estimate, in GiB or, below 1 GiB, in MiB."""
    unit, size = ("GiB", 2**30) if total_bytes >= 2**30 else ("MiB", 2**20)
    return f"{math.ceil(total_bytes * 1.1 / size)}{unit}"


def _layer_bytes(node: LayerNode) -> int:
    shape = node.output_shape or ()
    activations = math.prod(size or 0 for size in shape) if shape else 0
    return (node.params + activations) * BYTES_PER_VALUE
