"""Python source back end: write a checked network as a Keras program.

The layout of the generated module lives in the Jinja2 templates under
templates/. This module chooses the Python names (class, attributes, tensor
variables) and renders each layer's argument list, and nothing else.
Jinja2 is imported inside `generate_source`, so `cnndsl check` never loads it.
"""

from __future__ import annotations

import keyword
import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from cnndsl.errors import CnnDslError, Diagnostic, Severity
from cnndsl.graph import InputNode, LayerNode, Network
from cnndsl.layers.values import python_literal

STYLES = ("sequential", "functional", "subclass")

MAX_LINE_LENGTH = 99

# Names the generated module binds at module level, or uses inside its
# functions, which a tensor variable or the model class must not shadow.
MODULE_NAMES = frozenset({
    "__name__", "build_model", "inputs", "keras", "kwargs", "layers", "model", "self", "super", "x",
})

# Public attributes of keras.Model instances, which a layer attribute of the
# subclass style must not replace. Collected with the TensorFlow backend of
# Keras 3.15 from dir() of the Model, Sequential and Layer classes and of
# models after compile(), fit(), evaluate() and predict().
KERAS_MODEL_ATTRIBUTES = frozenset({
    "activity_regularizer", "add", "add_loss", "add_metric", "add_variable", "add_weight", "autocast",
    "build", "build_from_config", "built", "call", "call_signature_parameters", "compile",
    "compile_from_config", "compiled", "compiled_loss", "compiled_metrics", "compute_dtype",
    "compute_loss", "compute_mask", "compute_metrics", "compute_output_shape", "compute_output_spec",
    "count_params", "distribute_reduction_method", "distribute_strategy", "dtype", "dtype_policy",
    "evaluate", "export", "fit", "from_config", "get_build_config", "get_compile_config", "get_config",
    "get_layer", "get_metrics_result", "get_quantization_layer_structure", "get_state_tree",
    "get_weights", "history", "input", "input_dtype", "input_shape", "input_spec", "inputs",
    "jit_compile", "layers", "load_own_variables", "load_weights", "loss", "losses",
    "make_predict_function", "make_test_function", "make_train_function", "metrics", "metrics_names",
    "metrics_variables", "name", "non_trainable_variables", "non_trainable_weights", "operations",
    "optimizer", "output", "output_names", "output_shape", "outputs", "path", "pop", "predict",
    "predict_function", "predict_on_batch", "predict_step", "quantization_mode", "quantize",
    "quantized_build", "quantized_call", "rematerialized_call", "reset_metrics", "run_eagerly", "save",
    "save_own_variables", "save_weights", "set_state_tree", "set_weights", "stateless_call",
    "stateless_compute_loss", "steps_per_execution", "stop_evaluating", "stop_predicting",
    "stop_training", "summary", "supports_jit", "supports_masking", "symbolic_call", "test_function",
    "test_on_batch", "test_step", "to_json", "train_function", "train_on_batch", "train_step",
    "trainable", "trainable_variables", "trainable_weights", "unrolled_steps_per_execution",
    "variable_dtype", "variables", "weights",
})

# Under the PyTorch backend keras.Model also extends torch.nn.Module, whose
# public methods and attributes (PyTorch 2.x) are these. NOTE: the list was
# written without PyTorch installed, and no test checks it.
TORCH_MODULE_ATTRIBUTES = frozenset({
    "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children", "cpu", "cuda",
    "double", "dump_patches", "eval", "extra_repr", "float", "forward", "get_buffer",
    "get_extra_state", "get_parameter", "get_submodule", "half", "ipu", "load_state_dict", "modules",
    "mtia", "named_buffers", "named_children", "named_modules", "named_parameters", "parameters",
    "register_backward_hook", "register_buffer", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook", "register_module",
    "register_parameter", "requires_grad_", "set_extra_state", "set_submodule", "share_memory",
    "state_dict", "to", "to_empty", "train", "training", "type", "xpu", "zero_grad",
})

RESERVED_ATTRIBUTES = KERAS_MODEL_ATTRIBUTES | TORCH_MODULE_ATTRIBUTES


@dataclass(frozen=True)
class InputSource:
    """One keras.Input of the generated code: the variable it is bound to and its arguments."""

    variable: str
    arguments: list[str]


@dataclass(frozen=True)
class LayerSource:
    """One layer of the generated code.

    `arguments` are the constructor arguments as source, `attribute` is the
    attribute that stores the layer in the subclass style, `inputs` are the
    variables of its input tensors and `output` the variable it assigns.
    `heading` is None for a layer inside a section. A layer that starts a
    section comes after a blank line and, unless `heading` is empty, after a
    comment with the heading.
    """

    keras_class: str
    arguments: list[str]
    attribute: str
    inputs: list[str]
    output: str
    heading: str | None = None


def generate_source(network: Network, style: str, spec_name: str) -> str:
    """Render a checked `network` as a Python module that builds it with Keras.

    `style` is "sequential", "functional" or "subclass". `spec_name` is the
    spec's file name, quoted in the module docstring. Raises CnnDslError for
    the sequential style when the network is not a single chain of layers.
    """
    if style not in STYLES:
        raise ValueError(f"unknown source style {style!r}: expected one of {', '.join(STYLES)}")
    if style == "sequential" and not network.is_chain():
        raise CnnDslError(network.source, [_not_sequential(network)])

    variables = tensor_variables(network)
    attributes = layer_attributes([layer.name for layer in network.layers])
    headings = block_headings(network)
    template = _environment().get_template(f"{style}.py.j2")
    return template.render(
        network_name=network.name,
        class_name=unique_identifiers([network.name], MODULE_NAMES)[network.name],
        spec_name=spec_name,
        trainable_params=network.trainable_params,
        non_trainable_params=network.non_trainable_params,
        total_params=network.total_params,
        inputs=[_input_source(node, variables) for node in network.inputs],
        layers=[_layer_source(node, variables, attributes, headings.get(node.name)) for node in network.layers],
        outputs=[variables[name] for name in network.outputs],
    )


def _not_sequential(network: Network) -> Diagnostic:
    """Explain why `network` is not a chain, pointing at the first layer that breaks it when there is one."""
    prefix = f"network {network.name} cannot be written as a keras.Sequential model"
    fix = "use --style functional or subclass"
    if len(network.inputs) != 1:
        return Diagnostic(Severity.ERROR, f"{prefix}, because it has {len(network.inputs)} inputs", None, fix)
    if len(network.outputs) != 1:
        return Diagnostic(Severity.ERROR, f"{prefix}, because it has {len(network.outputs)} outputs", None, fix)

    previous = network.nodes[0].name
    for node in network.layers:
        if len(node.inputs) > 1:
            reason = f"layer `{node.name}` merges {len(node.inputs)} tensors"
        elif node.inputs != (previous,):
            reason = f"layer `{node.name}` reads `{node.inputs[0]}` instead of the layer before it, `{previous}`"
        else:
            previous = node.name
            continue
        return Diagnostic(Severity.ERROR, f"{prefix}, because {reason}", node.span, fix, node.source)

    return Diagnostic(Severity.ERROR, f"{prefix}, because its output `{network.outputs[0]}` is not its last layer",
                      None, fix)


def _environment():
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("cnndsl.backends", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["pystr"] = python_string
    environment.filters["docstring_text"] = docstring_text
    environment.filters["thousands"] = "{:,}".format
    environment.globals["max_line_length"] = MAX_LINE_LENGTH
    return environment


def _input_source(node: InputNode, variables: dict[str, str]) -> InputSource:
    arguments = [f"shape={python_literal(tuple(node.shape))}", f"name={python_string(node.name)}"]
    return InputSource(variables[node.name], arguments)


def _layer_source(node: LayerNode, variables: dict[str, str], attributes: dict[str, str],
                  heading: str | None) -> LayerSource:
    positional, keywords = node.kind.call_arguments(node.config)
    arguments = [*positional, *(f"{name}={value}" for name, value in keywords), f"name={python_string(node.name)}"]
    return LayerSource(
        keras_class=node.kind.keras_class,
        arguments=arguments,
        attribute=attributes[node.name],
        inputs=[variables[name] for name in node.inputs],
        output=variables[node.name],
        heading=heading,
    )


def block_headings(network: Network) -> dict[str, str]:
    """Return the section headings of the generated code, by the name of the layer they precede.

    Every top-level block instance is a section headed `conv2_block1 (bottleneck)`,
    so that the code can be matched to the spec. The first top-level layer
    after an instance starts an untitled section, with heading "". The
    builder expands an instance in place, so its layers are consecutive.
    """
    instances = {instance.scope: instance for instance in network.block_instances}
    headings: dict[str, str] = {}
    section: tuple[str, ...] = ()

    for layer in network.layers:
        if layer.scope[:1] == section:
            continue
        section = layer.scope[:1]
        if section:
            instance = instances[section]
            headings[layer.name] = _comment_text(f"{instance.name} ({instance.block})")
        else:
            headings[layer.name] = ""

    return headings


def _comment_text(text: str) -> str:
    """Keep `text` on one comment line: control characters, newlines included, become spaces."""
    return "".join(character if character.isprintable() else " " for character in text)


# ---- Names ---------------------------------------------------------------


def tensor_variables(network: Network) -> dict[str, str]:
    """Return the variable that stores each node's output tensor, by node name.

    A chain reuses `x`: a layer writes its output to `x` when the next node is
    its only consumer, or when it is the last node and the single model output.
    Any other tensor (read twice, read later, or one of several outputs) gets
    its own variable, named after the tensor name the spec gives it (`-> level1`)
    or else after its node. A single input is `inputs`.
    """
    uses = Counter(name for node in network.nodes for name in node.inputs)
    nodes = network.nodes
    variables: dict[str, str] = {}
    own: list[str] = []

    for index, node in enumerate(nodes):
        following = nodes[index + 1] if index + 1 < len(nodes) else None
        if isinstance(node, InputNode):
            if len(network.inputs) == 1:
                variables[node.name] = "inputs"
            else:
                own.append(node.name)
        elif _stays_in_x(node, following, uses[node.name], network.outputs):
            variables[node.name] = "x"
        else:
            own.append(node.name)

    # A tensor bound with `-> level1` is stored in `level1`, when that name is unambiguous.
    preferred = [network.tensor_names.get(name, name) for name in own]
    if len(set(preferred)) != len(preferred) or set(preferred) & (set(own) - set(network.tensor_names)):
        preferred = own
    identifiers = unique_identifiers(preferred, MODULE_NAMES)
    variables.update({name: identifiers[wanted] for name, wanted in zip(own, preferred)})
    return variables


def _stays_in_x(node: LayerNode, following: LayerNode | InputNode | None, uses: int, outputs: list[str]) -> bool:
    if node.name in outputs:
        return outputs == [node.name] and uses == 0 and following is None
    if uses == 0:
        return True
    return uses == 1 and following is not None and node.name in following.inputs


def layer_attributes(names: list[str]) -> dict[str, str]:
    """Return the attribute that stores each layer in the subclass style, by layer name.

    Names starting with `_` could replace private attributes of keras.Model, so
    they get a `layer` prefix: `_stem` becomes `layer_stem`.
    """
    # NOTE: with the TensorFlow backend, Keras 3.15 cannot call a subclassed
    # model whose layer names start with `_` ("not a valid root scope name"),
    # although the functional and Sequential models build and train.
    return unique_identifiers(names, RESERVED_ATTRIBUTES, private_prefix="layer")


def unique_identifiers(names: Iterable[str], reserved: frozenset[str],
                       private_prefix: str | None = None) -> dict[str, str]:
    """Map each name to a distinct Python identifier that is neither a keyword nor in `reserved`.

    A name that is already such an identifier keeps it. Any other name gets the
    PEP 8 trailing underscore (`call` becomes `call_`), or `private_prefix` in
    front when it starts with `_` and a prefix is given, and one more `_` for
    each clash. Characters outside [A-Za-z0-9_] become `_`, and a leading digit
    gets a `name_` prefix. Unchanged names claim their identifier first, so the
    result depends only on the names and their order.
    """
    names = list(dict.fromkeys(names))
    taken = set(reserved)
    result: dict[str, str] = {}

    for name in names:
        private = private_prefix is not None and name.startswith("_")
        if _is_plain_identifier(name) and name not in taken and not private:
            result[name] = name
            taken.add(name)

    for name in names:
        if name in result:
            continue
        candidate = _identifier(name)
        if private_prefix is not None and candidate.startswith("_"):
            candidate = private_prefix + candidate
        else:
            candidate += "_"
        while candidate in taken:
            candidate += "_"
        result[name] = candidate
        taken.add(candidate)

    return {name: result[name] for name in names}


def _is_plain_identifier(name: str) -> bool:
    return name.isascii() and name.isidentifier() and not keyword.iskeyword(name)


def _identifier(name: str) -> str:
    text = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not text or text[0].isdigit():
        text = "name_" + text
    return text


# ---- Literals ------------------------------------------------------------


def python_string(text: str) -> str:
    """Return `text` as a Python string literal that no character of it can end early.

    Double quotes are used unless `text` contains more of them than single
    quotes, as ruff format and black choose. Backslashes, the quote and every
    non-printable character (newlines included) are escaped.
    """
    quote = "'" if text.count('"') > text.count("'") else '"'
    return quote + _escape(text, quote) + quote


def docstring_text(text: str) -> str:
    """Escape `text` for a double-quoted docstring, so that it stays on one line and cannot close it."""
    return _escape(text, '"')


def _escape(text: str, quote: str) -> str:
    parts = []
    for character in text:
        if character in ("\\", quote):
            parts.append("\\" + character)
        elif character.isprintable():
            parts.append(character)
        else:
            parts.append(repr(character)[1:-1])
    return "".join(parts)
