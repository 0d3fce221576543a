"""Fast paths stay fast: check, summary and diagrams import neither TensorFlow nor Keras.

`cnndsl check` and `summary` also import no Jinja2, graphviz or NumPy. Each
of these would add tens of milliseconds to every start (TensorFlow adds
seconds); bench/cold_start.py measures the start-up time itself.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import EXAMPLES

PROBE = """
import sys
from cnndsl.cli import main
code = main([{command!r}, {spec!r}])
heavy = sorted(name for name in {heavy!r} if name in sys.modules)
print("HEAVY:" + ",".join(heavy))
sys.exit(code)
"""


# Packages that the fast commands must not import, not even through a sub-command's options.
HEAVY_PACKAGES = ("tensorflow", "keras", "jinja2", "graphviz", "numpy")


def _imported_heavy_modules(command: str) -> str:
    script = PROBE.format(command=command, spec=str(EXAMPLES / "lenet.cnn"), heavy=HEAVY_PACKAGES)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_check_imports_no_tensorflow():
    assert _imported_heavy_modules("check") == "HEAVY:"


def test_summary_imports_no_tensorflow():
    assert _imported_heavy_modules("summary") == "HEAVY:"


def test_diagram_imports_no_tensorflow(tmp_path):
    script = (
        "import sys\n"
        "from cnndsl.pipeline import analyse_text\n"
        "from cnndsl.backends.graphviz_backend import to_dot\n"
        f"to_dot(analyse_text(open({str(EXAMPLES / 'lenet.cnn')!r}).read(), 'lenet.cnn').network)\n"
        "print('tensorflow' in sys.modules or 'keras' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("target, needed", [("python", "jinja2"), ("graphviz", "graphviz")])
def test_compile_target_imports_only_its_backend(tmp_path, target, needed):
    script = (
        "import sys\n"
        "from cnndsl.cli import main\n"
        f"code = main(['compile', {str(EXAMPLES / 'lenet.cnn')!r}, '-o', {str(tmp_path)!r}, "
        f"'--targets', {target!r}, '--format', 'dot'])\n"
        f"print(','.join(sorted(name for name in {HEAVY_PACKAGES!r} if name in sys.modules)))\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == needed
