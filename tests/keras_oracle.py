"""Build a generated spec plan directly in Keras and compare the result with cnndsl's checker.

The interpreter follows the language as docs/language.md and docs/graphs.md
describe it. A chain continues from the previous result, `-> name` binds a
tensor, a merge on its own line with one tensor merges it with the previous
result, and block bodies see only their parameters. Each layer is built from
the plan's Keras arguments, never from cnndsl's resolved configs. `compare` runs both sides and
lists every disagreement: accepted by one and rejected by the other, or a
layer whose class, output shape or weight counts differ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnndsl.backends.keras_backend import import_keras
from cnndsl.errors import CnnDslError
from cnndsl.pipeline import analyse_text
from specgen_graphs import BlockCallPlan, ChainPlan, MergePlan, ParallelPlan, ResidualPlan, SpecPlan, Step
from specgen_layers import LayerPlan, ParamExpr

keras = import_keras()

# Models up to this many values (weights plus activations per sample) are also
# run once on the CPU, to compare run failures with the checker's warnings.
RUN_LIMIT = 2_000_000


class KerasRejected(Exception):
    """Raised when Keras refuses to construct or call a layer, or to build the model."""


@dataclass
class KerasLayer:
    """One layer Keras built: its class, output shape (batch axis None) and weight counts."""

    keras_class: str
    output_shape: tuple
    trainable: int
    non_trainable: int


@dataclass
class Built:
    """The outcome of building a plan in Keras."""

    layers: list[KerasLayer] = field(default_factory=list)  # the model's layers, in creation order
    model: Any = None
    error: str | None = None


@dataclass
class Verdict:
    """The comparison of one spec: what each side did and every disagreement found."""

    text: str
    checker_accepts: bool
    keras_builds: bool
    disagreements: list[str] = field(default_factory=list)
    checker_error: str | None = None
    keras_error: str | None = None


def weight_counts(layer) -> tuple[int, int]:
    trainable = sum(math.prod(weight.shape) for weight in layer.trainable_weights)
    non_trainable = sum(math.prod(weight.shape) for weight in layer.non_trainable_weights)
    return trainable, non_trainable


def _value(value: Any, env: dict[str, Any]) -> Any:
    return value.evaluate(env) if isinstance(value, ParamExpr) else value


class Interpreter:
    """Builds a SpecPlan with Keras; every created layer is recorded with the ids of its inputs."""

    def __init__(self):
        self.records: list[tuple[Any, Any, tuple[int, ...]]] = []  # (layer, output tensor, input ids)
        self.ids: dict[int, int] = {}  # id(tensor) -> record index, or -1 - input index

    def build(self, plan: SpecPlan) -> Built:
        try:
            return self._build(plan)
        except KerasRejected as rejected:
            return Built(error=str(rejected))

    def _build(self, plan: SpecPlan) -> Built:
        scope: dict[str, Any] = {}
        inputs = []
        for index, (name, shape) in enumerate(plan.inputs):
            tensor = keras.Input(shape=shape)
            self.ids[id(tensor)] = -1 - index
            scope[name or "input"] = tensor
            inputs.append(tensor)
        current = inputs[0] if len(inputs) == 1 else None

        current = self.chains(plan.chains, scope, current, {})
        outputs = [scope[name] for name in plan.outputs] if plan.outputs else [current]
        if any(output is None for output in outputs):
            raise KerasRejected("a chain has no input")
        try:
            model = keras.Model(inputs=inputs[0] if len(inputs) == 1 else inputs,
                                outputs=outputs[0] if len(outputs) == 1 else outputs)
        except Exception as error:  # noqa: BLE001 - any refusal of Keras is an outcome to compare
            raise KerasRejected(f"keras.Model: {type(error).__name__}: {error}") from None
        return Built(layers=self._reachable(outputs), model=model)

    def _reachable(self, outputs: list) -> list[KerasLayer]:
        needed: set[int] = set()
        pending = [self.ids[id(tensor)] for tensor in outputs]
        while pending:
            index = pending.pop()
            if index >= 0 and index not in needed:
                needed.add(index)
                pending += self.records[index][2]
        result = []
        for index, (layer, tensor, _) in enumerate(self.records):
            if index in needed:
                result.append(KerasLayer(type(layer).__name__, tuple(tensor.shape), *weight_counts(layer)))
        return result

    # ---- Statements ----------------------------------------------------------------

    def chains(self, chains: list[ChainPlan], scope: dict[str, Any], current, env: dict[str, Any]):
        for chain in chains:
            current = self.chain(chain, scope, current, env)
        return current

    def chain(self, chain: ChainPlan, scope: dict[str, Any], current, env: dict[str, Any]):
        if chain.start is not None:
            current = scope[chain.start]
        if current is None and not (chain.steps and isinstance(chain.steps[0], MergePlan)):
            raise KerasRejected("a chain has no input")
        for step in chain.steps:
            current = self.step(step, scope, current, env)
        if chain.binding is not None:
            scope[chain.binding] = current
        return current

    def step(self, step: Step, scope: dict[str, Any], current, env: dict[str, Any]):
        if step == "identity":
            return current
        if isinstance(step, LayerPlan):
            arguments = {name: _value(value, env) for name, value in step.arguments.items()}
            return self.apply(step.keras_class, arguments, [current])
        if isinstance(step, MergePlan):
            inputs = ([current] if step.continues else []) + [scope[name] for name in step.tensors]
            return self.apply(step.keras_class, dict(step.arguments), inputs)
        if isinstance(step, ResidualPlan):
            return self.residual(step, scope, current, env)
        if isinstance(step, ParallelPlan):
            outputs = [self.chain(branch, scope, current, env) for branch in step.branches]
            return self.apply(step.keras_class, dict(step.arguments), outputs)
        return self.block_call(step, current)

    def residual(self, step: ResidualPlan, scope: dict[str, Any], current, env: dict[str, Any]):
        body = self.chains(step.body, scope, current, env)
        shortcut = current
        if step.shortcut is not None and (step.condition is None or env[step.condition] == "true"):
            shortcut = self.chains(step.shortcut, scope, current, env)
        return self.apply("Add", {}, [body, shortcut])

    def block_call(self, call: BlockCallPlan, current):
        defaults = {name: (int(default) if default and default.isdigit() else default)
                    for name, default in call.block.params}
        for index in range(call.repeat):
            env = {**defaults, **call.arguments, **(call.first if index == 0 else {})}
            current = self.chains(call.block.body, {}, current, env)
        return current

    def apply(self, keras_class: str, arguments: dict[str, Any], inputs: list):
        """Construct one Keras layer and call it; raise KerasRejected with Keras's message when it fails."""
        try:
            layer = getattr(keras.layers, keras_class)(**arguments)
            output = layer(inputs[0] if len(inputs) == 1 else inputs)
        except Exception as error:  # noqa: BLE001 - any refusal of Keras is an outcome to compare
            raise KerasRejected(f"{keras_class}({arguments}): {type(error).__name__}: {error}") from None
        self.ids[id(output)] = len(self.records)
        self.records.append((layer, output, tuple(self.ids[id(tensor)] for tensor in inputs)))
        return output


# ---- Comparison --------------------------------------------------------------------------


def runtime_warnings(checked) -> list[str]:
    """Return the checker's warnings that a layer of the model builds but fails when it runs.

    A layer on a branch that no output reads is warned about too, but Keras
    leaves it out of the model, so the model runs.
    """
    spans = {node.span for node in checked.network.layers}
    return [warning.message for warning in checked.warnings
            if "builds, but" in warning.message and warning.span in spans]


def compare(plan: SpecPlan, run_models: bool = True) -> Verdict:
    """Check the plan's text with cnndsl, build the plan in Keras, and list where they disagree."""
    text = plan.text()
    try:
        checked = analyse_text(text)
    except CnnDslError as error:
        checked, checker_error = None, error
    else:
        checker_error = None
    built = Interpreter().build(plan)

    verdict = Verdict(text, checked is not None, built.error is None,
                      checker_error=str(checker_error) if checker_error else None, keras_error=built.error)
    if checker_error is not None:
        verdict.disagreements += [f"error without a position: {d.message}" for d in checker_error.errors
                                  if d.span is None]
    if verdict.checker_accepts != verdict.keras_builds:
        verdict.disagreements.append("the checker accepts but Keras fails" if verdict.checker_accepts
                                     else "the checker rejects but Keras builds")
    elif checked is not None:
        verdict.disagreements += _layer_differences(checked.network, built.layers)
        if run_models:
            verdict.disagreements += _run_differences(checked, built.model)
    keras.backend.clear_session()
    return verdict


def _layer_differences(network, built: list[KerasLayer]) -> list[str]:
    nodes = network.layers
    if len(nodes) != len(built):
        return [f"the checker has {len(nodes)} layers but the Keras model {len(built)}"]
    differences = []
    for node, layer in zip(nodes, built):
        expected = (layer.keras_class, layer.output_shape, layer.trainable, layer.non_trainable)
        found = (node.kind.keras_class, (None, *node.output_shape), node.trainable_params, node.non_trainable_params)
        if found != expected:
            differences.append(f"layer {node.name} (line {node.span.line}): checker {found}, Keras {expected}")
    return differences


def _run_differences(checked, model) -> list[str]:
    network = checked.network
    values = network.total_params + sum(math.prod(node.output_shape) for node in network.layers)
    if values > RUN_LIMIT:
        return []
    import tensorflow as tf

    batch = [np.ones((1, *node.shape), dtype="float32") for node in network.inputs]
    try:
        with tf.device("/CPU:0"):
            results = model(batch[0] if len(batch) == 1 else batch)
        runs, failure = True, ""
    except Exception as error:  # noqa: BLE001 - any run failure is compared with the warnings
        runs, failure = False, f"{type(error).__name__}: {str(error)[:300]}"
    warned = bool(runtime_warnings(checked))
    if runs and warned:
        return ["the checker warns that the model cannot run, but it runs on the CPU"]
    if not runs and not warned:
        return [f"the model fails on the CPU without a checker warning: {failure}"]
    if runs:
        results = results if isinstance(results, (list, tuple)) else [results]
        shapes = [tuple(result.shape)[1:] for result in results]
        expected = [tuple(network.output_shape(name)) for name in network.outputs]
        if shapes != expected:
            return [f"the model runs but returns shapes {shapes}, not the checked {expected}"]
    return []
