"""A document's text in an editor -> an `Analysis`: its problems as `archc check` finds them,
and what the editor's questions read (`hover.py`, `navigate.py`): the AST indexed by
position, the template, and its architecture at the defaults. Positions are 1-based
`SourcePos`; `lsp.py` speaks the protocol.

`Workspace.check(path, text)` runs what `archc check` runs (parse, imports, expand, the
shapes at the defaults). Imported files are parsed once while they are unchanged, and an
open editor buffer stands in for its file.

    >>> a = Workspace().check("t.arch", "template t\\ninput x [4]\\ngraph { x -> dense(2) }\\n")
    >>> a.errors, a.arch.graph.nodes["dense"]["shape"], a.index.calls[0].func
    ([], (2,), 'dense')
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path

from . import ast, pipeline
from .diagnostics import ArchError, ArchErrors, SourcePos, lines_of
from .imports import Loaded, target_of
from .imports import load as load_imports
from .parse import decode, parse, parse_file
from .resolve import Architecture

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# ---------------------------------------------------------------- checking


class ParseCache:
    """Imported files parsed once while unchanged (by path, modification time and size); an
    open editor buffer stands in for its file."""

    def __init__(self):
        self.modules: dict[str, tuple[tuple, ast.Module]] = {}  # resolved path -> stamp, AST
        self.buffers: dict[str, str] = {}  # resolved path -> unsaved text

    def __call__(self, path: Path) -> ast.Module:
        key = str(Path(path).resolve())
        stamp = self._stamp(key)
        if stamp is None:
            return parse_file(path)  # missing or unreadable: its error, located
        hit = self.modules.get(key)
        if hit is not None and hit[0] == (str(path), stamp):
            return hit[1]
        buffer = self.buffers.get(key)
        module = parse_file(path) if buffer is None else parse(buffer, str(path))
        self.modules[key] = ((str(path), stamp), module)
        return module

    def _stamp(self, key: str) -> tuple | None:
        if key in self.buffers:
            return ("buffer", hash(self.buffers[key]))
        try:
            info = os.stat(key)
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size)


@dataclass
class Analysis:
    """One version of a document, checked: the errors, and what the queries read."""

    path: str
    text: str
    errors: list[ArchError]
    module: ast.Module | None = None  # None: the text does not parse
    loaded: Loaded | None = None
    template: pipeline.Template | None = None
    arch: Architecture | None = None  # at the defaults
    import_path: tuple = ()
    cache: ParseCache | None = field(default=None, repr=False)  # the files parsed so far
    index: Index = field(init=False)

    def __post_init__(self):
        self.index = Index(self.module, self.text)

    @property
    def blocks(self) -> dict[str, ast.BlockDecl]:
        if self.loaded is not None:
            return self.loaded.blocks
        return {b.name: b for b in self.module.of_type(ast.BlockDecl)} if self.module else {}


class Workspace:
    """The documents an editor has open, checked on every change."""

    def __init__(self, import_path=()):
        self.cache = ParseCache()
        self.import_path = tuple(import_path)

    def check(self, path: str, text: str, previous: Analysis | None = None) -> Analysis:
        """`text` as the file `path` checked like `archc check` does. When it does not parse,
        the AST of `previous` (the last version that did) still serves navigation."""
        self.cache.buffers[str(Path(path).resolve())] = text
        try:
            module = parse(decode(text.encode("utf-8", "surrogatepass"), path), path)
        except ArchError as exc:
            kept = previous.module if previous else None
            return Analysis(path, text, [exc], kept, previous and previous.loaded,
                            import_path=self.import_path, cache=self.cache)
        analysis = Analysis(path, text, [], module, import_path=self.import_path,
                            cache=self.cache)
        try:
            with pipeline.recursion_guard(path):
                self._expand(analysis)
        except ArchErrors as exc:
            analysis.errors = list(exc.errors)
        except ArchError as exc:
            analysis.errors = [exc]
        return analysis

    def _expand(self, analysis: Analysis) -> None:
        analysis.loaded = load_imports(analysis.path, self.import_path, analysis.module,
                                       self.cache)
        analysis.template = pipeline.expand(analysis.loaded)
        analysis.arch, unchecked = pipeline.defaults(analysis.template)
        analysis.errors = [*unchecked, *pipeline.lint(analysis.template)]  # as `archc check`

    def close(self, path: str) -> None:
        """The file's own content counts again for the templates that import it."""
        self.cache.buffers.pop(str(Path(path).resolve()), None)


def problems(analysis: Analysis) -> dict[str, list[ArchError]]:
    """The errors by file: each in the file it is in, and one in the document too for each
    fault of an imported file, on the import that brings that file in."""
    found: dict[str, list[ArchError]] = {analysis.path: []}
    for error in analysis.errors:
        file = error.pos.file if error.pos else analysis.path
        found.setdefault(file, []).append(error)
        if file != analysis.path:
            found[analysis.path].append(_on_import(analysis, error))
    return found


def _on_import(analysis: Analysis, error: ArchError) -> ArchError:
    """A fault of an imported file, restated on the main file's import that brings it in."""
    pos = error.pos
    name = Path(pos.file).name
    where = f"{name}:{pos.line}:{pos.column}" if pos.line else name
    located = ArchError(f"in imported {where}: {error.message}",
                        _importing(analysis, Path(pos.file)), error.hint)
    located.kind = error.kind
    return located


def _importing(analysis: Analysis, file: Path) -> SourcePos:
    """The main file's import that brings in `file` (directly or through other imports),
    else the file's first line."""
    module = analysis.module
    wanted = file.resolve()
    for decl in module.of_type(ast.Import):
        target = target_of(decl, module, analysis.path, analysis.import_path)
        if target is not None and wanted in _reachable(analysis, target):
            return decl.pos
    return SourcePos(analysis.path, 1, 1)


def _reachable(analysis: Analysis, start: Path) -> set[Path]:
    """`start` and every file it imports, through the files parsed so far."""
    seen, todo = set(), [start]
    parsed = analysis.cache.modules if analysis.cache else {}
    cache = {Path(k): m for k, (_, m) in parsed.items()}
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        module = cache.get(path)
        for decl in module.of_type(ast.Import) if module else ():
            target = target_of(decl, module, analysis.path, analysis.import_path)
            if target is not None:
                todo.append(target)
    return seen


# ---------------------------------------------------------------- the AST, indexed


@dataclass(frozen=True)
class Definition:
    """A name a file defines: where (its name's span), what it is, and the block it is
    local to (None: global)."""

    name: str
    kind: str  # param, input, hyperparameter, block, block parameter, tensor, label, ...
    pos: SourcePos
    scope: str | None
    node: object = field(compare=False)


def walk(node):
    """Every AST node under `node` (itself included), parents before children."""
    todo = [node]
    while todo:
        n = todo.pop()
        if isinstance(n, tuple):
            todo.extend(reversed(n))
        elif is_dataclass(n) and not isinstance(n, SourcePos | type):
            yield n
            todo.extend(reversed([getattr(n, f.name) for f in fields(n)]))


class Index:
    """A module's calls, structures and definitions, with the spans of their names, and the
    lines of the document's current text (which differs from the module's while the text
    does not parse and the module is the last version that did)."""

    def __init__(self, module: ast.Module | None, source: str):
        self.lines = lines_of(source)
        self._parsed = lines_of(module.source) if module else self.lines
        self.calls: list[ast.Call] = []
        self.structures: list = []  # named or not: optional, residual, repeat, choice, merge
        self.choices: list[ast.HpChoice] = []
        self.definitions: list[Definition] = []
        self.blocks: dict[str, ast.BlockDecl] = {}
        for decl in module.declarations if module else ():
            self._declaration(decl)

    def _declaration(self, decl) -> None:
        scope = decl.name if isinstance(decl, ast.BlockDecl) else None
        if scope is not None:
            self.blocks[scope] = decl
        for node in walk(decl):
            self._node(node, scope)

    def _node(self, node, scope: str | None) -> None:
        if isinstance(node, ast.Call):
            self.calls.append(node)
        elif isinstance(node, ast.HpChoice):
            self.choices.append(node)
        elif isinstance(node, ast.Optional | ast.Residual | ast.Repeat | ast.ChoiceNode
                        | ast.Merge):
            self.structures.append(node)
        for name, kind in _defined(node):
            self._define(name, kind, node, scope)

    def _define(self, name: str, kind: str, node, scope: str | None) -> None:
        if kind == "block":
            scope = None
        lead, trail = _around(node, kind)
        pos = self.name_span(node.pos, name, skip_of(node), lead, trail)
        self.definitions.append(Definition(name, kind, pos, scope, node))

    def name_span(self, pos: SourcePos, name: str, skip: int = 0, lead: str = "",
                  trail: str = "") -> SourcePos:
        """The span of the word `name` (after the pattern `lead`, before `trail`) at or
        after `pos` plus `skip` characters, else `pos` itself."""
        pattern = re.compile(rf"{lead}(?<![A-Za-z0-9_])({re.escape(name)})(?![A-Za-z0-9_])"
                             f"{trail}")
        last = max(pos.end_line, pos.line)
        for line in range(pos.line, min(last, len(self._parsed)) + 1):
            start = pos.column - 1 + skip if line == pos.line else 0
            m = pattern.search(self._parsed[line - 1], max(start, 0))
            if m:
                return SourcePos(pos.file, line, m.start(1) + 1, line, m.end(1) + 1)
        return pos

    def parsed_lines(self) -> list[str]:
        """The lines of the text the module was parsed from."""
        return self._parsed

    def parsed_line(self, line: int) -> str:
        """A line (1-based) of the text the module was parsed from; "" past its end."""
        return self._parsed[line - 1] if 0 < line <= len(self._parsed) else ""

    def word_at(self, line: int, column: int) -> tuple[str, int] | None:
        """The name at a position (1-based) and its first column, or None."""
        if not 1 <= line <= len(self.lines):
            return None
        for m in WORD.finditer(self.lines[line - 1]):
            if m.start() < column <= m.end() + 1:
                return m.group(), m.start() + 1
        return None

    def block_at(self, line: int, column: int) -> str | None:
        """The name of the block whose declaration holds a position, or None."""
        for name, decl in self.blocks.items():
            if contains(decl.pos, line, column):
                return name
        return None

    def lookup(self, name: str, line: int, column: int) -> Definition | None:
        """The definition a name at a position refers to: in its block first, then a
        global; of several, the last one before the position, else the first."""
        block = self.block_at(line, column)
        for scope in dict.fromkeys((block, None)):
            found = [d for d in self.definitions if d.name == name and d.scope == scope]
            before = [d for d in found if (d.pos.line, d.pos.column) <= (line, column)]
            if before or found:
                return (before or found)[-1 if before else 0]
        return None


def _defined(node) -> list[tuple[str, str]]:
    """The names an AST node defines, with their kinds."""
    kinds = {ast.ParamDecl: "param", ast.InputDecl: "input", ast.HpDecl: "hyperparameter",
             ast.BlockDecl: "block", ast.BlockParam: "block parameter", ast.Assign: "tensor"}
    found = []
    if type(node) in kinds:
        found.append((node.name, kinds[type(node)]))
    if isinstance(node, ast.Call | ast.Alternative) and node.label:
        found.append((node.label, "label"))  # `as LABEL`; a choice's `LABEL:`
    if isinstance(node, ast.Repeat) and node.var:
        found.append((node.var, "loop variable"))
    if isinstance(node, ast.Optional | ast.Residual | ast.Repeat | ast.ChoiceNode | ast.Merge) \
            and node.name:
        found.append((node.name, "hyperparameter"))
    return found


def _around(node, kind: str) -> tuple[str, str]:
    """Patterns before and after a defined name that tell it from the same word elsewhere
    in its node: `as LABEL`, `LABEL:`, `VAR in`."""
    if isinstance(node, ast.Alternative):
        return "", r"\s*:"
    return {"label": (r"\bas\s+", ""), "loop variable": ("", r"\s+in\b")}.get(kind, ("", ""))


def skip_of(node) -> int:
    """Characters of a node's text before the name it defines: `block `, `param ` and so on;
    a call's label comes after its arguments."""
    words = {ast.ParamDecl: 5, ast.InputDecl: 5, ast.HpDecl: 2, ast.BlockDecl: 5,
             ast.TemplateDecl: 8}
    if isinstance(node, ast.Call):
        return len(node.func)
    return words.get(type(node), 0)


def contains(pos: SourcePos, line: int, column: int) -> bool:
    """Whether a 1-based position lies in the span `pos`."""
    end_line = pos.end_line or pos.line
    after_start = (line, column) >= (pos.line, pos.column)
    before_end = (line, column) <= (end_line, pos.end_column or pos.column)
    return after_start and before_end


def call_name(call: ast.Call) -> SourcePos:
    p = call.pos
    return SourcePos(p.file, p.line, p.column, p.line, p.column + len(call.func))
