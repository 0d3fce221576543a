"""Pooling layer kinds: windowed max/average pooling and global pooling."""

from __future__ import annotations

from cnndsl.layers.base import Config, LayerKind, OptionSpec, Shape
from cnndsl.layers.common import (
    describe_window, explain_window, label_parts, padding_option, window_receptive_field, windowed_output,
)
from cnndsl.layers.values import Boolean, Pair
from cnndsl.layers.windows import WHOLE_INPUT
from cnndsl.layers.common import strides_option


def _pool_options() -> tuple[OptionSpec, ...]:
    return (
        OptionSpec("pool_size", Pair(), default=(2, 2), help="window height and width",
                   aliases=("size", "pool"), positional=True, prefix="k", keras_positional=True),
        strides_option(default=None, help="step of the window (default: the pool size)"),
        padding_option(),
    )


def _pool_kind(keyword: str, keras_class: str, summary: str, aliases: tuple[str, ...]) -> LayerKind:
    def output_shape(config: Config, shape: Shape) -> Shape:
        return (*windowed_output(config, shape, "pool_size", keyword), shape[2])

    def label(config: Config) -> str:
        return label_parts(describe_window(config, "pool_size"), config["padding"] if config["padding"] != "valid" else None)

    # Pooling compares or adds and multiplies by no weight, so it counts no
    # MACs (docs/analysis.md); its window still widens the receptive field.
    return LayerKind(keyword=keyword, aliases=aliases, keras_class=keras_class, summary=summary,
                     options=_pool_options(), input_rank=3, output_shape=output_shape, label=label,
                     receptive_field=lambda config, shape, output: window_receptive_field(config, shape, "pool_size"),
                     explain_shape=lambda config, shape, output: explain_window(config, shape, "pool_size"))


MAXPOOL = _pool_kind("maxpool", "MaxPooling2D", "2-D max pooling", ("maxpool2d", "max_pool"))
AVGPOOL = _pool_kind("avgpool", "AveragePooling2D", "2-D average pooling", ("avgpool2d", "avg_pool"))


def _global_kind(keyword: str, keras_class: str, summary: str, aliases: tuple[str, ...]) -> LayerKind:
    def output_shape(config: Config, shape: Shape) -> Shape:
        return (1, 1, shape[2]) if config["keepdims"] else (shape[2],)

    return LayerKind(
        keyword=keyword, aliases=aliases, keras_class=keras_class, summary=summary,
        options=(OptionSpec("keepdims", Boolean(), default=False, help="keep the 1x1 spatial axes",
                            flags={"keepdims": True}),),
        input_rank=3, output_shape=output_shape,
        label=lambda config: "keep dims" if config["keepdims"] else "",
        receptive_field=lambda config, shape, output: WHOLE_INPUT,
    )


GAVGPOOL = _global_kind("gavgpool", "GlobalAveragePooling2D", "average over all positions, per channel",
                        ("global_avgpool", "gap"))
GMAXPOOL = _global_kind("gmaxpool", "GlobalMaxPooling2D", "maximum over all positions, per channel",
                        ("global_maxpool", "gmp"))

KINDS = (MAXPOOL, AVGPOOL, GAVGPOOL, GMAXPOOL)
