"""The Pygments lexer: it tokenises every bundled template without Error tokens, into the
grammar's own tokens, knows every keyword, and is found by Pygments for `.arch` files. The
VS Code extension (editors/vscode): its TextMate grammar scopes every token of the bundled
templates and knows every keyword; its manifest names its files and starts `archc lsp`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pygments.lexers import find_lexer_class_for_filename, get_lexer_by_name
from pygments.token import Comment, Error, Keyword, Name, Operator, Whitespace

from archc.highlight import CONSTANTS, DECLARATIONS, STRUCTURES, WORD_OPERATORS, ArchLexer
from archc.imports import templates_dir
from archc.parse import KEYWORDS, tokens

BUNDLED = sorted([*templates_dir().glob("*.arch"), *templates_dir().glob("blocks/*.arch")])


def lexed(text: str) -> list[tuple]:
    return list(ArchLexer().get_tokens_unprocessed(text))


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.relative_to(templates_dir()).as_posix())
def test_bundled_template_has_no_error_tokens(path):
    text = path.read_text(encoding="utf-8")
    found = lexed(text)
    assert [v for _, t, v in found if t in Error] == []
    assert "".join(v for _, _, v in found) == text
    words = [v for _, t, v in found if t not in Whitespace]
    assert words == [str(t) for t in tokens(text)], "not the grammar's tokens"


def test_every_keyword_of_the_language_is_highlighted():
    assert set(DECLARATIONS + STRUCTURES + CONSTANTS + WORD_OPERATORS) == KEYWORDS


def test_roles():
    found = {v: t for _, t, v in lexed("block fire(s) { conv2d(s, 1) as c -> relu }  # x")}
    assert found["block"] in Keyword.Declaration and found["fire"] in Name.Function
    assert found["conv2d"] in Name.Function and found["c"] in Name.Label
    assert found["->"] in Operator and found["# x"] in Comment and found["relu"] in Name


def test_a_stray_character_is_an_error_token():
    assert [v for _, t, v in lexed("graph { image $ }") if t in Error] == ["$"]


def test_pygments_finds_the_lexer():
    assert isinstance(get_lexer_by_name("arch"), ArchLexer)
    assert find_lexer_class_for_filename("model.arch") is ArchLexer


# ---------------------------------------------------------------- the VS Code extension

VSCODE = Path(__file__).resolve().parent.parent / "editors" / "vscode"


def textmate_rules() -> list[tuple[re.Pattern, str]]:
    """The TextMate grammar's match rules in the order the editor tries them."""
    grammar = json.loads((VSCODE / "syntaxes" / "arch.tmLanguage.json").read_text())
    rules = []
    for include in grammar["patterns"]:
        entry = grammar["repository"][include["include"].lstrip("#")]
        for rule in entry.get("patterns", [entry]):
            rules.append((re.compile(rule["match"]), rule.get("name", "captures")))
    return rules


def textmate_gaps(line: str, rules) -> str:
    """What no rule scopes on a line: TextMate takes the earliest match, the first rule on
    a tie, and goes on after it."""
    pos, gaps = 0, []
    while pos < len(line):
        found = [(m.start(), i, m) for i, (rx, _) in enumerate(rules)
                 if (m := rx.search(line, pos)) and m.end() > m.start()]
        if not found:
            gaps.append(line[pos:])
            break
        start, _, match = min(found, key=lambda f: f[:2])
        gaps.append(line[pos:start])
        pos = match.end()
    return "".join(gaps)


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.relative_to(templates_dir()).as_posix())
def test_textmate_grammar_scopes_every_token(path):
    rules = textmate_rules()
    for line in path.read_text(encoding="utf-8").splitlines():
        assert textmate_gaps(line, rules).strip() == "", line


def test_textmate_grammar_knows_every_keyword():
    text = (VSCODE / "syntaxes" / "arch.tmLanguage.json").read_text()
    words = set()
    for group in re.findall(r"\\\\b\(([a-z|]+)\)", text):
        words |= set(group.split("|"))
    assert words == KEYWORDS


def test_extension_manifest_points_at_its_files():
    manifest = json.loads((VSCODE / "package.json").read_text())
    assert (VSCODE / manifest["main"]).is_file()
    (language,) = manifest["contributes"]["languages"]
    assert language["extensions"] == [".arch"]
    config = json.loads((VSCODE / language["configuration"]).read_text())
    assert config["comments"]["lineComment"] == "#"
    assert ["{", "}"] in config["brackets"]
    (grammar,) = manifest["contributes"]["grammars"]
    assert (VSCODE / grammar["path"]).is_file() and grammar["language"] == language["id"]
    assert "vscode-languageclient" in manifest["dependencies"]
    assert '["lsp"]' in (VSCODE / manifest["main"]).read_text()
