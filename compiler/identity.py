"""Architecture -> its identity: a canonical hash of the concrete network and its training
settings, the same for two candidates exactly when they would train the same model.

The hash is a Merkle hash over the concrete DAG: a node's digest is that of its op, its
arguments with Keras's defaults filled in (`conv2d(8, 3)` and `conv2d(8, 3, padding=valid)`
are one layer), its output shape and the digests of its inputs in order (concat's order
matters); an `identity` node is contracted into its input. The network's digest is that of
the multiset of node digests (two equal layers are two layers), the outputs' digests by
output name, the inputs by name and shape, which layers share weights with which, and the
training settings. Node names, inactive hyperparameters, identity layers and how a structure
was switched off (an `optional` off or a `repeat` of 0) play no part.

    >>> from archc.pipeline import load
    >>> t = load("squeezenet_auto", params={"classes": 10})
    >>> identity(t.resolve()) == identity(t.resolve({"group1": 1}))  # the default
    True
    >>> identity(t.resolve()) == identity(t.resolve({"group1": 2}))
    False
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import networkx as nx

from . import arguments, ops
from .diagnostics import ArchError
from .kinds import Node
from .resolve import Architecture, active_values, resolve
from .space import count_configurations, enumerate_configurations, sample

CONTRACTED = ("identity",)  # ops that pass their input through unchanged


def identity(arch: Architecture, extra: dict | None = None) -> str:
    """The architecture's canonical hash (32 hex digits).

    Args:
        arch: a resolved architecture.
        extra: further settings that make two trainings differ (a tuner's epoch budget).
    """
    digests = node_digests(arch)
    g = arch.graph
    shared = sorted((digests[n], digests[d["shares"]]) for n, d in g.nodes(data=True)
                    if d.get("shares") in digests)
    network = {
        "nodes": sorted(digests[n] for n in g if _kept(g, n)),
        "outputs": {name: digests[node] for name, node in sorted(arch.outputs.items())},
        "shared": shared,
        "train": _canonical(arch.train),
        "options": _canonical(arch.options),
        "extra": _canonical(extra or {}),
    }
    return _digest(network)


def node_digests(arch: Architecture) -> dict[str, str]:
    """{node: its Merkle digest}; a contracted node has its input's digest."""
    g = arch.graph
    out: dict[str, str] = {}
    for n in nx.topological_sort(g):
        d = g.nodes[n]
        inputs = [out[u] for u in d["inputs"]]
        if not _kept(g, n):
            out[n] = inputs[0]
            continue
        out[n] = _digest({"op": d["op"], "args": _canonical(_args(d)), "shape": list(d["shape"]),
                          "inputs": inputs, "input": n if d["op"] == Node.INPUT else None})
    return out


def _kept(g: nx.DiGraph, n: str) -> bool:
    d = g.nodes[n]
    return not (d["op"] in CONTRACTED and len(d["inputs"]) == 1)


def _args(d: dict) -> dict:
    """The node's arguments with Keras's defaults, a single int of a pair argument as the
    pair it means (`kernel_size=3` is `(3, 3)`)."""
    spec = ops.lookup(d["op"])
    if spec is None:
        return dict(d["args"])
    values = arguments.effective_args(spec, d["args"])
    for a in spec.args:
        size = {"int_or_pair": 2, "int_or_triple": 3}.get(a.type)
        if size and isinstance(values.get(a.name), int):
            values[a.name] = (values[a.name],) * size
    return values


def _canonical(value):
    """`value` as JSON-able data with sorted keys, tuples as lists, ints as floats where a
    float is the same number (a learning rate of 1 and 1.0)."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    return str(value)


def _digest(data) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# ---------------------------------------------------------------- over a space

ENUMERATION_LIMIT = 5_000  # configurations resolved one by one for exact figures (~3 ms each)
SAMPLES = 200              # random configurations for the cost range of a larger space
FLIPS = 10                 # sampled configurations each hp is changed in, on a larger space
Z95 = 1.959964             # the normal quantile of a two-sided 95 % interval


@dataclass
class Survey:
    """The architectures of a space: how many are distinct and feasible, their cost range,
    and the hyperparameters that change nothing.

    `exact` says whether every configuration was resolved (`configurations` <=
    `ENUMERATION_LIMIT`); otherwise `distinct` is an upper bound (the configuration count, None
    when a float hp makes it infinite), `feasible` an estimate from `SAMPLES` random samples
    with its 95 % interval `feasible_interval`, and the ranges are over the samples.
    `inert`: the hps whose value never changed the architecture (over the whole space, or,
    sampled, in `FLIPS` configurations each).
    """

    configurations: int | None
    exact: bool
    distinct: int | None
    infeasible: int
    ranges: dict[str, tuple[int, int]]  # cost -> (min, max) over the feasible architectures
    feasible: float | None = None
    feasible_interval: tuple[float, float] | None = None
    samples: int = 0
    inert: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"configurations": self.configurations, "exact": self.exact,
                "distinct": self.distinct, "infeasible": self.infeasible,
                "feasible": self.feasible,
                "feasible_interval": (list(self.feasible_interval)
                                      if self.feasible_interval else None),
                "samples": self.samples, "inert": self.inert,
                "ranges": {k: list(v) for k, v in self.ranges.items()}}


def survey(template, limit: int = ENUMERATION_LIMIT, samples: int = SAMPLES) -> Survey:
    """Resolve the space's configurations (all of them when there are at most `limit`, else
    `samples` random ones) and count the distinct and the feasible architectures, their cost
    range, and the hyperparameters that change nothing.

    >>> from archc.pipeline import load
    >>> s = survey(load("squeezenet"))
    >>> s.exact, s.distinct, s.configurations, s.feasible
    (True, 4, 4, 4)
    """
    n = count_configurations(template)
    exact = n is not None and n <= limit
    configs = list(enumerate_configurations(template) if exact
                   else (sample(template, seed) for seed in range(samples)))
    outcomes = [_outcome(template, values) for values in configs]
    infeasible = sum(o is None for o, _ in outcomes)
    ranges: dict[str, tuple[int, int]] = {}
    for _, arch in outcomes:
        for cost in ("params", "flops") if arch is not None else ():
            v = getattr(arch, cost)
            low, high = ranges.get(cost, (v, v))
            ranges[cost] = (min(low, v), max(high, v))
    found = Survey(n, exact, None, infeasible, ranges, samples=len(configs))
    if exact:
        found.distinct = len({o for o, _ in outcomes if o is not None})
        found.feasible = len(configs) - infeasible
        found.inert = _inert_exact(template, configs, [o for o, _ in outcomes])
    else:
        found.distinct = n
        found.feasible_interval = _wilson(len(configs) - infeasible, len(configs))
        share = (len(configs) - infeasible) / len(configs) if configs else 0.0
        found.feasible = share * n if n is not None else None
        found.inert = _inert_sampled(template, configs[:FLIPS],
                                     [o for o, _ in outcomes[:FLIPS]])
    return found


def _outcome(template, values: dict) -> tuple[str | None, Architecture | None]:
    try:
        arch = resolve(template, values)
    except ArchError:
        return None, None
    return identity(arch), arch


def _wilson(hits: int, n: int) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 %): sound at 0 and at n hits too."""
    if n == 0:
        return (0.0, 1.0)
    p = hits / n
    centre = (p + Z95 ** 2 / (2 * n)) / (1 + Z95 ** 2 / n)
    half = Z95 / (1 + Z95 ** 2 / n) * (p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) ** 0.5
    return (max(0.0, centre - half), min(1.0, centre + half))


def _inert_exact(template, configs: list[dict], outcomes: list) -> list[str]:
    """The hps whose every change -- another value, the hps it activates at their defaults --
    leads from each configuration to one with the same architecture (or the same fault)."""
    outcome_of = {_key(v): o for v, o in zip(configs, outcomes, strict=True)}
    inert = []
    for hp in template.hyperparameters:
        domain = hp.domain()
        changed = tried = False
        for values in (v for v in configs if hp.name in v):
            for other in (x for x in domain if x != values[hp.name]):
                key = _key(active_values(template, {**values, hp.name: other}))
                tried = True
                if key in outcome_of and outcome_of[key] != outcome_of[_key(values)]:
                    changed = True
                    break
            if changed:
                break
        if tried and not changed:
            inert.append(hp.name)
    return inert


def _key(values: dict) -> frozenset:
    return frozenset((k, repr(v)) for k, v in values.items())


def _inert_sampled(template, configs: list[dict], outcomes: list) -> list[str]:
    """The hps whose every other value left the architecture of each of `configs` (where the
    hp is active; `outcomes`: their identities, None when infeasible) unchanged."""
    inert = []
    for hp in template.hyperparameters:
        domain = hp.domain()
        if domain is None or len(domain) > 20:
            continue                      # a wide range: a few draws prove nothing
        tried = False
        for values, base in ((v, o) for v, o in zip(configs, outcomes, strict=True)
                             if hp.name in v):
            if base is None:
                continue                  # infeasible: nothing to compare with
            for other in (x for x in domain if x != values[hp.name]):
                tried = True
                changed = active_values(template, {**values, hp.name: other})
                if _outcome(template, changed)[0] != base:
                    break
            else:
                continue
            break
        else:
            if tried:
                inert.append(hp.name)
    return inert
