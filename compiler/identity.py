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
from dataclasses import dataclass

import networkx as nx

from . import arguments, ops
from .diagnostics import ArchError
from .kinds import Node
from .resolve import Architecture, resolve
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


@dataclass
class Survey:
    """The architectures of a space: how many are distinct, and their cost range.

    `exact` says whether every configuration was resolved (`configurations` <=
    `ENUMERATION_LIMIT`); otherwise `distinct` is an upper bound (the configuration count, None
    when a float hp makes it infinite) and the ranges are over `SAMPLES` random samples.
    """

    configurations: int | None
    exact: bool
    distinct: int | None
    infeasible: int
    ranges: dict[str, tuple[int, int]]  # cost -> (min, max) over the feasible architectures

    def as_json(self) -> dict:
        return {"configurations": self.configurations, "exact": self.exact,
                "distinct": self.distinct, "infeasible": self.infeasible,
                "ranges": {k: list(v) for k, v in self.ranges.items()}}


def survey(template, limit: int = ENUMERATION_LIMIT, samples: int = SAMPLES) -> Survey:
    """Resolve the space's configurations (all of them when there are at most `limit`, else
    `samples` random ones) and count the distinct architectures and their cost range.

    >>> from archc.pipeline import load
    >>> s = survey(load("squeezenet"))
    >>> s.exact, s.distinct, s.configurations
    (True, 4, 4)
    """
    n = count_configurations(template)
    exact = n is not None and n <= limit
    configs = (enumerate_configurations(template) if exact
               else (sample(template, seed) for seed in range(samples)))
    seen: set[str] = set()
    infeasible = 0
    ranges: dict[str, tuple[int, int]] = {}
    for values in configs:
        try:
            arch = resolve(template, values)
        except ArchError:
            infeasible += 1
            continue
        seen.add(identity(arch))
        for cost in ("params", "flops"):
            v = getattr(arch, cost)
            low, high = ranges.get(cost, (v, v))
            ranges[cost] = (min(low, v), max(high, v))
    return Survey(n, exact, len(seen) if exact else n, infeasible, ranges)
