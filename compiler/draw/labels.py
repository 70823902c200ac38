"""Values, hyperparameters, conditions and op arguments -> the short text drawings label
nodes, clusters and edges with: `ratio ∈ {8, 16, 32}`, `use_se=true`, `in.channels // 4`,
`conv2d 96, 3×3/2, relu`. Hyperparameters go by the last part of their names; the clusters
around a label say the rest."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .. import ops
from ..hyper import Clause, HpSpec
from ..kinds import Hp
from ..values import Sym, Tensor
from .common import constant, short
from .view import View

PRECEDENCE = {
    "or": 1, "and": 2, "not": 3, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
    "+": 5, "-": 5, "*": 6, "/": 6, "//": 6, "%": 6, "neg": 7, "**": 8,
}
KERNEL_ARGS = ("kernel_size", "pool_size", "size")
VALUE_ONLY = ("activation", "padding", "interpolation")
HIDDEN_ARGS = frozenset({
    "use_bias", "epsilon", "momentum", "center", "scale", "seed", "data_format", "dtype",
    "kernel_initializer", "bias_initializer", "depthwise_initializer", "pointwise_initializer",
    "beta_initializer", "gamma_initializer", "moving_mean_initializer",
    "moving_variance_initializer", "kernel_regularizer", "bias_regularizer",
    "activity_regularizer",
})


@dataclass(frozen=True)
class At:
    """Where a value is drawn: on a node, or on a cluster's label."""

    node: str | None = None
    cluster: str | None = None


# ---------------------------------------------------------------- hyperparameters


def domain(spec: HpSpec) -> str:
    """`{8, 16, 32}`, `1..4`, `0.0001..0.1 (log)`: every value an hp can take."""
    if spec.kind in (Hp.CHOICE, Hp.BOOL):
        return "{" + ", ".join(constant(v) for v in spec.domain() or ()) + "}"
    text = f"{constant(spec.min)}..{constant(spec.max)}"
    if spec.step not in (None, 1):
        text += f" step {constant(spec.step)}"
    return text + (f" ({spec.sampling})" if spec.sampling != "linear" else "")


def clause_text(c: Clause, spec: HpSpec | None = None) -> str:
    """`use_se=true`, `merge_point ∈ {group1, pool}`: values in the hp's own order."""
    order = list(spec.domain() or ()) if spec is not None else []
    ranked = sorted(c.values, key=lambda v: order.index(v) if v in order else len(order))
    values = [constant(v) for v in ranked]
    if len(values) == 1:
        return f"{short(c.hp)}={values[0]}"
    return f"{short(c.hp)} ∈ {{{', '.join(values)}}}"


def clauses_text(drawn: View, clauses: Iterable[Clause]) -> str:
    """Clauses joined by `and`, each as `clause_text` writes it."""
    return " and ".join(clause_text(c, drawn.hps.get(c.hp)) for c in clauses)


# ---------------------------------------------------------------- values


def value_text(drawn: View | None, value, context: At = At()) -> str:
    """Source-like text of an argument value; `in` for the tensor entering `context`.
    `drawn` may be None for a concrete value (no symbol in it)."""
    if isinstance(value, Sym):
        return sym_text(drawn, value, context)
    if isinstance(value, Tensor):
        return short(value.node)
    if isinstance(value, tuple):
        return "(" + ", ".join(value_text(drawn, v, context) for v in value) + ")"
    return constant(value)


def sym_text(drawn: View, value: Sym, context: At = At()) -> str:
    """A symbolic value, constants folded, with no more parentheses than needed.

    A shape of the tensor that enters `context` is written `in.channels`.
    """
    return _sym(drawn, _fold(value), context, 0)


def _sym(drawn: View, s, context: At, outer: int) -> str:
    if not isinstance(s, Sym):
        return value_text(drawn, s, context)
    if s.op in ("hp", "param"):
        return short(s.args[0]) if s.op == "hp" else str(s.args[0])
    if s.op == "shape":
        return _shape_text(drawn, s, context)
    if s.op == "seq":
        return "(" + ", ".join(_sym(drawn, a, context, 0) for a in s.args) + ")"
    if s.op == "call":
        return f"{s.args[0]}(" + ", ".join(_sym(drawn, a, context, 0) for a in s.args[1:]) + ")"
    prec = PRECEDENCE.get(s.op, 9)
    if s.op in ("neg", "not"):
        text = ("-" if s.op == "neg" else "not ") + _sym(drawn, s.args[0], context, prec)
    else:
        left = _sym(drawn, s.args[0], context, prec)
        right = _sym(drawn, s.args[1], context, prec + 1)
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


def _shape_text(drawn: View, s: Sym, context: At) -> str:
    node, attr = s.args
    name = "in" if _enters(drawn, node, context) else short(node)
    if isinstance(attr, int):
        return f"{name}.shape[{attr}]"
    return f"{name}.{attr}"


def _enters(drawn: View, tensor: str, context: At) -> bool:
    """Whether `tensor` is the one input of the context's node, or enters a cluster around it."""
    g = drawn.g
    tensor = g.graph.get("replaced", {}).get(tensor, tensor)
    if tensor not in g:
        return False
    cid = context.cluster
    if context.node in g:
        if {u for u, _ in g.in_edges(context.node)} == {tensor}:
            return True
        cid = g.nodes[context.node].get("cluster")
    while cid is not None and cid in drawn.clusters:
        inside = drawn.members.get(cid, set())
        if tensor not in inside and any(t in inside for t in g.successors(tensor)):
            return True
        cid = drawn.clusters[cid].get("parent")
    return False


# ---------------------------------------------------------------- op arguments


def arg_items(drawn: View | None, n: str, d: dict) -> list[str]:
    """A layer's arguments worth drawing, shortly: `96`, `3×3/2`, `relu`, `rate=0.5`.

    Args:
        drawn: the template's view; None for a concrete layer (no symbol in its args).
        n: the node's id.
        d: the node's attributes (`op`, `args`).
    """
    spec = ops.lookup(str(d.get("op")))
    lead = spec.positional_names[:1] if spec is not None else ()
    args = d.get("args") or {}
    shown = {name: _arg_text(drawn, n, name, value, lead) for name, value in args.items()
             if name != "strides" and (name not in HIDDEN_ARGS or isinstance(value, Sym))}
    stride = _stride_text(drawn, n, args.get("strides"))
    kernel = next((k for k in KERNEL_ARGS if k in shown), None)
    if stride and kernel:
        shown[kernel] += stride
    elif stride:
        shown["strides"] = "strides " + stride[1:]
    return list(shown.values())


def _arg_text(drawn: View | None, n: str, name: str, value, lead: tuple) -> str:
    if isinstance(value, Sym) and value.op == "hp":
        return hp_arg(drawn, name, value.args[0])
    text = _kernel_text(drawn, n, value) if name in KERNEL_ARGS \
        else value_text(drawn, value, At(n))
    if name in lead or name in KERNEL_ARGS or (name in VALUE_ONLY and isinstance(value, str)):
        return text
    return f"{name}={text}"


def hp_arg(drawn: View, name: str, hp: str) -> str:
    """A named global hp by its name; an anonymous one by its values (the place names it)."""
    spec = drawn.hps.get(hp)
    if "/" not in hp or spec is None:
        return hp
    return f"{name} ∈ {domain(spec)}"


def _kernel_text(drawn: View | None, n: str, value) -> str:
    """`3×3` for a kernel, pool or upsampling size of 3 or (3, 3)."""
    if _is_int(value):
        return f"{value}×{value}"
    if isinstance(value, tuple) and value and all(_is_int(v) for v in value):
        return "×".join(map(str, value))
    return value_text(drawn, value, At(n))


def _stride_text(drawn: View | None, n: str, value) -> str:
    """`/2` for strides 2 or (2, 2); nothing for 1."""
    if isinstance(value, tuple) and value and all(_is_int(v) for v in value) \
            and len(set(value)) == 1:
        value = value[0]
    if value is None or value == 1:
        return ""
    return "/" + value_text(drawn, value, At(n))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
