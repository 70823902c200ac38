"""Kinds of nodes and clusters, labels and titles -> their look in the house style both
drawings share (fonts, colours, shapes), label lines wrapped, and the drawing's DOT text
through the one `digraph` writer."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .. import ops, text
from ..hyper import HpSpec
from ..kinds import Cluster
from .dot import Left, digraph

WRAP = 26  # characters per label line
TITLE_WRAP = 90

KIND_COLOURS = {
    Cluster.OPTIONAL: "#d35400", Cluster.RESIDUAL: "#c0392b", Cluster.REPEAT: "#1f5fa8",
    Cluster.REP: "#5b8ccf", Cluster.CHOICE: "#7d3c98", Cluster.ALTERNATIVE: "#a569bd",
    Cluster.MERGE: "#1e8449", Cluster.COPY: "#52a36b", Cluster.IF: "#117a65",
}
FIXED_COLOUR = "#8c96a0"
FAMILY_FILLS = {
    "conv": "#dbe9f6", "pool": "#fde9d9", "dense": "#e8def8", "merge": "#fff2cc",
    "other": "#f1f3f5",
}
BRANCH_COLOUR = "#3d5a80"
GREY_LINE, GREY_TEXT, GREY_FILL = "#c4c9ce", "#a3aab1", "#f6f7f8"
SKIP_COLOUR = "#c0392b"
SHARED_COLOUR = "#7d3c98"
SKIP_LOOK = dict(style="dashed", color=SKIP_COLOUR, penwidth="1.3")

GRAPH_ATTRS = dict(
    rankdir="TB", newrank="true", compound="true", nodesep="0.25", ranksep="0.3",
    fontname="Helvetica", fontsize="11", labelloc="t", labeljust="l", remincross="true",
)
NODE_ATTRS = dict(fontname="Helvetica", fontsize="10", margin="0.08,0.03", height="0.3")
EDGE_ATTRS = dict(fontname="Helvetica", fontsize="8", arrowsize="0.6", color="#444444")


def drawing(name: str, title: Iterable[str], body: Iterable[str]) -> str:
    """The DOT text of a drawing in the house style: the title's lines on top (left-justified),
    then `body`'s statements."""
    label = Left("\n".join(title))
    return digraph(name, {**GRAPH_ATTRS, "label": label}, NODE_ATTRS, EDGE_ATTRS, body)


# ---------------------------------------------------------------- looks


def input_look(label: str) -> dict:
    return dict(label=label, shape="invhouse", style="filled", fillcolor="#d5f5e3",
                color="#1e8449")


def output_look(label: str) -> dict:
    return dict(label=label, shape="house", style="filled", fillcolor="#fadbd8",
                color="#c0392b")


def add_look(label: str, style: str = "filled") -> dict:
    """A residual add: a small circle."""
    return dict(label=label, shape="circle", width="0.3", height="0.3", fixedsize="true",
                style=style, fillcolor=FAMILY_FILLS["merge"], fontsize="14")


def op_look(label: str, op: str, style: str = "filled") -> dict:
    """A layer: an ellipse where several inputs meet, else a rounded box, filled by family."""
    family = _family(op)
    if family == "merge":
        return dict(label=label, shape="ellipse", style=style, fillcolor=FAMILY_FILLS[family])
    return dict(label=label, shape="box", style="rounded," + style,
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


def filled_cluster(label: Left, style: str, fill: str, colour: str, font: str,
                   **extra: str) -> dict:
    """A cluster drawn as a filled box; `extra` attributes (penwidth, tooltip) last."""
    return dict(label=label, style=style, fillcolor=fill, color=colour, fontcolor=font, **extra)


def block_cluster(label: Left, **extra: str) -> dict:
    """A block call: a solid light box."""
    return filled_cluster(label, "rounded,filled", "#f7f9fb", "#aab4be", "#34495e", **extra)


def outlined_cluster(label: Left, colour: str, style: str, penwidth: str, tooltip: str) -> dict:
    """A structure: an outline and a label in its kind's colour."""
    return dict(label=label, style=style, color=colour, fontcolor=colour, penwidth=penwidth,
                tooltip=tooltip)


# ---------------------------------------------------------------- label text


def named(label: str, op: str) -> bool:
    """Whether a node's label says more than its op (`squeeze`, not `conv2d_1`)."""
    return re.sub(r"_\d+$", "", label.rstrip("'")) != op


def short(hp: str) -> str:
    """The last part of a hyperparameter's name: its enclosing clusters say the rest."""
    return str(hp).rsplit("/", 1)[-1]


def constant(value) -> str:
    """A constant as the template spells it (`text.value`); a tuple without the trailing comma
    of a one-element tuple, as drawn arguments are."""
    if isinstance(value, tuple):
        return "(" + ", ".join(constant(v) for v in value) + ")"
    return text.value(value)


def wrap(items: Iterable[str], sep: str, first_sep: str | None = None,
         width: int = WRAP) -> list[str]:
    """Join items into lines of about `width` characters (`first_sep` after the first item).

    >>> wrap(["conv2d", "96", "3×3/2", "relu"], ", ", first_sep=" ", width=12)
    ['conv2d 96,', '3×3/2, relu']
    """
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


def chosen_lines(hps: Iterable[HpSpec], choices: dict, prefix: str) -> list[str]:
    """`prefix` and the active choices that differ from their defaults, `name=value`."""
    items = [f"{h.name}={constant(choices[h.name])}" for h in hps
             if h.name in choices and not _same(choices[h.name], h.default)]
    if not items:
        return [prefix + "the defaults"]
    return wrap([prefix.rstrip(), *items], ", ", first_sep=" ", width=TITLE_WRAP)


def _same(a, b) -> bool:
    return a == b and isinstance(a, bool) == isinstance(b, bool)
