"""Long specs stay correct: 10,000-layer networks go through every phase without RecursionError.

Python's default recursion limit is 1,000 frames, so any phase that recursed
once per layer (parsing, converting the parse tree, resolving, checking,
drawing or the summary table) would fail here. A command must also parse
its spec only once. These tests check results and work done, not speed:
bench/scaling.py measures the time and memory of each phase.
"""

from __future__ import annotations

import sys

import pytest

from cnndsl import parser
from cnndsl.backends.graphviz_backend import to_dot
from cnndsl.cli import main
from cnndsl.pipeline import analyse_text
from cnndsl.summary import summary_table
from conftest import EXAMPLES

LAYERS = 10_000
CONV_PARAMS = 3 * 3 * 16 * 16 + 16  # conv 16 k3 on 16 channels, with bias
BN_PARAMS = 4 * 16  # gamma, beta, moving mean and moving variance
HEAD_PARAMS = 16 * 10 + 10  # dense 10 after global average pooling of 16 channels


def chain_spec(layers: int) -> str:
    """Return one chain of `layers` layers: (conv, bn, relu) repeated, then a classifier head."""
    cycle = ["conv 16 k3 same", "bn", "relu"]
    body = [cycle[index % 3] for index in range(layers - 2)]
    lines = [" > ".join(body[start:start + 3]) for start in range(0, len(body), 3)]
    return "\n".join(["input 32x32x16", *lines, "gavgpool > dense 10 softmax"]) + "\n"


def residual_spec(units: int) -> str:
    """Return `units` residual units of seven layers each (five, the Add and a ReLU), then the head."""
    unit = "residual { conv 16 k3 same > bn > relu > conv 16 k3 same > bn } > relu"
    return "\n".join(["input 32x32x16", *[unit] * units, "gavgpool > dense 10 softmax"]) + "\n"


def test_specs_exceed_recursion_limit():
    assert sys.getrecursionlimit() < LAYERS


def test_long_chain_checks():
    network = analyse_text(chain_spec(LAYERS), "chain.cnn").network
    layers = network.layers
    body = LAYERS - 2  # the cycle fills every layer but the head's two
    convs, batch_norms = (body + 2) // 3, (body + 1) // 3

    assert len(layers) == LAYERS
    assert network.is_chain()
    assert sum(1 for layer in layers if layer.kind.keyword == "conv") == convs
    assert layers[-3].output_shape == (32, 32, 16)
    assert network.output_shape(network.outputs[0]) == (10,)
    assert network.total_params == convs * CONV_PARAMS + batch_norms * BN_PARAMS + HEAD_PARAMS


def test_long_residual_network_checks():
    units = (LAYERS - 2) // 7
    network = analyse_text(residual_spec(units), "residual.cnn").network
    adds = [layer for layer in network.layers if layer.kind.keyword == "add"]

    assert len(network.layers) == units * 7 + 2
    assert len(adds) == units
    assert all(len(add.inputs) == 2 for add in adds)
    assert network.total_params == units * (2 * CONV_PARAMS + 2 * BN_PARAMS) + HEAD_PARAMS


@pytest.mark.parametrize("spec", [chain_spec(LAYERS), residual_spec((LAYERS - 2) // 7)], ids=["chain", "residual"])
def test_long_network_draws_and_summarises(spec):
    network = analyse_text(spec, "long.cnn").network

    dot = to_dot(network)
    table = summary_table(network)

    assert dot.count("<<TABLE") >= len(network.nodes)
    assert dot.count(" -> ") >= len(network.nodes) - 1
    assert len(table.splitlines()) > len(network.nodes)
    assert table.splitlines()[-1].startswith("Output: (None, 10)")


@pytest.mark.parametrize("command", ["check", "summary"])
def test_command_parses_spec_once(monkeypatch, capsys, command):
    # A second parse of the same text doubled the time of `cnndsl check` on long specs.
    texts = []
    real_parser = parser._lark()

    class CountingParser:
        def parse(self, text):
            texts.append(text)
            return real_parser.parse(text)

    monkeypatch.setattr(parser, "_lark", CountingParser)

    assert main([command, str(EXAMPLES / "lenet.cnn")]) == 0
    assert len(texts) == 1


def test_every_reduced_rule_has_a_callback():
    # The parser builds syntax nodes as it reduces; a rule without a callback
    # would leave a Lark Tree among them. Lark inlines `?name: child` (one
    # child, no `-> alias`), so such a rule never reaches a callback.
    reached = {rule.alias or rule.origin.name for rule in parser._lark().rules
               if not rule.origin.name.startswith("_")
               and not (rule.options.expand1 and not rule.alias and len(rule.expansion) == 1)}

    assert reached == set(parser._RULES)
