"""Text of an .arch file -> Pygments tokens (`ArchLexer`).

The lexer is registered as a Pygments plugin (`[project.entry-points."pygments.lexers"]`), so
`pygmentize -l arch FILE`, Sphinx and MkDocs highlight ```` ```arch ```` blocks. It follows
`grammar/arch.lark` token for token and never needs the parser, so a template with a syntax
error is still highlighted; what no rule of the language matches (a stray `$`) is an Error
token.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

DECLARATIONS = ("template", "import", "param", "input", "hp", "block", "graph", "train",
                "constraint", "output", "let", "def")
STRUCTURES = ("optional", "residual", "repeat", "choice", "merge", "if", "else", "in", "as",
              "by", "default", "step", "shared")
CONSTANTS = ("true", "false", "none")
WORD_OPERATORS = ("and", "or", "not")

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_GAP = r"(\s+)"


class ArchLexer(RegexLexer):
    """Pygments lexer for archc's `.arch` architecture templates.

    >>> [t for t, _ in ArchLexer().get_tokens("block fire(s) { conv2d(s, 1) }")][:3]
    [Token.Keyword.Declaration, Token.Text.Whitespace, Token.Name.Function]
    """

    name = "Arch"
    aliases = ["arch", "archc"]
    filenames = ["*.arch"]
    mimetypes = ["text/x-arch"]
    url = "https://github.com/archc/archc"

    tokens = {
        "root": [
            (r"\s+", Whitespace),
            (r"#.*?$", Comment.Single),
            (r'"[^"\n]*"|\'[^\'\n]*\'', String),
            (r"\d+\.\d+([eE][+-]?\d+)?|\d+[eE][+-]?\d+", Number.Float),
            (r"\d+", Number.Integer),
            (r"(block|def)" + _GAP + "(" + _NAME + ")",
             bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (r"(template)" + _GAP + "(" + _NAME + ")",
             bygroups(Keyword.Declaration, Whitespace, Name.Namespace)),
            (r"(param|hp|input|let)" + _GAP + "(" + _NAME + ")",
             bygroups(Keyword.Declaration, Whitespace, Name.Variable)),
            (r"(as)" + _GAP + "(" + _NAME + ")", bygroups(Keyword, Whitespace, Name.Label)),
            (words(DECLARATIONS, suffix=r"\b"), Keyword.Declaration),
            (words(CONSTANTS, suffix=r"\b"), Keyword.Constant),
            (words(WORD_OPERATORS, suffix=r"\b"), Operator.Word),
            (words(STRUCTURES, suffix=r"\b"), Keyword),
            (_NAME + r"(?=\s*\()", Name.Function),
            (_NAME, Name),
            (r"->|\.\.|\*\*|//|==|!=|<=|>=|[<>=+\-*/%?|]", Operator),
            (r"[{}()\[\],;:.]", Punctuation),
        ],
    }

