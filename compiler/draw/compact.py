"""The drawing's graph made small: every repeat drawn once (its first repetition, labelled
with its range), and chosen block calls drawn as one node each.

A template graph holds every repetition a repeat can have, so a deep space drew 2,500 to
23,800 points tall: SqueezeNetSEAuto's `group2: i in 0..2` drew both repetitions of two fire
modules with their SE blocks. The structure of each repetition is the same, up to values
that depend on the index; what a reader needs is that structure once and the range.
"""

from __future__ import annotations

import re

import networkx as nx

from ..kinds import Cluster, Node
from .layout import hp_path, members


def compact_repeats(g: nx.MultiDiGraph, clusters: dict) -> None:
    """Drop the second and later repetitions of every repeat, in place.

    An edge that left a dropped repetition leaves the same node of the first one instead;
    where that duplicates an edge, it goes. The conditions on the repetition count (which
    repetition's end feeds what follows) are dropped from edges: the repeat's label gives
    the range (`cluster_label`).
    """
    inside = members({n: d.get("cluster") for n, d in g.nodes(data=True)}, clusters)
    later = [cid for cid, info in clusters.items()
             if info["kind"] == Cluster.REP and info.get("index", 0) > 0]
    counts = {clusters[clusters[cid]["parent"]].get("hp") for cid in later} - {None}
    first = {}
    for cid in later:
        prefix = "/".join(hp_path(clusters, cid)) + "/"
        head = prefix[:-len(str(clusters[cid]["label"])) - 1]
        at = re.compile("(^|/)" + re.escape(prefix))  # merge copies put a path before it
        for n in inside[cid]:
            if at.search(n):
                first[n] = at.sub(lambda m, to=head + "rep0/": m.group(1) + to, n, count=1)
    _redirect(g, first)
    for cid in _with_descendants(clusters, later):
        del clusters[cid]
    for info in clusters.values():
        if info["kind"] == Cluster.REPEAT:
            info["compact"] = True
    kept = set(first.values())
    for u, v, d in g.edges(data=True):
        if u in kept and v not in kept and \
                str(d.get("branch", "")).partition("=")[0] in counts:
            d.pop("branch", None)
            d.pop("condition", None)


def collapse_blocks(g: nx.MultiDiGraph, clusters: dict, blocks: set[str]) -> None:
    """Draw every call of the blocks named in `blocks` (`all`: every block) as one node, in
    place: edges into or out of the call's layers join that node; its layers and inner
    clusters go."""
    inside = members({n: d.get("cluster") for n, d in g.nodes(data=True)}, clusters)
    calls = [cid for cid, info in clusters.items() if info["kind"] == Cluster.BLOCK
             and ("all" in blocks or info.get("block") in blocks)]
    for cid in calls:
        if cid not in clusters or not inside.get(cid):
            continue                      # inside a block collapsed already
        info = clusters[cid]
        node = "/".join(hp_path(clusters, cid)) or str(info.get("label"))
        layers = [n for n in g if n in inside[cid]]
        g.add_node(node, kind=Node.OP, op=str(info.get("block")), label=str(info["label"]),
                   args={}, cluster=info.get("parent"), condition=info.get("condition"),
                   collapsed=cid, layers=len([n for n in layers
                                               if g.nodes[n].get("kind") == Node.OP]))
        _redirect(g, dict.fromkeys(layers, node))
        for child in _with_descendants(clusters, [cid]):
            if child != cid:
                del clusters[child]
        clusters[cid] = {**info, "collapsed": node}


def _redirect(g: nx.MultiDiGraph, to: dict) -> None:
    """Remove the nodes in `to`, moving each edge from or into one onto `to[node]`. Edges
    that would join a node to itself, repeat an edge, or close a cycle (the chain from one
    repetition into the next) go."""
    for n in to:
        if n not in g:
            continue
        for u, v, d in list(g.in_edges(n, data=True)) + list(g.out_edges(n, data=True)):
            u2, v2 = to.get(u, u), to.get(v, v)
            if u2 == v2 or u2 not in g or v2 not in g or g.has_edge(u2, v2) \
                    or nx.has_path(g, v2, u2):
                continue
            g.add_edge(u2, v2, **d)
        g.remove_node(n)


def _with_descendants(clusters: dict, roots: list) -> list:
    out, stack = [], list(roots)
    while stack:
        cid = stack.pop()
        if cid in clusters and cid not in out:
            out.append(cid)
            stack += [c for c, info in clusters.items() if info.get("parent") == cid]
    return out
