"""The `cnndsl train` sub-command: its options and its handler.

Building the parser imports no TensorFlow; the handler imports it only once
the spec, the settings and the data have been checked.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

from cnndsl.errors import OptionError
from cnndsl.training import settings as train_settings


def add_train_parser(commands: argparse._SubParsersAction, spec_help: str) -> None:
    """Add the `train` sub-command to the `cnndsl` parser."""
    parser = commands.add_parser(
        "train", help="train the network on a data set and write the model, history, plots and test results",
        description="Train the network of SPEC. Options given here override the spec's train section; "
                    "docs/training.md lists the settings, data formats and outputs.")
    parser.add_argument("spec", help=spec_help)
    _add_data_options(parser)
    _add_setting_options(parser)
    _add_run_options(parser)
    parser.set_defaults(handler=command_train)


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", metavar="SOURCE",
                       help="a folder of MNIST-format IDX files, an .npz file with x_train, y_train, x_test and "
                            "y_test, or a folder with one sub-folder of images per class (default: the 8x8 "
                            "digits that ship with scikit-learn, resized to the input)")
    group.add_argument("--resize", action="store_true",
                       help="resize images whose height and width differ from the spec's input (bilinear)")
    group.add_argument("--convert-channels", action="store_true",
                       help="convert grayscale images to RGB, or RGB to grayscale, to match the spec's input")
    group.add_argument("--test-split", type=_argument(_fraction), default=0.2, metavar="FRACTION",
                       help="fraction of the images held out as the test set when the source has none "
                            "(default: 0.2)")


def _add_setting_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training settings (override the spec's train section)")
    group.add_argument("--optimizer", choices=train_settings.OPTIMIZERS,
                       help="optimizer; replaces the spec's whole optimizer line (default: sgd)")
    group.add_argument("--learning-rate", type=_argument(train_settings.parse_positive_float), metavar="RATE",
                       help="learning rate (default: the optimizer's Keras default, 0.01 for sgd)")
    group.add_argument("--momentum", type=_argument(train_settings.parse_momentum), metavar="VALUE",
                       help="momentum of sgd or rmsprop, from 0 to below 1 (default: 0)")
    group.add_argument("--loss", choices=train_settings.LOSSES,
                       help="loss function (default: sparse_categorical_crossentropy)")
    group.add_argument("--metrics", type=_argument(_metrics), metavar="LIST",
                       help=f"comma-separated metrics from {', '.join(train_settings.METRICS)} (default: accuracy)")
    group.add_argument("--batch-size", type=_argument(train_settings.parse_positive_int), metavar="N",
                       help="images per training step, across all devices (default: 32)")
    group.add_argument("--epochs", type=_argument(train_settings.parse_positive_int), metavar="N",
                       help="maximum number of passes over the training data (default: 10)")
    group.add_argument("--validation", type=_argument(train_settings.parse_validation), metavar="VALUE",
                       help="fraction of the training images held out for validation, `test` to validate on "
                            "the test set, or `none` (default: 0.1)")
    group.add_argument("--patience", type=_argument(_patience), metavar="EPOCHS",
                       help="stop after this many epochs without improvement of the monitored quantity, "
                            "or `off` (default: off)")
    group.add_argument("--monitor", metavar="NAME",
                       help="quantity that early stopping watches, such as val_loss or val_accuracy "
                            "(default: val_loss)")
    group.add_argument("--reduce-lr", dest="lr_patience", type=_argument(_patience), metavar="EPOCHS",
                       help="multiply the learning rate by --lr-factor after this many epochs without "
                            "improvement of val_loss, or `off` (default: off)")
    group.add_argument("--lr-factor", type=_argument(train_settings.parse_factor), metavar="FACTOR",
                       help="factor of --reduce-lr, between 0 and 1 (default: 0.1)")
    group.add_argument("--seed", type=_argument(train_settings.parse_count), metavar="N",
                       help="random seed; the same seed repeats a run exactly on the same machine "
                            "(default: drawn at random and printed)")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    from cnndsl.cli import memory_size_argument

    group = parser.add_argument_group("run")
    group.add_argument("-o", "--output-dir", default=".", metavar="DIR",
                       help="directory for the model, history, plots and confusion matrix "
                            "(default: the current directory)")
    group.add_argument("--strategy", choices=train_settings.STRATEGIES, default="default",
                       help="tf.distribute strategy: default (one device), mirrored (all local GPUs) or "
                            "multi_worker (several machines, set up by TF_CONFIG) (default: default)")
    group.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                       help="0: silent, 1: progress bar, 2: one line per epoch (default: 1 on a terminal, "
                            "2 otherwise)")
    group.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs to DIR while training")
    group.add_argument("--max-memory", type=memory_size_argument, default="4GiB", metavar="SIZE",
                       help="maximum estimated memory of the model (float32 parameters plus one sample's "
                            "activations, as for `cnndsl compile`); a larger model is refused before TensorFlow "
                            "starts. Training needs more: the activations of a whole batch, gradients and the "
                            "optimizer's state (default: 4GiB)")


def command_train(arguments: argparse.Namespace) -> int:
    """Run `cnndsl train`; data and settings problems become plain errors with exit code 1."""
    from cnndsl.cli import EXIT_OK, InputError, print_warnings, read_source
    from cnndsl.training.errors import TrainingError
    from cnndsl.training.run import TrainOptions, train_spec

    source, path = read_source(arguments.spec)
    options = TrainOptions(
        data=arguments.data,
        output_dir=Path(arguments.output_dir),
        overrides=_overrides(arguments),
        resize=arguments.resize,
        convert_channels=arguments.convert_channels,
        test_split=arguments.test_split,
        strategy=arguments.strategy,
        verbose=arguments.verbose,
        tensorboard=Path(arguments.tensorboard) if arguments.tensorboard else None,
        max_memory=arguments.max_memory,
    )
    try:
        _, written = train_spec(source, options, input_path=path, warn=lambda w: print_warnings(source, w))
    except TrainingError as error:
        raise InputError(str(error)) from None
    print("wrote " + ", ".join(str(target) for target in written))
    return EXIT_OK


def _overrides(arguments: argparse.Namespace) -> dict[str, Any]:
    names = ("optimizer", "learning_rate", "momentum", "loss", "metrics", "batch_size", "epochs", "validation",
             "patience", "monitor", "lr_patience", "lr_factor", "seed")
    return {name: getattr(arguments, name) for name in names}


def _argument(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """Wrap a settings parser so that argparse reports its message as a usage error."""
    def parse_argument(text: str) -> Any:
        try:
            return parse(text)
        except OptionError as error:
            raise argparse.ArgumentTypeError(f"{error.message}; {error.fix}" if error.fix else error.message)

    return parse_argument


def _fraction(text: str) -> float:
    value = train_settings.parse_validation(text)
    if not isinstance(value, float):
        raise OptionError(f"`{text}` is not a fraction", "write a fraction such as 0.2")
    return value


def _metrics(text: str) -> tuple[str, ...]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise OptionError("no metric given", f"write one or more of {', '.join(train_settings.METRICS)}")
    return tuple(dict.fromkeys(train_settings.parse_choice(name, train_settings.METRICS, "metric")
                               for name in names))


def _patience(text: str) -> int | str:
    if text == "off":
        return train_settings.OFF
    return train_settings.parse_count(text)
