"""The `train` section of a spec and the command-line options that override it."""

from __future__ import annotations

import pytest

from cnndsl.errors import CnnDslError
from cnndsl.parser import parse
from cnndsl.syntax import Source
from cnndsl.training.settings import (
    OFF,
    TrainSettings,
    apply_overrides,
    consistency_problems,
    settings_from_spec,
)

NETWORK = "input 28x28x1\nconv 6 k5 relu > maxpool 2\nflatten > dense 10 softmax\n"


def read(section: str) -> TrainSettings:
    return settings_from_spec(parse(Source("exp.cnn", NETWORK + section)))


def errors(section: str) -> list[str]:
    with pytest.raises(CnnDslError) as caught:
        read(section)
    return str(caught.value).splitlines()


def test_no_section_gives_defaults():
    assert read("") == TrainSettings()


def test_full_section():
    settings = read("train {\n"
                    "    optimizer sgd learning_rate=0.05 momentum=0.9\n"
                    "    loss categorical_crossentropy\n"
                    "    metrics accuracy top5_accuracy\n"
                    "    batch_size 64 > epochs 3\n"
                    "    validation test\n"
                    "    early_stopping 2 monitor=val_accuracy restore_best_weights=true\n"
                    "    seed 7\n"
                    "}\n")

    assert settings.optimizer == "sgd"
    assert settings.learning_rate == 0.05
    assert settings.momentum == 0.9
    assert settings.loss == "categorical_crossentropy"
    assert settings.metrics == ("accuracy", "top5_accuracy")
    assert settings.batch_size == 64
    assert settings.epochs == 3
    assert settings.validation == "test"
    assert settings.patience == 2
    assert settings.monitor == "val_accuracy"
    assert settings.restore_best_weights is True
    assert settings.seed == 7


def test_reduce_lr_section():
    settings = read("train {\n reduce_lr 2 factor=1/2 monitor=val_accuracy min_lr=1e-5\n}\n")

    assert settings.lr_patience == 2
    assert settings.lr_factor == 0.5
    assert settings.lr_monitor == "val_accuracy"
    assert settings.min_lr == 1e-5
    assert read("train {\n reduce_lr patience=1\n}\n").lr_patience == 1
    assert read("").lr_patience is None


@pytest.mark.parametrize("section, message", [
    ("reduce_lr 1 factor=1", "the factor `1` must be between 0 and 1"),
    ("reduce_lr 1 factor=0", "the factor `0` must be between 0 and 1"),
    ("reduce_lr 1 min_lr=-1", "`-1` must not be negative"),
    ("reduce_lr 1 cooldown=2", "`reduce_lr` has no option `cooldown`"),
    ("reduce_lr", "`reduce_lr` needs a value"),
])
def test_reduce_lr_invalid(section, message):
    lines = errors(f"train {{\n {section}\n}}\n")
    assert any(message in line for line in lines), lines


@pytest.mark.parametrize("line, fix", [
    ("reduce_lr 1 patience=2", "keep either the bare value or `patience=`"),
    ("early_stopping 3 patience=5", "keep either the bare value or `patience=`"),
    ("reduce_lr 1 factor=0.5 factor=0.2", "keep one `factor=`"),
])
def test_setting_option_given_twice(line, fix):
    lines = errors(f"train {{\n {line}\n}}\n")

    assert any("sets" in line and "twice" in line for line in lines), lines
    assert any(fix in line for line in lines), lines


def test_reduce_lr_monitor_must_be_logged():
    lines = errors("train {\n validation none\n reduce_lr 1\n}\n")
    assert any(":6:2: error: reduce_lr cannot monitor `val_loss`" in line for line in lines), lines


def test_learning_rate_accepts_ratio_and_exponent():
    assert read("train {\n optimizer adam learning_rate=1e-3\n}\n").learning_rate == pytest.approx(0.001)
    assert read("train {\n optimizer adam learning_rate=1/1000\n}\n").learning_rate == pytest.approx(0.001)


def test_validation_fraction():
    assert read("train {\n validation 0.25\n}\n").validation == 0.25


def test_patience_as_keyword():
    assert read("train {\n early_stopping patience=4\n}\n").patience == 4


def test_unknown_setting_has_position_and_hint():
    lines = errors("train {\n    epoch 5\n}\n")
    assert lines[0] == "exp.cnn:5:5: error: unknown training setting `epoch`"
    assert any("did you mean `epochs`?" in line for line in lines)


def test_unknown_optimizer_has_hint():
    lines = errors("train {\n    optimizer adamm\n}\n")
    assert lines[0] == "exp.cnn:5:15: error: unknown optimizer `adamm`"
    assert any("did you mean `adam`" in line for line in lines)


def test_unknown_option_has_hint():
    lines = errors("train {\n    optimizer sgd learning_rat=0.1\n}\n")
    assert lines[0] == "exp.cnn:5:19: error: `optimizer` has no option `learning_rat`"
    assert any("did you mean `learning_rate`?" in line for line in lines)


@pytest.mark.parametrize("section, message", [
    ("batch_size 0", "`0` must be at least 1"),
    ("batch_size 3.5", "`3.5` is not a whole number"),
    ("epochs many", "`many` is not a whole number"),
    ("validation 1.5", "the validation fraction `1.5` must be between 0 and 1"),
    ("optimizer sgd learning_rate=0", "`0` must be greater than 0"),
    ("optimizer sgd momentum=1", "momentum `1` must be at least 0 and below 1"),
    ("early_stopping 3 restore_best_weights=maybe", "`maybe` is not true or false"),
    ("metrics accuracy precision", "unknown metric `precision`"),
    ("epochs", "`epochs` needs a value"),
    ("epochs 3 4", "`epochs` takes one value"),
    ("seed -1", "`-1` must not be negative"),
])
def test_invalid_values(section, message):
    lines = errors(f"train {{\n    {section}\n}}\n")
    assert lines[0].endswith(f"error: {message}"), lines[0]
    assert lines[0].startswith("exp.cnn:5:")


def test_every_error_is_reported():
    lines = errors("train {\n    epochs 0\n    batch_size x\n}\n")
    assert lines[-1] == "2 errors found"


def test_setting_given_twice():
    lines = errors("train {\n    epochs 3\n    epochs 4\n}\n")
    assert lines[0] == "exp.cnn:6:5: error: the setting `epochs` is given twice (first on line 5)"


def test_second_train_section():
    lines = errors("train {\n epochs 3\n}\ntrain {\n seed 1\n}\n")
    assert lines[0].startswith("exp.cnn:7:1: error: a second train section (the first is on line 4)")


def test_layer_block_in_section_rejected():
    lines = errors("train {\n    residual { conv 3 k3 same }\n}\n")
    assert lines[0] == "exp.cnn:5:5: error: only training settings can appear in a train section"


def test_momentum_needs_sgd_or_rmsprop():
    lines = errors("train {\n    optimizer adam momentum=0.9\n}\n")
    assert lines[0] == "exp.cnn:5:5: error: the adam optimizer has no momentum"


def test_monitor_must_be_logged():
    lines = errors("train {\n    validation none\n    early_stopping 2\n}\n")
    assert lines[0] == "exp.cnn:6:5: error: early stopping cannot monitor `val_loss` with these settings"


def test_overrides_replace_spec_values():
    spec = read("train {\n epochs 15 > batch_size 32\n}\n")
    settings = apply_overrides(spec, {"epochs": 2, "batch_size": None})
    assert settings.epochs == 2
    assert settings.batch_size == 32


def test_optimizer_override_resets_its_options():
    spec = read("train {\n optimizer sgd learning_rate=0.1 momentum=0.9\n}\n")
    settings = apply_overrides(spec, {"optimizer": "adam"})
    assert settings.optimizer == "adam"
    assert settings.learning_rate is None
    assert settings.momentum is None


def test_patience_off_disables_early_stopping():
    spec = read("train {\n early_stopping 3\n}\n")
    assert apply_overrides(spec, {"patience": OFF}).patience is None


def test_reduce_lr_off_and_factor_override():
    spec = read("train {\n reduce_lr 2 factor=0.5\n}\n")

    assert apply_overrides(spec, {"lr_patience": OFF}).lr_patience is None
    assert apply_overrides(spec, {"lr_factor": 0.2}) == TrainSettings(lr_patience=2, lr_factor=0.2)


def test_lr_factor_without_reduce_lr():
    settings = apply_overrides(TrainSettings(), {"lr_factor": 0.5})

    assert [problem[0] for problem in consistency_problems(settings)] == ["lr_factor"]
    assert consistency_problems(apply_overrides(TrainSettings(lr_patience=1), {"lr_factor": 0.5})) == []


def test_consistency_after_overrides():
    settings = apply_overrides(TrainSettings(patience=3), {"validation": "none"})
    assert [problem[0] for problem in consistency_problems(settings)] == ["monitor"]


def test_check_accepts_train_section(cnndsl, tmp_path):
    spec = tmp_path / "exp.cnn"
    spec.write_text(NETWORK + "train {\n optimizer sgd learning_rate=0.01\n batch_size 32 > epochs 15\n}\n")
    result = cnndsl("check", str(spec))
    assert result.returncode == 0, result.stderr


def test_check_reports_section_error(cnndsl, tmp_path):
    spec = tmp_path / "exp.cnn"
    spec.write_text(NETWORK + "train {\n    batch_size 0\n}\n")

    result = cnndsl("check", str(spec))

    assert result.returncode == 1
    assert f"{spec}:5:16: error: `0` must be at least 1" in result.stderr


def test_train_reports_section_error_without_traceback(cnndsl, tmp_path):
    spec = tmp_path / "exp.cnn"
    spec.write_text(NETWORK + "train {\n    optimiser sgd\n}\n")

    result = cnndsl("train", str(spec), "-o", str(tmp_path / "out"))

    assert result.returncode == 1
    assert f"{spec}:5:5: error: unknown training setting `optimiser`" in result.stderr
    assert "did you mean `optimizer`?" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_train_rejects_bad_option_value(cnndsl):
    result = cnndsl("train", "x.cnn", "--batch-size", "0")
    assert result.returncode == 2
    assert "argument --batch-size: `0` must be at least 1" in result.stderr
