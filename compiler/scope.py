"""The expansion's environment: scopes (paths, conditions, clusters), name environments, the
state every part of an expansion shares (the graph being built, hyperparameters, errors,
labels) with the writes into it, and small helpers (descriptions of values, positions, hints).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace

import networkx as nx

from . import ast, vocab
from .diagnostics import ArchError, DuplicateName, SourcePos, StructureError, TypeMismatch
from .hyper import Condition, HpSpec, clause
from .imports import Loaded
from .kinds import Node
from .values import Sym, Tensor

MAX_GRAPH_SIZE = 50_000  # nodes and clusters of one template graph (docs/language.md)


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


@dataclass(frozen=True)
class Derived:
    """A `let` (or a `param` computed from hyperparameters): its expression, evaluated where
    the name is used, in the names visible where it was written (`env`), its inline hps named
    under `hp_path`."""

    name: str
    expr: object
    env: Env
    hp_path: tuple
    pos: SourcePos


@dataclass(frozen=True)
class Function:
    """A `def`: its declaration and the names its body sees besides its parameters."""

    decl: ast.FunctionDecl
    env: Env


def _template_graph() -> nx.MultiDiGraph:
    return nx.MultiDiGraph(clusters={})


def _counters() -> defaultdict[tuple, Counter]:
    return defaultdict(Counter)


def _name_sets() -> defaultdict[tuple, set]:
    return defaultdict(set)


@dataclass
class ExpansionState:
    """Loaded files and overrides -> the template graph, hyperparameters, inputs, outputs and
    errors of one expansion; every part of the expander reads and writes this object only.

    The methods write under a Scope: a label unique in its node path, a node, an edge, a
    cluster, a select node; `error` keeps the first of equal faults.
    """

    loaded: Loaded
    param_overrides: dict[str, object] = field(default_factory=dict)
    input_overrides: dict[str, tuple] = field(default_factory=dict)
    shallow: bool = False  # a block checked on its own: a recursive call stops at once
    globals: Env = field(default_factory=Env)
    graph: nx.MultiDiGraph = field(default_factory=_template_graph)
    hps: dict[str, HpSpec] = field(default_factory=dict)
    errors: list[ArchError] = field(default_factory=list)
    named_hps: dict[str, ast.HpDecl] = field(default_factory=dict)  # the file's `hp` lines
    used_named: set[str] = field(default_factory=set)
    inputs: dict[str, tuple] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    params: dict[str, object] = field(default_factory=dict)
    derived_params: set[str] = field(default_factory=set)  # params computed from hps
    train_options: dict[str, dict] = field(default_factory=dict)
    labels: defaultdict[tuple, Counter] = field(default_factory=_counters)
    explicit: defaultdict[tuple, set] = field(default_factory=_name_sets)
    automatic: defaultdict[tuple, set] = field(default_factory=_name_sets)
    anon_names: dict[tuple, str] = field(default_factory=dict)  # (hp path, pos) -> hp name

    @property
    def module(self) -> ast.Module:
        return self.loaded.main

    def error(self, err: ArchError) -> None:
        key = (err.pos, err.message)
        if all((e.pos, e.message) != key for e in self.errors):
            self.errors.append(err)

    def label(self, scope: Scope, base: str, explicit: str | None, pos: SourcePos) -> str:
        """A node label unique in the scope's node path: `explicit`, else base, base_1, ...

        >>> state, scope = ExpansionState(loaded=None), Scope(node_path=("stem",))
        >>> [state.label(scope, "conv", None, None) for _ in range(2)]
        ['conv', 'conv_1']
        """
        key = scope.node_path
        if explicit:
            if explicit in self.explicit[key]:
                self.error(DuplicateName(f"label '{explicit}' is used twice in this scope", pos))
            self.explicit[key].add(explicit)
            if explicit in self.automatic[key]:  # an earlier unlabelled call took the name
                return self.label(scope, explicit, None, pos)
            return explicit
        while True:
            n = self.labels[key][base]
            self.labels[key][base] += 1
            candidate = base if n == 0 else f"{base}_{n}"
            if candidate not in self.explicit[key] and candidate not in self.automatic[key]:
                self.automatic[key].add(candidate)
                return candidate

    def node(self, scope: Scope, label: str, **attrs) -> str:
        self._grow(attrs.get("pos"))
        node_id = "/".join(scope.node_path + (label,))
        while node_id in self.graph:
            node_id += "'"
        if scope.share and attrs.get("kind") == Node.OP:
            attrs["shares"] = scope.share[1] + node_id[len(scope.share[0]):]
        self.graph.add_node(node_id, label=label, condition=scope.condition,
                            cluster=scope.cluster, **attrs)
        return node_id

    def _grow(self, pos) -> None:
        """Refuse a graph past MAX_GRAPH_SIZE nodes and clusters: nested repeats multiply
        (twenty `repeat 1..2` inside each other make a million copies of their body)."""
        size = len(self.graph) + len(self.graph.graph.get("clusters", ()))
        if size >= MAX_GRAPH_SIZE:
            raise StructureError(f"the template graph grows past {MAX_GRAPH_SIZE:,} nodes and "
                                 "clusters here", pos, "nest fewer repeats or blocks")

    def edge(self, src: Tensor, dst: str, condition: Condition, slot: int = 0, **attrs) -> None:
        self.graph.add_edge(src.node, dst, slot=slot, condition=condition, **attrs)

    def cluster(self, scope: Scope, kind: str, label: str, pos, **info) -> Scope:
        """`scope` inside a new cluster of `kind` (a kinds.Cluster) nested in scope's own."""
        self._grow(pos)
        cid = f"cluster_{len(self.graph.graph['clusters'])}"
        self.graph.graph["clusters"][cid] = dict(kind=kind, label=label, parent=scope.cluster,
                                                 pos=pos, condition=scope.condition, **info)
        return replace(scope, cluster=cid)

    def select(self, scope: Scope, base: str, pos, branches: list, **attrs) -> Tensor:
        """A node passing on the one input whose condition holds. branches: (tensor, cond, tag)."""
        live = [(t, c, tag) for t, c, tag in branches if t is not None]
        if len(live) == 1 and live[0][1] == scope.condition:
            return live[0][0]
        node = self.node(scope, self.label(scope, base, None, pos), kind=Node.SELECT,
                         op=Node.SELECT, pos=pos, args={}, **attrs)
        for slot, (t, cond, tag) in enumerate(live):
            self.edge(t, node, cond, slot=slot, branch=tag)
        return Tensor(node)


HINT_IN_MESSAGE = re.compile(r"^(.*?) \((did you mean '[^']*'\?|use // .*)\)$")


def split_hint(message: str) -> tuple[str, str | None]:
    """arguments.check_value puts a hint in parentheses at the end; diagnostics want it apart."""
    m = HINT_IN_MESSAGE.match(message)
    return (m.group(1), m.group(2)) if m else (message, None)


def name_pos(call: ast.Call) -> SourcePos:
    """The span of a call's name only, for faults of the name."""
    p = call.pos
    return SourcePos(p.file, p.line, p.column, p.line, p.column + len(call.func))


def pos_of(node, fallback):
    return getattr(node, "pos", None) or fallback


def describe(value) -> str:
    if isinstance(value, Function):
        return f"the function '{value.decl.name}'"
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
        known = vocab.METRICS if name == "metrics" else vocab.LOSSES
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
    return {"optimizer": list(vocab.OPTIMIZERS), "loss": list(vocab.LOSSES),
            "metrics": list(vocab.METRICS)}.get(name, [])


def setting_problem(name: str, v) -> str | None:
    if isinstance(v, Sym):
        return None
    if name == "optimizer":
        return None if v in vocab.OPTIMIZERS else f"expected an optimizer name, found {v!r}"
    if name == "loss":  # in a list, `none`: an output that no loss trains (SSD's detections)
        items = v if isinstance(v, tuple) else (v,)
        bad = [m for m in items if m not in vocab.LOSSES and not (m is None and len(items) > 1)]
        return f"expected a loss name, found {bad[0]!r}" if bad else None
    if name == "metrics":
        items = v if isinstance(v, tuple) else (v,)
        bad = [m for m in items if m not in vocab.METRICS]
        return f"expected metric names, found {bad[0]!r}" if bad else None
    if name == "loss_weights":
        items = v if isinstance(v, tuple) else (v,)
        bad = [w for w in items if isinstance(w, bool) or not isinstance(w, int | float) or w < 0]
        return f"expected a weight >= 0, found {bad[0]!r}" if bad else None
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
