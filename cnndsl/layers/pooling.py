"""Pooling layer kinds: windowed max/average pooling and global pooling."""

from __future__ import annotations

from cnndsl.layers.base import Config, LayerKind, OptionSpec, Shape
from cnndsl.layers.common import describe_window, label_parts, padding_option, windowed_output
from cnndsl.layers.values import Boolean, Pair
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

    return LayerKind(keyword=keyword, aliases=aliases, keras_class=keras_class, summary=summary,
                     options=_pool_options(), input_rank=3, output_shape=output_shape, label=label)


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
    )


GAVGPOOL = _global_kind("gavgpool", "GlobalAveragePooling2D", "average over all positions, per channel",
                        ("global_avgpool", "gap"))
GMAXPOOL = _global_kind("gmaxpool", "GlobalMaxPooling2D", "maximum over all positions, per channel",
                        ("global_maxpool", "gmp"))

KINDS = (MAXPOOL, AVGPOOL, GAVGPOOL, GMAXPOOL)
