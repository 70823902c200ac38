"""Template graph -> Graphviz DOT text drawn like the paper's figures; DOT -> SVG or PNG.

`to_dot` draws top to bottom: ops as boxes labelled with their key arguments (`conv2d 96,
3×3/2, relu`), inputs and outputs as arrow shapes, residual adds as `+` circles. Structures
are clusters: dashed where a hyperparameter decides them (optional, repeat and its
repetitions, residual?, choice, merge, an `if` on a hyperparameter), dotted where they are
fixed (a constant repeat, a residual, an `if` decided by shapes), solid light boxes for
blocks. Skip connections are red dashed edges; an edge that exists only under a condition
carries it as its label, dashed when it jumps over a part it may skip. `select` nodes (where
alternatives join) are small dots, or folded away where they add nothing. The text is
deterministic: source names in source order, never `id()`.

`template_highlight_dot` draws the same with the path one set of choices takes highlighted
and the rest greyed out. `architecture_to_dot` draws one concrete architecture (a
`resolve.Architecture`) as a plain chain of its layers with their output shapes and
parameters, grouped in the template's blocks and repetitions, tied replicas marked.

`render_format` runs Graphviz's `dot` program on that text.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import networkx as nx

from . import ops
from .diagnostics import ArchError
from .hyper import Clause, HpSpec, holds
from .values import Sym, Tensor

FORMATS = ("svg", "png", "pdf")
DOT_TIMEOUT_S = 300
WRAP = 26  # characters per label line

HINT_INSTALL = "apt-get install graphviz, or use --format dot"

KIND_COLOURS = {
    "optional": "#d35400", "residual": "#c0392b", "repeat": "#1f5fa8", "rep": "#5b8ccf",
    "choice": "#7d3c98", "alternative": "#a569bd", "merge": "#1e8449", "copy": "#52a36b",
    "if": "#117a65",
}
FIXED_COLOUR = "#8c96a0"
FAMILY_FILLS = {
    "conv": "#dbe9f6", "pool": "#fde9d9", "dense": "#e8def8", "merge": "#fff2cc",
    "other": "#f1f3f5",
}
BRANCH_COLOUR = "#3d5a80"
GREY_LINE, GREY_TEXT, GREY_FILL = "#c4c9ce", "#a3aab1", "#f6f7f8"
SKIP_COLOUR = "#c0392b"
KERNEL_ARGS = ("kernel_size", "pool_size", "size")
VALUE_ONLY = ("activation", "padding", "interpolation")
HIDDEN_ARGS = frozenset({
    "use_bias", "epsilon", "momentum", "center", "scale", "seed", "data_format", "dtype",
    "kernel_initializer", "bias_initializer", "depthwise_initializer", "pointwise_initializer",
    "beta_initializer", "gamma_initializer", "moving_mean_initializer",
    "moving_variance_initializer", "kernel_regularizer", "bias_regularizer",
    "activity_regularizer",
})
PRECEDENCE = {
    "or": 1, "and": 2, "not": 3, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
    "+": 5, "-": 5, "*": 6, "/": 6, "//": 6, "%": 6, "neg": 7, "**": 8,
}
GRAPH_ATTRS = dict(
    rankdir="TB", newrank="true", compound="true", nodesep="0.25", ranksep="0.3",
    fontname="Helvetica", fontsize="11", labelloc="t", labeljust="l", remincross="true",
)
NODE_ATTRS = dict(fontname="Helvetica", fontsize="10", margin="0.08,0.03", height="0.3")
EDGE_ATTRS = dict(fontname="Helvetica", fontsize="8", arrowsize="0.6", color="#444444")


class ToolMissing(ArchError):
    """An external program that archc runs (Graphviz's `dot`) is not installed."""


class ToolFailed(ArchError):
    """An external program ran and failed; the message carries what it printed."""


# ---------------------------------------------------------------- public


def to_dot(template) -> str:
    """Graphviz DOT text of a template graph, drawn like the paper's figures.

    Args:
        template: a `graph.Template` (anything with `.name`, `.graph`, `.hyperparameters`).
    Returns:
        The DOT text; the same template always gives the same text.
    """
    return _template_dot(template, None)


def template_highlight_dot(template, choices: dict) -> str:
    """The template drawing (`to_dot`) with the path that `choices` take highlighted.

    What the choices leave out is greyed and dotted: nodes, edges and clusters whose
    condition does not hold, the branch of a shape-decided `if` that is not taken (found by
    resolving the template at `choices`; where that fails, conditions alone decide), and the
    edges into them. `residual?` joins are drawn unfolded (a select dot with a `bypass=true`
    and a `bypass=false` input), so that the chosen path is a path of drawn edges.

    Args:
        template: a `graph.Template`.
        choices: the active hyperparameters' values, e.g. an `Architecture.choices`.
    Returns:
        The DOT text; the same template and choices always give the same text.
    """
    return _template_dot(template, dict(choices))


def _template_dot(template, choices: dict | None) -> str:
    view = _view(template, choices)
    title = _title(template, view)
    if choices is not None and view.g.number_of_nodes():
        title = Left(title + "\n" + "\n".join(_chosen_lines(template.hyperparameters, choices,
                                                             "highlighted: ")))
    lines = [f"digraph {quote(template.name)} {{"]
    lines += [f"  {k}={quote(v)};" for k, v in GRAPH_ATTRS.items()]
    lines.append(f"  label={_attr_value(title)};")
    lines.append(f"  node {attrs(NODE_ATTRS)};")
    lines.append(f"  edge {attrs(EDGE_ATTRS)};")
    lines += _body(view)
    lines += _edges(view)
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_format(dot_text: str, fmt: str) -> bytes:
    """Run Graphviz's `dot` on DOT text.

    Args:
        dot_text: DOT text, as `to_dot` makes it.
        fmt: 'svg', 'png' or 'pdf'.
    Returns:
        The rendered file's bytes.
    Raises:
        ArchError: an unknown format.
        ToolMissing: `dot` is not on the PATH.
        ToolFailed: `dot` failed; the message holds what it printed.
    """
    if fmt not in FORMATS:
        raise ArchError(f"expected a format of {', '.join(FORMATS)}, found '{fmt}'",
                        hint="or use --format dot for the DOT text itself")
    exe = shutil.which("dot")
    if exe is None:
        raise ToolMissing("Graphviz 'dot' is not installed", hint=HINT_INSTALL)
    return _run_dot(exe, dot_text, fmt)


def _run_dot(exe: str, dot_text: str, fmt: str) -> bytes:
    try:
        proc = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode("utf-8"),
                              capture_output=True, timeout=DOT_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"Graphviz 'dot' did not finish within {DOT_TIMEOUT_S} s",
                         hint="use --format dot and render it elsewhere") from None
    except OSError as exc:
        raise ToolFailed(f"cannot run Graphviz 'dot' ({exe}): {exc.strerror or exc}",
                         hint=HINT_INSTALL) from None
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace").strip() or "no message"
        raise ToolFailed(f"Graphviz 'dot' failed (exit {proc.returncode}): {stderr}")
    return proc.stdout


def quote(text, eol: str = "\\n") -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, newlines as `eol`.

    >>> print(quote('a"b\\\\c/d'))
    "a\\"b\\\\c/d"
    """
    text = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\r", "")
    return '"' + text.replace("\n", eol) + '"'


class Left(str):
    """Label text drawn left-justified, line by line (DOT's `\\l`)."""


def attrs(values: dict) -> str:
    """A DOT attribute list, every value quoted: `[k="v", ...]`."""
    return "[" + ", ".join(f"{k}={_attr_value(v)}" for k, v in values.items()) + "]"


def _attr_value(value) -> str:
    if isinstance(value, Left):
        return quote(str(value) + "\n", eol="\\l")
    return quote(value)


# ---------------------------------------------------------------- the drawing's graph


@dataclass
class View:
    """The template graph as drawn: selects folded, merge copies grouped, order fixed."""

    g: nx.MultiDiGraph
    clusters: dict[str, dict]
    hps: dict[str, HpSpec]
    order: list[str]
    members: dict[str, set]
    spine: list[str] = field(default_factory=list)
    live: Live | None = None  # template_highlight_dot: what the choices keep


@dataclass
class Live:
    """The nodes and edges on the path that a set of choices takes through a template."""

    choices: dict
    nodes: set
    edges: set  # (u, v) pairs


def _view(template, choices: dict | None = None) -> View:
    g = template.graph.copy()
    clusters = {cid: dict(info) for cid, info in g.graph.get("clusters", {}).items()}
    for step in SIMPLIFY:
        if choices is None or step is not _fold_residual_selects:
            step(g)
    _group_merge_copies(g, clusters)
    view = View(g, clusters, {h.name: h for h in template.hyperparameters}, _order(g), {})
    view.members = _members(g, clusters)
    view.spine = _spine(g)
    _mark_shortcuts(g)
    if choices is not None:
        view.live = _live(template, view, choices)
    return view


def _live(template, view: View, choices: dict) -> Live:
    """What `choices` keep: conditions that hold, and of a shape-decided `if` the branch that
    resolving the template takes (the op nodes of the concrete graph)."""
    from .resolve import resolve

    try:
        concrete: set | None = set(resolve(template, choices).graph)
    except ArchError:
        concrete = None
    g, nodes, edges = view.g, set(), set()
    for n in view.order:
        d = g.nodes[n]
        if not holds(d.get("condition") or (), choices):
            continue
        sources = [u for u, _, e in g.in_edges(n, data=True)
                   if u in nodes and holds(e.get("condition") or (), choices)]
        if d.get("kind") == "select" and d.get("when") is not None and len(sources) > 1:
            # an empty branch's source lies upstream of the taken branch's end
            sources = [u for u in sources if not any(
                w != u and nx.has_path(g, u, w) for w in sources)]
        if d.get("kind") in ("select", "output"):
            if sources:
                nodes.add(n)
        elif concrete is None or n in concrete:
            nodes.add(n)
        if n in nodes:
            edges.update((u, n) for u in sources)
    return Live(choices, nodes, edges)


def _spine(g: nx.MultiDiGraph) -> list[str]:
    """The nodes every path from the inputs to the outputs passes, in order: drawn in a
    straight line, so that a long network does not drift sideways."""
    start, end = object(), object()
    flow = nx.DiGraph(g)
    flow.add_edges_from((start, n) for n, d in g.nodes(data=True) if d.get("kind") == "input")
    flow.add_edges_from((n, end) for n, d in g.nodes(data=True) if d.get("kind") == "output")
    if not g or end not in flow or not nx.has_path(flow, start, end):
        return []
    dominators = nx.immediate_dominators(flow, start)
    spine, n = [], dominators.get(end)
    while n is not None and n is not start:
        spine.append(n)
        n = dominators.get(n) if dominators.get(n) != n else None
    return spine[::-1]


def _order(g: nx.MultiDiGraph) -> list[str]:
    """Source order, made topological: the order Graphviz lays ranks out in."""
    position = {n: k for k, n in enumerate(g)}
    try:
        return list(nx.lexicographical_topological_sort(g, key=position.__getitem__))
    except nx.NetworkXUnfeasible:
        return list(g)


def _selects(g: nx.MultiDiGraph) -> list[str]:
    return [n for n, d in g.nodes(data=True) if d.get("kind") == "select"]


def _fold_residual_selects(g: nx.MultiDiGraph) -> None:
    """`residual?`: drop the select after the add, draw the add (and its skip) as optional."""
    for s in _selects(g):
        add = _optional_add(g, s)
        if add is None:
            continue
        hp = g.nodes[s]["hp"]
        _replace_node(g, s, add)
        g.nodes[add]["optional"] = hp
        for _, _, d in g.in_edges(add, data=True):
            if d.get("style") == "skip":
                d["note"] = short(hp) + "?"


def _optional_add(g: nx.MultiDiGraph, s: str) -> str | None:
    preds = [u for u, _ in g.in_edges(s)]
    adds = [u for u in preds if g.nodes[u].get("residual")]
    if not g.nodes[s].get("hp") or len(preds) != 2 or len(adds) != 1:
        return None
    body = next(u for u in preds if u != adds[0])
    joined = any(d.get("style") != "skip" for d in g.get_edge_data(body, adds[0], default={})
                 .values())
    return adds[0] if joined else None


def _fold_pass_through_selects(g: nx.MultiDiGraph) -> None:
    """A select with one input passes it on: connect the input to the select's consumers."""
    for s in _selects(g):
        if g.in_degree(s) == 1:
            (u, _, d_in), = g.in_edges(s, data=True)
            _replace_node(g, s, u, {k: d_in[k] for k in ("branch", "condition") if k in d_in})


def _replace_node(g: nx.MultiDiGraph, old: str, new: str, extra: dict | None = None) -> None:
    for _, t, d in list(g.out_edges(old, data=True)):
        g.add_edge(new, t, **{**(extra or {}), **d})
    g.remove_node(old)
    replaced = g.graph.setdefault("replaced", {})
    for key, value in list(replaced.items()):
        if value == old:
            replaced[key] = new
    replaced[old] = new


SIMPLIFY: tuple[Callable[[nx.MultiDiGraph], None], ...] = (
    _fold_residual_selects,
    _fold_pass_through_selects,
)


def _mark_shortcuts(g: nx.MultiDiGraph) -> None:
    """A conditional edge from a node that also feeds another input of the same target
    jumps over what lies between (an absent optional, unused repetitions): dashed."""
    for v in g:
        sources = [u for u, _ in g.in_edges(v)]
        for u, _, d in g.in_edges(v, data=True):
            if "branch" in d and any(w != u and nx.has_path(g, u, w) for w in sources):
                d["shortcut"] = True


def _group_merge_copies(g: nx.MultiDiGraph, clusters: dict) -> None:
    """Each merge input's copy of the leading stages becomes a cluster of its own."""
    members = _members(g, clusters)
    for m, d in list(g.nodes(data=True)):
        cid = d.get("cluster")
        if d.get("op") != "merge" or clusters.get(cid, {}).get("kind") != "merge":
            continue
        prefix = m.rpartition("/")[0]
        prefix = prefix + "/" if prefix else ""
        for k, name in enumerate(clusters[cid].get("inputs", ())):
            _copy_cluster(g, clusters, members, cid, f"{cid}_input{k}", prefix + name + "/")
            clusters[f"{cid}_input{k}"]["label"] = f"{name} path"


def _copy_cluster(g, clusters, members, cid: str, vid: str, prefix: str) -> None:
    clusters[vid] = dict(kind="copy", label=vid, parent=cid, condition=())
    for n, d in g.nodes(data=True):
        if d.get("cluster") == cid and n.startswith(prefix):
            d["cluster"] = vid
    for child, info in list(clusters.items()):
        inside = members.get(child, set())
        if info.get("parent") == cid and inside and all(n.startswith(prefix) for n in inside):
            info["parent"] = vid


def _members(g: nx.MultiDiGraph, clusters: dict) -> dict[str, set]:
    """Every node inside each cluster, nested clusters included."""
    members: dict[str, set] = {cid: set() for cid in clusters}
    for n, d in g.nodes(data=True):
        cid = d.get("cluster")
        while cid in members:
            members[cid].add(n)
            cid = clusters[cid].get("parent")
    return members


# ---------------------------------------------------------------- clusters and nodes


def _drawn(view: View) -> dict[str, str | None]:
    """Each cluster -> the drawn cluster that stands for it (itself, or an ancestor)."""
    hidden = {cid for cid, info in view.clusters.items() if _hidden(view, cid, info)}
    return {cid: _nearest(view.clusters, cid, hidden) for cid in view.clusters}


def _hidden(view: View, cid: str, info: dict) -> bool:
    inside = view.members.get(cid, set())
    if not inside:
        return True
    if info["kind"] == "rep":
        return not view.clusters.get(info.get("parent"), {}).get("hp")
    if info["kind"] == "alternative":
        children = [c for c, i in view.clusters.items() if i.get("parent") == cid]
        return len(inside) == 1 and not children
    return False


def _nearest(clusters: dict, cid: str | None, hidden: set) -> str | None:
    while cid is not None and cid in hidden:
        cid = clusters[cid].get("parent")
    return cid


def _body(view: View) -> list[str]:
    drawn = _drawn(view)
    place: dict[str | None, list[str]] = {}
    for n in view.order:
        place.setdefault(drawn.get(view.g.nodes[n].get("cluster")), []).append(n)
    children: dict[str | None, list[str]] = {}
    for cid, info in view.clusters.items():
        if drawn[cid] == cid:
            children.setdefault(drawn.get(info.get("parent")), []).append(cid)
    return _scope_lines(view, None, place, children, "  ")


def _scope_lines(view, cid, place, children, indent) -> list[str]:
    lines = [indent + _node_stmt(view, n) for n in place.get(cid, ())]
    for child in children.get(cid, ()):
        lines.append(f"{indent}subgraph {quote(child)} {{")
        lines += [f"{indent}  {k}={_attr_value(v)};"
                  for k, v in _cluster_attrs(view, child).items()]
        lines += _scope_lines(view, child, place, children, indent + "  ")
        lines.append(indent + "}")
    return lines


def _cluster_attrs(view: View, cid: str) -> dict:
    info = view.clusters[cid]
    kind = info["kind"]
    label = Left(_with_condition(view, info, LABELLERS.get(kind, _plain_label)(view, cid, info)))
    if view.live is not None and not _cluster_live(view, cid, info):
        return dict(label=label, style="dotted,rounded,filled", fillcolor=GREY_FILL,
                    color=GREY_LINE, fontcolor=GREY_TEXT,
                    tooltip=_cluster_tooltip(info) + " (not chosen)")
    if kind == "block":
        return dict(label=label, style="rounded,filled", fillcolor="#f7f9fb", color="#aab4be",
                    fontcolor="#34495e")
    colour = KIND_COLOURS.get(kind, FIXED_COLOUR) if _varies(view, info) else FIXED_COLOUR
    style = "dashed,rounded" if _varies(view, info) else "dotted,rounded"
    return dict(label=label, style=style, color=colour, fontcolor=colour, penwidth="1.3",
                tooltip=_cluster_tooltip(info))


def _cluster_live(view: View, cid: str, info: dict) -> bool:
    live = view.live
    return live is not None and holds(info.get("condition") or (), live.choices) and any(
        n in live.nodes for n in view.members.get(cid, ()))


def _with_condition(view: View, info: dict, label: str) -> str:
    """A cluster that exists only under a condition its parent lacks says so."""
    parent = view.clusters.get(info.get("parent"), {})
    if info["kind"] in ("rep", "if", "alternative") or parent.get("kind") == "alternative":
        return label
    implied = parent.get("hp") if parent.get("kind") in ("optional", "residual") else None
    new = [c for c in _added(info, parent) if c.hp != implied]
    return f"{label}\n(if {_clauses_text(view, new)})" if new else label


def _varies(view: View, info: dict) -> bool:
    """Whether a hyperparameter decides this structure (dashed) or it is fixed (dotted)."""
    if info["kind"] == "rep":
        return bool(info.get("condition")) and info.get("condition") != view.clusters[
            info["parent"]].get("condition")
    if info["kind"] in ("alternative", "copy"):
        return True
    return bool(info.get("hp"))


def _cluster_tooltip(info: dict) -> str:
    hp = info.get("hp")
    return f"{info['kind']} {hp}" if hp else info["kind"]


def _plain_label(view: View, cid: str, info: dict) -> str:
    return str(info.get("label", info["kind"]))


def _block_label(view: View, cid: str, info: dict) -> str:
    name, block = info.get("label"), info.get("block", info.get("label"))
    head = str(block) if name in (None, block) else f"{name}: {block}"
    params = _block_hps(view, cid)
    return "\n".join([head, *_wrap(params, ", ")]) if params else head


def _block_hps(view: View, cid: str) -> list[str]:
    """`ratio ∈ {8, 16, 32}` for the hyperparameters made from this call's block parameters."""
    path = "/".join(_hp_path(view.clusters, cid))
    structural = {info.get("hp") for info in view.clusters.values()}
    return [f"{short(h)} ∈ {domain(spec)}" for h, spec in view.hps.items()
            if h.rpartition("/")[0] == path and h not in structural]


def _hp_path(clusters: dict, cid: str | None) -> tuple:
    """The hyperparameter name prefix inside a cluster: the labels of the blocks, repeats,
    repetitions, choices and alternatives around it (graph.py names hps the same way)."""
    path: tuple = ()
    while cid is not None:
        info = clusters[cid]
        if info["kind"] in ("block", "repeat", "rep", "choice", "alternative"):
            path = (str(info.get("label")),) + path
        cid = info.get("parent")
    return path


def _optional_label(view: View, cid: str, info: dict) -> str:
    return f"optional {short(info.get('hp') or info.get('label'))}"


def _residual_label(view: View, cid: str, info: dict) -> str:
    return f"residual? {short(info['hp'])}" if info.get("hp") else "residual"


def _repeat_label(view: View, cid: str, info: dict) -> str:
    hp, counts = info.get("hp"), tuple(info.get("counts", ()))
    if not hp:
        return f"repeat ×{counts[0]}" if len(counts) == 1 else f"repeat {_counts(counts)}"
    spec = view.hps.get(hp)
    if spec is not None and tuple(spec.domain() or ()) == counts:
        return f"repeat {short(hp)} ∈ {_counts(counts)}"
    return f"repeat {info.get('label')} ∈ {_counts(counts)}\n(from {short(hp)})"


def _counts(counts: tuple) -> str:
    if len(counts) > 2 and counts == tuple(range(counts[0], counts[-1] + 1)):
        return f"{counts[0]}..{counts[-1]}"
    if len(counts) == 2 and counts[1] == counts[0] + 1:
        return f"{counts[0]}..{counts[1]}"
    return "{" + ", ".join(map(str, counts)) + "}"


def _rep_label(view: View, cid: str, info: dict) -> str:
    repeat = view.clusters[info["parent"]]
    k, hp = info.get("index", 0), repeat.get("hp")
    counts = tuple(repeat.get("counts", ()))
    if not hp or k + 1 <= min(counts, default=0):
        return str(info["label"])
    spec = view.hps.get(hp)
    if spec is not None and tuple(spec.domain() or ()) == counts:
        return f"{info['label']} (if {short(hp)} ≥ {k + 1})"
    return f"{info['label']} (if {_new_clauses(view, info, repeat)})"


def _choice_label(view: View, cid: str, info: dict) -> str:
    spec = view.hps.get(info.get("hp"))
    options = " | ".join(map(_constant, spec.values or ())) if spec else ""
    return f"choice {short(info.get('hp') or info['label'])}: {options}".rstrip(": ")


def _merge_label(view: View, cid: str, info: dict) -> str:
    stages = ", ".join(map(str, info.get("stages", ())))
    return f"merge {short(info.get('hp') or info['label'])} ∈ {{{stages}}}"


def _if_label(view: View, cid: str, info: dict) -> str:
    if info.get("when") is not None and not info.get("hp"):
        return f"if {_when_text(view, cid, info)}" if info.get("branch") else "else"
    parent = view.clusters.get(info.get("parent"), {})
    narrowed = _new_clauses(view, info, parent, info.get("hp"))
    return f"if {narrowed}" if info.get("branch") else f"else ({narrowed})"


def _when_text(view: View, cid: str, info: dict) -> str:
    """The shape condition of an `if`, from its select node's symbolic value."""
    for _, d in view.g.nodes(data=True):
        when = d.get("when")
        if isinstance(when, Sym) and str(when) == str(info["when"]):
            return sym_text(view, when, At(cluster=cid))
    return str(info["when"])


def _new_clauses(view: View, info: dict, parent: dict, hp: str | None = None) -> str:
    """The clauses of a cluster's condition that its parent's lacks, shortly written."""
    return _clauses_text(view, [c for c in _added(info, parent) if hp in (None, c.hp)]) or "…"


def _added(info: dict, parent: dict) -> list[Clause]:
    old = set(parent.get("condition") or ())
    return [c for c in info.get("condition") or () if c not in old]


def _clauses_text(view: View, clauses: Iterable[Clause]) -> str:
    return " and ".join(clause_text(c, view.hps.get(c.hp)) for c in clauses)


LABELLERS: dict[str, Callable[[View, str, dict], str]] = {
    "block": _block_label, "optional": _optional_label, "residual": _residual_label,
    "repeat": _repeat_label, "rep": _rep_label, "choice": _choice_label,
    "merge": _merge_label, "if": _if_label,
}


def _node_stmt(view: View, n: str) -> str:
    d = view.g.nodes[n]
    kind = d.get("kind")
    if kind == "select":
        look = dict(shape="point", width="0.07", color="#555555")
    elif kind in ("input", "output"):
        look = _io_look(d)
    else:
        look = _op_look(view, n, d)
    if n in view.spine:
        look["group"] = "spine"
    tooltip = _node_tooltip(n, d)
    if view.live is not None:
        look, tooltip = _highlighted(look, n in view.live.nodes, tooltip)
    return f"{quote(n)} {attrs({**look, 'tooltip': tooltip})};"


def _highlighted(look: dict, chosen: bool, tooltip: str) -> tuple[dict, str]:
    """A node's look on the chosen path (a heavier outline) or off it (grey, dotted)."""
    if chosen:
        return {**look, "penwidth": "2"}, tooltip
    styles = [s for s in look.get("style", "").split(",") if s and s != "dashed"]
    look = {**look, "style": ",".join([*styles, "dotted"]), "color": GREY_LINE,
            "fontcolor": GREY_TEXT}
    if "fillcolor" in look:
        look["fillcolor"] = GREY_FILL
    return look, tooltip + "\n(not chosen)"


def _node_tooltip(n: str, d: dict) -> str:
    condition = d.get("condition") or ()
    when = " and ".join(str(c) for c in condition)
    return f"{n}\n(only if {when})" if when else n


def _io_look(d: dict) -> dict:
    label = str(d.get("label"))
    if d.get("kind") == "input":
        dims = "×".join("?" if x is None else str(x) for x in d.get("shape") or ())
        return dict(label=f"{label}\n{dims}" if dims else label, shape="invhouse",
                    style="filled", fillcolor="#d5f5e3", color="#1e8449")
    return dict(label=label, shape="house", style="filled", fillcolor="#fadbd8",
                color="#c0392b")


def _op_look(view: View, n: str, d: dict) -> dict:
    style = "filled,dashed" if d.get("optional") else "filled"
    if d.get("residual"):
        return dict(label="+", shape="circle", width="0.3", height="0.3", fixedsize="true",
                    style=style, fillcolor=FAMILY_FILLS["merge"], fontsize="14")
    family = _family(str(d.get("op")))
    shape = "ellipse" if family == "merge" else "box"
    style = style if family == "merge" else "rounded," + style
    return dict(label=_op_label(view, n, d), shape=shape, style=style,
                fillcolor=FAMILY_FILLS[family])


def _family(op: str) -> str:
    spec = ops.lookup(op)
    if op == "merge" or (spec is not None and spec.inputs != 1):
        return "merge"
    keras_class = spec.keras_class if spec is not None else ""
    for key, family in (("Conv", "conv"), ("Pool", "pool"), ("Dense", "dense")):
        if key in keras_class:
            return family
    return "other"


# ---------------------------------------------------------------- op labels


def _op_label(view: View, n: str, d: dict) -> str:
    op, label = str(d.get("op")), str(d.get("label"))
    items = _arg_items(view, n, d)
    head = [label] if _named(label, op) else []
    if op == "merge":
        by = d.get("args", {}).get("op")
        return "merge\nby " + (_hp_arg(view, "op", by.args[0]) if isinstance(by, Sym)
                                and by.op == "hp" else value_text(view, by, At(n)))
    lines = _wrap([op, *items], ", ", first_sep=" ")
    return "\n".join(head + lines)


def _named(label: str, op: str) -> bool:
    """Whether a node's label says more than its op (`squeeze`, not `conv2d_1`)."""
    return re.sub(r"_\d+$", "", label.rstrip("'")) != op


def _arg_items(view: View, n: str, d: dict) -> list[str]:
    spec = ops.lookup(str(d.get("op")))
    lead = spec.positional_names[:1] if spec is not None else ()
    args = d.get("args") or {}
    shown = {name: _arg_text(view, n, name, value, lead) for name, value in args.items()
             if name != "strides" and (name not in HIDDEN_ARGS or isinstance(value, Sym))}
    stride = _stride_text(view, n, args.get("strides"))
    kernel = next((k for k in KERNEL_ARGS if k in shown), None)
    if stride and kernel:
        shown[kernel] += stride
    elif stride:
        shown["strides"] = "strides " + stride[1:]
    return list(shown.values())


def _arg_text(view: View, n: str, name: str, value, lead: tuple) -> str:
    if isinstance(value, Sym) and value.op == "hp":
        return _hp_arg(view, name, value.args[0])
    text = _kernel_text(view, n, value) if name in KERNEL_ARGS else value_text(view, value, At(n))
    if name in lead or name in KERNEL_ARGS or (name in VALUE_ONLY and isinstance(value, str)):
        return text
    return f"{name}={text}"


def _hp_arg(view: View, name: str, hp: str) -> str:
    """A named global hp by its name; an anonymous one by its values (the place names it)."""
    spec = view.hps.get(hp)
    if "/" not in hp or spec is None:
        return hp
    return f"{name} ∈ {domain(spec)}"


def _kernel_text(view: View, n: str, value) -> str:
    """`3×3` for a kernel, pool or upsampling size of 3 or (3, 3)."""
    if _is_int(value):
        return f"{value}×{value}"
    if isinstance(value, tuple) and value and all(_is_int(v) for v in value):
        return "×".join(map(str, value))
    return value_text(view, value, At(n))


def _stride_text(view: View, n: str, value) -> str:
    """`/2` for strides 2 or (2, 2); nothing for 1."""
    if isinstance(value, tuple) and value and all(_is_int(v) for v in value) \
            and len(set(value)) == 1:
        value = value[0]
    if value is None or value == 1:
        return ""
    return "/" + value_text(view, value, At(n))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _wrap(items: Iterable[str], sep: str, first_sep: str | None = None,
          width: int = WRAP) -> list[str]:
    """Join items into lines of about `width` characters (`first_sep` after the first item)."""
    lines: list[str] = []
    for k, item in enumerate(items):
        joiner = first_sep if k == 1 and first_sep is not None else sep
        if lines and len(lines[-1]) + len(joiner) + len(item) <= width:
            lines[-1] += joiner + item
            continue
        if lines and (k > 1 or first_sep is None):
            lines[-1] += sep.rstrip()
        lines.append(item)
    return lines


# ---------------------------------------------------------------- values


def short(hp: str) -> str:
    """The last part of a hyperparameter's name: its enclosing clusters say the rest."""
    return str(hp).rsplit("/", 1)[-1]


def domain(spec: HpSpec) -> str:
    """`{8, 16, 32}`, `1..4`, `0.0001..0.1 (log)`: every value an hp can take."""
    if spec.kind in ("choice", "bool"):
        return "{" + ", ".join(_constant(v) for v in spec.domain() or ()) + "}"
    text = f"{_constant(spec.min)}..{_constant(spec.max)}"
    if spec.step not in (None, 1):
        text += f" step {_constant(spec.step)}"
    return text + (f" ({spec.sampling})" if spec.sampling != "linear" else "")


def clause_text(c: Clause, spec: HpSpec | None = None) -> str:
    """`use_se=true`, `merge_point ∈ {group1, pool}`: values in the hp's own order."""
    order = list(spec.domain() or ()) if spec is not None else []
    ranked = sorted(c.values, key=lambda v: order.index(v) if v in order else len(order))
    values = [_constant(v) for v in ranked]
    if len(values) == 1:
        return f"{short(c.hp)}={values[0]}"
    return f"{short(c.hp)} ∈ {{{', '.join(values)}}}"


def _constant(value) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "none"}[value]
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(_constant(v) for v in value) + ")"
    return str(value)


@dataclass(frozen=True)
class At:
    """Where a value is drawn: on a node, or on a cluster's label."""

    node: str | None = None
    cluster: str | None = None


def value_text(view: View, value, context: At = At()) -> str:
    """Source-like text of an argument value; `in` for the tensor entering `context`."""
    if isinstance(value, Sym):
        return sym_text(view, value, context)
    if isinstance(value, Tensor):
        return short(value.node)
    if isinstance(value, tuple):
        return "(" + ", ".join(value_text(view, v, context) for v in value) + ")"
    return _constant(value)


def sym_text(view: View, value: Sym, context: At = At()) -> str:
    """A symbolic value, constants folded, with no more parentheses than needed.

    A shape of the tensor that enters `context` is written `in.channels`.
    """
    return _sym(view, _fold(value), context, 0)


def _sym(view: View, s, context: At, outer: int) -> str:
    if not isinstance(s, Sym):
        return value_text(view, s, context)
    if s.op in ("hp", "param"):
        return short(s.args[0]) if s.op == "hp" else str(s.args[0])
    if s.op == "shape":
        return _shape_text(view, s, context)
    if s.op == "seq":
        return "(" + ", ".join(_sym(view, a, context, 0) for a in s.args) + ")"
    if s.op == "call":
        return f"{s.args[0]}(" + ", ".join(_sym(view, a, context, 0) for a in s.args[1:]) + ")"
    prec = PRECEDENCE.get(s.op, 9)
    if s.op in ("neg", "not"):
        text = ("-" if s.op == "neg" else "not ") + _sym(view, s.args[0], context, prec)
    else:
        left = _sym(view, s.args[0], context, prec)
        right = _sym(view, s.args[1], context, prec + 1)
        text = f"{left} {s.op} {right}"
    return f"({text})" if prec < outer else text


def _fold(s):
    """Fold `(x * 2) * 2` into `x * 4`, `(x - 1) - 1` into `x - 2`, drop `true and`."""
    if not isinstance(s, Sym) or s.op in ("hp", "param", "shape"):
        return s
    args = tuple(_fold(a) for a in s.args)
    if s.op in ("and", "or"):
        keep = tuple(a for a in args if a is not (s.op == "and"))
        return keep[0] if len(keep) == 1 else Sym(s.op, keep) if keep else s.op == "and"
    inner = args[0] if args else None
    if s.op in ("*", "+", "-") and isinstance(inner, Sym) and _numbers(args[1:]) and \
            inner.op == s.op and _numbers(inner.args[1:]):
        total = inner.args[1] * args[1] if s.op == "*" else inner.args[1] + args[1]
        return Sym(s.op, (inner.args[0], total))
    return Sym(s.op, args)


def _numbers(values) -> bool:
    return len(values) == 1 and all(isinstance(v, int | float) and not isinstance(v, bool)
                                     for v in values)


def _shape_text(view: View, s: Sym, context: At) -> str:
    node, attr = s.args
    name = "in" if _enters(view, node, context) else short(node)
    if isinstance(attr, int):
        return f"{name}.shape[{attr}]"
    return f"{name}.{attr}"


def _enters(view: View, tensor: str, context: At) -> bool:
    """Whether `tensor` is the one input of the context's node, or enters a cluster around it."""
    tensor = view.g.graph.get("replaced", {}).get(tensor, tensor)
    if tensor not in view.g:
        return False
    cid = context.cluster
    if context.node in view.g:
        if {u for u, _ in view.g.in_edges(context.node)} == {tensor}:
            return True
        cid = view.g.nodes[context.node].get("cluster")
    while cid is not None and cid in view.clusters:
        inside = view.members.get(cid, set())
        if tensor not in inside and any(t in inside for t in view.g.successors(tensor)):
            return True
        cid = view.clusters[cid].get("parent")
    return False


# ---------------------------------------------------------------- edges and title


def _edges(view: View) -> list[str]:
    rank = {n: k for k, n in enumerate(view.order)}
    edges = sorted(view.g.edges(keys=True, data=True),
                   key=lambda e: (rank[e[0]], rank[e[1]], e[3].get("slot", 0), e[2]))
    labelled: set[tuple[str, str]] = set()
    lines = []
    for u, v, _, d in edges:
        look = _edge_look(view, u, v, d)
        text = look.get("label")
        if text and (v, text) in labelled:
            look.pop("label")
        labelled.add((v, text))
        lines.append(f"  {quote(u)} -> {quote(v)}{' ' + attrs(look) if look else ''};")
    return lines + _spine_edges(view)


def _spine_edges(view: View) -> list[str]:
    """Invisible, heavy edges between spine nodes that no edge joins: they keep the spine
    straight across the branches of an `if` or an optional part."""
    pairs = zip(view.spine, view.spine[1:], strict=False)
    return [f"  {quote(a)} -> {quote(b)} {attrs(dict(style='invis', weight='8'))};"
            for a, b in pairs if not view.g.has_edge(a, b)]


def _edge_look(view: View, u: str, v: str, d: dict) -> dict:
    look: dict = {}
    if d.get("style") == "skip":
        look.update(style="dashed", color=SKIP_COLOUR, penwidth="1.3")
    text = d.get("note") or _branch_text(view, v, d)
    if text:
        look.update(label=text, fontcolor=SKIP_COLOUR if d.get("note") else BRANCH_COLOUR)
        if "note" not in d:
            look.update(color=BRANCH_COLOUR)
    if d.get("shortcut"):
        look["style"] = "dashed"
    if view.g.nodes[v].get("kind") == "select":
        look["arrowhead"] = "none"
    if view.live is not None:
        if (u, v) in view.live.edges:
            look["penwidth"] = "1.8"
        else:
            look.update(style="dotted", color=GREY_LINE, penwidth="1")
            if "label" in look:
                look["fontcolor"] = GREY_TEXT
    return look


def _branch_text(view: View, v: str, d: dict) -> str:
    """The condition an edge adds to its target's, shortly: `use_se=true`, `group1=2`."""
    if "branch" not in d:
        return ""
    target = set(view.g.nodes[v].get("condition") or ())
    new = [c for c in d.get("condition") or () if c not in target]
    if new:
        return _clauses_text(view, new)
    hp, eq, value = str(d["branch"]).partition("=")
    return f"{short(hp)}={value}" if eq else hp


def _title(template, view: View) -> Left:
    if view.g.number_of_nodes() == 0:
        return Left(f"{template.name}: a block library, no graph")
    shown = {info.get("hp") for info in view.clusters.values() if info["kind"] != "if"}
    free = [f"{h} ∈ {domain(spec)}" for h, spec in view.hps.items()
            if "/" not in h and h not in shown]
    return Left("\n".join([str(template.name), *free]))


def _chosen_lines(hps: Iterable[HpSpec], choices: dict, prefix: str) -> list[str]:
    """`prefix` and the active choices that differ from their defaults, `name=value`."""
    items = [f"{h.name}={_constant(choices[h.name])}" for h in hps
             if h.name in choices and not _same(choices[h.name], h.default)]
    if not items:
        return [prefix + "the defaults"]
    return _wrap([prefix.rstrip(), *items], ", ", first_sep=" ", width=TITLE_WRAP)


def _same(a, b) -> bool:
    return a == b and isinstance(a, bool) == isinstance(b, bool)


# ---------------------------------------------------------------- one architecture


def architecture_to_dot(arch) -> str:
    """Graphviz DOT text of one concrete architecture: its layers as a plain chain, like the
    paper's drawings of chosen models (Figs. 11-14, 19-21).

    Every layer is a box with its op, key arguments (`conv2d 96, 3×3/2, relu`), output shape
    and parameter count; residual adds are ⊕ circles with red dashed skip edges; inputs and
    outputs are drawn as in `to_dot`. Layers are grouped in the template's blocks,
    repetitions and merge paths (a cluster holding nothing but one other is drawn as one,
    `first: fire_se › fire`). A replica that reuses another's layers (a `shared` repeat) is
    dashed and purple, and its cluster says `= rep0's layers`. The title names the template,
    the choices that differ from their defaults and the totals.

    Args:
        arch: a `resolve.Architecture`.
    Returns:
        The DOT text; the same architecture always gives the same text.
    """
    drawing = _ArchDrawing(arch)
    lines = [f"digraph {quote(arch.template.name)} {{"]
    lines += [f"  {k}={quote(v)};" for k, v in GRAPH_ATTRS.items()]
    lines.append(f"  label={_attr_value(drawing.title())};")
    lines.append(f"  node {attrs(NODE_ATTRS)};")
    lines.append(f"  edge {attrs(EDGE_ATTRS)};")
    lines += drawing.scope(None, "  ")
    lines += drawing.edges()
    lines.append("}")
    return "\n".join(lines) + "\n"


ARCH_CLUSTER_KINDS = frozenset({"block", "repeat", "rep", "merge", "copy", "alternative"})
SHARED_COLOUR = "#7d3c98"
TITLE_WRAP = 90


class _ArchDrawing:
    """The concrete graph as drawn: layers, their clusters, outputs and the spine."""

    def __init__(self, arch):
        self.arch = arch
        self.g: nx.DiGraph = arch.graph
        tg = arch.template.graph.copy()
        self.tg = tg
        self.clusters = {cid: dict(info) for cid, info in tg.graph.get("clusters", {}).items()}
        _group_merge_copies(tg, self.clusters)
        self.cluster_of = {n: tg.nodes[n].get("cluster") if n in tg else None for n in self.g}
        self.members = self._members()
        self.outputs = self._output_ids()
        self.spine = self._spine()
        self.place, self.children, self.heads, self.notes = self._layout()

    # ---- clusters

    def _members(self) -> dict[str, set]:
        members: dict[str, set] = {cid: set() for cid in self.clusters}
        for n, cid in self.cluster_of.items():
            while cid in members:
                members[cid].add(n)
                cid = self.clusters[cid].get("parent")
        return members

    def _shown(self, cid: str) -> bool:
        info, inside = self.clusters[cid], self.members[cid]
        if not inside or info["kind"] not in ARCH_CLUSTER_KINDS:
            return False
        if info["kind"] == "rep":  # a one-layer repetition says nothing its layer does not
            repeat = self.clusters.get(info.get("parent"), {})
            return self._tied(cid) or bool(repeat.get("hp")) and len(inside) > 1
        if info["kind"] == "alternative":
            return len(inside) > 1
        return True

    def _layout(self):
        shown = {cid for cid in self.clusters if self._shown(cid)}
        hidden = set(self.clusters) - shown
        place: dict[str | None, list[str]] = {}
        for n in self.g:
            place.setdefault(_nearest(self.clusters, self.cluster_of[n], hidden), []).append(n)
        children: dict[str | None, list[str]] = {}
        for cid in self.clusters:
            if cid in shown:
                parent = _nearest(self.clusters, self.clusters[cid].get("parent"), hidden)
                children.setdefault(parent, []).append(cid)
        heads = {cid: self._head(cid) for cid in shown}
        notes = {cid: self._notes(cid) for cid in shown}
        for cid in [c for c in self.clusters if c in shown]:  # parents before children
            while not place.get(cid) and len(children.get(cid, ())) == 1:
                kid = children.pop(cid)[0]
                place[cid] = place.pop(kid, [])
                children[cid] = children.pop(kid, [])
                if not (self.clusters[kid]["kind"] == "rep"
                        and self.clusters[cid]["kind"] == "repeat"):
                    heads[cid] = f"{heads[cid]} › {heads[kid]}"
                notes[cid] = notes[cid] + notes[kid]
        return place, children, heads, notes

    def _head(self, cid: str) -> str:
        info = self.clusters[cid]
        kind, label = info["kind"], str(info.get("label"))
        if kind == "block":
            block = str(info.get("block", label))
            return block if label == block else f"{label}: {block}"
        if kind == "repeat":
            reps = [c for c, i in self.clusters.items()
                    if i.get("parent") == cid and i["kind"] == "rep" and self.members[c]]
            return f"{label} ×{len(reps)}"
        if kind == "merge":
            hp = info.get("hp")
            at = f" after {_constant(self.arch.choices[hp])}" if hp in self.arch.choices else ""
            return f"merge of {', '.join(map(str, info.get('inputs', ())))}{at}"
        if kind == "alternative":
            choice = self.clusters.get(info.get("parent"), {})
            return f"{short(choice.get('hp') or choice.get('label'))}={label}"
        return label

    def _notes(self, cid: str) -> list[str]:
        """The values of a block's own hyperparameters; what a tied replica reuses."""
        info = self.clusters[cid]
        notes = []
        if info["kind"] == "block":
            path = "/".join(_hp_path(self.clusters, cid))
            structural = {i.get("hp") for i in self.clusters.values()}
            notes += _wrap([f"{short(h)}={_constant(v)}" for h, v in self.arch.choices.items()
                            if h.rpartition("/")[0] == path and h not in structural], ", ")
        if info["kind"] == "repeat" and any(self._tied(c) for c, i in self.clusters.items()
                                            if i.get("parent") == cid):
            notes.append("one set of weights")
        if info["kind"] == "rep" and self._tied(cid):
            notes.append(f"= {self._tie_source(cid)}'s layers (tied)")
        return notes

    def _tied(self, cid: str) -> bool:
        return any(self.g.nodes[n].get("shares") for n in self.members.get(cid, ()))

    def _tie_source(self, cid: str) -> str:
        n = next(m for m in sorted(self.members[cid]) if self.g.nodes[m].get("shares"))
        return _differing_part(n, self.g.nodes[n]["shares"])

    def scope(self, cid: str | None, indent: str) -> list[str]:
        lines = [indent + self._node_stmt(n) for n in self.place.get(cid, ())]
        if cid is None:
            lines += [indent + self._output_stmt(name) for name in self.outputs]
        for child in self.children.get(cid, ()):
            lines.append(f"{indent}subgraph {quote(child)} {{")
            lines += [f"{indent}  {k}={_attr_value(v)};"
                      for k, v in self._cluster_attrs(child).items()]
            lines += self.scope(child, indent + "  ")
            lines.append(indent + "}")
        return lines

    def _cluster_attrs(self, cid: str) -> dict:
        kind = self.clusters[cid]["kind"]
        label = Left("\n".join([self.heads[cid], *self.notes[cid]]))
        tooltip = f"{kind} {cid}"
        if kind == "rep" and self._tied(cid):
            return dict(label=label, style="dashed,rounded,filled", fillcolor="#f8f1fb",
                        color=SHARED_COLOUR, fontcolor=SHARED_COLOUR, penwidth="1.5",
                        tooltip=tooltip)
        if kind == "block":
            return dict(label=label, style="rounded,filled", fillcolor="#f7f9fb",
                        color="#aab4be", fontcolor="#34495e", tooltip=tooltip)
        colour = KIND_COLOURS.get(kind, FIXED_COLOUR)
        return dict(label=label, style="rounded", color=colour, fontcolor=colour,
                    penwidth="1.2", tooltip=tooltip)

    # ---- nodes

    def _node_stmt(self, n: str) -> str:
        d = self.g.nodes[n]
        if d["op"] == "input":
            look = dict(label=f"{n}\n{_shape(d['shape'])}", shape="invhouse", style="filled",
                        fillcolor="#d5f5e3", color="#1e8449")
        elif self._residual(n):
            look = dict(label="⊕", shape="circle", width="0.3", height="0.3",
                        fixedsize="true", style="filled", fillcolor=FAMILY_FILLS["merge"],
                        fontsize="14")
        else:
            look = self._layer_look(n, d)
        if d.get("shares"):
            look.update(style=look["style"] + ",dashed", color=SHARED_COLOUR, penwidth="1.3")
        if n in self.spine:
            look["group"] = "spine"
        return f"{quote(n)} {attrs({**look, 'tooltip': self._tooltip(n, d)})};"

    def _residual(self, n: str) -> bool:
        return n in self.tg and bool(self.tg.nodes[n].get("residual")) \
            and self.g.nodes[n]["op"] == "add"

    def _layer_look(self, n: str, d: dict) -> dict:
        op, label = str(d["op"]), str(d.get("label") or n)
        head = [label] if _named(label, op) else []
        lines = _wrap([op, *_arg_items(None, n, d)], ", ", first_sep=" ")
        lines.append(_shape(d["shape"]))
        if d.get("shares") and d["params"]:
            lines.append(f"weights of {_differing_part(n, d['shares'])}")
        elif d["params"]:
            lines.append(f"{d['params']:,} params")
        family = _family(op)
        if family == "merge":
            return dict(label="\n".join(head + lines), shape="ellipse", style="filled",
                        fillcolor=FAMILY_FILLS[family])
        return dict(label="\n".join(head + lines), shape="box", style="rounded,filled",
                    fillcolor=FAMILY_FILLS[family])

    def _tooltip(self, n: str, d: dict) -> str:
        lines = [n, f"output {_shape(d['shape'])}"]
        if d["params"]:
            lines.append(f"{d['params']:,} parameters")
        if d["flops"]:
            lines.append(f"{d['flops']:,} multiply-adds")
        if d.get("shares"):
            lines.append(f"reuses the layer of {d['shares']}")
        return "\n".join(lines)

    def _output_ids(self) -> dict[str, str]:
        """Each output's drawn node: the template's output node, never a layer's id."""
        ids: dict[str, str] = {}
        for name in self.arch.outputs:
            node = str(self.arch.template.outputs.get(name, name))
            while node in self.g or node in ids.values():
                node += "'"
            ids[name] = node
        return ids

    def _output_stmt(self, name: str) -> str:
        source = self.arch.outputs[name]
        look = dict(label=f"{name}\n{_shape(self.g.nodes[source]['shape'])}", shape="house",
                    style="filled", fillcolor="#fadbd8", color="#c0392b")
        if self.outputs[name] in self.spine:
            look["group"] = "spine"
        return f"{quote(self.outputs[name])} {attrs({**look, 'tooltip': f'output {name}'})};"

    # ---- edges

    def _flow(self) -> nx.MultiDiGraph:
        flow = nx.MultiDiGraph()
        for n, d in self.g.nodes(data=True):
            flow.add_node(n, kind="input" if d["op"] == "input" else "op")
        flow.add_edges_from(self.g.edges)
        for name, node in self.outputs.items():
            flow.add_node(node, kind="output")
            flow.add_edge(self.arch.outputs[name], node)
        return flow

    def _spine(self) -> list[str]:
        return _spine(self._flow())

    def _skip_slot(self, v: str) -> int | None:
        """Which input of a residual add is the skip: its rank among the live in-edges."""
        if not self._residual(v):
            return None
        live = sorted((d for _, _, d in self.tg.in_edges(v, data=True)
                       if holds(d.get("condition") or (), self.arch.choices)),
                      key=lambda d: d.get("slot", 0))
        return next((k for k, d in enumerate(live) if d.get("style") == "skip"), None)

    def edges(self) -> list[str]:
        lines = []
        for v in self.g:
            skip = self._skip_slot(v)
            for slot, u in enumerate(self.g.nodes[v]["inputs"]):
                look = dict(style="dashed", color=SKIP_COLOUR, penwidth="1.3") \
                    if slot == skip else {}
                lines.append(f"  {quote(u)} -> {quote(v)}{' ' + attrs(look) if look else ''};")
        for name, node in self.outputs.items():
            lines.append(f"  {quote(self.arch.outputs[name])} -> {quote(node)};")
        flow = self._flow()
        pairs = zip(self.spine, self.spine[1:], strict=False)
        lines += [f"  {quote(a)} -> {quote(b)} {attrs(dict(style='invis', weight='8'))};"
                  for a, b in pairs if not flow.has_edge(a, b)]
        return lines

    # ---- title

    def title(self) -> Left:
        arch = self.arch
        layers = sum(1 for _, d in self.g.nodes(data=True) if d["op"] != "input")
        totals = (f"{arch.params:,} parameters, {_count(arch.flops)} multiply-adds (FLOPs), "
                  f"{layers} layers")
        chosen = _chosen_lines(arch.template.hyperparameters, arch.choices, "choices: ")
        return Left("\n".join([f"{arch.template.name}: one architecture", *chosen, totals]))


def _shape(shape) -> str:
    """`(15, 15, 96)`, `(10,)`: an output shape without the batch dimension."""
    dims = ["?" if x is None else str(x) for x in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _count(n: int) -> str:
    """`583,200` below ten million, else `432.97 M` / `1.2 G`."""
    if n < 10_000_000:
        return f"{n:,}"
    for scale, unit in ((1e9, "G"), (1e6, "M")):
        if n >= scale:
            return f"{n / scale:.4g} {unit}"
    return str(n)


def _differing_part(node: str, other: str) -> str:
    """The first path part where `other` differs from `node`: `rep0` for a tied replica."""
    for mine, theirs in zip(node.split("/"), other.split("/"), strict=False):
        if mine != theirs:
            return theirs
    return other
