"""Template graph -> Graphviz DOT text drawn like the paper's figures.

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
and the rest greyed out.
"""

from __future__ import annotations

from ..hyper import holds
from ..kinds import Cluster, Node
from ..values import Sym
from .clusters import cluster_label
from .common import (
    BRANCH_COLOUR,
    FIXED_COLOUR,
    GREY_FILL,
    GREY_LINE,
    GREY_TEXT,
    KIND_COLOURS,
    SKIP_COLOUR,
    SKIP_LOOK,
    add_look,
    block_cluster,
    chosen_lines,
    drawing,
    filled_cluster,
    input_look,
    named,
    op_look,
    outlined_cluster,
    output_look,
    short,
    wrap,
)
from .dot import Left, edge_stmt, node_stmt
from .labels import At, arg_items, clauses_text, domain, hp_arg, value_text
from .layout import nest, placement, spine_edges
from .view import View, view


def to_dot(template, compact: bool = False, collapse=()) -> str:
    """Graphviz DOT text of a template graph, drawn like the paper's figures.

    Args:
        template: a `graph.Template` (anything with `.name`, `.graph`, `.hyperparameters`).
        compact: draw each repeat once, its first repetition, with its range (`archc dot`'s
            default); False draws every repetition the repeat can have.
        collapse: block names (or `all`) whose calls are drawn as one node each.
    Returns:
        The DOT text; the same template always gives the same text.
    """
    return _template_dot(template, None, compact, frozenset(collapse))


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


def _template_dot(template, choices: dict | None, compact: bool = False,
                  collapse: frozenset = frozenset()) -> str:
    drawn = view(template, choices, compact, collapse)
    title = _title(template, drawn)
    if choices is not None and drawn.g.number_of_nodes():
        title += chosen_lines(template.hyperparameters, choices, "highlighted: ")
    return drawing(template.name, title, _body(drawn) + _edges(drawn))


def _title(template, drawn: View) -> list[str]:
    """The template's name and its global hyperparameters that no cluster shows."""
    if drawn.g.number_of_nodes() == 0:
        return [f"{template.name}: a block library, no graph"]
    shown = {info.get("hp") for info in drawn.clusters.values() if info["kind"] != Cluster.IF}
    free = [f"{h} ∈ {domain(spec)}" for h, spec in drawn.hps.items()
            if "/" not in h and h not in shown]
    return [str(template.name), *free]


# ---------------------------------------------------------------- clusters


def _body(drawn: View) -> list[str]:
    hidden = {cid for cid, info in drawn.clusters.items() if _hidden(drawn, cid, info)}
    cluster_of = {n: drawn.g.nodes[n].get("cluster") for n in drawn.order}
    place, children = placement(drawn.order, cluster_of, drawn.clusters, hidden)
    return nest(None, place, children, lambda n: _node_stmt(drawn, n),
                lambda cid: _cluster_look(drawn, cid))


def _hidden(drawn: View, cid: str, info: dict) -> bool:
    inside = drawn.members.get(cid, set())
    if not inside:
        return True
    if info["kind"] == Cluster.REP:
        repeat = drawn.clusters.get(info.get("parent"), {})
        return repeat.get("compact") or not repeat.get("hp")
    if info["kind"] == Cluster.ALTERNATIVE:
        children = [c for c, i in drawn.clusters.items() if i.get("parent") == cid]
        return len(inside) == 1 and not children
    return False


def _cluster_look(drawn: View, cid: str) -> dict:
    info = drawn.clusters[cid]
    kind = info["kind"]
    label = Left(cluster_label(drawn, cid, info))
    if drawn.live is not None and not _cluster_live(drawn, cid, info):
        return filled_cluster(label, "dotted,rounded,filled", GREY_FILL, GREY_LINE, GREY_TEXT,
                              tooltip=_cluster_tooltip(info) + " (not chosen)")
    if kind == Cluster.BLOCK:
        return block_cluster(label)
    varies = _varies(drawn, info)
    colour = KIND_COLOURS.get(kind, FIXED_COLOUR) if varies else FIXED_COLOUR
    style = "dashed,rounded" if varies else "dotted,rounded"
    return outlined_cluster(label, colour, style, "1.3", _cluster_tooltip(info))


def _cluster_live(drawn: View, cid: str, info: dict) -> bool:
    live = drawn.live
    return live is not None and holds(info.get("condition") or (), live.choices) and any(
        n in live.nodes for n in drawn.members.get(cid, ()))


def _varies(drawn: View, info: dict) -> bool:
    """Whether a hyperparameter decides this structure (dashed) or it is fixed (dotted)."""
    if info["kind"] == Cluster.REP:
        return bool(info.get("condition")) and info.get("condition") != drawn.clusters[
            info["parent"]].get("condition")
    if info["kind"] in (Cluster.ALTERNATIVE, Cluster.COPY):
        return True
    return bool(info.get("hp"))


def _cluster_tooltip(info: dict) -> str:
    hp = info.get("hp")
    return f"{info['kind']} {hp}" if hp else info["kind"]


# ---------------------------------------------------------------- nodes


def _node_stmt(drawn: View, n: str) -> str:
    d = drawn.g.nodes[n]
    kind = d.get("kind")
    if kind == Node.SELECT:
        look = dict(shape="point", width="0.07", color="#555555")
    elif kind in (Node.INPUT, Node.OUTPUT):
        look = _io_look(d)
    else:
        look = _op_look(drawn, n, d)
    if n in drawn.spine:
        look["group"] = "spine"
    tooltip = _node_tooltip(n, d)
    if drawn.live is not None:
        look, tooltip = _highlighted(look, n in drawn.live.nodes, tooltip)
    return node_stmt(n, {**look, "tooltip": tooltip})


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
    if d.get("kind") == Node.INPUT:
        dims = "×".join("?" if x is None else str(x) for x in d.get("shape") or ())
        return input_look(f"{label}\n{dims}" if dims else label)
    return output_look(label)


def _op_look(drawn: View, n: str, d: dict) -> dict:
    style = "filled,dashed" if d.get("optional") else "filled"
    if d.get("residual"):
        return add_look("+", style)
    return op_look(_op_label(drawn, n, d), str(d.get("op")), style)


def _op_label(drawn: View, n: str, d: dict) -> str:
    if d.get("collapsed"):
        cid = d["collapsed"]
        layers = d.get("layers", 0)
        return (cluster_label(drawn, cid, drawn.clusters[cid])
                + f"\n{layers} layer{'s' if layers != 1 else ''}")
    op, label = str(d.get("op")), str(d.get("label"))
    if op == "merge":
        by = d.get("args", {}).get("op")
        return "merge\nby " + (hp_arg(drawn, "op", by.args[0]) if isinstance(by, Sym)
                                and by.op == "hp" else value_text(drawn, by, At(n)))
    head = [label] if named(label, op) else []
    return "\n".join(head + wrap([op, *arg_items(drawn, n, d)], ", ", first_sep=" "))


# ---------------------------------------------------------------- edges


def _edges(drawn: View) -> list[str]:
    rank = {n: k for k, n in enumerate(drawn.order)}
    edges = sorted(drawn.g.edges(keys=True, data=True),
                   key=lambda e: (rank[e[0]], rank[e[1]], e[3].get("slot", 0), e[2]))
    labelled: set[tuple[str, str]] = set()
    lines = []
    for u, v, _, d in edges:
        look = _edge_look(drawn, u, v, d)
        text = look.get("label")
        if text and (v, text) in labelled:
            look.pop("label")
        labelled.add((v, text))
        lines.append(edge_stmt(u, v, look))
    return lines + spine_edges(drawn.spine, drawn.g)


def _edge_look(drawn: View, u: str, v: str, d: dict) -> dict:
    look: dict = dict(SKIP_LOOK) if d.get("style") == "skip" else {}
    text = d.get("note") or _branch_text(drawn, v, d)
    if text:
        look.update(label=text, fontcolor=SKIP_COLOUR if d.get("note") else BRANCH_COLOUR)
        if "note" not in d:
            look.update(color=BRANCH_COLOUR)
    if d.get("shortcut") or d.get("drops"):  # a merge op's input that may drop out: dashed
        look["style"] = "dashed"
    if drawn.g.nodes[v].get("kind") == Node.SELECT:
        look["arrowhead"] = "none"
    if drawn.live is not None:
        _highlight_edge(look, (u, v) in drawn.live.edges)
    return look


def _highlight_edge(look: dict, chosen: bool) -> None:
    """An edge on the chosen path (heavier) or off it (grey, dotted)."""
    if chosen:
        look["penwidth"] = "1.8"
        return
    look.update(style="dotted", color=GREY_LINE, penwidth="1")
    if "label" in look:
        look["fontcolor"] = GREY_TEXT


def _branch_text(drawn: View, v: str, d: dict) -> str:
    """The condition an edge adds to its target's, shortly: `use_se=true`, `group1=2`."""
    if "branch" not in d:
        return ""
    target = set(drawn.g.nodes[v].get("condition") or ())
    new = [c for c in d.get("condition") or () if c not in target]
    if new:
        return clauses_text(drawn, new)
    hp, eq, value = str(d["branch"]).partition("=")
    return f"{short(hp)}={value}" if eq else hp
