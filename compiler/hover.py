"""An `Analysis` and a position -> hover text (Markdown): an op's Keras class, arguments and
defaults; a block; a stage's output shape and parameters at the defaults (one line per
instance); a hyperparameter's kind, values, default and when each instance is active.

    >>> from archc.editor import Workspace
    >>> a = Workspace().check("t.arch", "template t\\ninput x [4]\\ngraph { x -> dense(2) }\\n")
    >>> stage_facts(a, a.index.calls[0].pos)
    ['`dense`: output (2,), 10 params']
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from . import arguments, ast, ops, text
from .diagnostics import SourcePos
from .editor import Analysis, Index, call_name, contains
from .hyper import HpSpec, show_condition
from .resolve import Architecture

MAX_LISTED = 6  # instances of a stage or hyperparameter a hover lists


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
    definition = a.index.lookup(word, span.line, span.column)
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
    return a.index.parsed_line(pos.line).strip()


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
    """A block's signature, as written, where it is defined, and the comment above it."""
    params = ", ".join(_written(a, p.pos) or p.name for p in block.params)
    where = Path(block.pos.file).name
    head = f"**block** `{block.name}({params})`, defined in {where}:{block.pos.line}"
    return _join(head, _comment_above(_lines(a, block.pos.file), block.pos.line))


def _lines(a: Analysis, file: str) -> list[str]:
    """The lines of the document (as parsed) or of a file it imports."""
    if file == a.path:
        return a.index.parsed_lines()
    return (a.loaded.sources.get(file, "") if a.loaded else "").split("\n")


def _comment_above(lines: list[str], line: int) -> str | None:
    """The comment lines right above a 1-based line, without their `#`."""
    start = line - 1
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    text = [x.lstrip()[1:].strip() for x in lines[start:line - 1]]
    return " ".join(text) or None


def _written(a: Analysis, pos: SourcePos) -> str | None:
    """The text of a one-line span, from the document or the imported file it is in."""
    lines = _lines(a, pos.file)
    if pos.end_line != pos.line or not 0 < pos.line <= len(lines):
        return None
    return lines[pos.line - 1][pos.column - 1:pos.end_column - 1] or None


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
