"""The expansion's environment: scopes (paths, conditions, clusters), name environments, and the
small helpers every expansion stage shares (descriptions of values, positions, hints)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from . import ast, ops
from .diagnostics import SourcePos, TypeMismatch
from .hyper import Condition, clause
from .values import Sym, Tensor


@dataclass(frozen=True)
class Scope:
    hp_path: tuple = ()
    node_path: tuple = ()
    condition: Condition = ()
    cluster: str | None = None
    domains: tuple = ()  # ((hp, values), ...) narrowed by the condition
    depth: int = 0
    block_stack: tuple = ()
    share: tuple = ()  # (this repetition's path prefix, the first repetition's prefix)

    def domain_of(self, hp: str):
        return dict(self.domains).get(hp)

    def narrowed(self, hp: str, values: tuple) -> Scope:
        domains = dict(self.domains)
        if hp in domains:
            allowed = _lookup(values)
            values = tuple(v for v in domains[hp] if v in allowed)
        domains[hp] = values
        new = clause(hp, values)
        if any(c.hp == hp for c in self.condition):
            condition = tuple(new if c.hp == hp else c for c in self.condition)
        else:
            condition = self.condition + (new,)
        return replace(self, condition=condition, domains=tuple(domains.items()))


@dataclass
class Env:
    """Names visible in a body: block parameters, loop indices, bound tensors, then the parent."""

    names: dict = field(default_factory=dict)
    parent: Env | None = None
    inflow: Tensor | None = None

    def lookup(self, name: str):
        env = self
        while env is not None:
            if name in env.names:
                return env.names[name]
            env = env.parent
        raise KeyError(name)

    def visible_value(self, name: str):
        try:
            return self.lookup(name)
        except KeyError:
            return None

    def visible(self) -> set[str]:
        env, seen = self, set()
        while env is not None:
            seen |= set(env.names)
            env = env.parent
        return seen

    def child(self, inflow: Tensor | None = None) -> Env:
        return Env({}, self, inflow if inflow is not None else self.inflow)


HINT_IN_MESSAGE = re.compile(r"^(.*) \((did you mean '[^']*'\?|use // [^)]*)\)$")


def split_hint(message: str) -> tuple[str, str | None]:
    """ops.check_value puts a hint in parentheses at the end; diagnostics want it apart."""
    m = HINT_IN_MESSAGE.match(message)
    return (m.group(1), m.group(2)) if m else (message, None)


def name_pos(call: ast.Call) -> SourcePos:
    """The span of a call's name only, for faults of the name."""
    p = call.pos
    return SourcePos(p.file, p.line, p.column, p.line, p.column + len(call.func))


def pos_of(node, fallback):
    return getattr(node, "pos", None) or fallback


def describe(value) -> str:
    if isinstance(value, Tensor):
        return f"the tensor '{value.node}'"
    if isinstance(value, Sym):
        return f"'{value}', which is known only later"
    if value is None:
        return "none"
    if isinstance(value, str):
        return f"'{value}'"
    return repr(value)


def describe_ast(e) -> str:
    if isinstance(e, ast.Number | ast.String | ast.Constant):
        return repr(e.value)
    return type(e).__name__.lower()


def unify_numbers(values: list, pos) -> list:
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {int, float} and float in kinds and int in kinds:
        return [float(v) for v in values]
    if len(kinds) > 1:
        names = sorted(k.__name__.replace("str", "name").replace("NoneType", "none") for k in kinds)
        raise TypeMismatch(f"expected choice values of one type, found {' and '.join(names)}",
                           pos)
    return values


def first_bad_item(name: str, v):
    if name in ("metrics", "loss") and isinstance(v, tuple):
        known = ops.METRICS if name == "metrics" else ops.LOSSES
        return next((m for m in v if m not in known and not (name == "loss" and m is None)), v)
    return v


def item_pos(node, value) -> SourcePos:
    """The position of the literal `value` inside `node` (a list, a choice), else node's."""
    items = getattr(node, "items", None) or getattr(node, "args", None) or ()
    for item in items:
        literal = getattr(item, "id", None) or getattr(item, "func", None) or \
            getattr(item, "value", None)
        if literal == value:
            return item.pos
    return node.pos


def setting_names(name: str) -> list[str]:
    return {"optimizer": list(ops.OPTIMIZERS), "loss": list(ops.LOSSES),
            "metrics": list(ops.METRICS)}.get(name, [])


def setting_problem(name: str, v) -> str | None:
    if isinstance(v, Sym):
        return None
    if name == "optimizer":
        return None if v in ops.OPTIMIZERS else f"expected an optimizer name, found {v!r}"
    if name == "loss":  # in a list, `none`: an output that no loss trains (SSD's detections)
        items = v if isinstance(v, tuple) else (v,)
        bad = [m for m in items if m not in ops.LOSSES and not (m is None and len(items) > 1)]
        return f"expected a loss name, found {bad[0]!r}" if bad else None
    if name == "metrics":
        items = v if isinstance(v, tuple) else (v,)
        bad = [m for m in items if m not in ops.METRICS]
        return f"expected metric names, found {bad[0]!r}" if bad else None
    if name == "learning_rate":
        ok = isinstance(v, int | float) and not isinstance(v, bool) and v > 0
        return None if ok else f"expected a positive number, found {v!r}"
    ok = isinstance(v, int) and not isinstance(v, bool) and v > 0
    return None if ok else f"expected a positive integer, found {v!r}"


def optimizer_args(info) -> tuple:
    return tuple(info.arg_names)


def _lookup(values: tuple):
    """`values` as a set for O(1) membership (a long repeat range narrows with every count);
    the tuple itself if some value is unhashable."""
    try:
        return set(values)
    except TypeError:
        return values
