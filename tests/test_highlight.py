"""The Pygments lexer: it tokenises every bundled template without Error tokens, into the
grammar's own tokens, knows every keyword, and is found by Pygments for `.arch` files."""

from __future__ import annotations

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
