"""A template's cluster (in a `View`) -> its label: what the structure is and what decides
it, `repeat group1 ∈ 1..3`, `optional use_se`, `fire_se(ratio ∈ {8, 16, 32})`, `if in.channels
> 64`, and the condition it adds to its parent's."""

from __future__ import annotations

from collections.abc import Callable

from ..hyper import Clause
from ..kinds import Cluster
from ..values import Sym
from .common import constant, short, wrap
from .labels import At, clauses_text, domain, sym_text
from .layout import hp_path
from .view import View


def cluster_label(drawn: View, cid: str, info: dict) -> str:
    """The label of cluster `cid`: its kind's label, then `(if ...)` for a condition its
    parent lacks."""
    label = LABELLERS.get(info["kind"], _plain_label)(drawn, cid, info)
    return _with_condition(drawn, info, label)


def _with_condition(drawn: View, info: dict, label: str) -> str:
    """A cluster that exists only under a condition its parent lacks says so."""
    parent = drawn.clusters.get(info.get("parent"), {})
    if info["kind"] in (Cluster.REP, Cluster.IF, Cluster.ALTERNATIVE) \
            or parent.get("kind") == Cluster.ALTERNATIVE:
        return label
    implied = parent.get("hp") if parent.get("kind") in (Cluster.OPTIONAL,
                                                         Cluster.RESIDUAL) else None
    new = [c for c in _added(info, parent) if c.hp != implied]
    return f"{label}\n(if {clauses_text(drawn, new)})" if new else label


def _plain_label(drawn: View, cid: str, info: dict) -> str:
    return str(info.get("label", info["kind"]))


def _block_label(drawn: View, cid: str, info: dict) -> str:
    name, block = info.get("label"), info.get("block", info.get("label"))
    head = str(block) if name in (None, block) else f"{name}: {block}"
    params = _block_hps(drawn, cid)
    return "\n".join([head, *wrap(params, ", ")]) if params else head


def _block_hps(drawn: View, cid: str) -> list[str]:
    """`ratio ∈ {8, 16, 32}` for the hyperparameters made from this call's block parameters."""
    path = "/".join(hp_path(drawn.clusters, cid))
    structural = {info.get("hp") for info in drawn.clusters.values()}
    return [f"{short(h)} ∈ {domain(spec)}" for h, spec in drawn.hps.items()
            if h.rpartition("/")[0] == path and h not in structural]


def _optional_label(drawn: View, cid: str, info: dict) -> str:
    return f"optional {short(info.get('hp') or info.get('label'))}"


def _residual_label(drawn: View, cid: str, info: dict) -> str:
    return f"residual? {short(info['hp'])}" if info.get("hp") else "residual"


def _repeat_label(drawn: View, cid: str, info: dict) -> str:
    label = _repeat_range(drawn, info)
    return f"{label}\n(one repetition drawn)" if info.get("compact") else label


def _repeat_range(drawn: View, info: dict) -> str:
    hp, counts = info.get("hp"), tuple(info.get("counts", ()))
    if not hp:
        return f"repeat ×{counts[0]}" if len(counts) == 1 else f"repeat {_counts(counts)}"
    if _counts_are_domain(drawn, hp, counts):
        return f"repeat {short(hp)} ∈ {_counts(counts)}"
    return f"repeat {info.get('label')} ∈ {_counts(counts)}\n(from {short(hp)})"


def _counts_are_domain(drawn: View, hp: str, counts: tuple) -> bool:
    """Whether the repetition counts are the hp's own values (not computed from them)."""
    spec = drawn.hps.get(hp)
    return spec is not None and tuple(spec.domain() or ()) == counts


def _counts(counts: tuple) -> str:
    if len(counts) > 2 and counts == tuple(range(counts[0], counts[-1] + 1)):
        return f"{counts[0]}..{counts[-1]}"
    if len(counts) == 2 and counts[1] == counts[0] + 1:
        return f"{counts[0]}..{counts[1]}"
    return "{" + ", ".join(map(str, counts)) + "}"


def _rep_label(drawn: View, cid: str, info: dict) -> str:
    repeat = drawn.clusters[info["parent"]]
    k, hp = info.get("index", 0), repeat.get("hp")
    counts = tuple(repeat.get("counts", ()))
    if not hp or k + 1 <= min(counts, default=0):
        return str(info["label"])
    if _counts_are_domain(drawn, hp, counts):
        return f"{info['label']} (if {short(hp)} ≥ {k + 1})"
    return f"{info['label']} (if {_new_clauses(drawn, info, repeat)})"


def _choice_label(drawn: View, cid: str, info: dict) -> str:
    spec = drawn.hps.get(info.get("hp"))
    options = " | ".join(map(constant, spec.values or ())) if spec else ""
    return f"choice {short(info.get('hp') or info['label'])}: {options}".rstrip(": ")


def _merge_label(drawn: View, cid: str, info: dict) -> str:
    stages = ", ".join(map(str, info.get("stages", ())))
    return f"merge {short(info.get('hp') or info['label'])} ∈ {{{stages}}}"


def _if_label(drawn: View, cid: str, info: dict) -> str:
    if info.get("when") is not None and not info.get("hp"):
        return f"if {_when_text(drawn, cid, info)}" if info.get("branch") else "else"
    parent = drawn.clusters.get(info.get("parent"), {})
    narrowed = _new_clauses(drawn, info, parent, info.get("hp"))
    return f"if {narrowed}" if info.get("branch") else f"else ({narrowed})"


def _when_text(drawn: View, cid: str, info: dict) -> str:
    """The shape condition of an `if`, from its select node's symbolic value."""
    for _, d in drawn.g.nodes(data=True):
        when = d.get("when")
        if isinstance(when, Sym) and str(when) == str(info["when"]):
            return sym_text(drawn, when, At(cluster=cid))
    return str(info["when"])


def _new_clauses(drawn: View, info: dict, parent: dict, hp: str | None = None) -> str:
    """The clauses of a cluster's condition that its parent's lacks, shortly written."""
    return clauses_text(drawn, [c for c in _added(info, parent) if hp in (None, c.hp)]) or "…"


def _added(info: dict, parent: dict) -> list[Clause]:
    old = set(parent.get("condition") or ())
    return [c for c in info.get("condition") or () if c not in old]


LABELLERS: dict[str, Callable[[View, str, dict], str]] = {
    Cluster.BLOCK: _block_label, Cluster.OPTIONAL: _optional_label,
    Cluster.RESIDUAL: _residual_label, Cluster.REPEAT: _repeat_label, Cluster.REP: _rep_label,
    Cluster.CHOICE: _choice_label, Cluster.MERGE: _merge_label, Cluster.IF: _if_label,
}
