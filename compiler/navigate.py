"""An `Analysis` and a position -> where a name is defined, what may be written there
(completions), and the document's outline (symbols).

    >>> from archc.editor import Workspace
    >>> a = Workspace().check("t.arch", "template t\\nparam n = 2\\ninput x [4]\\n"
    ...                       "graph { x -> dense(n, ) }\\n")
    >>> definition(a, 4, 20)  # the `n` of dense(n, )
    SourcePos(file='t.arch', line=2, column=7, end_line=2, end_column=8)
    >>> [c.label for c in completions(a, 4, 23)][:3]  # after `dense(n, `: units is given
    ['activation=', 'use_bias=', 'kernel_initializer=']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import ast, ops, text
from .diagnostics import ArchError, SourcePos, lines_of
from .editor import Analysis, Index, skip_of, walk
from .imports import search_roots, target_of
from .parse import KEYWORDS, parse_file

# ---------------------------------------------------------------- definitions


def definition(a: Analysis, line: int, column: int) -> SourcePos | None:
    """Where the name at a position is defined: a param, input, hyperparameter, block
    (in this file or an imported one), block parameter, bound tensor, label or loop
    variable; on an import, the imported file (its position: line 0)."""
    imported = _import_at(a, line)
    if imported is not None:
        return imported
    found = a.index.word_at(line, column)
    if found is None:
        return None
    name = found[0]
    local = a.index.lookup(name, line, column)
    if local is not None:
        return local.pos
    block = a.blocks.get(name)
    return _block_name(a, block) if block is not None else None


def _import_at(a: Analysis, line: int) -> SourcePos | None:
    for decl in a.module.of_type(ast.Import) if a.module else ():
        if decl.pos.line <= line <= (decl.pos.end_line or decl.pos.line):
            target = target_of(decl, a.module, a.path, a.import_path)
            return SourcePos(str(target), 0, 0) if target else None
    return None


def _block_name(a: Analysis, block: ast.BlockDecl) -> SourcePos:
    """The span of a block's name in its own file (the document or an imported one)."""
    if block.pos.file == a.path:
        return a.index.name_span(block.pos, block.name, skip=5)
    source = a.loaded.sources.get(block.pos.file, "") if a.loaded else ""
    index = Index(None, source)
    return index.name_span(block.pos, block.name, skip=5)


# ---------------------------------------------------------------- completion


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # op, block, argument, name, keyword, file
    detail: str
    insert: str | None = None


def completions(a: Analysis, line: int, column: int) -> list[Completion]:
    """What may be written at a position: in an `import "..."`, the files it may name;
    inside a call's parentheses, the op's or block's keyword arguments not given yet
    first; then ops, blocks (imported ones too), the names in scope and keywords."""
    before = lines_of(a.text)[line - 1][:column - 1] if line <= len(lines_of(a.text)) else ""
    if re.match(r'\s*import\s+"[^"]*$', before):
        return _importable(a)
    offset = _offset(a.text, line, column)
    found = _open_call(a.text, offset)
    items = _keywords_of(a, *found) if found else []
    items += [Completion(s.name, "op", f"{s.keras_class}: {s.doc}") for s in
              map(ops.lookup, ops.names())]
    items += [Completion(b.name, "block", f"block from {Path(b.pos.file).name}")
              for b in a.blocks.values()]
    block = a.index.block_at(line, column)
    seen = {i.label for i in items}
    items += [Completion(d.name, "name", d.kind) for d in a.index.definitions
              if d.scope in (block, None) and d.kind != "block" and d.name not in seen]
    items += [Completion(k, "keyword", "keyword") for k in sorted(KEYWORDS)]
    unique: dict[str, Completion] = {}
    for item in items:
        unique.setdefault(item.label, item)  # a name defined twice is offered once
    return list(unique.values())


def _importable(a: Analysis) -> list[Completion]:
    """The block files (only blocks and imports) an import may name: beside the document
    (and one folder down), in the import path, and among the bundled templates."""
    found: dict[str, str] = {}
    for root in search_roots(a.path, a.import_path):
        for file in sorted([*root.glob("*.arch"), *root.glob("*/*.arch")]):
            name = file.relative_to(root).as_posix()
            if name not in found and _only_blocks(a, file):
                found[name] = str(root)
    return [Completion(name, "file", f"in {root}") for name, root in found.items()]


def _only_blocks(a: Analysis, file: Path) -> bool:
    """Whether a file parses to blocks and imports only (parsed once while unchanged)."""
    if file.resolve() == Path(a.path).resolve():
        return False
    try:
        module = a.cache(file) if a.cache else parse_file(file)
    except ArchError:
        return False
    return all(isinstance(d, ast.BlockDecl | ast.Import) for d in module.declarations)


def _offset(source: str, line: int, column: int) -> int:
    lines = lines_of(source)
    line = min(max(line, 1), len(lines))
    return sum(len(x) + 1 for x in lines[:line - 1]) + min(column - 1, len(lines[line - 1]))


def _open_call(source: str, offset: int) -> tuple[str, str] | None:
    """The name of the call whose parentheses hold `offset`, and the text written inside
    them so far; None outside any call."""
    depth = 0
    for i in range(offset - 1, max(offset - 4000, 0) - 1, -1):
        c = source[i]
        if c in ")]":
            depth += 1
        elif c == "[" or c == "(" and depth:
            depth -= 1
        elif c == "(":
            m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", source[max(i - 200, 0):i])
            return (m.group(1), source[i + 1:offset]) if m else None
        elif c in "{}":
            return None
    return None


def _keywords_of(a: Analysis, func: str, written: str) -> list[Completion]:
    """The keyword arguments of `func` that `written` (its arguments so far) does not give,
    by keyword or by position."""
    given = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)", written))
    spec = ops.lookup(func)
    if func in a.blocks:
        names = [(p.name, "block parameter") for p in a.blocks[func].params]
    elif spec is not None:
        names = [(x.name, "required" if x.required else f"default {text.value(x.default)}")
                 for x in spec.args] if spec.inputs == 1 else []  # a merge's are tensors
    else:
        return []
    given.update(n for n, _ in names[:_positional(written)])
    return [Completion(f"{n}=", "argument", f"{func}: {detail}", f"{n}=")
            for n, detail in names if n not in given]


def _positional(written: str) -> int:
    """How many finished arguments in `written` are positional (no `name=`)."""
    parts, depth, current = [], 0, ""
    for c in written:
        depth += (c in "([{") - (c in ")]}")
        if c == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += c
    return sum(1 for x in parts if not re.match(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*=(?!=)", x))


# ---------------------------------------------------------------- outline


@dataclass
class Symbol:
    """An outline entry: its name, kind, the span of the whole and of its name, children."""

    name: str
    kind: str  # template, import, param, input, hyperparameter, block, graph, train
    pos: SourcePos
    name_pos: SourcePos
    detail: str = ""
    children: list[Symbol] = field(default_factory=list)


def symbols(a: Analysis) -> list[Symbol]:
    """The outline of the document: its template, params, inputs, hyperparameters, blocks,
    graph and train sections, with the named structures (hyperparameters) inside them."""
    if a.module is None:
        return []
    return [s for d in a.module.declarations if (s := _symbol(a.index, d)) is not None]


def _symbol(index: Index, d) -> Symbol | None:
    named = {ast.TemplateDecl: "template", ast.ParamDecl: "param", ast.InputDecl: "input",
             ast.HpDecl: "hyperparameter", ast.BlockDecl: "block"}
    if isinstance(d, ast.Import):
        return Symbol(d.path, "import", d.pos, d.pos)
    if isinstance(d, ast.GraphDecl | ast.TrainDecl):
        kind = "graph" if isinstance(d, ast.GraphDecl) else "train"
        return Symbol(kind, kind, d.pos, d.pos, children=_structures(index, d))
    kind = named.get(type(d))
    if kind is None:
        return None
    return Symbol(d.name, kind, d.pos, index.name_span(d.pos, d.name, skip_of(d)),
                  _line_of(index, d.pos), _structures(index, d))


def _line_of(index: Index, pos: SourcePos) -> str:
    line = index.parsed_line(pos.line).strip()
    return line[:80]


def _structures(index: Index, decl) -> list[Symbol]:
    """The named structures in a declaration: each one a hyperparameter."""
    found = []
    for node in walk(decl):
        if isinstance(node, ast.Optional | ast.Residual | ast.Repeat | ast.ChoiceNode) \
                and node.name:
            kind = type(node).__name__.lower().replace("choicenode", "choice")
            found.append(Symbol(node.name, "hyperparameter", node.pos,
                                index.name_span(node.pos, node.name, skip=1), kind))
    return found
