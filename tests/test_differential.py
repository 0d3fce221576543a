"""Differential tests: random specs checked by cnndsl and built in Keras must agree.

Hypothesis draws spec plans (specgen_graphs.py) over every layer kind, its
option forms and the graph constructs. For each plan, cnndsl must accept the
spec exactly when Keras builds it, every layer's class, output shape and
weight counts must agree, and a small accepted model must run on the CPU
exactly when the checker does not warn that it cannot. The run is bounded and
reproducible (derandomize=True, 250 examples). bench/differential.py runs the
same comparison for thousands of specs; docs/robustness.md explains both.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cnndsl.errors import CnnDslError
from cnndsl.layers import ALL_KINDS
from cnndsl.pipeline import analyse_text
from keras_oracle import compare
from specgen_graphs import SpecGenerator, SpecPlan, constructs_of
from specgen_layers import HypothesisDraw, RandomDraw

EXAMPLES = 250


@st.composite
def spec_plans(draw) -> SpecPlan:
    return SpecGenerator(HypothesisDraw(draw)).spec()


# Shrinking is left out because every step builds Keras models, and shrinking
# one failure took more than five minutes; the message shows the whole spec.
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, print_blob=True,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(spec_plans())
def test_checker_agrees_with_keras(plan):
    verdict = compare(plan)

    assert verdict.disagreements == [], (
        f"{verdict.disagreements}\n--- spec ---\n{verdict.text}--- checker ---\n{verdict.checker_error}\n"
        f"--- keras ---\n{verdict.keras_error}")


# ---- The generator covers the language ---------------------------------------------------


def test_generator_covers_every_layer_kind_and_construct():
    found: Counter = Counter()
    for seed in range(400):
        found += constructs_of(SpecGenerator(RandomDraw(seed)).spec())

    constructs = {"several inputs", "output line", "named start", "binding", "merge starting a chain",
                  "merge in a chain", "residual", "shortcut", "shortcut if", "parallel", "block call", "repeat",
                  "first(...)", "identity"}
    kinds = {kind.keyword for kind in ALL_KINDS}
    assert sorted((kinds | constructs) - set(found)) == []


def test_generator_draws_valid_and_invalid_specs():
    outcomes = Counter()
    for seed in range(60):
        try:
            analyse_text(SpecGenerator(RandomDraw(seed)).spec().text())
            outcomes["accepted"] += 1
        except CnnDslError:
            outcomes["rejected"] += 1

    assert outcomes["accepted"] >= 15
    assert outcomes["rejected"] >= 15


# ---- Disagreements found by the differential run, kept as regression tests -----------------


def test_dead_end_layer_is_still_checked():
    # Keras calls every layer as it is written, so a merge of mismatched shapes
    # fails even when no output depends on it.
    text = "input 3x3x3\ngmp keepdims > conv 12 k1 > minimum(input)\ninput > relu\n"

    try:
        analyse_text(text)
    except CnnDslError as error:
        assert [(d.span.line, d.span.column) for d in error.errors] == [(2, 29)]
    else:
        raise AssertionError("the mismatched dead-end merge was accepted")


def test_depthwise_unequal_strides_warn():
    checked = analyse_text("input 12x12x3\ndwconv 3 s2x1\n")

    assert [warning.span.line for warning in checked.warnings] == [2]
    assert "equal" in checked.warnings[0].fix


def test_first_replaces_a_positional_argument():
    # `first(f=8)` gives the first copy its own `f`, although the call passes `f` by position.
    checked = analyse_text("block b(f, s=1) { conv f k1 strides=s }\ninput 8x8x3\nb(4) x2 first(f=8, s=2)\n")

    assert [node.output_shape for node in checked.network.layers] == [(4, 4, 8), (4, 4, 4)]
