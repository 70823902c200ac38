"""What a quick `archc check` loads: the parser from `lalr.py` (Lark's standalone parser,
fresh for the grammar and parsing as Lark does from it), and none of the stages, nor the
libraries, that checking does not use."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from lark import Lark
from lark.exceptions import UnexpectedInput

from archc import parse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = "templates/squeezenet_se_auto.arch"
GRAMMAR = ROOT / "grammar" / "arch.lark"
STANDALONE = ROOT / "compiler" / "lalr.py"


def _texts() -> dict[str, str]:
    """Every .arch file of the repository that is UTF-8 text (tests/bad also holds files that
    are not, which `read_source` refuses before any parsing)."""
    out = {}
    for folder in ("templates", "examples", "bench", "tests"):
        for path in sorted((ROOT / folder).rglob("*.arch")):
            try:
                out[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
    return out


ARCH_TEXTS = _texts()


def test_the_standalone_parser_was_made_from_this_grammar():
    recorded = STANDALONE.read_text().splitlines()[1]
    digest = hashlib.sha256(GRAMMAR.read_bytes()).hexdigest()
    assert recorded == f"# grammar sha256: {digest}", \
        "grammar/arch.lark changed: run `make parser` to regenerate compiler/lalr.py"


@pytest.fixture(scope="module")
def lark_from_grammar() -> Lark:
    """The parser Lark builds from the grammar, with the options `make parser` gives."""
    return Lark(GRAMMAR.read_text(), parser="lalr", propagate_positions=True,
                maybe_placeholders=True)


def _outline(result) -> object:
    """A parse tree as plain tuples (rule, place, children; a token's type, text and place),
    or a syntax error as its class and place: comparable across the two parsers' classes."""
    if isinstance(result, Exception):
        return type(result).__name__, getattr(result, "line", None), getattr(result, "column", None)
    if hasattr(result, "children"):
        meta = result.meta
        place = (getattr(meta, "line", None), getattr(meta, "column", None),
                 getattr(meta, "end_line", None), getattr(meta, "end_column", None))
        return result.data, place, tuple(_outline(c) for c in result.children)
    if result is None:
        return None
    return result.type, str(result), result.line, result.column, result.end_line, \
        result.end_column


def _parsed(parser, text: str):
    try:
        return parser.parse(text)
    except (UnexpectedInput, parse.UnexpectedInput) as exc:
        return exc


@pytest.mark.parametrize("name", sorted(ARCH_TEXTS))
def test_the_standalone_parser_parses_as_lark_does_from_the_grammar(name, lark_from_grammar):
    text = ARCH_TEXTS[name]
    assert _outline(_parsed(parse._parser(), text)) \
        == _outline(_parsed(lark_from_grammar, text))


def test_check_loads_only_what_checking_needs():
    code = ("import sys; from archc.cli import main; rc = main(['check', " + repr(TEMPLATE)
            + "]); print(rc, sorted(m for m in sys.modules if m.startswith(('archc.draw', "
            "'archc.search.report', 'archc.search.settings', 'archc.identity', 'archc.freeze', "
            "'archc.lower', 'archc.fmt', 'pydantic', 'lark'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.splitlines()[-1] == "0 []"
