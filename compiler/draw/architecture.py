"""One concrete architecture (a `resolve.Architecture`) -> Graphviz DOT text: a plain chain
of its layers with their output shapes and parameters, grouped in the template's blocks and
repetitions, tied replicas marked, like the paper's drawings of chosen models."""

from __future__ import annotations

import networkx as nx

from .. import text
from ..hyper import holds
from ..kinds import Cluster, Node
from .common import (
    FIXED_COLOUR,
    KIND_COLOURS,
    SHARED_COLOUR,
    SKIP_LOOK,
    add_look,
    block_cluster,
    chosen_lines,
    constant,
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
from .labels import arg_items
from .layout import group_merge_copies, hp_path, members, nest, placement, spine, spine_edges

DRAWN_KINDS = frozenset({Cluster.BLOCK, Cluster.REPEAT, Cluster.REP, Cluster.MERGE,
                         Cluster.COPY, Cluster.ALTERNATIVE})


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
    drawn = _ArchDrawing(arch)
    return drawing(arch.template.name, drawn.title(), drawn.body() + drawn.edges())


class _ArchDrawing:
    """The concrete graph as drawn: layers, their clusters, outputs and the spine."""

    def __init__(self, arch):
        self.arch = arch
        self.g: nx.DiGraph = arch.graph
        self.tg = arch.template.graph.copy()
        self.clusters = {cid: dict(info)
                         for cid, info in self.tg.graph.get("clusters", {}).items()}
        group_merge_copies(self.tg, self.clusters)
        cluster_of = {n: self.tg.nodes[n].get("cluster") if n in self.tg else None
                      for n in self.g}
        self.members = members(cluster_of, self.clusters)
        self.outputs = self._output_ids()
        self.flow = self._flow()
        self.spine = spine(self.flow)
        self.place, self.children, self.heads, self.notes = self._layout(cluster_of)

    # ---- clusters

    def _shown(self, cid: str) -> bool:
        info, inside = self.clusters[cid], self.members[cid]
        if not inside or info["kind"] not in DRAWN_KINDS:
            return False
        if info["kind"] == Cluster.REP:  # a one-layer repetition says nothing its layer does not
            repeat = self.clusters.get(info.get("parent"), {})
            return self._tied(cid) or bool(repeat.get("hp")) and len(inside) > 1
        if info["kind"] == Cluster.ALTERNATIVE:
            return len(inside) > 1
        return True

    def _layout(self, cluster_of: dict):
        """Where layers and outputs are drawn, each shown cluster's children, head and notes;
        a cluster holding nothing but one other is drawn as one (`first: fire_se › fire`)."""
        hidden = {cid for cid in self.clusters if not self._shown(cid)}
        place, children = placement(self.g, cluster_of, self.clusters, hidden)
        place.setdefault(None, []).extend(self.outputs.values())  # after the top-level layers
        shown = [cid for cid in self.clusters if cid not in hidden]  # parents before children
        heads = {cid: self._head(cid) for cid in shown}
        notes = {cid: self._notes(cid) for cid in shown}
        for cid in shown:
            while not place.get(cid) and len(children.get(cid, ())) == 1:
                kid = children.pop(cid)[0]
                place[cid] = place.pop(kid, [])
                children[cid] = children.pop(kid, [])
                if not (self.clusters[kid]["kind"] == Cluster.REP
                        and self.clusters[cid]["kind"] == Cluster.REPEAT):
                    heads[cid] = f"{heads[cid]} › {heads[kid]}"
                notes[cid] = notes[cid] + notes[kid]
        return place, children, heads, notes

    def _head(self, cid: str) -> str:
        info = self.clusters[cid]
        kind, label = info["kind"], str(info.get("label"))
        if kind == Cluster.BLOCK:
            block = str(info.get("block", label))
            return block if label == block else f"{label}: {block}"
        if kind == Cluster.REPEAT:
            reps = [c for c, i in self.clusters.items()
                    if i.get("parent") == cid and i["kind"] == Cluster.REP and self.members[c]]
            return f"{label} ×{len(reps)}"
        if kind == Cluster.MERGE:
            hp = info.get("hp")
            at = f" after {constant(self.arch.choices[hp])}" if hp in self.arch.choices else ""
            return f"merge of {', '.join(map(str, info.get('inputs', ())))}{at}"
        if kind == Cluster.ALTERNATIVE:
            choice = self.clusters.get(info.get("parent"), {})
            return f"{short(choice.get('hp') or choice.get('label'))}={label}"
        return label

    def _notes(self, cid: str) -> list[str]:
        """The values of a block's own hyperparameters; what a tied replica reuses."""
        kind = self.clusters[cid]["kind"]
        notes = self._block_values(cid) if kind == Cluster.BLOCK else []
        if kind == Cluster.REPEAT and any(self._tied(c) for c, i in self.clusters.items()
                                          if i.get("parent") == cid):
            notes.append("one set of weights")
        if kind == Cluster.REP and self._tied(cid):
            notes.append(f"= {self._tie_source(cid)}'s layers (tied)")
        return notes

    def _block_values(self, cid: str) -> list[str]:
        """`ratio=16`: the chosen values of the hps made from this call's block parameters."""
        path = "/".join(hp_path(self.clusters, cid))
        structural = {i.get("hp") for i in self.clusters.values()}
        return wrap([f"{short(h)}={constant(v)}" for h, v in self.arch.choices.items()
                     if h.rpartition("/")[0] == path and h not in structural], ", ")

    def _tied(self, cid: str) -> bool:
        return any(self.g.nodes[n].get("shares") for n in self.members.get(cid, ()))

    def _tie_source(self, cid: str) -> str:
        n = next(m for m in sorted(self.members[cid]) if self.g.nodes[m].get("shares"))
        return _differing_part(n, self.g.nodes[n]["shares"])

    def body(self) -> list[str]:
        """The node statements and nested clusters."""
        return nest(None, self.place, self.children, self._stmt, self._cluster_look)

    def _cluster_look(self, cid: str) -> dict:
        kind = self.clusters[cid]["kind"]
        label = Left("\n".join([self.heads[cid], *self.notes[cid]]))
        tooltip = f"{kind} {cid}"
        if kind == Cluster.REP and self._tied(cid):
            return filled_cluster(label, "dashed,rounded,filled", "#f8f1fb", SHARED_COLOUR,
                                  SHARED_COLOUR, penwidth="1.5", tooltip=tooltip)
        if kind == Cluster.BLOCK:
            return block_cluster(label, tooltip=tooltip)
        return outlined_cluster(label, KIND_COLOURS.get(kind, FIXED_COLOUR), "rounded", "1.2",
                                tooltip)

    # ---- nodes

    def _stmt(self, n: str) -> str:
        if n not in self.g:
            return self._output_stmt(n)
        d = self.g.nodes[n]
        if d["op"] == "input":
            look = input_look(f"{n}\n{text.shape(d['shape'])}")
        elif self._residual(n):
            look = add_look("⊕")
        else:
            look = self._layer_look(n, d)
        if d.get("shares"):
            look.update(style=look["style"] + ",dashed", color=SHARED_COLOUR, penwidth="1.3")
        if n in self.spine:
            look["group"] = "spine"
        return node_stmt(n, {**look, "tooltip": _tooltip(n, d)})

    def _residual(self, n: str) -> bool:
        return n in self.tg and bool(self.tg.nodes[n].get("residual")) \
            and self.g.nodes[n]["op"] == "add"

    def _layer_look(self, n: str, d: dict) -> dict:
        op, label = str(d["op"]), str(d.get("label") or n)
        head = [label] if named(label, op) else []
        lines = wrap([op, *arg_items(None, n, d)], ", ", first_sep=" ")
        lines.append(text.shape(d["shape"]))
        if d.get("shares") and d["params"]:
            lines.append(f"weights of {_differing_part(n, d['shares'])}")
        elif d["params"]:
            lines.append(f"{d['params']:,} params")
        return op_look("\n".join(head + lines), op)

    def _output_ids(self) -> dict[str, str]:
        """Each output's drawn node: the template's output node, never a layer's id."""
        ids: dict[str, str] = {}
        for name in self.arch.outputs:
            node = str(self.arch.template.outputs.get(name, name))
            while node in self.g or node in ids.values():
                node += "'"
            ids[name] = node
        return ids

    def _output_stmt(self, node: str) -> str:
        name = next(k for k, v in self.outputs.items() if v == node)
        source = self.arch.outputs[name]
        look = output_look(f"{name}\n{text.shape(self.g.nodes[source]['shape'])}")
        if node in self.spine:
            look["group"] = "spine"
        return node_stmt(node, {**look, "tooltip": f"output {name}"})

    # ---- edges

    def _flow(self) -> nx.MultiDiGraph:
        """The layers and the drawn outputs, with node kinds: what the spine runs through."""
        flow = nx.MultiDiGraph()
        for n, d in self.g.nodes(data=True):
            flow.add_node(n, kind=Node.INPUT if d["op"] == "input" else Node.OP)
        flow.add_edges_from(self.g.edges)
        for name, node in self.outputs.items():
            flow.add_node(node, kind=Node.OUTPUT)
            flow.add_edge(self.arch.outputs[name], node)
        return flow

    def _skip_slot(self, v: str) -> int | None:
        """Which input of a residual add is the skip: its rank among the live in-edges."""
        if not self._residual(v):
            return None
        live = sorted((d for _, _, d in self.tg.in_edges(v, data=True)
                       if holds(d.get("condition") or (), self.arch.choices)),
                      key=lambda d: d.get("slot", 0))
        return next((k for k, d in enumerate(live) if d.get("style") == "skip"), None)

    def edges(self) -> list[str]:
        """Each layer's input edges (skips dashed), the outputs' edges, the spine's."""
        lines = []
        for v in self.g:
            skip = self._skip_slot(v)
            lines += [edge_stmt(u, v, SKIP_LOOK if slot == skip else None)
                      for slot, u in enumerate(self.g.nodes[v]["inputs"])]
        lines += [edge_stmt(self.arch.outputs[name], node) for name, node in self.outputs.items()]
        return lines + spine_edges(self.spine, self.flow)

    # ---- title

    def title(self) -> list[str]:
        """The template's name, the choices that differ from their defaults, the totals."""
        arch = self.arch
        layers = sum(1 for _, d in self.g.nodes(data=True) if d["op"] != "input")
        totals = (f"{arch.params:,} parameters, {_count(arch.flops)} multiply-adds (FLOPs), "
                  f"{layers} layers")
        chosen = chosen_lines(arch.template.hyperparameters, arch.choices, "choices: ")
        return [f"{arch.template.name}: one architecture", *chosen, totals]


def _tooltip(n: str, d: dict) -> str:
    lines = [n, f"output {text.shape(d['shape'])}"]
    if d["params"]:
        lines.append(f"{d['params']:,} parameters")
    if d["flops"]:
        lines.append(f"{d['flops']:,} multiply-adds")
    if d.get("shares"):
        lines.append(f"reuses the layer of {d['shares']}")
    return "\n".join(lines)


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
