"""Names from a spec cannot inject code into the generated Python or DOT.

The grammar lets a spec choose many names: the network, blocks, tensors,
inputs and layers (`name=`), and the file name, which the generated module
quotes. The first tests take names that Python or the generated module use
(`__import__`, `exec`, `keras`, `self`, ...) through the whole compiler. Names
the grammar rejects (quotes, newlines, braces, HTML) are then put into
networks built by hand. Either way the Python must contain only the code the
templates write, build the same model, and the DOT must keep one node per layer.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys

import pytest

from cnndsl.backends.graphviz_backend import to_dot
from cnndsl.backends.python_source import STYLES, generate_source
from cnndsl.graph import BlockInstance, InputNode, LayerNode, Network
from cnndsl.layers import KINDS_BY_NAME
from cnndsl.pipeline import analyse_text
from cnndsl.syntax import Source, Span
from conftest import run_cnndsl

SPAN = Span(1, 1, 1, 2)
HOSTILE = [
    'a"b', "a'b", 'x"""; import os; os.system("echo pwned") #', "line\nbreak", "carriage\rreturn", "tab\there",
    "back\\slash\\", "{braces}", "<b>bold</b>", '"]; n99 [label="injected"]; x -> y [label="', "</TD></TR>",
    "__import__('os').system('echo pwned')", "# comment", "é💥", "\x00nul", "--> <!-- -->",
]

LEGAL_BUT_HOSTILE_SPEC = """\
network __import__
block __builtins__(f) {
    conv f k1 same -> keras
    keras > relu name=layers
}
input 8x8x3
conv 4 k3 same name=build_model -> inputs
inputs > conv 4 k1 name=self -> x
x > __builtins__(4, name=exec) -> super
parallel concat {
    conv 2 k1 name=print
    identity
} -> __import__
__import__ > conv 6 k1 name=kwargs > add(__import__) -> model
output model, super
"""

ALLOWED_CALL_ROOTS = {"keras", "layers", "self", "kwargs", "super", "build_model", "model"}


def call_root(function: ast.expr) -> str:
    """Return the name at the root of a call target: `layers` for layers.Conv2D(...)(x)."""
    while isinstance(function, (ast.Attribute, ast.Call)):
        function = function.value if isinstance(function, ast.Attribute) else function.func
    return function.id if isinstance(function, ast.Name) else type(function).__name__


def assert_only_template_code(source: str) -> ast.Module:
    """Parse generated source and check that it holds only what the templates write."""
    module = ast.parse(source)
    classes = {node.name for node in module.body if isinstance(node, ast.ClassDef)}
    for statement in module.body:
        assert isinstance(statement, (ast.Expr, ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.If)), \
            ast.dump(statement)
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            assert [alias.name for alias in node.names] == ["keras"]
        if isinstance(node, ast.ImportFrom):
            assert (node.module, [alias.name for alias in node.names]) == ("keras", ["layers"])
        if isinstance(node, ast.Call):
            assert call_root(node.func) in ALLOWED_CALL_ROOTS | classes, ast.unparse(node)
    docstring = module.body[0]
    assert isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)
    return module


def run_module(source: str) -> dict:
    namespace: dict = {"__name__": "generated"}
    exec(compile(source, "generated.py", "exec"), namespace)
    return namespace


def dot_nodes_and_edges(dot_source: str) -> tuple[int, int]:
    """Render DOT with `dot -Tplain` and count the nodes and the visible edges it draws."""
    plain = subprocess.run(["dot", "-Tplain"], input=dot_source.encode(), capture_output=True, check=True,
                           timeout=60).stdout.decode(errors="replace")
    lines = plain.splitlines()
    edges = [line for line in lines if line.startswith("edge ") and " invis " not in line]  # layout-only edges
    return sum(line.startswith("node ") for line in lines), len(edges)


requires_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")


# ---- Names the grammar allows, through the whole compiler --------------------------------------


@pytest.mark.parametrize("style", ["functional", "subclass"])
def test_python_names_of_a_legal_spec_stay_names(style):
    network = analyse_text(LEGAL_BUT_HOSTILE_SPEC, "legal.cnn").network
    source = generate_source(network, style, "legal.cnn")

    module = assert_only_template_code(source)
    namespace = run_module(source)
    classes = {node.name for node in module.body if isinstance(node, ast.ClassDef)}
    assert set(namespace) - {"__builtins__"} <= {"__name__", "__doc__", "keras", "layers", "build_model", *classes}


def test_legal_spec_builds_the_same_model_from_source():
    network = analyse_text(LEGAL_BUT_HOSTILE_SPEC, "legal.cnn").network
    model = run_module(generate_source(network, "functional", "legal.cnn"))["build_model"]()

    built = [layer.name for layer in model.layers if type(layer).__name__ != "InputLayer"]
    assert sorted(built) == sorted(layer.name for layer in network.layers)
    assert model.name == "__import__"


@requires_dot
def test_dot_one_node_per_layer():
    network = analyse_text(LEGAL_BUT_HOSTILE_SPEC, "legal.cnn").network

    for collapse in (False, True):
        nodes, edges = dot_nodes_and_edges(to_dot(network, collapse=collapse))
        if not collapse:
            assert nodes == len(network.nodes)
            assert edges == sum(len(node.inputs) for node in network.nodes)


def test_hostile_file_name_through_the_cli(tmp_path):
    spec = tmp_path / 'evil"""; import os; os.system("echo pwned") #.cnn'
    spec.write_text("input 8\ndense 2\n", encoding="utf-8")
    out = tmp_path / "out"

    result = run_cnndsl("compile", str(spec), "-o", str(out), "--targets", "python,graphviz", "--format", "dot")

    assert result.returncode == 0, result.stderr
    (python_file,) = out.glob("*.py")
    module = assert_only_template_code(python_file.read_text(encoding="utf-8"))
    assert spec.name in ast.get_docstring(module)
    run = subprocess.run([sys.executable, str(python_file)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "pwned" not in run.stdout.splitlines()  # what `echo pwned` would print; the model name contains it


# ---- Names only a hand-built network can hold ------------------------------------------------------


def hostile_network(name: str) -> Network:
    """A network whose network, input, layer, block and instance names all equal `name` plus a suffix."""
    network = Network(name=name, source=Source("hostile.cnn", ""))
    network.add(InputNode(f"{name} in", (4,), SPAN))
    dense = KINDS_BY_NAME["dense"]
    previous = f"{name} in"
    for index in range(2):
        layer = LayerNode(name=f"{name} {index}", kind=dense, config={"units": 2, "activation": None,
                                                                      "use_bias": True},
                          inputs=(previous,), span=SPAN, output_shape=(2,), trainable_params=10 if index == 0 else 6,
                          non_trainable_params=0, scope=(f"{name} block",))
        network.add(layer)
        previous = layer.name
    network.block_instances.append(BlockInstance(name=f"{name} block", block=f"{name} kind", scope=(f"{name} block",),
                                                 span=SPAN, inputs=(f"{name} in",), output=previous))
    network.outputs = [previous]
    return network


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_hand_built_hostile_names_stay_literals_in_python(name, style):
    network = hostile_network(name)

    source = generate_source(network, style, f"{name}.cnn")

    module = assert_only_template_code(source)
    # The first docstring line may wrap at spaces, so whitespace is compared loosely.
    assert " ".join(name.split()) in " ".join(ast.get_docstring(module, clean=False).split())
    literals = {node.value for node in ast.walk(module) if isinstance(node, ast.Constant)}
    assert {f"{name} 0", f"{name} 1"} <= literals


@requires_dot
@pytest.mark.parametrize("collapse", [False, True])
@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_hand_built_hostile_names_stay_labels_in_dot(name, collapse):
    network = hostile_network(name)

    dot_source = to_dot(network, collapse=collapse)

    nodes, edges = dot_nodes_and_edges(dot_source)
    assert nodes == (2 if collapse else 3)
    assert edges == (1 if collapse else 2)
    assert "injected" not in dot_source or "&quot;injected&quot;" in dot_source
    assert "<b>" not in dot_source
