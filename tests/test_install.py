"""The grammar is found after an editable install and after a regular (non-editable) one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from conftest import EXAMPLES, REPO


def test_grammar_found_in_test_environment():
    from cnndsl.parser import grammar_text

    assert grammar_text() == (REPO / "grammars" / "cnn.lark").read_text(encoding="utf-8")


def test_editable_install_reads_repository_grammar():
    direct_url = metadata.distribution("cnndsl").read_text("direct_url.json")
    editable = bool(direct_url) and json.loads(direct_url).get("dir_info", {}).get("editable", False)
    if not editable:
        return  # a regular install is covered by the next test

    import cnndsl.grammars

    location = Path(cnndsl.grammars.__file__).resolve().parent
    assert location == (REPO / "grammars").resolve()


def test_regular_install_finds_grammar(tmp_path):
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(REPO)],
        capture_output=True, text=True, timeout=600,
    )
    assert install.returncode == 0, install.stderr
    assert (target / "cnndsl" / "grammars" / "cnn.lark").is_file()

    probe = (
        "import cnndsl, sys\n"
        "import cnndsl.analysis, cnndsl.backends, cnndsl.layers, cnndsl.resolve, cnndsl.training\n"
        "for module in (cnndsl.analysis, cnndsl.backends, cnndsl.layers, cnndsl.resolve, cnndsl.training):\n"
        f"    assert module.__file__.startswith({str(target)!r}), module.__file__\n"
        "from cnndsl.cli import main\n"
        "print(cnndsl.__file__)\n"
        f"sys.exit(main(['check', {str(EXAMPLES / 'lenet.cnn')!r}]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                            env=env, timeout=120)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith(str(target))
    assert "61,706 parameters" in result.stdout


def test_pyproject_lists_every_package():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and newer

    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(path.parent.relative_to(REPO).parts)
        for path in (REPO / "cnndsl").rglob("__init__.py")
    }
    assert on_disk <= listed, f"add {sorted(on_disk - listed)} to [tool.setuptools] packages"
