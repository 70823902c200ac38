"""Errors in templates: a position, a message, a hint -> `FILE:LINE:COL: error: ...` with a caret.

Every stage raises (or collects) `ArchError` subclasses; only the CLI renders them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class SourcePos:
    """A place in a source file; lines and columns count from 1."""

    file: str
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class ArchError(Exception):
    """A fault in a template, at a position, with an optional hint."""

    kind = "error"

    def __init__(self, message: str, pos: SourcePos | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.hint = hint

    def sort_key(self) -> tuple:
        pos = self.pos or SourcePos("", 0, 0)
        return (pos.file, pos.line, pos.column, self.message)


class ArchWarning(ArchError):
    """Something legal that is probably not what the author meant: reported, not fatal."""

    kind = "warning"


class SyntaxError_(ArchError):
    """The text does not follow the grammar."""


class FileError(ArchError):
    """A path that is missing, a directory, unreadable, or not text."""


class ImportErr(ArchError):
    """A missing import file or an import cycle."""


class UnknownName(ArchError):
    """An op, block, variable or hyperparameter name that is not defined."""


class DuplicateName(ArchError):
    """A name defined twice in one scope."""


class ArgumentError(ArchError):
    """Wrong, missing or repeated arguments to an op or block."""


class TypeMismatch(ArchError):
    """A value of the wrong type: expected X, found Y."""


class RangeError(ArchError):
    """An empty or reversed range, or a default outside its range."""


class RecursionLimit(ArchError):
    """Block expansion that never ends."""


class ShapeMismatch(ArchError):
    """Shapes that can never match."""


class StructureError(ArchError):
    """A construct in a place where it cannot be: a merge mid-chain, a template without graph."""


class ArchErrors(Exception):
    """Several errors, reported together sorted by position."""

    def __init__(self, errors: list[ArchError]):
        self.errors = sorted(errors, key=ArchError.sort_key)
        super().__init__("\n".join(e.message for e in self.errors))


def did_you_mean(name: str, candidates) -> str | None:
    """A 'did you mean' hint for `name` among `candidates`, or None when nothing is close."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def render(error: ArchError, sources: dict[str, str] | None = None) -> str:
    """`FILE:LINE:COL: error: MESSAGE`, the source line, a caret under the column, the hint."""
    pos, message = error.pos, clip(error.message)
    if pos is None:
        lines = [f"error: {message}"]
    elif pos.line == 0:
        lines = [f"{pos.file}: {error.kind}: {message}"]
    else:
        lines = [f"{pos}: {error.kind}: {message}"]
        source_line = _source_line(pos, sources)
        if source_line is not None and _printable(source_line):
            shown, shifted = _window(source_line, pos)
            lines.append("    " + shown)
            lines.append("    " + _caret(shown, shifted))
    if error.hint:
        lines.append(f"hint: {clip(error.hint)}")
    return "\n".join(lines)


WINDOW = 100
MAX_MESSAGE = 300  # characters of a message or hint shown: a 100 KB string is not echoed


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text`, or its start and end around a count of the characters left out.

    >>> clip("x" * 1000, 20)
    'xxxxxxxxxxxxxxx ... (980 characters) ... xxxxx'
    """
    if len(text) <= limit:
        return text
    head, tail = limit * 3 // 4, limit // 4
    return f"{text[:head]} ... ({len(text) - head - tail:,} characters) ... {text[-tail:]}"


def _printable(line: str) -> bool:
    """Echo only lines a terminal shows faithfully: no NULs or other control characters."""
    return all(c == "\t" or c.isprintable() for c in line)


def _window(line: str, pos: SourcePos) -> tuple[str, SourcePos]:
    """At most WINDOW characters of a long line around the column, with '...' where cut."""
    if len(line) <= WINDOW:
        return line, pos
    start = max(pos.column - 1 - WINDOW // 2, 0)
    end = min(start + WINDOW, len(line))
    prefix = "..." if start else ""
    shown = prefix + line[start:end] + ("..." if end < len(line) else "")
    column = pos.column - start + len(prefix)
    end_column = min(pos.end_column - start + len(prefix), len(shown)) if pos.end_column else 0
    return shown, SourcePos(pos.file, pos.line, column, pos.end_line, end_column)


def _caret(source_line: str, pos: SourcePos) -> str:
    col = max(pos.column - 1, 0)
    prefix = "".join("\t" if c == "\t" else " " for c in source_line[:col])
    width = 1
    if pos.end_line == pos.line and pos.end_column > pos.column:
        width = min(pos.end_column - pos.column, max(len(source_line) - col, 1))
    return prefix + "^" + "~" * (width - 1)


def lines_of(source: str) -> list[str]:
    """The lines as the lexer counts them: only '\\n' ends one (`str.splitlines` would also
    end one at '\\f', '\\v' and others, and so misplace every position after them)."""
    return source.split("\n")


def _source_line(pos: SourcePos, sources: dict[str, str] | None) -> str | None:
    """The line at `pos`: from `sources`, else from the file if it is an `.arch` template.
    Any other file (one named by a hostile import or results file) is never echoed."""
    text = (sources or {}).get(pos.file)
    if text is None:
        if Path(pos.file).suffix != ".arch":
            return None
        try:
            text = Path(pos.file).read_bytes().decode("utf-8")  # no newline translation
        except (OSError, UnicodeDecodeError, ValueError):
            return None
    lines = lines_of(text)
    if 1 <= pos.line <= len(lines):
        return lines[pos.line - 1].rstrip("\r")
    return None
