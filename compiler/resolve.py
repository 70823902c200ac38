"""Template graph + chosen values -> concrete architecture graph, every structure decided,
every argument and shape known.

Only active hyperparameters are read (a Keras Tuner `HyperParameters`, a plain mapping, or
nothing for the defaults). Nodes are evaluated on demand from the outputs, so a branch that
a shape condition rules out (MobileNetV2's residual when channels differ) is never checked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from . import arguments, keras_names, ops, shapes
from .diagnostics import (
    ArchError,
    RangeError,
    ShapeMismatch,
    UnknownName,
    clip,
    did_you_mean,
)
from .graph import TemplateGraph
from .hyper import holds
from .kinds import Hp, Node
from .values import Sym, evaluate


class Unchecked(ArchError):
    """What could not be checked without Keras: a `keras_layer`'s shape (a warning)."""

    kind = "warning"


@dataclass
class Architecture:
    """One concrete network: a DAG of op nodes (attrs: op, args, inputs, shape, params, flops,
    pos, shares), its inputs and outputs, the active choices and the training settings."""

    template: TemplateGraph
    graph: nx.DiGraph
    choices: dict[str, object]
    inputs: dict[str, tuple]
    outputs: dict[str, str]
    train: dict[str, object]
    options: dict[str, dict] = field(default_factory=dict)
    unchecked: list[Unchecked] = field(default_factory=list)

    @property
    def params(self) -> int:
        return sum(d["params"] for _, d in self.graph.nodes(data=True) if not d.get("shares"))

    @property
    def flops(self) -> int:
        return sum(d["flops"] for _, d in self.graph.nodes(data=True))

    @property
    def bytes(self) -> int:
        """float32 weight bytes."""
        return 4 * self.params

    @property
    def peak_activation(self) -> int:
        """Most float32 activation bytes alive at once (batch of one), running the layers in
        topological order and freeing each output after its last consumer."""
        g = self.graph
        remaining = {n: g.out_degree(n) for n in g}
        outputs = set(self.outputs.values())
        live, peak = 0, 0
        for n in nx.topological_sort(g):
            live += 4 * math.prod(g.nodes[n]["shape"])
            peak = max(peak, live)
            for u in set(g.nodes[n]["inputs"]):
                remaining[u] -= 1
                if remaining[u] == 0 and u not in outputs:
                    live -= 4 * math.prod(g.nodes[u]["shape"])
        return peak

    def cost(self) -> dict[str, int]:
        return {"params": self.params, "bytes": self.bytes, "flops": self.flops,
                "peak_activation_bytes": self.peak_activation}

    def layers(self) -> list[str]:
        nodes = self.graph.nodes
        return [n for n in nx.topological_sort(self.graph) if nodes[n]["op"] != Node.INPUT]


def active_values(template: TemplateGraph, values=None) -> dict[str, object]:
    """The active hyperparameters and their values (given ones, else defaults).

    Raises:
        RangeError / UnknownName: a given value outside an hp's values, or an unknown name.
    """
    if values is not None and not isinstance(values, Mapping):
        values = values.values  # a keras_tuner.HyperParameters
    given = dict(values or {})
    known = {h.name for h in template.hyperparameters}
    for name in given:
        if name not in known and name not in template.params:
            raise UnknownName(f"no hyperparameter '{name}' in template {template.name}", None,
                              did_you_mean(name, known))
    chosen: dict[str, object] = {}
    for hp in template.hyperparameters:
        if not holds(hp.condition, chosen):
            continue
        value = given.get(hp.name, hp.default)
        chosen[hp.name] = _checked_value(hp, value)
    return chosen


MAX_LISTED = 20  # values of an int range a message lists; a longer one is shown as low..high


def _checked_value(hp, value):
    domain = hp.domain()
    if isinstance(domain, range):  # an int range: tested, never listed (int(1, 10**18))
        if isinstance(value, int) and not isinstance(value, bool) and value in domain:
            return value
        step = f" by {domain.step}" if domain.step != 1 else ""
        allowed = (", ".join(map(str, domain)) if len(domain) <= MAX_LISTED
                   else f"{hp.min}..{hp.max}{step}")
        raise RangeError(f"{hp.name} = {clip(repr(value), 40)} is not one of its values "
                         f"({allowed})", None)
    if hp.kind == Hp.FLOAT and isinstance(value, int | float) and not isinstance(value, bool):
        value = float(value)
        if hp.min <= value <= hp.max:
            return value
    if domain is not None and hp.kind != Hp.FLOAT or hp.kind == Hp.FLOAT and domain:
        for d in domain:
            if d == value and type(d) is type(value) or (
                    isinstance(d, float) and isinstance(value, int | float)
                    and not isinstance(value, bool) and d == value):
                return d
            if isinstance(d, str) and str(value) == d:
                return d
    allowed = clip(", ".join(map(str, domain)), 200) if domain else f"{hp.min}..{hp.max}"
    raise RangeError(f"{hp.name} = {value!r} is not one of its values ({allowed})", None)


def resolve(template: TemplateGraph, values=None, keras_shapes=None) -> Architecture:
    """Decide every structure of `template` for `values` and infer shapes and costs.

    `keras_shapes(spec, args, input shapes, template file) -> shapes.Result` gives the shapes
    of ops without a rule of their own (`keras_layer`) from Keras (`factories.keras_result`).
    Without it, such a layer is taken to keep its input's shape, with no parameters, and
    `Architecture.unchecked` says so; a fault after it is then an `Unchecked` warning.

    Raises:
        ShapeMismatch: the chosen network cannot be built (names both nodes and lines).
        RangeError / UnknownName: bad values. Unchecked: a fault after an unchecked layer.
    """
    chosen = active_values(template, values)
    live = _live_subgraph(template.graph, chosen)
    evaluator = _Evaluator(template, live, chosen, keras_shapes)
    for out in template.outputs.values():
        evaluator.demand(out)
    graph = evaluator.concrete_graph()
    outputs = {name: evaluator.alias(node) for name, node in template.outputs.items()}
    train, options = _train_settings(template, chosen)
    arch = Architecture(template, graph, chosen, dict(template.inputs), outputs, train, options,
                        evaluator.unchecked)
    check_budget(arch, template.constraints)
    return arch


class OverBudget(ArchError):
    """An architecture that breaks a constraint on its cost (`constraint`, `--max-params`)."""


def check_budget(arch: Architecture, constraints) -> None:
    """Raises OverBudget at the first of `constraints` that `arch`'s cost breaks."""
    costs = arch.cost()
    for c in constraints:
        if not c.holds(costs[c.cost]):
            raise OverBudget(f"over budget: {costs[c.cost]:,} {c.cost} breaks {c.source} "
                             f"({c.show()})", c.pos)


def _live_subgraph(g: nx.MultiDiGraph, chosen: dict) -> nx.MultiDiGraph:
    keep = [n for n, d in g.nodes(data=True) if holds(d["condition"], chosen)]
    live = nx.MultiDiGraph()
    live.add_nodes_from((n, g.nodes[n]) for n in keep)
    for u, v, d in g.edges(data=True):
        if u in live and v in live and holds(d["condition"], chosen):
            live.add_edge(u, v, **d)
    return live


def _train_settings(template: TemplateGraph, chosen: dict) -> tuple[dict, dict]:
    train = {k: located(v, None, f"train setting '{k}'", chosen, None, template.params)
             for k, v in template.train.items()}
    options = dict(template.train_options)
    for hp in template.hyperparameters:
        if hp.name in chosen and hp.options:
            options.update({label: kwargs for label, kwargs in hp.options
                            if label == chosen[hp.name]})
    return train, options


def _shape_refs(value) -> list[str]:
    if isinstance(value, tuple):
        return [n for v in value for n in _shape_refs(v)]
    if not isinstance(value, Sym):
        return []
    if value.op == "shape":
        return [value.args[0]]
    return [n for a in value.args for n in _shape_refs(a)]


MAX_LAYER_BYTES = 2**36  # 64 GiB of float32 weights or of one activation: surely a mistake


def located(value, pos, what: str, *args):
    """`evaluate(value, *args)`, its arithmetic faults (a division by zero, `log2(0)`, a shape
    index out of range, an overflow) raised as a RangeError at `pos`."""
    try:
        return evaluate(value, *args)
    except ZeroDivisionError:
        raise RangeError(f"cannot compute {what}: division by zero", pos) from None
    except IndexError:
        raise RangeError(f"cannot compute {what}: a shape index is out of range", pos) from None
    except (ValueError, OverflowError, TypeError) as exc:
        raise RangeError(f"cannot compute {what}: {exc}", pos) from None


def _check_size(node: str, data: dict, result) -> None:
    """A layer whose weights or output would not fit in memory is refused where it is written:
    the estimate is 4 bytes (float32) per parameter and per output element."""
    elements = math.prod(d for d in result.shape if isinstance(d, int))
    for what, count in (("parameters", result.params), ("output elements", elements)):
        if count * 4 > MAX_LAYER_BYTES:
            raise RangeError(f"{data['op']} '{node}' has {count:,} {what} ({count * 4:,} bytes "
                             f"as float32), over the limit of {MAX_LAYER_BYTES:,} bytes",
                             data.get("pos"), "check the sizes of its arguments and input")


class _Evaluator:
    """Demand-driven evaluation of the live template graph (an explicit stack, no recursion)."""

    def __init__(self, template: TemplateGraph, live: nx.MultiDiGraph, chosen: dict,
                 keras_shapes=None):
        self.template = template
        self.g = live
        self.chosen = chosen
        self.keras_shapes = keras_shapes
        self.unchecked: list[Unchecked] = []
        self.shape: dict[str, tuple] = {}
        self.aliases: dict[str, str] = {}
        self.done: dict[str, dict] = {}

    def alias(self, node: str) -> str:
        while node in self.aliases:
            node = self.aliases[node]
        return node

    def shape_of(self, node: str, attr):
        shape = self.shape[self.alias(node)]
        if attr == "shape":
            return shape
        if isinstance(attr, int):
            return shape[attr]
        return {"height": lambda: shape[0], "width": lambda: shape[1],
                "channels": lambda: shape[-1], "rank": lambda: len(shape)}[attr]()

    def inputs(self, node: str) -> list[str]:
        edges = sorted(self.g.in_edges(node, data=True), key=lambda e: e[2]["slot"])
        return [u for u, _, _ in edges]

    def demand(self, target: str) -> None:
        stack = [target]
        while stack:
            node = stack[-1]
            if node in self.shape:
                stack.pop()
                continue
            missing = [n for n in self._prerequisites(node) if n not in self.shape]
            if missing:
                stack.extend(missing)
                continue
            self._compute(node)
            stack.pop()

    def _prerequisites(self, node: str) -> list[str]:
        data = self.g.nodes[node]
        if data["kind"] == Node.SELECT:
            when = data.get("when")
            refs = _shape_refs(when) if when is not None else []
            if any(r not in self.shape for r in refs):
                return refs
            return [self._selected(node)]
        refs = [r for v in data.get("args", {}).values() for r in _shape_refs(v)]
        return self.inputs(node) + refs

    def _selected(self, node: str) -> str:
        data = self.g.nodes[node]
        edges = list(self.g.in_edges(node, data=True))
        when = data.get("when")
        if when is not None:
            taken = "then" if located(when, data.get("pos"), "the condition", self.chosen,
                                      self.shape_of) else "else"
            edges = [e for e in edges if e[2].get("branch") == taken]
        if len(edges) != 1:
            raise ArchError(f"internal: select node {node} has {len(edges)} live inputs",
                            data.get("pos"))
        return edges[0][0]

    def _compute(self, node: str) -> None:
        data = self.g.nodes[node]
        kind = data["kind"]
        if kind == Node.SELECT:
            source = self._selected(node)
            self.aliases[node] = source
            self.shape[node] = self.shape[self.alias(source)]
        elif kind == Node.INPUT:
            self.shape[node] = data["shape"]
            self.done[node] = {"op": Node.INPUT, "args": {}, "inputs": [], "params": 0, "flops": 0}
        elif kind == Node.OUTPUT:
            source = self.alias(self.inputs(node)[0])
            self.aliases[node] = source
            self.shape[node] = self.shape[source]
        elif self._joins_one(node, data):
            source = self.alias(self.inputs(node)[0])
            self.aliases[node] = source
            self.shape[node] = self.shape[source]
        else:
            self._compute_op(node, data)

    def _joins_one(self, node: str, data: dict) -> bool:
        """A merge op left with one input by its optional inputs passes that input on (the
        join of one tensor is that tensor); with none, the configuration is infeasible."""
        spec = ops.lookup(data["op"])
        if spec is None or spec.inputs == 1 or len(self.inputs(node)) > 1:
            return False
        if not self.inputs(node):
            raise ShapeMismatch(f"{data['op']} '{node}' has no input left: every optional "
                                "input is off", data.get("pos"))
        return True

    def _compute_op(self, node: str, data: dict) -> None:
        args = {k: located(v, data.get("pos"), f"{data['op']} '{k}'", self.chosen,
                           self.shape_of, self.template.params)
                for k, v in data.get("args", {}).items()}
        op = data["op"]
        if op == "merge":
            op = {"concat": "concat", "add": "add", "multiply": "multiply"}[args.pop("op")]
        spec = ops.lookup(op)
        problems = [m for k, v in args.items()
                    if (arg := spec.arg(k)) is not None and (m := arguments.check_value(arg, v))]
        if problems:
            raise ShapeMismatch(f"{op} '{node}': {problems[0]}", data.get("pos"))
        sources = [self.alias(u) for u in self.inputs(node)]
        in_shapes = [self.shape[s] for s in sources]
        self._check_tied(node, data, args, in_shapes)
        try:
            result = self._infer(node, data, spec, args, in_shapes)
        except shapes.ShapeFault as fault:
            raise self._mismatch(node, data, sources, str(fault)) from None
        _check_size(node, data, result)
        self.shape[node] = result.shape
        self.done[node] = {"op": op, "args": args, "inputs": sources, "params": result.params,
                           "flops": result.flops}

    def _infer(self, node: str, data: dict, spec, args: dict, in_shapes: list):
        """The op's rule; for an op only Keras knows, Keras, or (without it) the input's shape
        kept, noted in `unchecked`."""
        effective = arguments.effective_args(spec, args)
        try:
            return shapes.infer(spec, effective, in_shapes)
        except shapes.NeedsKeras as missing:
            pos = data.get("pos")
            if self.keras_shapes is not None:
                return self.keras_shapes(spec, effective, in_shapes, pos.file if pos else None)
            wrong = keras_names.problem(effective.get("class_name", ""), pos.file if pos else None)
            if wrong:
                raise ShapeMismatch(f"{data['op']} '{node}': {wrong[0]}", pos, wrong[1]) from None
            self.unchecked.append(Unchecked(
                f"{data['op']} '{node}': {missing}; checked as if it kept its input's shape "
                f"{_fmt(in_shapes[0])}", pos, "archc compile and search check it with Keras"))
            return shapes.Result(in_shapes[0])

    def _check_tied(self, node: str, data: dict, args: dict, in_shapes: list) -> None:
        """A replica of a `shared` repeat calls the first repetition's layer again: it must be
        the same layer (same arguments) on inputs of the same shapes."""
        first = data.get("shares")
        if first is None or first not in self.done:
            return
        done = self.done[first]
        first_shapes = [self.shape[s] for s in done["inputs"]]
        if done["args"] != args:
            raise ShapeMismatch(f"'{node}' repeats '{first}' with tied weights but other "
                                f"arguments: {args} instead of {done['args']}", data.get("pos"),
                                "a shared repeat's body must not depend on the repetition index")
        if first_shapes != in_shapes:
            raise ShapeMismatch(f"'{node}' repeats '{first}' with tied weights on inputs of "
                                f"shape {', '.join(map(_fmt, in_shapes))} instead of "
                                f"{', '.join(map(_fmt, first_shapes))}", data.get("pos"),
                                "a shared repeat's body must keep the shape of its input")

    def _mismatch(self, node, data, sources, message) -> ArchError:
        parts = [f"'{s}' {_fmt(self.shape[s])} ({self._line(s)})" for s in sources]
        hint = "its input" + ("s are " if len(parts) > 1 else " is ") + " and ".join(parts)
        if self.unchecked:  # maybe only because an unchecked layer's shape was guessed
            return Unchecked(f"{data['op']} '{node}' could not be checked without Keras: "
                             f"{message}", data.get("pos"),
                             f"after {len(self.unchecked)} keras_layer call(s) whose shapes only "
                             "Keras knows; archc compile checks it")
        return ShapeMismatch(f"{data['op']} '{node}': {message}", data.get("pos"), hint)

    def _line(self, node: str) -> str:
        pos = self.template.graph.nodes[node].get("pos")
        return f"{Path(pos.file).name}:{pos.line}" if pos else "?"

    def concrete_graph(self) -> nx.DiGraph:
        g = nx.DiGraph()
        order = [n for n in nx.topological_sort(self.g) if n in self.done]
        for n in order:
            src = self.template.graph.nodes[n]
            info = self.done[n]
            g.add_node(n, **info, shape=self.shape[n], pos=src.get("pos"),
                       shares=self._shares(src.get("shares")), label=src.get("label"))
            for slot, u in enumerate(info["inputs"]):
                g.add_edge(u, n, slot=slot)
        return g

    def _shares(self, other: str | None) -> str | None:
        if other is None:
            return None
        return other if other in self.done else None


def _fmt(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"
