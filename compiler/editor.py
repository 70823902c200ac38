"""A document's text -> what an editor asks of it: problems, hover text, definitions,
completions and an outline, at 1-based `SourcePos` positions (no LSP types: `lsp.py` speaks
the protocol).

`Workspace.check(path, text)` runs what `archc check` runs (parse, imports, expand, the
shapes at the defaults) and keeps an `Analysis`: the AST, the template and its architecture
at the defaults, which the queries read. Imported files are parsed once while they are
unchanged, and an open editor buffer stands in for its file.

    >>> ws = Workspace()
    >>> a = ws.check("t.arch", "template t\\ninput x [4]\\ngraph { x -> dense(2) }\\n")
    >>> [e.message for e in a.errors], stage_facts(a, a.index.calls[0].pos)
    ([], ['`dense`: output (2,), 10 params'])
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path

import networkx as nx

from . import arguments, ast, ops, pipeline, text
from .diagnostics import ArchError, ArchErrors, SourcePos, lines_of
from .hyper import HpSpec, show_condition
from .imports import Loaded, target_of
from .imports import load as load_imports
from .parse import KEYWORDS, decode, parse, parse_file
from .resolve import Architecture

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_LISTED = 6  # instances of a stage or hyperparameter a hover lists


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
                            import_path=self.import_path)
        analysis = Analysis(path, text, [], module, import_path=self.import_path)
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
        analysis.arch = pipeline.check_defaults(analysis.template)

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
    where = f"{Path(pos.file).name}:{pos.line}:{pos.column}" if pos.line else pos.file
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
    cache = {Path(k): m for k, (_, m) in _cache_of(analysis).items()}
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


def _cache_of(analysis: Analysis) -> dict:
    parse_import = analysis.loaded.parse_import if analysis.loaded else None
    return parse_import.modules if isinstance(parse_import, ParseCache) else {}


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
    """A module's calls, structures and definitions, with the spans of their names."""

    def __init__(self, module: ast.Module | None, source: str):
        self.lines = lines_of(source if module is None else module.source)
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
        pos = self.name_span(node.pos, name, _skip(node), lead, trail)
        self.definitions.append(Definition(name, kind, pos, scope, node))

    def name_span(self, pos: SourcePos, name: str, skip: int = 0, lead: str = "",
                  trail: str = "") -> SourcePos:
        """The span of the word `name` (after the pattern `lead`, before `trail`) at or
        after `pos` plus `skip` characters, else `pos` itself."""
        pattern = re.compile(rf"{lead}(?<![A-Za-z0-9_])({re.escape(name)})(?![A-Za-z0-9_])"
                             f"{trail}")
        last = max(pos.end_line, pos.line)
        for line in range(pos.line, min(last, len(self.lines)) + 1):
            start = pos.column - 1 + skip if line == pos.line else 0
            m = pattern.search(self.lines[line - 1], max(start, 0))
            if m:
                return SourcePos(pos.file, line, m.start(1) + 1, line, m.end(1) + 1)
        return pos

    def word_at(self, line: int, column: int) -> tuple[str, int] | None:
        """The name at a position (1-based) and its first column, or None."""
        if not 1 <= line <= len(self.lines):
            return None
        for m in WORD.finditer(self.lines[line - 1]):
            if m.start() < column <= m.end() + 1:
                return m.group(), m.start() + 1
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


def _skip(node) -> int:
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


def _block_at(index: Index, line: int, column: int) -> str | None:
    for name, decl in index.blocks.items():
        if contains(decl.pos, line, column):
            return name
    return None


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
    local = _lookup(a.index, name, line, column)
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


def _lookup(index: Index, name: str, line: int, column: int) -> Definition | None:
    """The definition a name at a position refers to: in its block first, then a global;
    of several, the last one before the position, else the first."""
    block = _block_at(index, line, column)
    for scope in dict.fromkeys((block, None)):
        found = [d for d in index.definitions if d.name == name and d.scope == scope]
        before = [d for d in found if (d.pos.line, d.pos.column) <= (line, column)]
        if before or found:
            return (before or found)[-1 if before else 0]
    return None


def _block_name(a: Analysis, block: ast.BlockDecl) -> SourcePos:
    """The span of a block's name in its own file (the document or an imported one)."""
    if block.pos.file == a.path:
        return a.index.name_span(block.pos, block.name, skip=5)
    source = a.loaded.sources.get(block.pos.file, "") if a.loaded else ""
    index = Index(None, source)
    return index.name_span(block.pos, block.name, skip=5)


# ---------------------------------------------------------------- hover


def hover(a: Analysis, line: int, column: int) -> tuple[str, SourcePos] | None:
    """Markdown for the name at a position and the span it describes: an op (its Keras
    class, arguments and defaults), a block, a stage (its output shape and parameters at
    the defaults), a hyperparameter (its values, default and when it is active)."""
    found = a.index.word_at(line, column)
    if found is None:
        return None
    word, start = found
    span = SourcePos(a.path, line, start, line, start + len(word))
    for query in (_hover_call, _hover_structure, _hover_choice, _hover_name):
        shown = query(a, word, span)
        if shown:
            return shown, span
    return None


def _hover_call(a: Analysis, word: str, span: SourcePos) -> str | None:
    call = next((c for c in a.index.calls if call_name(c) == span), None)
    if call is None:
        return None
    spec = ops.lookup(call.func)
    about = _block_doc(a, a.blocks[call.func]) if call.func in a.blocks else (
        op_doc(spec) if spec else None)
    if about is None:
        return None
    return _join(about, _facts_text(a, call.pos))


def _hover_structure(a: Analysis, word: str, span: SourcePos) -> str | None:
    for node in a.index.structures:
        header = _header(a.index, node)
        if contains(header, span.line, span.column):
            kind = type(node).__name__.lower().replace("choicenode", "choice")
            specs = hp_specs_at(a, node.pos)
            return _join(f"**{kind}** `{node.name or '(unnamed)'}`", hp_doc(specs),
                         _facts_text(a, node.pos))
    return None


def _header(index: Index, node) -> SourcePos:
    """The span of a structure's keyword and name (`optional use_se`, `repeat group1`)."""
    pos = node.pos
    end = index.name_span(pos, node.name, skip=1) if node.name else None
    end_column = end.end_column if end and end.line == pos.line else pos.column + 8
    return SourcePos(pos.file, pos.line, pos.column, pos.line, end_column)


def _hover_choice(a: Analysis, word: str, span: SourcePos) -> str | None:
    if word != "choice":
        return None
    for node in a.index.choices:
        if (node.pos.line, node.pos.column) == (span.line, span.column):
            return hp_doc(hp_specs_at(a, node.pos)) or None
    return None


def _hover_name(a: Analysis, word: str, span: SourcePos) -> str | None:
    definition = _lookup(a.index, word, span.line, span.column)
    if definition is not None and definition.kind == "hyperparameter" and a.template:
        specs = [h for h in a.template.hyperparameters if h.name == word]
        return _join(f"**hyperparameter** `{word}`", hp_doc(specs))
    if definition is not None:
        return f"**{definition.kind}** `{word}`\n\n```arch\n{_line(a, definition.pos)}\n```"
    if word in a.blocks:
        return _block_doc(a, a.blocks[word])
    spec = ops.lookup(word)
    return op_doc(spec) if spec else None


def _line(a: Analysis, pos: SourcePos) -> str:
    return a.index.lines[pos.line - 1].strip() if 0 < pos.line <= len(a.index.lines) else ""


def _join(*parts: str | None) -> str:
    return "\n\n".join(p for p in parts if p)


def op_doc(spec: ops.OpSpec) -> str:
    """An op's Keras class, what it does, its signature and its arguments with defaults."""
    keras = spec.keras_class if "." in spec.keras_class else f"keras.layers.{spec.keras_class}"
    lines = [f"**{spec.name}**: op → `{keras}`", spec.doc,
             f"```arch\n{arguments.signature(spec)}\n```"]
    if spec.inputs != 1:
        lines.append(f"joins {spec.inputs} input tensors" if spec.inputs != "many"
                     else "joins two or more input tensors")
    rows = [f"- `{x.name}`: {x.type}, " + ("required" if x.required else
                                            f"default `{text.value(x.default)}`")
            for x in spec.args]
    return _join(*lines, "\n".join(rows))


def _block_doc(a: Analysis, block: ast.BlockDecl) -> str:
    params = ", ".join(p.name if p.default is None else f"{p.name}=..." for p in block.params)
    where = Path(block.pos.file).name
    return f"**block** `{block.name}({params})`, defined in {where}:{block.pos.line}"


def hp_specs_at(a: Analysis, pos: SourcePos) -> list[HpSpec]:
    """The hyperparameters a structure or `choice(...)` at `pos` declares (one per
    instance: a block called twice, a repeat's repetitions)."""
    if a.template is None:
        return []
    key = (pos.file, pos.line, pos.column)
    return [h for h in a.template.hyperparameters
            if (h.pos.file, h.pos.line, h.pos.column) == key]


def hp_doc(specs: list[HpSpec]) -> str:
    """A hyperparameter's kind, values and default, and for each instance when it is
    active."""
    if not specs:
        return ""
    first = specs[0]
    head = (f"hyperparameter ({first.kind}): values {_values(first)}, default "
            f"`{text.value(first.default)}`")
    rows = [f"- `{h.name}`: active {_when(h)}" for h in specs[:MAX_LISTED]]
    if len(specs) > MAX_LISTED:
        rows.append(f"- and {len(specs) - MAX_LISTED} more")
    return _join(head, "\n".join(rows))


def _when(h: HpSpec) -> str:
    shown = show_condition(h.condition)
    return shown if shown == "always" else f"when {shown}"


def _values(h: HpSpec) -> str:
    domain = h.domain()
    if domain is None:
        return f"{text.value(h.min)} to {text.value(h.max)} ({h.sampling})"
    if isinstance(domain, range) and len(domain) > 12:
        return f"{domain.start}..{domain.stop - 1} by {domain.step}"
    return ", ".join(f"`{text.value(v)}`" for v in domain)


# ---------------------------------------------------------------- stages at the defaults


def stage_facts(a: Analysis, pos: SourcePos) -> list[str]:
    """The output shape and parameters at the defaults of the stage written at `pos`, one
    line per instance (a block called twice, the repetitions of a repeat)."""
    if a.arch is None:
        return []
    groups = _instances(a.arch, (pos.file, pos.line, pos.column))
    facts = [_instance_fact(a.arch, name, nodes) for name, nodes in groups]
    return [f for f in facts if f]


def _facts_text(a: Analysis, pos: SourcePos) -> str:
    facts = stage_facts(a, pos)
    if not facts:
        return ("not in the network at the defaults" if a.arch is not None else "")
    shown = [f"- {f}" for f in facts[:MAX_LISTED]]
    if len(facts) > MAX_LISTED:
        shown.append(f"- and {len(facts) - MAX_LISTED} more")
    return "At the defaults:\n" + "\n".join(shown)


def _instances(arch: Architecture, key: tuple) -> list[tuple[str, list[str]]]:
    """The name and concrete nodes of each instance of the stage at `key`: of each cluster it makes
    (a block call, a structure), else the op nodes it makes."""
    template = arch.template
    clusters = [c for c, info in template.clusters.items()
                if info.get("pos") and _key(info["pos"]) == key and info["kind"] != "rep"]
    if clusters:
        members = _members(arch)
        return [(_cluster_path(template, c), members.get(c, [])) for c in clusters]
    return [(n, [n]) for n, pos in arch.graph.nodes(data="pos") if pos and _key(pos) == key]


def _cluster_path(template, cluster: str) -> str:
    """A cluster's name as its nodes' names begin: `group1/rep0/first`."""
    chain = []
    while cluster:
        chain.append(template.clusters[cluster]["label"])
        cluster = template.clusters[cluster]["parent"]
    path: list[str] = []
    for label in reversed(chain):
        path = label.split("/") if "/" in label else path + [label]  # a full hp name
    return "/".join(path)


def _key(pos: SourcePos) -> tuple:
    return (pos.file, pos.line, pos.column)


def _members(arch: Architecture) -> dict[str, list[str]]:
    """The concrete nodes inside each cluster of the template (nested ones included)."""
    template = arch.template
    members: dict[str, list[str]] = {}
    for n in arch.graph:
        cluster = template.graph.nodes[n].get("cluster") if n in template.graph else None
        while cluster:
            members.setdefault(cluster, []).append(n)
            cluster = template.clusters[cluster]["parent"]
    return members


def _instance_fact(arch: Architecture, name: str, nodes: list[str]) -> str | None:
    """`name: output (15, 15, 128), 11,408 params` for one instance's nodes."""
    if not nodes:
        return None
    g = arch.graph
    inside = set(nodes)
    order = {n: i for i, n in enumerate(nx.topological_sort(g.subgraph(inside)))}
    sinks = [n for n in inside if not any(s in inside for s in g.successors(n))]
    out = max(sinks, key=order.__getitem__)
    params = sum(g.nodes[n]["params"] for n in inside if not g.nodes[n].get("shares"))
    shape = text.shape(g.nodes[out]["shape"])
    return f"`{name}`: output {shape}, {params:,} params"


# ---------------------------------------------------------------- completion


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # op, block, argument, name, keyword
    detail: str
    insert: str | None = None


def completions(a: Analysis, line: int, column: int) -> list[Completion]:
    """What may be written at a position: inside a call's parentheses, the op's or block's
    keyword arguments not given yet first; then ops, blocks (imported ones too), the names
    in scope and keywords."""
    offset = _offset(a.text, line, column)
    found = _open_call(a.text, offset)
    items = _keywords_of(a, *found) if found else []
    items += [Completion(s.name, "op", f"{s.keras_class}: {s.doc}") for s in
              map(ops.lookup, ops.names())]
    items += [Completion(b.name, "block", f"block from {Path(b.pos.file).name}")
              for b in a.blocks.values()]
    block = _block_at(a.index, line, column)
    seen = {i.label for i in items}
    items += [Completion(d.name, "name", d.kind) for d in a.index.definitions
              if d.scope in (block, None) and d.kind != "block" and d.name not in seen]
    items += [Completion(k, "keyword", "keyword") for k in sorted(KEYWORDS)]
    unique: dict[str, Completion] = {}
    for item in items:
        unique.setdefault(item.label, item)  # an argument before the op of its name
    return list(unique.values())


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
    given = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)", written))
    spec = ops.lookup(func)
    if func in a.blocks:
        names = [(p.name, "block parameter") for p in a.blocks[func].params]
    elif spec is not None:
        names = [(x.name, "required" if x.required else f"default {text.value(x.default)}")
                 for x in spec.args]
    else:
        return []
    return [Completion(f"{n}=", "argument", f"{func}: {detail}", f"{n}=")
            for n, detail in names if n not in given]


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
    return Symbol(d.name, kind, d.pos, index.name_span(d.pos, d.name, _skip(d)),
                  _line_of(index, d.pos), _structures(index, d))


def _line_of(index: Index, pos: SourcePos) -> str:
    line = index.lines[pos.line - 1].strip() if 0 < pos.line <= len(index.lines) else ""
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
