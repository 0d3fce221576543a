"""The parser cache only ever saves time: a missing, stale, corrupt or unwritable cache never breaks cnndsl."""

from __future__ import annotations

import os

import lark
import pytest

from cnndsl import parser_cache
from cnndsl.parser import PARSER_OPTIONS, grammar_text
from conftest import EXAMPLES, run_cnndsl

SPEC = str(EXAMPLES / "lenet.cnn")
EXPECTED = "ok: 8 layers, 61,706 parameters"


def check_with_cache(directory) -> str:
    """Run `cnndsl check` on LeNet with the parser cache in `directory`; return its standard output."""
    env = {**os.environ, parser_cache.CACHE_DIR_VARIABLE: str(directory)}
    result = run_cnndsl("check", SPEC, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def cache_file(directory):
    return parser_cache.cache_path(grammar_text(), PARSER_OPTIONS, directory)


def test_first_run_writes_cache(tmp_path):
    assert EXPECTED in check_with_cache(tmp_path)

    path = cache_file(tmp_path)
    assert path.is_file()
    assert path.stat().st_mode & 0o077 == 0  # a pickle, so readable by its owner only
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def test_second_run_loads_cache(tmp_path):
    check_with_cache(tmp_path)
    path = cache_file(tmp_path)
    written = path.stat().st_mtime_ns

    assert EXPECTED in check_with_cache(tmp_path)
    assert path.stat().st_mtime_ns == written


@pytest.mark.parametrize("content", [b"", b"not a pickle", b"\x80\x05corrupt"], ids=["empty", "text", "bad pickle"])
def test_corrupt_cache_is_rebuilt(tmp_path, content):
    path = cache_file(tmp_path)
    path.write_bytes(content)

    assert EXPECTED in check_with_cache(tmp_path)
    assert path.stat().st_size > len(content)


def test_truncated_cache_is_rebuilt(tmp_path):
    check_with_cache(tmp_path)
    path = cache_file(tmp_path)
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[: size // 2])

    assert EXPECTED in check_with_cache(tmp_path)
    with path.open("rb") as file:
        assert isinstance(lark.Lark.load(file), lark.Lark)


def test_cache_path_is_directory(tmp_path):
    cache_file(tmp_path).mkdir(parents=True)

    assert EXPECTED in check_with_cache(tmp_path)


def test_unwritable_cache_directory(tmp_path):
    # A regular file is in the place of the directory, so mkdir fails even for root.
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")

    assert EXPECTED in check_with_cache(blocker / "cnndsl")
    assert blocker.read_text() == "not a directory"


def test_empty_variable_turns_cache_off(tmp_path):
    env = {**os.environ, parser_cache.CACHE_DIR_VARIABLE: "", "HOME": str(tmp_path),
           "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    result = run_cnndsl("check", SPEC, env=env)

    assert result.returncode == 0, result.stderr
    assert EXPECTED in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_default_directory_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv(parser_cache.CACHE_DIR_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    assert parser_cache.cache_directory() == tmp_path / "cnndsl"


def test_changed_grammar_uses_another_file(tmp_path):
    grammar = grammar_text()

    current = parser_cache.cache_path(grammar, PARSER_OPTIONS, tmp_path)
    edited = parser_cache.cache_path(grammar + "\n// an edit\n", PARSER_OPTIONS, tmp_path)
    other_options = parser_cache.cache_path(grammar, {**PARSER_OPTIONS, "maybe_placeholders": True}, tmp_path)

    assert len({current, edited, other_options}) == 3


def test_month_old_files_removed(tmp_path):
    old = tmp_path / "parser-0123456789abcdef0123456789abcdef.pickle"
    recent = tmp_path / "parser-fedcba9876543210fedcba9876543210.pickle"
    for path in (old, recent):
        path.write_bytes(b"another grammar")
    month_ago = os.path.getmtime(recent) - parser_cache.STALE_AFTER_SECONDS - 60
    os.utime(old, (month_ago, month_ago))

    check_with_cache(tmp_path)

    assert not old.exists()
    assert recent.exists()
    assert cache_file(tmp_path).exists()
