"""What a quick `archc check` loads: the parser tables from Lark's cache (built once, rebuilt
when damaged), and none of the stages that checking does not use."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from archc import parse

TEMPLATE = "templates/squeezenet_se_auto.arch"
SOURCE = Path(__file__).resolve().parent.parent / TEMPLATE


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path


def _fresh_parser(caplog):
    """A parser built as a new process would build it, with what Lark logged."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="lark"):
        parser = parse._parser.__wrapped__()
    return parser, caplog.text


def test_tables_are_cached_in_the_users_folder_and_loaded_again(cache_home: Path, caplog):
    first, log = _fresh_parser(caplog)
    assert "from cache" not in log
    files = list((cache_home / "archc").glob("grammar-*.lark-cache"))
    assert len(files) == 1
    second, log = _fresh_parser(caplog)
    assert "Loading grammar from cache" in log
    text = SOURCE.read_text()
    assert second.parse(text) == first.parse(text)


def test_a_damaged_cache_is_rebuilt(cache_home: Path, caplog):
    _fresh_parser(caplog)
    (cached,) = (cache_home / "archc").glob("grammar-*.lark-cache")
    cached.write_bytes(cached.read_bytes()[:200])
    parser, _ = _fresh_parser(caplog)
    assert parser.parse("graph { image -> relu }")
    _, log = _fresh_parser(caplog)  # rewritten whole
    assert "Loading grammar from cache" in log and "Failed" not in log


def test_no_cache_folder_still_parses(tmp_path: Path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))  # a file: no folder can be made in it
    assert parse._cache_file("grammar") is None
    assert parse._parser.__wrapped__().parse("graph { image -> relu }")


def test_check_loads_only_what_checking_needs():
    code = ("import sys; from archc.cli import main; rc = main(['check', " + repr(TEMPLATE)
            + "]); print(rc, sorted(m for m in sys.modules if m.startswith(('archc.draw', "
            "'archc.search.report', 'archc.search.settings', 'archc.identity', 'archc.freeze', "
            "'archc.lower', 'archc.fmt', 'pydantic'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=SOURCE.parent.parent).stdout
    assert out.splitlines()[-1] == "0 []"
