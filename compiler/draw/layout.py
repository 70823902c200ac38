"""A graph's nodes and clusters -> where they are drawn: each cluster's members, the drawn
cluster that holds each node, the cluster tree written as nested `subgraph`s, and the spine
(the nodes every path passes) kept straight by invisible heavy edges."""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx

from ..kinds import Cluster, Node
from .dot import edge_stmt, subgraph

# where a node is drawn: a cluster id, or None for the top level
Place = dict[str | None, list[str]]


def members(cluster_of: dict, clusters: dict) -> dict[str, set]:
    """Every node inside each cluster, nested clusters included.

    Args:
        cluster_of: node -> the id of the innermost cluster it belongs to (or None).
        clusters: cluster id -> its info (`parent` is the enclosing cluster's id).
    """
    inside: dict[str, set] = {cid: set() for cid in clusters}
    for n, cid in cluster_of.items():
        while cid in inside:
            inside[cid].add(n)
            cid = clusters[cid].get("parent")
    return inside


def nearest(clusters: dict, cid: str | None, hidden: set) -> str | None:
    """`cid`, or its nearest enclosing cluster that is drawn."""
    while cid is not None and cid in hidden:
        cid = clusters[cid].get("parent")
    return cid


def placement(nodes, cluster_of: dict, clusters: dict, hidden: set) -> tuple[Place, Place]:
    """Where each node is drawn, and each drawn cluster's drawn child clusters, in order."""
    def home(cid):
        return nearest(clusters, cid, hidden) if cid in clusters else None

    place: Place = {}
    for n in nodes:
        place.setdefault(home(cluster_of[n]), []).append(n)
    children: Place = {}
    for cid, info in clusters.items():
        if cid not in hidden:
            children.setdefault(home(info.get("parent")), []).append(cid)
    return place, children


def nest(cid: str | None, place: Place, children: Place, stmt: Callable[[str], str],
         look: Callable[[str], dict], indent: str = "  ") -> list[str]:
    """The statements of the nodes placed in `cid`, then its child clusters, nested."""
    lines = [indent + stmt(n) for n in place.get(cid, ())]
    for child in children.get(cid, ()):
        body = nest(child, place, children, stmt, look, indent + "  ")
        lines += subgraph(child, look(child), body, indent)
    return lines


def hp_path(clusters: dict, cid: str | None) -> tuple:
    """The hyperparameter name prefix inside a cluster: the labels of the blocks, repeats,
    repetitions, choices and alternatives around it (graph.py names hps the same way)."""
    path: tuple = ()
    while cid is not None:
        info = clusters[cid]
        if info["kind"] in (Cluster.BLOCK, Cluster.REPEAT, Cluster.REP, Cluster.CHOICE,
                            Cluster.ALTERNATIVE):
            path = (str(info.get("label")),) + path
        cid = info.get("parent")
    return path


# ---------------------------------------------------------------- merge copies


def group_merge_copies(g: nx.MultiDiGraph, clusters: dict) -> None:
    """Each merge input's copy of the leading stages becomes a cluster of its own."""
    inside = members({n: d.get("cluster") for n, d in g.nodes(data=True)}, clusters)
    for m, d in list(g.nodes(data=True)):
        cid = d.get("cluster")
        if d.get("op") != "merge" or clusters.get(cid, {}).get("kind") != Cluster.MERGE:
            continue
        prefix = m.rpartition("/")[0]
        prefix = prefix + "/" if prefix else ""
        for k, name in enumerate(clusters[cid].get("inputs", ())):
            _copy_cluster(g, clusters, inside, cid, f"{cid}_input{k}", prefix + name + "/")
            clusters[f"{cid}_input{k}"]["label"] = f"{name} path"


def _copy_cluster(g, clusters, inside, cid: str, vid: str, prefix: str) -> None:
    clusters[vid] = dict(kind=Cluster.COPY, label=vid, parent=cid, condition=())
    for n, d in g.nodes(data=True):
        if d.get("cluster") == cid and n.startswith(prefix):
            d["cluster"] = vid
    for child, info in list(clusters.items()):
        nodes = inside.get(child, set())
        if info.get("parent") == cid and nodes and all(n.startswith(prefix) for n in nodes):
            info["parent"] = vid


# ---------------------------------------------------------------- the spine


def spine(g: nx.MultiDiGraph) -> list[str]:
    """The nodes every path from the inputs to the outputs passes, in order: drawn in a
    straight line, so that a long network does not drift sideways."""
    start, end = object(), object()
    flow = nx.DiGraph(g)
    flow.add_edges_from((start, n) for n, d in g.nodes(data=True)
                        if d.get("kind") == Node.INPUT)
    flow.add_edges_from((n, end) for n, d in g.nodes(data=True)
                        if d.get("kind") == Node.OUTPUT)
    if not g or end not in flow or not nx.has_path(flow, start, end):
        return []
    dominators = nx.immediate_dominators(flow, start)
    line, n = [], dominators.get(end)
    while n is not None and n is not start:
        line.append(n)
        n = dominators.get(n) if dominators.get(n) != n else None
    return line[::-1]


def spine_edges(line: list[str], g: nx.MultiDiGraph) -> list[str]:
    """Invisible, heavy edges between spine nodes that no edge of `g` joins: they keep the
    spine straight across the branches of an `if` or an optional part."""
    pairs = zip(line, line[1:], strict=False)
    return [edge_stmt(a, b, dict(style="invis", weight="8")) for a, b in pairs
            if not g.has_edge(a, b)]

