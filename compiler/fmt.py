"""Text of an .arch file -> the same text in archc's one layout (`archc fmt`).

The formatter reads the tokens, comments included, and asks the Lark parse tree only which
rule holds each token. It keeps every token in order, and the author's line breaks; it
decides the rest: the spaces within a line, the indentation, the blank lines and the column
of trailing comments. A rule it has no spacing for (one added to the grammar later) keeps
its tokens, one space apart, where the author broke its lines.

The layout:

* tokens are one space apart, except around `.` `..` and after `(` `[`; before `)` `]`
  `,` `;` `:` `?`; before the `(` of a call and the `[` of a subscript; around `=` inside
  brackets (`strides=2`) and after a sign (`-1`); in an empty `{}`;
* a `{` stays on the line of what it opens. A `{ ... }` written over several lines ends its
  line with `{`, puts `}` first on a line of its own at the indentation of the line of `{`,
  and indents what is between one level (two spaces) deeper; `else` follows its `}`;
* a line that continues a statement is one level deeper than the statement's first line,
  except a line that starts with the `->` of a chain that starts the statement
  (`image` / `-> conv2d(...)`), which stays at its level;
* inside `(` or `[` broken over lines, lines line up after the bracket (a line that starts
  with `->`, under the head of its chain), or are one level deeper than the bracket's line
  where the bracket ends that line;
* a comment on a line of its own takes the indentation of the line after it; trailing
  comments of consecutive lines line up, two spaces after the longest of them;
* at most one blank line in a row, none at the start of a file or body or at their end;
  one newline at the end of the file.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from .diagnostics import ArchError
from .lalr import Tree
from .parse import KEYWORDS, syntax_tree, tokens

STEP = 2  # spaces a level
OPENERS = {"{": "}", "(": ")", "[": "]"}
CLOSERS = frozenset(OPENERS.values())
TIGHT_AFTER = frozenset({"(", "[", ".", ".."})
TIGHT_BEFORE = frozenset({")", "]", ",", ";", ":", ".", "..", "?"})
SPACED_BRACKETS = frozenset({"merge"})  # `merge point (a, b)`: its inputs are no call's arguments


class FormatError(RuntimeError):
    """The formatter would have changed a template's tokens: a bug in archc, never in it."""


@dataclass
class _Token:
    """One token (or comment) of the source, the tree node that holds it, and how many line
    breaks go before it in the output: 0, 1, or 2 (a blank line)."""

    text: str
    start: int
    line: int
    owner: Tree
    breaks: int = 0

    @property
    def comment(self) -> bool:
        return self.text.startswith("#")


@dataclass
class _Frame:
    """An open bracket: the indentation of the lines within it and of its closing line."""

    bracket: str
    inside: int
    close: int
    node: Tree
    origin: int  # the indentation of the statement line that opened it


@dataclass
class _Line:
    """An output line; `base` is the indentation of the statement line it belongs to once the
    brackets it started in are closed (what a `{` opened on it indents from)."""

    indent: int
    code: str = ""
    comment: str = ""
    blank: bool = False
    depth: int = 0
    base: int = 0


def format_source(text: str, path: str = "<string>") -> str:
    """`text` in the canonical layout: the same tokens and comments, in the same order.

    Args:
        text: the text of an .arch file.
        path: its name, for the positions of errors.

    Returns:
        The formatted text; "" for a text of blanks only.

    Raises:
        SyntaxError_: the text does not follow the grammar.

    >>> print(format_source("graph{image->conv2d( 8,3,padding = same )->relu}"), end="")
    graph { image -> conv2d(8, 3, padding=same) -> relu }
    """
    tree = syntax_tree(text, path)
    toks = _tokens(text, tree)
    if not toks:
        return ""
    _place_breaks(toks)
    result = _render(_Layout(toks, tree).lines())
    _check_kept([t.text for t in toks], result, path)
    return result


def is_formatted(text: str, path: str = "<string>") -> bool:
    """Whether `text` is already in the canonical layout."""
    return format_source(text, path) == text


def unified_diff(source: str, result: str, name: str) -> str:
    """The changes from `source` to `result` as a unified diff ("" for none)."""
    import difflib  # only `archc fmt --diff` needs it

    return "".join(difflib.unified_diff(source.splitlines(keepends=True),
                                        result.splitlines(keepends=True),
                                        f"{name} (original)", f"{name} (formatted)"))


# ---------------------------------------------------------------- tokens and their rules


def _span(node) -> tuple[int, int] | None:
    if isinstance(node, Tree):
        meta = node.meta
        return None if getattr(meta, "empty", True) else (meta.start_pos, meta.end_pos)
    if node is None:
        return None
    return node.start_pos, node.end_pos


def _tokens(text: str, tree: Tree) -> list[_Token]:
    """The tokens with their innermost tree node: every node claims the tokens of its span,
    parents before children, so the deepest node keeps each."""
    raw = tokens(text)
    starts = [t.start_pos for t in raw]
    owners = [tree] * len(raw)
    stack = [tree]
    while stack:
        node = stack.pop()
        span = _span(node)
        if span is not None:
            lo, hi = bisect.bisect_left(starts, span[0]), bisect.bisect_left(starts, span[1])
            owners[lo:hi] = [node] * (hi - lo)
        stack.extend(c for c in node.children if isinstance(c, Tree))
    return [_Token(str(t).rstrip() if t.type == "COMMENT" else str(t), t.start_pos, t.line, o)
            for t, o in zip(raw, owners, strict=True)]


def _child_spans(node: Tree) -> list[tuple[int, int]]:
    return [span for child in node.children if (span := _span(child)) is not None]


def _item_start(spans: list[tuple[int, int]], pos: int) -> int:
    """Where the child (of the `spans`, in order) that holds `pos` starts: a statement of a
    body, an alternative of a choice; `pos` itself for a token of the parent's own (`|`)."""
    i = bisect.bisect_right(spans, (pos, float("inf"))) - 1
    return spans[i][0] if i >= 0 and pos < spans[i][1] else pos


# ---------------------------------------------------------------- line breaks


def _place_breaks(toks: list[_Token]) -> None:
    """The author's line breaks (blank lines at most one), with `{` and `else` joined to the
    line before and a several-line `{ ... }` opened at the end of a line and closed on its own."""
    for prev, tok in zip(toks, toks[1:], strict=False):
        tok.breaks = min(tok.line - prev.line, 2)
        if not prev.comment and (tok.text == "{" or tok.text == "else" and prev.text == "}"):
            tok.breaks = 0
    for opened, closed in _brace_pairs(toks):
        if toks[closed].line == toks[opened].line:
            continue
        if closed == opened + 1:
            toks[closed].breaks = 0
            continue
        first = opened + 1
        if toks[first].comment and toks[first].breaks == 0:
            first += 1  # a comment after `{` stays on its line
        toks[first].breaks = 1
        toks[closed].breaks = 1


def _brace_pairs(toks: list[_Token]) -> list[tuple[int, int]]:
    pairs, stack = [], []
    for i, tok in enumerate(toks):
        if tok.text == "{":
            stack.append(i)
        elif tok.text == "}" and stack:
            pairs.append((stack.pop(), i))
    return pairs


# ---------------------------------------------------------------- indentation and spaces


class _Layout:
    """Lays the tokens out line by line, tracking the open brackets."""

    def __init__(self, toks: list[_Token], tree: Tree):
        self.toks = toks
        self.stack = [_Frame("{", 0, 0, tree, 0)]
        self.columns: dict[int, int] = {}  # a token's start in the source -> its output column
        self.spans: dict[int, list] = {}  # id of a node -> its children's spans
        self.code_after = _next_code(toks)

    def lines(self) -> list[_Line]:
        lines: list[_Line] = []
        for i, tok in enumerate(self.toks):
            if i == 0 or tok.breaks:
                lines.extend(_Line(0, blank=True) for _ in range(tok.breaks - 1))
                indent = self._indent(i)
                lines.append(_Line(indent, depth=len(self.stack), base=indent))
            line = lines[-1]
            if tok.comment:
                line.comment = tok.text
                continue
            if line.code:
                line.code += _gap(self.toks[i - 1], tok, self.stack[-1].bracket)
            self.columns[tok.start] = line.indent + len(line.code)
            line.code += tok.text
            self._track(i, line)
        return lines

    def _indent(self, i: int) -> int:
        """The indentation of a line that starts with token `i`."""
        frame = self.stack[-1]
        tok = self.toks[i]
        if tok.comment:  # the indentation of the code line after it
            after = self.code_after[i]
            if after is None or self.toks[after].text in CLOSERS:
                return frame.inside
            tok = self.toks[after]
        if tok.text in CLOSERS:
            return frame.close
        if frame.bracket != "{":
            if tok.text == "->":  # under the head of its chain
                return self.columns.get(_span(tok.owner)[0], frame.inside)
            return frame.inside
        if id(frame.node) not in self.spans:
            self.spans[id(frame.node)] = _child_spans(frame.node)
        start = _item_start(self.spans[id(frame.node)], tok.start)
        if tok.start == start or tok.text == "->" and _span(tok.owner)[0] == start:
            return frame.inside
        return frame.inside + STEP

    def _track(self, i: int, line: _Line) -> None:
        """Open or close a bracket after token `i`, the last one put on `line`."""
        tok = self.toks[i]
        if tok.text in CLOSERS and len(self.stack) > 1:
            frame = self.stack.pop()
            if line.depth > len(self.stack):  # the line started inside the closed bracket
                line.base, line.depth = frame.origin, len(self.stack)
        if tok.text not in OPENERS:
            return
        after = self.toks[i + 1] if i + 1 < len(self.toks) else None
        ends_line = after is None or after.breaks > 0 or after.comment
        if tok.text == "{" or ends_line:
            frame = _Frame(tok.text, line.base + STEP, line.base, tok.owner, line.base)
        else:
            column = line.indent + len(line.code)
            frame = _Frame(tok.text, column, column - 1, tok.owner, line.base)
        self.stack.append(frame)


def _next_code(toks: list[_Token]) -> list[int | None]:
    """For each token, the index of the first token from it on that is not a comment."""
    after: list[int | None] = [None] * len(toks)
    following = None
    for i in range(len(toks) - 1, -1, -1):
        if not toks[i].comment:
            following = i
        after[i] = following
    return after


def _gap(prev: _Token, tok: _Token, bracket: str) -> str:
    """The space between two tokens on one line, inside the innermost `bracket`."""
    if prev.text in TIGHT_AFTER or tok.text in TIGHT_BEFORE:
        return ""
    if prev.text == "{" and tok.text == "}":
        return ""
    if tok.text == "(" and _callee(prev) and tok.owner.data not in SPACED_BRACKETS:
        return ""
    if tok.text == "[" and tok.owner.data == "subscript":
        return ""
    if "=" in (prev.text, tok.text) and bracket != "{":
        return ""
    if prev.text in ("+", "-") and prev.owner.data == "unary":
        return ""
    return " "


def _callee(tok: _Token) -> bool:
    """A name that a call's `(` follows: not a keyword, except `choice`."""
    word = tok.text[:1].isalpha() or tok.text[:1] == "_"
    return word and (tok.text not in KEYWORDS or tok.text == "choice")


# ---------------------------------------------------------------- text


def _render(lines: list[_Line]) -> str:
    _align_comments(lines)
    out = []
    for line in lines:
        if line.blank:
            out.append("")
        elif line.code and line.comment:
            out.append(" " * line.indent + line.code + line.comment)
        else:
            out.append(" " * line.indent + (line.code or line.comment))
    return "\n".join(out) + "\n"


def _align_comments(lines: list[_Line]) -> None:
    """Pad the code of consecutive lines with trailing comments to one column."""
    run: list[_Line] = []
    for line in [*lines, _Line(0, blank=True)]:
        if line.code and line.comment:
            run.append(line)
            continue
        width = max((ln.indent + len(ln.code) for ln in run), default=0) + 2
        for ln in run:
            ln.code = ln.code.ljust(width - ln.indent)
        run = []


def _check_kept(texts: list[str], result: str, path: str) -> None:
    """The formatted text must parse, to the same tokens and comments (`texts`) as the
    source."""
    try:
        syntax_tree(result, path)
    except ArchError as exc:
        raise FormatError(f"{path}: the formatted text does not parse: {exc.message}") from None
    if [str(t).rstrip() for t in tokens(result)] != texts:
        raise FormatError(f"{path}: formatting would change the tokens")
