"""Template graph (and, to highlight, a set of choices) -> `View`: the graph as drawn, its
selects folded, merge copies grouped, nodes in source order, the spine, and the path the
choices keep."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import networkx as nx

from ..diagnostics import ArchError
from ..hyper import HpSpec, holds
from ..kinds import Node
from ..resolve import resolve
from .common import short
from .compact import collapse_blocks, compact_repeats
from .layout import group_merge_copies, members, spine


@dataclass
class Live:
    """The nodes and edges on the path that a set of choices takes through a template."""

    choices: dict
    nodes: set
    edges: set  # (u, v) pairs


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


def view(template, choices: dict | None = None, compact: bool = False,
         collapse: frozenset = frozenset()) -> View:
    """The drawing's graph of a template; with `choices`, what they keep, and `residual?`
    joins left unfolded so that the chosen path is a path of drawn edges. `compact` draws
    each repeat once; `collapse` names blocks drawn as one node each (`compact.py`)."""
    g = template.graph.copy()
    clusters = {cid: dict(info) for cid, info in g.graph.get("clusters", {}).items()}
    if compact:
        compact_repeats(g, clusters)
    if collapse:
        collapse_blocks(g, clusters, set(collapse))
    for step in SIMPLIFY:
        if choices is None or step is not _fold_residual_selects:
            step(g)
    group_merge_copies(g, clusters)
    cluster_of = {n: d.get("cluster") for n, d in g.nodes(data=True)}
    drawn = View(g, clusters, {h.name: h for h in template.hyperparameters}, _order(g),
                 members(cluster_of, clusters), spine(g))
    _mark_shortcuts(g)
    if choices is not None:
        drawn.live = _live(template, drawn, choices)
    return drawn


def _live(template, drawn: View, choices: dict) -> Live:
    """What `choices` keep: conditions that hold, and of a shape-decided `if` the branch that
    resolving the template takes (the op nodes of the concrete graph)."""
    try:
        concrete: set | None = set(resolve(template, choices).graph)
    except ArchError:
        concrete = None
    g, nodes, edges = drawn.g, set(), set()
    for n in drawn.order:
        d = g.nodes[n]
        if not holds(d.get("condition") or (), choices):
            continue
        sources = _live_sources(g, n, nodes, choices)
        if d.get("kind") in (Node.SELECT, Node.OUTPUT):
            if sources:
                nodes.add(n)
        elif concrete is None or n in concrete:
            nodes.add(n)
        if n in nodes:
            edges.update((u, n) for u in sources)
    return Live(choices, nodes, edges)


def _live_sources(g: nx.MultiDiGraph, n: str, nodes: set, choices: dict) -> list[str]:
    """The kept inputs of `n`: kept nodes over edges whose condition holds."""
    sources = [u for u, _, e in g.in_edges(n, data=True)
               if u in nodes and holds(e.get("condition") or (), choices)]
    d = g.nodes[n]
    if d.get("kind") == Node.SELECT and d.get("when") is not None and len(sources) > 1:
        # an empty branch's source lies upstream of the taken branch's end
        sources = [u for u in sources if not any(
            w != u and nx.has_path(g, u, w) for w in sources)]
    return sources


def _order(g: nx.MultiDiGraph) -> list[str]:
    """Source order, made topological: the order Graphviz lays ranks out in."""
    position = {n: k for k, n in enumerate(g)}
    try:
        return list(nx.lexicographical_topological_sort(g, key=position.__getitem__))
    except nx.NetworkXUnfeasible:
        return list(g)


def _selects(g: nx.MultiDiGraph) -> list[str]:
    return [n for n, d in g.nodes(data=True) if d.get("kind") == Node.SELECT]


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
