"""Invalid specs: each must be rejected with its message, position and a fix.

Every row is (spec text, words the message must contain, line, column, words
the fix must contain). Specs are checked without TensorFlow.
"""

from __future__ import annotations

import pytest

from cnndsl.errors import CnnDslError
from cnndsl.pipeline import analyse_text

HEADER = "input 28x28x1\n"

INVALID_SPECS = [
    # Syntax
    ("input 28x28x1\nconv 6 @ 5\n", "unexpected character `@`", 2, 8, "comments start with `#`"),
    ("input 28x28x1\nconv 6 > > dense 3\n", "unexpected `>`", 2, 10, "expected"),
    ("input 28x28x1\nconv = 5\n", "unexpected `=`", 2, 6, "expected"),
    ("input\n", "the `input` line has no shape", 1, 1, "input 28x28x1"),
    ("input 28x28x1 relu\n", "unexpected `relu`", 1, 15, "a new line"),
    ("input 28x28x1\nconv 6 k5 >", "ends in the middle", 2, 12, "a layer such as `relu`"),
    # Header
    ("conv 6 k5\n", "no `input` line", 1, 1, "input 28x28x1"),
    ("input 28x0x1\nflatten\n", "at least 1", 1, 7, "HEIGHTxWIDTHxCHANNELS"),
    ("input relu\nflatten\n", "unexpected line break", 1, 11, "a size such as 28x28x1"),
    ("input 28x28x1\ninput 32x32x3\nflatten\n", "must name each of them", 1, 1, "input NAME 28x28x1"),
    ("input a 8\ninput a 4\na > dense 2\n", "the input `a` is declared twice", 2, 1, "its own name"),
    ("network A\nnetwork B\ninput 8\ndense 1\n", "named twice", 2, 1, "keep one"),
    ("input 28x28x1\n", "no layers", 1, 1, "add layers"),
    ("flatten\ninput 28x28x1\ndense 3\n", "before the `input` line", 1, 1, "move the `input` line"),
    # Layer kinds and options
    (HEADER + "convv 6 k3\n", "unknown layer kind `convv`", 2, 1, "did you mean `conv`"),
    (HEADER + "maxpol 2\n", "unknown layer kind `maxpol`", 2, 1, "`maxpool`"),
    (HEADER + "conv 6 k3 rellu\n", "unknown option `rellu` for conv", 2, 11, "did you mean `relu`"),
    (HEADER + "conv 6 k3 stride2\n", "unknown option `stride2`", 2, 11, "`s2` or `strides=2`"),
    (HEADER + "conv 6 k3 padding=sme\n", "`sme` is not one of valid, same", 2, 19, "did you mean `same`"),
    (HEADER + "conv 6 k3 kernal=3\n", "conv has no option `kernal`", 2, 11, "`kernel`"),
    (HEADER + "conv k3\n", "conv needs filters", 2, 1, "`filters=...`"),
    (HEADER + "conv 6\n", "conv needs kernel_size", 2, 1, "`k3`"),
    (HEADER + "conv 0 k3\n", "must be at least 1 but received 0", 2, 6, "filters"),
    (HEADER + "conv 6 k3 k5\n", "sets kernel_size twice", 2, 11, "keep one"),
    (HEADER + "conv 6 k3 7\n", "takes no more bare values", 2, 11, "`filters=...`"),
    (HEADER + "conv 6 k3 relu maxpool 2\n", "`maxpool` is a layer kind", 2, 16, "separate layers with `>`"),
    (HEADER + "conv 6 k3 s2 d2\n", "strides > 1 cannot be combined with dilation > 1", 2, 1, "either a stride"),
    (HEADER + "deconv 6 k3 s2 op2\n", "output padding must be smaller than the stride", 2, 1, "lower the output"),
    (HEADER + "dropout 1.5\n", "must be at most 1 but received 1.5", 2, 9, "rate"),
    (HEADER + "dropout -0.1\n", "must be at least 0", 2, 9, "rate"),
    (HEADER + "reshape 0x5\n", "must be positive", 2, 9, "target_shape"),
    (HEADER + "reshape -1x-1\n", "at most one dimension can be -1", 2, 9, "target_shape"),
    (HEADER + "rescale 1/0\n", "divides by zero", 2, 9, "scale"),
    (HEADER + "conv 6 k3 name=class\n", "reserved in Python", 2, 16, "another name"),
    (HEADER + "conv 6 k3 name=a > conv 6 k3 name=a\n", "`a` is used twice", 2, 20, "its own name"),
    (HEADER + "batchnorm momentum=2\n", "must be at most 1", 2, 20, "momentum"),
    # Shapes
    ("input 3x3x1\nconv 8 k5\n", "conv k5 needs an input of at least 5x5 but receives 3x3", 2, 1,
     "use `same` padding or a smaller window"),
    ("input 4x4x1\nmaxpool 5\n", "maxpool 5 needs an input of at least 5x5 but receives 4x4", 2, 1, "same"),
    ("input 7x7x1\nconv 8 k3 d4\n", "extent 9x9", 2, 1, "smaller window"),
    ("input 784\nconv 6 k3\n", "conv expects an image", 2, 1, "reshape HxWxC"),
    ("input 28x28x1\nflatten > maxpool 2\n", "maxpool expects an image", 2, 11, "reshape HxWxC"),
    ("input 4x4x3\ncrop 2\n", "leaving nothing", 2, 1, "crop fewer"),
    ("input 4x4x3\nreshape 5x6\n", "needs 30 values but receives 48", 2, 1, "same number of values"),
    ("input 4x4x3\nreshape -1x5\n", "cannot infer the -1 dimension", 2, 1, "divide the input size"),
    ("input 8\ngavgpool\n", "gavgpool expects an image", 2, 1, "reshape"),
]


def _case_id(case) -> str:
    return case[1][:40]


@pytest.mark.parametrize("case", INVALID_SPECS, ids=_case_id)
def test_invalid_spec_reported(case):
    text, message, line, column, fix = case

    with pytest.raises(CnnDslError) as caught:
        analyse_text(text, "bad.cnn")

    matching = [d for d in caught.value.errors if message in d.message]
    assert matching, f"no error contains {message!r}; got {[d.message for d in caught.value.errors]}"
    diagnostic = matching[0]
    if line is None:
        assert diagnostic.span is None
    else:
        assert (diagnostic.span.line, diagnostic.span.column) == (line, column)
    assert diagnostic.fix and fix in diagnostic.fix


@pytest.mark.parametrize("case", INVALID_SPECS, ids=_case_id)
def test_invalid_spec_formatted_with_position(case):
    text, message, line, column, _ = case

    with pytest.raises(CnnDslError) as caught:
        analyse_text(text, "bad.cnn")

    report = str(caught.value)
    if line is not None:
        assert f"bad.cnn:{line}:{column}: error: " in report
        assert "^" in report
    assert "fix:" in report


def test_independent_errors_all_reported():
    text = HEADER + "conv 6 k5 rellu > maxpool 2\nconv 16 k50 relu\ndropout 1.5\nmaxpol 2\n"

    with pytest.raises(CnnDslError) as caught:
        analyse_text(text, "bad.cnn")

    lines = sorted(d.span.line for d in caught.value.errors)
    assert lines == [2, 3, 4, 5]


def test_error_after_unknown_layer_not_cascaded():
    text = "input 28x28x1\nmaxpol 2 > conv 8 k3 > dense 10\n"

    with pytest.raises(CnnDslError) as caught:
        analyse_text(text, "bad.cnn")

    assert len(caught.value.errors) == 1


def test_dense_on_image_warns_with_position():
    checked = analyse_text("input 8x8x3\nconv 4 k3 > dense 10\n", "w.cnn")

    assert len(checked.warnings) == 1
    warning = checked.warnings[0]
    assert "acts on the last axis" in warning.message
    assert (warning.span.line, warning.span.column) == (2, 13)
    assert checked.network.layers[-1].output_shape == (6, 6, 10)


def test_channels_first_input_warns():
    checked = analyse_text("input 3x224x224\nflatten\n", "w.cnn")

    assert any("channels-first" in warning.message for warning in checked.warnings)
    assert "input 224x224x3" in checked.warnings[0].fix
