"""Output-size arithmetic shared by the layer kinds, written as Keras 3 computes it.

Each function returns the output length along one spatial axis. They mirror
`keras.src.ops.operation_utils` (Keras 3.15): `valid` windows use floor
division, `same` windows give ceil(n / stride) whatever the kernel size.
"""

from __future__ import annotations

import math


def dilated_kernel(kernel: int, dilation: int) -> int:
    """Return the extent of a kernel with holes.

    >>> dilated_kernel(3, 2)
    5
    """
    return kernel + (kernel - 1) * (dilation - 1)


def window_output_length(length: int, window: int, stride: int, padding: str, dilation: int = 1) -> int:
    """Return the output length of a convolution or pooling window along one axis.

    >>> window_output_length(28, 5, 1, "valid")
    24
    >>> window_output_length(7, 3, 2, "same")
    4
    >>> window_output_length(7, 3, 1, "valid", dilation=2)
    3
    >>> window_output_length(3, 5, 1, "valid")
    -1
    """
    if padding == "same":
        return math.ceil(length / stride)
    return (length - dilated_kernel(window, dilation)) // stride + 1


def transpose_output_length(length: int, kernel: int, stride: int, padding: str,
                            output_padding: int | None = None, dilation: int = 1) -> int:
    """Return the output length of a transposed convolution along one axis.

    >>> transpose_output_length(7, 3, 2, "valid")
    15
    >>> transpose_output_length(7, 4, 2, "same")
    14
    >>> transpose_output_length(7, 3, 2, "same", output_padding=1)
    14
    """
    kernel = dilated_kernel(kernel, dilation)
    if output_padding is None:
        if padding == "valid":
            return length * stride + max(kernel - stride, 0)
        return length * stride
    pad = kernel // 2 if padding == "same" else 0
    return (length - 1) * stride + kernel - 2 * pad + output_padding


def format_size(sizes) -> str:
    """Write spatial sizes the way specs do.

    >>> format_size((28, 28))
    '28x28'
    """
    return "x".join("?" if size is None else str(size) for size in sizes)
