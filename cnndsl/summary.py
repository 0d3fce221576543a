"""The per-layer summary table printed by `cnndsl summary` and `cnndsl compile`."""

from __future__ import annotations

from cnndsl.graph import InputNode, Network, Node

BYTES_PER_PARAM = 4  # float32, the Keras default dtype


def format_shape(shape) -> str:
    """Write a shape as Keras does, batch axis first: (None, 28, 28, 1)."""
    if shape is None:
        return "?"
    return "(" + ", ".join(["None", *(str(size) for size in shape)]) + ")"


def format_bytes(count: int) -> str:
    """Write a byte count with a binary unit, as model.summary() does: 241.04 KB."""
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _row(node: Node) -> tuple[str, str, str, str, str]:
    if isinstance(node, InputNode):
        return (f"{node.name} (Input)", format_shape(node.shape), "0", "", str(node.span.line))
    keras_class = node.kind.keras_class if node.kind else "?"
    details = node.kind.label(node.config) if node.kind and node.config else ""
    return (f"{node.name} ({keras_class})", format_shape(node.output_shape), f"{node.params:,}", details,
            str(node.span.line))


def summary_table(network: Network) -> str:
    """Return the table of layers (name, class, output shape, parameters, details, line) with totals."""
    header = ("Layer (type)", "Output shape", "Param #", "Details", "Line")
    rows = [_row(node) for node in network.nodes]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]

    def line(cells) -> str:
        name, shape, params, details, source_line = cells
        return (f"{name:<{widths[0]}}  {shape:<{widths[1]}}  {params:>{widths[2]}}  "
                f"{details:<{widths[3]}}  {source_line:>{widths[4]}}").rstrip()

    rule_width = len(line(header))
    lines = [f'Model: "{network.name}" ({network.source.name})', "=" * rule_width, line(header), "=" * rule_width]
    lines += [line(row) for row in rows]
    lines += ["=" * rule_width, *_totals(network)]
    return "\n".join(lines)


def _totals(network: Network) -> list[str]:
    def amount(count: int) -> str:
        return f"{count:,} ({format_bytes(count * BYTES_PER_PARAM)})"

    return [
        f"Total params: {amount(network.total_params)}",
        f"Trainable params: {amount(network.trainable_params)}",
        f"Non-trainable params: {amount(network.non_trainable_params)}",
        f"Output: {', '.join(format_shape(network.output_shape(name)) for name in network.outputs)}",
    ]
