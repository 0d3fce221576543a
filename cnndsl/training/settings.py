"""Training settings: their defaults, the spec's `train` section and command-line overrides.

A `train` section contains one setting per line, written like a layer:

    train {
        optimizer sgd learning_rate=0.01
        batch_size 32 > epochs 15
        early_stopping 3
    }

The settings are read from the syntax tree (the resolver skips the section),
and every mistake is reported with its position, like a layer error.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Mapping

from cnndsl import syntax
from cnndsl.errors import CnnDslError, Diagnostic, OptionError, Severity, did_you_mean
from cnndsl.syntax import Option, Span, ValueKind

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam")
MOMENTUM_OPTIMIZERS = ("sgd", "rmsprop")
LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy")
METRICS = ("accuracy", "top5_accuracy")
BOOLEANS = {"true": True, "yes": True, "false": False, "no": False}
STRATEGIES = ("default", "mirrored", "multi_worker")  # tf.distribute strategies; see keras_training.py
OFF = "off"  # the command-line value of `--patience` or `--reduce-lr` that turns the spec's setting off
PATIENCE_FIELDS = ("patience", "lr_patience")  # the settings that OFF turns off


@dataclass(frozen=True)
class TrainSettings:
    """The settings of a training run; `cnndsl train` options override the spec's `train` section."""

    optimizer: str = "sgd"
    learning_rate: float | None = None  # None: the optimizer's Keras default (0.01 for SGD)
    momentum: float | None = None  # None: the optimizer's Keras default (0.0)
    loss: str = "sparse_categorical_crossentropy"
    metrics: tuple[str, ...] = ("accuracy",)
    batch_size: int = 32
    epochs: int = 10
    validation: float | str = 0.1  # a fraction of the training data, "test" or "none"
    patience: int | None = None  # None: no early stopping
    monitor: str = "val_loss"
    restore_best_weights: bool = False
    lr_patience: int | None = None  # None: the learning rate is never reduced
    lr_factor: float = 0.1  # Keras' ReduceLROnPlateau defaults, from here to min_lr
    lr_monitor: str = "val_loss"
    min_lr: float = 0.0
    seed: int | None = None  # None: drawn at random, then reported so that the run can be repeated

    def monitors(self) -> tuple[str, ...]:
        """Return the quantities that early stopping can watch with these settings."""
        names = ("loss", *self.metrics)
        if self.validation == "none":
            return names
        return (*names, *(f"val_{name}" for name in names))


# ---- Values ---------------------------------------------------------------------------------

def parse_positive_int(text: str) -> int:
    """Parse a whole number of at least 1, such as a batch size."""
    return _whole_number(text, minimum=1, example="32")


def parse_count(text: str) -> int:
    """Parse a whole number of at least 0, such as a patience or a seed."""
    return _whole_number(text, minimum=0, example="3")


def _whole_number(text: str, minimum: int, example: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise OptionError(f"`{text}` is not a whole number", f"write a number such as {example}") from None
    if number < minimum:
        problem = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
        raise OptionError(f"`{text}` {problem}", f"write a number such as {example}")
    return number


def parse_positive_float(text: str) -> float:
    """Parse a number above 0, such as a learning rate; `1e-3` and `1/1000` are accepted."""
    number = _number(text)
    if not number > 0:
        raise OptionError(f"`{text}` must be greater than 0", "write a number such as 0.01")
    return number


def parse_momentum(text: str) -> float:
    number = _number(text)
    if not 0 <= number < 1:
        raise OptionError(f"momentum `{text}` must be at least 0 and below 1", "write a number such as 0.9")
    return number


def parse_validation(text: str) -> float | str:
    """Parse a validation fraction (0 < f < 1), `test` (validate on the test set) or `none`."""
    if text in ("test", "none"):
        return text
    try:
        number = _number(text)
    except OptionError:
        raise OptionError(f"invalid validation `{text}`",
                          "write a fraction of the training data such as 0.1, `test` or `none`") from None
    if not 0 < number < 1:
        raise OptionError(f"the validation fraction `{text}` must be between 0 and 1",
                          "write a fraction such as 0.1, or `none` to train without validation")
    return number


def parse_choice(text: str, choices: tuple[str, ...], what: str) -> str:
    if text in choices:
        return text
    hint = did_you_mean(text, choices)
    raise OptionError(f"unknown {what} `{text}`",
                      hint or f"choose one of {', '.join(choices)}")


def parse_factor(text: str) -> float:
    """Parse the factor that multiplies a learning rate: above 0 and below 1."""
    number = _number(text)
    if not 0 < number < 1:
        raise OptionError(f"the factor `{text}` must be between 0 and 1", "write a factor such as 0.1")
    return number


def parse_minimum_rate(text: str) -> float:
    number = _number(text)
    if number < 0:
        raise OptionError(f"`{text}` must not be negative", "write a learning rate such as 1e-5, or 0")
    return number


def parse_boolean(text: str) -> bool:
    if text in BOOLEANS:
        return BOOLEANS[text]
    raise OptionError(f"`{text}` is not true or false", "write true or false")


def _number(text: str) -> float:
    try:
        if "/" in text:
            numerator, denominator = text.split("/")
            return float(numerator) / float(denominator)
        return float(text)
    except (ValueError, ZeroDivisionError):
        raise OptionError(f"`{text}` is not a number", "write a number such as 0.01") from None


# ---- The train section ----------------------------------------------------------------------

@dataclass(frozen=True)
class _Form:
    """The options one setting accepts: the field its bare value sets, and its keywords."""

    target: str  # the TrainSettings field that the bare value sets
    parse: Callable[[str], Any]
    keywords: Mapping[str, tuple[str, Callable[[str], Any]]] = field(default_factory=dict)
    repeated: bool = False  # several bare values, collected into a tuple (metrics)


SETTING_FORMS: dict[str, _Form] = {
    "optimizer": _Form("optimizer", lambda text: parse_choice(text, OPTIMIZERS, "optimizer"),
                       {"learning_rate": ("learning_rate", parse_positive_float),
                        "momentum": ("momentum", parse_momentum)}),
    "loss": _Form("loss", lambda text: parse_choice(text, LOSSES, "loss")),
    "metrics": _Form("metrics", lambda text: parse_choice(text, METRICS, "metric"), repeated=True),
    "batch_size": _Form("batch_size", parse_positive_int),
    "epochs": _Form("epochs", parse_positive_int),
    "validation": _Form("validation", parse_validation),
    "early_stopping": _Form("patience", parse_count,
                            {"patience": ("patience", parse_count),
                             "monitor": ("monitor", str),
                             "restore_best_weights": ("restore_best_weights", parse_boolean)}),
    "reduce_lr": _Form("lr_patience", parse_count,
                       {"patience": ("lr_patience", parse_count),
                        "factor": ("lr_factor", parse_factor),
                        "monitor": ("lr_monitor", str),
                        "min_lr": ("min_lr", parse_minimum_rate)}),
    "seed": _Form("seed", parse_count),
}


def settings_from_spec(spec: syntax.Spec) -> TrainSettings:
    """Read the spec's `train` section; without one, return the defaults.

    Raises CnnDslError listing every invalid setting, each with its position.
    """
    sections = [statement for statement in spec.statements if isinstance(statement, syntax.TrainDecl)]
    if not sections:
        return TrainSettings()

    diagnostics = [_error(f"a second train section (the first is on line {sections[0].span.line})",
                          section.span, "merge the settings into one train section")
                   for section in sections[1:]]
    values: dict[str, Any] = {}
    seen: dict[str, Span] = {}
    for call in _setting_calls(sections[0], diagnostics):
        _read_setting(call, values, seen, diagnostics)

    settings = replace(TrainSettings(), **values)
    if not diagnostics:
        diagnostics += _consistency_errors(settings, seen)
    if diagnostics:
        raise CnnDslError(spec.source, [replace(d, source=spec.source) for d in diagnostics])
    return settings


def _setting_calls(section: syntax.TrainDecl, diagnostics: list[Diagnostic]) -> list[syntax.LayerCall]:
    """Return the settings of a section in order; a line may chain several with `>`."""
    calls = []
    for statement in section.settings:
        if not isinstance(statement, syntax.Chain):
            diagnostics.append(_error("only training settings can appear in a train section",
                                      statement.span, f"move it out of the train section; "
                                      f"settings are {', '.join(SETTING_FORMS)}"))
            continue
        if statement.binding is not None:
            diagnostics.append(_error("a training setting cannot be bound to a name", statement.binding_span,
                                      f"remove `-> {statement.binding}`"))
        for step in statement.steps:
            if isinstance(step, syntax.LayerCall):
                calls.append(step)
            else:
                diagnostics.append(_error("only training settings can appear in a train section", step.span,
                                          f"write one of {', '.join(SETTING_FORMS)}"))
    return calls


def _read_setting(call: syntax.LayerCall, values: dict[str, Any], seen: dict[str, Span],
                  diagnostics: list[Diagnostic]) -> None:
    form = SETTING_FORMS.get(call.kind)
    if form is None:
        hint = did_you_mean(call.kind, SETTING_FORMS)
        diagnostics.append(_error(f"unknown training setting `{call.kind}`", call.kind_span,
                                  hint or f"settings are {', '.join(SETTING_FORMS)}"))
        return
    if call.kind in seen:
        diagnostics.append(_error(f"the setting `{call.kind}` is given twice (first on line "
                                  f"{seen[call.kind].line})", call.kind_span, "keep one of them"))
        return
    seen[call.kind] = call.span

    positional = [option for option in call.options if option.keyword is None]
    keywords = {option.keyword for option in call.options}
    if not positional and not ("patience" in form.keywords and "patience" in keywords):
        diagnostics.append(_error(f"`{call.kind}` needs a value", call.span, _example(call.kind)))
    if len(positional) > 1 and not form.repeated:
        diagnostics.append(_error(f"`{call.kind}` takes one value", positional[1].span, _example(call.kind)))
        return

    parsed = [_parse_option(option, form.parse, diagnostics) for option in positional]
    parsed = [value for value in parsed if value is not None]
    if form.repeated:
        values[form.target] = tuple(dict.fromkeys(parsed))  # drop repeats, keep the order
    elif parsed:
        values[form.target] = parsed[0]
    _read_keywords(call, form, values, diagnostics, bare_value=bool(positional))


def _read_keywords(call: syntax.LayerCall, form: _Form, values: dict[str, Any],
                   diagnostics: list[Diagnostic], bare_value: bool) -> None:
    """Read the `keyword=value` options into `values`; `bare_value` is true when the line also has a bare value."""
    targets_set: set[str] = {form.target} if bare_value else set()
    for option in call.options:
        if option.keyword is None:
            continue
        if option.keyword not in form.keywords:
            hint = did_you_mean(option.keyword, form.keywords)
            allowed = ", ".join(form.keywords) or "none"
            diagnostics.append(_error(f"`{call.kind}` has no option `{option.keyword}`", option.span,
                                      hint or f"its options are: {allowed}"))
            continue
        target, parse_text = form.keywords[option.keyword]
        if target in targets_set:
            diagnostics.append(_error(f"`{call.kind}` sets {option.keyword} twice", option.span,
                                      f"keep either the bare value or `{option.keyword}=`"
                                      if target == form.target else f"keep one `{option.keyword}=`"))
            continue
        targets_set.add(target)
        parsed = _parse_option(option, parse_text, diagnostics)
        if parsed is not None:
            values[target] = parsed


def _parse_option(option: Option, parse_text: Callable[[str], Any], diagnostics: list[Diagnostic]) -> Any:
    if option.value.kind is ValueKind.EXPRESSION or option.value.kind is ValueKind.SIZE:
        diagnostics.append(_error(f"`{option.value.text}` is not a valid setting value", option.value.span,
                                  "write a number or a name"))
        return None
    try:
        return parse_text(option.value.text)
    except OptionError as error:
        diagnostics.append(_error(error.message, option.value.span, error.fix))
        return None


def _consistency_errors(settings: TrainSettings, seen: dict[str, Span]) -> list[Diagnostic]:
    """Check settings that are valid alone but not together, and point at the line to change."""
    problems = consistency_problems(settings)
    where = {"momentum": "optimizer", "monitor": "early_stopping", "lr_monitor": "reduce_lr", "lr_factor": "reduce_lr"}
    return [_error(message, seen.get(where[setting]), fix) for setting, message, fix in problems]


def consistency_problems(settings: TrainSettings) -> list[tuple[str, str, str]]:
    """Return (setting, message, fix) for each combination of settings that cannot work."""
    problems = []
    if settings.momentum is not None and settings.optimizer not in MOMENTUM_OPTIMIZERS:
        problems.append(("momentum", f"the {settings.optimizer} optimizer has no momentum",
                         f"remove momentum, or use {' or '.join(MOMENTUM_OPTIMIZERS)}"))
    reduce_options = settings.lr_factor != TrainSettings.lr_factor or settings.min_lr != TrainSettings.min_lr
    if settings.lr_patience is None and reduce_options:
        problems.append(("lr_factor", "a learning-rate factor or minimum is set, but reduce_lr is off",
                         "add `reduce_lr PATIENCE` to the train section or pass `--reduce-lr PATIENCE`"))
    watchers = (("monitor", settings.patience, settings.monitor, "early stopping"),
                ("lr_monitor", settings.lr_patience, settings.lr_monitor, "reduce_lr"))
    for setting, patience, monitor, what in watchers:
        if patience is not None and monitor not in settings.monitors():
            hint = did_you_mean(monitor, settings.monitors())
            problems.append((setting, f"{what} cannot monitor `{monitor}` with these settings",
                             hint or f"monitor one of {', '.join(settings.monitors())}"))
    return problems


def _example(kind: str) -> str:
    examples = {"optimizer": "optimizer sgd learning_rate=0.01", "loss": "loss sparse_categorical_crossentropy",
                "metrics": "metrics accuracy", "batch_size": "batch_size 32", "epochs": "epochs 15",
                "validation": "validation 0.1", "early_stopping": "early_stopping 3", "reduce_lr": "reduce_lr 1 factor=0.1",
                "seed": "seed 42"}
    return f"write it like `{examples[kind]}`"


def _error(message: str, span: Span | None, fix: str | None) -> Diagnostic:
    return Diagnostic(Severity.ERROR, message, span, fix)


# ---- Command-line overrides -----------------------------------------------------------------

def apply_overrides(settings: TrainSettings, overrides: dict[str, Any]) -> TrainSettings:
    """Apply command-line values (None: not given) over the spec's settings.

    `--optimizer` replaces the spec's whole optimizer line, because a learning
    rate or momentum tuned for one optimizer rarely suits another. A patience
    of OFF turns early stopping, or the learning-rate reduction, off.
    """
    given = {name: value for name, value in overrides.items() if value is not None}
    unknown = set(given) - {setting.name for setting in fields(TrainSettings)}
    if unknown:
        raise ValueError(f"unknown training settings {sorted(unknown)}")

    if "optimizer" in given:
        settings = replace(settings, learning_rate=None, momentum=None)
    for name in PATIENCE_FIELDS:
        if given.get(name) == OFF:
            settings = replace(settings, **{name: None})
            del given[name]
    return replace(settings, **given)


def settings_report(settings: TrainSettings) -> dict[str, Any]:
    """Return the settings as plain JSON values, for the history file."""
    report = {setting.name: getattr(settings, setting.name) for setting in fields(TrainSettings)}
    report["metrics"] = list(settings.metrics)
    return report
