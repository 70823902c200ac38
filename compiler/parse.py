"""Text of an .arch file -> `ast.Module` (Lark LALR parser + Transformer); positions on every node.

The parser is Lark's standalone LALR parser of grammar/arch.lark (`lalr.py`, written by
`make parser`): its tables and Lark's runtime in one module, loaded without the `lark`
package, a grammar to analyse or a cache file to unpickle (`tests/test_startup.py` checks
that it is fresh and parses as Lark does from the grammar). Lark's exceptions become
`SyntaxError_` here, with "expected X, found Y" messages.
"""

from __future__ import annotations

import functools
import math
import os
import re
import stat
from pathlib import Path

from . import ast
from .diagnostics import FileError, SourcePos, SyntaxError_, clip, lines_of
from .lalr import (
    Lark,
    Lark_StandAlone,
    Token,
    Transformer,
    Tree,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
    v_args,
)
from .values import MAX_INT

MAX_BYTES = 5 * 1024 * 1024
KEYWORDS = frozenset(
    "template import param input hp block graph train output optional residual repeat "
    "choice merge if else in as by default step shared none true false and or not "
    "constraint let def".split()
)


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    """The LALR parser, from `lalr.py`'s tables."""
    return Lark_StandAlone()


def read_source(path: str | Path) -> str:
    """The text of a template file (a leading UTF-8 byte order mark dropped).

    Raises:
        FileError: the path is missing, a directory, not a regular file (a named pipe, a
            device), too large, unreadable or not UTF-8 text.
    """
    p = Path(path)
    where = SourcePos(str(path), 0, 0)  # the whole file
    if not p.exists():
        raise FileError("no such file", where,
                        "give a path to an .arch file, or a bundled template name")
    if p.is_dir():
        raise FileError("is a directory, expected an .arch file", where)
    try:
        data = _read_regular(p, where)
    except OSError as exc:
        raise FileError(f"cannot read: {exc.strerror or exc}", where) from None
    return decode(data, str(path)).removeprefix("\ufeff")


def _read_regular(p: Path, where: SourcePos) -> bytes:
    """At most MAX_BYTES of a regular file; opened without blocking, so that a named pipe is
    refused at once instead of waiting for a writer."""
    fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise FileError("not a regular file (a pipe, a device or a socket), expected an "
                            ".arch file", where)
        if info.st_size > MAX_BYTES:
            raise FileError(f"file too large: {info.st_size:,} bytes, templates are limited "
                            f"to {MAX_BYTES:,}", where)
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise FileError(f"file too large: templates are limited to {MAX_BYTES:,} bytes", where)
    return data


def decode(data: bytes, filename: str) -> str:
    """UTF-8 text without NUL bytes, or a FileError pointing at the first bad byte."""
    nul = data.find(b"\0")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col(data[: exc.start])
        raise FileError("not a text file: invalid UTF-8 byte "
                        f"0x{data[exc.start]:02x}", SourcePos(filename, line, col)) from None
    if nul >= 0:
        line, col = _line_col(data[:nul])
        raise FileError("not a text file: NUL byte", SourcePos(filename, line, col))
    return text


def _line_col(prefix: bytes) -> tuple[int, int]:
    text = prefix.decode("utf-8", errors="replace")
    line = text.count("\n") + 1
    return line, len(text) - (text.rfind("\n") + 1) + 1


def parse(source: str, filename: str = "<string>") -> ast.Module:
    """Parse template text into a Module.

    Raises:
        SyntaxError_: the text does not follow the grammar.

    >>> parse("graph { image -> relu }").declarations[0].body.statements[0].chain.stages[0].func
    'relu'
    """
    tree = syntax_tree(source, filename)
    try:
        children = ToAst(filename).transform(tree).children
    except VisitError as exc:
        if isinstance(exc.orig_exc, SyntaxError_):
            raise exc.orig_exc from None
        raise
    return ast.Module(filename, source, tuple(children))


def syntax_tree(source: str, filename: str = "<string>") -> Tree:
    """The Lark parse tree of template text, positions on every node: for the tools that keep
    the text's layout (`archc fmt`); the compiler's stages read `parse`'s AST instead.

    Raises:
        SyntaxError_: the text does not follow the grammar.
    """
    _check_numbers(source, filename)
    try:
        tree = _parser().parse(source)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, source, filename) from None
    _check_depth(tree, filename)
    return tree


def tokens(source: str) -> list[Token]:
    """Every token of text that `syntax_tree` accepted, comments included, blanks left out."""
    return [t for t in _parser().lex(source, dont_ignore=True) if t.type != "WS"]


MAX_NESTING = 160  # levels of the parse tree: nested stages, blocks, brackets, operators


def _check_depth(tree: Tree, filename: str) -> None:
    """Refuse a parse tree deeper than MAX_NESTING (walked without recursion), at its deepest
    node: the later stages walk it recursively, within Python's recursion limit."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            meta = node.meta
            pos = SourcePos(filename, getattr(meta, "line", 0), getattr(meta, "column", 0))
            raise SyntaxError_(f"nested too deeply: more than {MAX_NESTING} levels of stages, "
                               "brackets or operators", pos,
                               "split the expression or the structure, or use a block")
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, Tree))


_NUMBERISH = re.compile(r"(?<![\w.])\d(?:[\w.]|(?<=[eE])[+-])*")
_VALID_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_STRING_OR_COMMENT = re.compile(r'"[^"\n]*"|\'[^\'\n]*\'|#[^\n]*')


def _check_numbers(source: str, filename: str) -> None:
    """A number the lexer would split confusingly (`3.5.1`, `1e`, `0x10`): say so plainly."""
    blanked = _STRING_OR_COMMENT.sub(lambda m: " " * len(m.group()), source)
    for lineno, line in enumerate(lines_of(blanked), 1):
        for m in _NUMBERISH.finditer(line):
            parts = m.group().split("..")  # a range: 1..8, 2..depth
            numbers = [p for p in parts if p[:1].isdigit()]
            if parts[0] and all(_VALID_NUMBER.fullmatch(p) for p in numbers):
                continue
            text = m.group()
            raise SyntaxError_(f"expected a number, found '{text}'",
                               SourcePos(filename, lineno, m.start() + 1, lineno,
                                         m.start() + 1 + len(text)),
                               "numbers look like 16, 0.5 or 1e-3")


def parse_file(path: str | Path) -> ast.Module:
    return parse(read_source(path), str(path))


# ---------------------------------------------------------------- syntax errors

_TERMINAL_WORDS = {
    "NAME": "a name", "NUMBER": "a number", "STRING": "a string", "COMPARE": "a comparison",
    "ADD_OP": "'+' or '-'", "MUL_OP": "'*', '/', '//' or '%'", "QMARK": "'?'",
}


def _describe_terminal(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    try:
        pattern = _parser().get_terminal(name).pattern
    except KeyError:
        return name.lower()
    if pattern.type == "str":
        return f"'{pattern.value}'"
    return name.lower()


def _describe_expected(expected: set[str]) -> str:
    expected = {e for e in expected if not e.startswith("__")}
    words = sorted({_describe_terminal(e) for e in expected})
    if {"NAME", "NUMBER"} <= expected and len(words) > 6:
        return "a statement or '}'" if "'}'" in words else "an expression"
    if len(words) > 8:
        return ", ".join(words[:8]) + " or another token"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1] if words else "end of file"


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type == "NAME":
        return f"name '{token}'"
    if token.type in ("NUMBER", "STRING"):
        return f"{token.type.lower()} {token}"
    return f"'{token}'"


def _syntax_error(exc: UnexpectedInput, source: str, filename: str) -> SyntaxError_:
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        line, col = _end_position(source)
        expected = _describe_expected(set(exc.expected))
        return SyntaxError_(f"unexpected end of file, expected {expected}",
                            SourcePos(filename, line, col), _eof_hint(source))
    if isinstance(exc, UnexpectedToken):
        special = _special_token_error(exc, source, filename)
        if special is not None:
            return special
        found = _describe_token(exc.token)
        hint = None
        if str(exc.token) in KEYWORDS and "NAME" in exc.expected:
            hint = f"'{exc.token}' is a reserved word; choose another name"
        message = f"expected {_describe_expected(set(exc.expected))}, found {found}"
        end = exc.token.end_column or exc.column + 1
        return SyntaxError_(message, SourcePos(filename, exc.line, exc.column, exc.line, end), hint)
    assert isinstance(exc, UnexpectedCharacters)
    char = source[exc.pos_in_stream] if exc.pos_in_stream < len(source) else ""
    if char in "\"'":
        return SyntaxError_(f"unterminated string: expected a closing '{char}' on the same line",
                            SourcePos(filename, exc.line, exc.column),
                            "strings use double or single quotes on one line")
    hint = None
    message = f"unexpected character {char!r}"
    if exc.allowed:
        message += f", expected {_describe_expected(set(exc.allowed))}"
    return SyntaxError_(message, SourcePos(filename, exc.line, exc.column), hint)


def _text_before(source: str, line: int, column: int) -> tuple[str, int, int]:
    """The word or symbol just before (line, column), skipping blanks and comments, with its
    line and column."""
    lines = lines_of(source)
    row, col = line - 1, column - 1
    while row >= 0:
        text = lines[row][:col] if row == line - 1 else lines[row]
        text = re.sub(r"#.*$", "", text).rstrip()
        if text:
            m = re.search(r"(->|[A-Za-z_]\w*|\S)$", text)
            return m.group(1), row + 1, m.start(1) + 1
        row -= 1
    return "", 0, 0


def _special_token_error(exc: UnexpectedToken, source, filename) -> SyntaxError_ | None:
    before, row, col = _text_before(source, exc.line, exc.column)
    found = _describe_token(exc.token)
    if before == "->":
        return SyntaxError_("expected a stage (an op, a block or a structure) after '->', "
                            f"found {found}", SourcePos(filename, exc.line, exc.column))
    if str(exc.token) == "{" and "ELSE" in exc.expected:  # `let x = a` then `if c { }`
        return SyntaxError_(f"expected 'else', found {found}",
                            SourcePos(filename, exc.line, exc.column),
                            "a statement that starts with 'if' right after a 'let' is read as "
                            "part of the let's value: end the let with ';'")
    if before in KEYWORDS and str(exc.token) == "=":
        return SyntaxError_(f"expected a name, found '{before}'",
                            SourcePos(filename, row, col, row, col + len(before)),
                            f"'{before}' is a reserved word; choose another name")
    return None


def _end_position(source: str) -> tuple[int, int]:
    stripped = source.rstrip()
    if not stripped:
        return 1, 1
    lines = lines_of(stripped)
    return len(lines), len(lines[-1]) + 1


def _eof_hint(source: str) -> str | None:
    opened = source.count("{") - source.count("}")
    if opened > 0:
        return f"{opened} '{{' not closed"
    if source.count("(") > source.count(")"):
        return "a '(' is not closed"
    return None


# ---------------------------------------------------------------- tree -> AST


def _split_args(items) -> tuple[tuple, tuple]:
    positional = tuple(i for i in (items or ()) if not isinstance(i, ast.Keyword))
    keywords = tuple(i for i in (items or ()) if isinstance(i, ast.Keyword))
    return positional, keywords


def _number(text: str) -> int | float:
    return int(text) if text.isdigit() else float(text)


def _literal(text: str, pos: SourcePos) -> int | float:
    """A number literal within the language's bounds (an integer up to `MAX_INT`, a finite
    float); its digits are counted before a long one is converted."""
    if text.isdigit() and (len(text.lstrip("0")) > 19 or int(text) > MAX_INT) \
            or not text.isdigit() and not math.isfinite(float(text)):
        raise SyntaxError_(f"number too large: {clip(text, 40)}", pos,
                           "integers are limited to 2**63 - 1 and floats to finite values")
    return _number(text)


@v_args(meta=True)
class ToAst(Transformer):
    """Builds `ast` nodes from the Lark tree; one method per `-> alias` of the grammar."""

    def __init__(self, filename: str):
        super().__init__()
        self.filename = filename
        _CURRENT_FILE[0] = filename

    def _pos(self, meta) -> SourcePos:
        if getattr(meta, "empty", True):
            return SourcePos(self.filename, 1, 1)
        return SourcePos(self.filename, meta.line, meta.column, meta.end_line, meta.end_column)

    # declarations
    def template_decl(self, meta, c):
        return ast.TemplateDecl(_declared(c[0]), self._pos(meta))

    def import_decl(self, meta, c):
        return ast.Import(str(c[0])[1:-1], self._pos(meta))

    def param_decl(self, meta, c):
        return ast.ParamDecl(_declared(c[0]), c[1], self._pos(meta))

    def input_decl(self, meta, c):
        return ast.InputDecl(_declared(c[0]), tuple(x for x in c[1:] if x is not None),
                             self._pos(meta))

    def hp_decl(self, meta, c):
        return ast.HpDecl(_declared(c[0]), c[1], self._pos(meta))

    def block_decl(self, meta, c):
        return ast.BlockDecl(_declared(c[0]), tuple(c[1] or ()), c[2], self._pos(meta))

    def block_params(self, meta, c):
        return c

    def block_param(self, meta, c):
        return ast.BlockParam(_declared(c[0]), c[1], self._pos(meta))

    def graph_decl(self, meta, c):
        return ast.GraphDecl(c[0], self._pos(meta))

    def train_decl(self, meta, c):
        return ast.TrainDecl(tuple(c), self._pos(meta))

    def setting(self, meta, c):
        return ast.Setting(str(c[0]), c[1], self._pos(meta))

    def constraint_decl(self, meta, c):
        return ast.ConstraintDecl(str(c[0]), str(c[1]), c[2], self._pos(meta))

    def let_decl(self, meta, c):
        return ast.Let(_declared(c[0]), c[1], self._pos(meta))

    def def_decl(self, meta, c):
        return ast.FunctionDecl(_declared(c[0]), tuple(c[1] or ()), c[2], self._pos(meta))

    # statements and chains
    def body(self, meta, c):
        return ast.Body(tuple(c), self._pos(meta))

    def assign(self, meta, c):
        return ast.Assign(_declared(c[0]), c[1], self._pos(meta))

    def output(self, meta, c):
        return ast.Output(_opt_str(c[0]), c[1], self._pos(meta))

    def chain_stmt(self, meta, c):
        return ast.ChainStatement(c[0], self._pos(meta))

    def chain(self, meta, c):
        head, stages = c[0], tuple(c[1:])
        if not stages and not isinstance(head, ast.Structural.__args__):
            return head
        return ast.Chain(head, stages, self._pos(meta))

    def expr_head(self, meta, c):
        expr, label = c
        if label is None:
            return expr
        if isinstance(expr, ast.Name):  # `relu6 as act`: a call without arguments
            expr = ast.Call(expr.id, (), (), None, expr.pos)
        if not isinstance(expr, ast.Call):
            raise SyntaxError_(f"expected a call before 'as {label}', found an expression",
                               self._pos(meta), "only an op or block call can be labelled")
        return ast.Call(expr.func, expr.args, expr.keywords, _declared(label), expr.pos)

    def call(self, meta, c):
        positional, keywords = _split_args(c[1])
        label = _opt_str(c[2])
        return ast.Call(str(c[0]), positional, keywords, label, self._pos(meta))

    def args(self, meta, c):
        return c

    def positional(self, meta, c):
        return c[0]

    def keyword(self, meta, c):
        return ast.Keyword(str(c[0]), c[1], self._pos(meta))

    # structural stages
    def optional(self, meta, c):
        return ast.Optional(_opt_str(c[0]), c[1], c[2], self._pos(meta))

    def residual(self, meta, c):
        return ast.Residual(c[0] is not None, _opt_str(c[1]), c[2], c[3], self._pos(meta))

    def repeat(self, meta, c):
        return ast.Repeat(_opt_str(c[0]), _opt_str(c[1]), c[2], c[3], c[5], self._pos(meta),
                          shared=c[4] is not None)

    def range(self, meta, c):
        return ast.Range(c[0], c[1], c[2], self._pos(meta))

    def count(self, meta, c):
        return c[0]

    def choice_node(self, meta, c):
        return ast.ChoiceNode(_opt_str(c[0]), c[1], tuple(c[2:]), self._pos(meta))

    def alternative(self, meta, c):
        return ast.Alternative(_opt_str(c[0]), c[1], self._pos(meta))

    def merge(self, meta, c):
        inputs = tuple(ast.Name(str(t), SourcePos(self.filename, t.line, t.column))
                       for t in c[1:-2])
        return ast.Merge(_opt_str(c[0]), inputs, c[-2], c[-1], self._pos(meta))

    def if_stage(self, meta, c):
        orelse = c[2] if len(c) > 2 else None
        return ast.If(c[0], c[1], orelse, self._pos(meta))

    # expressions
    def number(self, meta, c):
        return ast.Number(_literal(str(c[0]), self._pos(meta)), self._pos(meta))

    def string(self, meta, c):
        return ast.String(str(c[0])[1:-1], self._pos(meta))

    def true(self, meta, c):
        return ast.Constant(True, self._pos(meta))

    def false(self, meta, c):
        return ast.Constant(False, self._pos(meta))

    def none(self, meta, c):
        return ast.Constant(None, self._pos(meta))

    def name(self, meta, c):
        return ast.Name(str(c[0]), self._pos(meta))

    def in_ref(self, meta, c):
        return ast.InRef(self._pos(meta))

    def attribute(self, meta, c):
        return ast.Attribute(c[0], str(c[1]), self._pos(meta))

    def subscript(self, meta, c):
        return ast.Subscript(c[0], c[1], self._pos(meta))

    def funcall(self, meta, c):
        positional, keywords = _split_args(c[1])
        return ast.Call(str(c[0]), positional, keywords, None, self._pos(meta))

    def hp_choice(self, meta, c):
        positional, keywords = _split_args(c[0])
        return ast.HpChoice(positional, keywords, self._pos(meta))

    def tuple(self, meta, c):
        return ast.Sequence(tuple(x for x in c if x is not None), "tuple", self._pos(meta))

    def list(self, meta, c):
        return ast.Sequence(tuple(x for x in c if x is not None), "list", self._pos(meta))

    def mapping(self, meta, c):
        return ast.Mapping(tuple(e for e in c if e is not None), self._pos(meta))

    def entry(self, meta, c):
        return (_declared(c[0]), c[1])

    def conditional(self, meta, c):
        return ast.Conditional(c[1], c[0], c[2], self._pos(meta))

    def or_(self, meta, c):
        return ast.BoolOp("or", (c[0], c[1]), self._pos(meta))

    def and_(self, meta, c):
        return ast.BoolOp("and", (c[0], c[1]), self._pos(meta))

    def not_(self, meta, c):
        return ast.BoolOp("not", (c[0],), self._pos(meta))

    def compare(self, meta, c):
        return ast.Compare(str(c[1]), c[0], c[2], self._pos(meta))

    def binary(self, meta, c):
        return ast.BinOp(str(c[1]), c[0], c[2], self._pos(meta))

    def unary(self, meta, c):
        return ast.UnaryOp(str(c[0]), c[1], self._pos(meta))

    def power(self, meta, c):
        return ast.BinOp("**", c[0], c[2], self._pos(meta))


def _opt_str(token) -> str | None:
    return _declared(token) if token is not None else None


def _declared(token) -> str:
    """A name being defined: never a reserved word (the lexer lets them through as names where
    no keyword can stand)."""
    name = str(token)
    if name in KEYWORDS and isinstance(token, Token):
        raise SyntaxError_(f"expected a name, found '{name}'",
                           SourcePos(_CURRENT_FILE[0], token.line, token.column, token.line,
                                     token.column + len(name)),
                           f"'{name}' is a reserved word; choose another name")
    return name


_CURRENT_FILE = ["<string>"]
