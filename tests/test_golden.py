"""Golden files of every bundled template: its `archc space --json`, its template DOT and its
`archc compile --json` summary at the defaults. Regenerate with ARCHC_UPDATE_GOLDEN=1 and
review the diff."""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import pytest

import archc
from archc.draw import to_dot
from archc.graph import templates_dir
from archc.lower import lower
from archc.pipeline import compile_summary
from archc.space import describe

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("ARCHC_UPDATE_GOLDEN") == "1"
TEMPLATES = sorted(p.stem for p in templates_dir().glob("*.arch"))


def check_golden(path: Path, text: str) -> None:
    if UPDATE:
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run with ARCHC_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{path.name} differs from the golden file"


def as_json(data) -> str:
    return json.dumps(data, indent=2, default=str) + "\n"


@pytest.mark.parametrize("name", TEMPLATES)
def test_space_golden(name):
    check_golden(GOLDEN / f"{name}.space.json", as_json(describe(archc.load(name))))


@pytest.mark.parametrize("name", TEMPLATES)
def test_dot_golden(name):
    check_golden(GOLDEN / f"{name}.dot", to_dot(archc.load(name)))


@pytest.mark.parametrize("name", TEMPLATES)
def test_compile_golden(name):
    arch = archc.load(name).resolve()
    summary = compile_summary(arch, lower(arch, compile=False))
    keras.backend.clear_session()
    check_golden(GOLDEN / f"{name}.compile.json", as_json(summary))


@pytest.mark.parametrize("name", TEMPLATES)
def test_compact_dot_golden(name):
    """`archc dot`'s default drawing: each repeat once."""
    check_golden(GOLDEN / f"{name}.compact.dot", to_dot(archc.load(name), compact=True))
