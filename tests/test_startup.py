"""Fast paths stay fast: check, summary and diagrams import neither TensorFlow nor Keras."""

from __future__ import annotations

import subprocess
import sys

from conftest import EXAMPLES

PROBE = """
import sys
from cnndsl.cli import main
code = main([{command!r}, {spec!r}])
heavy = sorted(name for name in ("tensorflow", "keras", "jinja2") if name in sys.modules)
print("HEAVY:" + ",".join(heavy))
sys.exit(code)
"""


def _imported_heavy_modules(command: str) -> str:
    script = PROBE.format(command=command, spec=str(EXAMPLES / "lenet.cnn"))
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
