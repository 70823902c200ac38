"""Architecture -> a standalone `.arch` template with no hyperparameters, which compiles to
the same model (the same layers, output shapes and parameter count).

The text is meant to be read and diffed: the inputs, then the graph as chains (a chain runs
on while each layer feeds exactly the next one; a tensor used twice, a merge's inputs and the
outputs are bound to a name taken from the template's node path), then the train section with
its chosen values. Every argument is written, strings quoted.

    >>> from archc.pipeline import load
    >>> print(freeze(load("mlp_auto").resolve()).splitlines()[0])
    template mlp_auto_frozen
"""

from __future__ import annotations

import re

import networkx as nx

from . import ops, text
from .diagnostics import ArchError
from .kinds import Node
from .parse import KEYWORDS
from .resolve import Architecture


class FreezeError(ArchError):
    """Tied weights in a shape that `repeat N shared` cannot write."""


def freeze(arch: Architecture, name: str | None = None) -> str:
    """The architecture as `.arch` text.

    Args:
        arch: a resolved architecture.
        name: the template's name (default: the original's, with `_frozen`).
    Raises:
        FreezeError: tied weights that are not one chain of repetitions of one body.
    """
    names = _names(arch)
    steps = {n: (d["inputs"], _call(d, names)) for n, d in arch.graph.nodes(data=True)
             if d["op"] != Node.INPUT}
    blocks = []
    for k, group in enumerate(_tied_groups(arch.graph), 1):
        blocks += _tie(arch, group, f"tied_{k}", names, steps)
    lines = [f"template {name or arch.template.name + '_frozen'}"]
    lines += [f"input {k} {text.declared_shape(v)}" for k, v in arch.inputs.items()]
    lines += blocks
    order = list(nx.topological_sort(arch.graph))
    chains = _chains(order, steps, names, set(arch.outputs.values()))
    lines += ["graph {", *(f"  {c}" for c in chains + _outputs(arch, names)), "}"]
    lines += _train(arch)
    return "\n".join(lines) + "\n"


def _tied_groups(g: nx.DiGraph) -> list[set[str]]:
    """The first repetitions of the `shared` repeats: each a connected set of the nodes that
    later repetitions share."""
    originals = {d["shares"] for _, d in g.nodes(data=True) if d.get("shares")}
    groups = nx.weakly_connected_components(g.subgraph(originals))
    return sorted(groups, key=lambda c: min(c))


def _tie(arch: Architecture, body: set[str], block: str, names: dict, steps: dict) -> list[str]:
    """Replace a shared repeat's nodes in `steps` by one step, `X -> repeat N shared { block }`,
    and return the block's text: its body, with the repeat's input as `in`."""
    g = arch.graph
    copies = [n for n, d in g.nodes(data=True) if d.get("shares") in body]
    outside = [u for n in body for u in g.nodes[n]["inputs"] if u not in body]
    exits = [n for n in body if any(v not in body for v in g.successors(n))]
    if len(set(outside)) != 1 or len(exits) != 1:
        raise FreezeError(f"'{min(body)}' ties weights in a shape freeze cannot write: a "
                          "shared repeat with one input and one output", None)
    source, exit_ = outside[0], exits[0]
    count = 1 + sum(1 for n in copies if g.nodes[n]["shares"] == exit_)
    order = [n for n in nx.topological_sort(g) if n in body]
    last = [n for n in nx.topological_sort(g) if g.nodes[n].get("shares") == exit_][-1]
    local = {**names, source: "in"}
    inner = {n: (g.nodes[n]["inputs"], _call(g.nodes[n], local)) for n in order}
    statements = _chains(order, inner, local, {exit_})
    for n in [*body, *copies]:
        steps.pop(n)
    steps[last] = ([source], f"repeat {count} shared {{ {block} }}")
    return [f"block {block}() {{", *(f"  {c}" for c in statements), f"  {names[exit_]}", "}"]


def _names(arch: Architecture) -> dict[str, str]:
    """A legal, unique identifier for every node: its path with `/` and `.` as `_`; inputs
    keep their names."""
    used = set(arch.inputs) | set(ops.OPS) | KEYWORDS
    out = {k: k for k in arch.inputs}
    for n in nx.topological_sort(arch.graph):
        if n in out:
            continue
        base = re.sub(r"\W", "_", n)
        base = base if re.match(r"[A-Za-z_]", base) else f"n_{base}"
        candidate, k = base, 1
        while candidate in used:
            k += 1
            candidate = f"{base}_{k}"
        used.add(candidate)
        out[n] = candidate
    return out


def _chains(nodes: list[str], steps: dict, names: dict, ends: set) -> list[str]:
    """One statement per chain, `NAME = HEAD -> call -> call`, over the `nodes` (in
    topological order) that `steps` gives inputs and a call. A chain runs on while a node
    feeds exactly the next one; it ends at a node of `ends` (an output)."""
    chains: dict[str, list[str]] = {}  # the chain's last node -> its parts
    order: list[str] = []
    for n in (n for n in nodes if n in steps):
        inputs, call = steps[n]
        u = inputs[0] if len(inputs) == 1 else None
        if u in chains and _consumers(steps, u) == 1 and u not in ends:
            chains[n] = chains.pop(u) + [call]
            order[order.index(u)] = n
            continue
        chains[n] = [names[u], call] if u is not None else [call]
        order.append(n)
    return [f"{names[n]} = " + " -> ".join(chains[n]) for n in order]


def _consumers(steps: dict, node: str) -> int:
    return sum(inputs.count(node) for inputs, _ in steps.values())


def _outputs(arch: Architecture, names: dict[str, str]) -> list[str]:
    if list(arch.outputs) == ["output"]:
        return [f"output {names[arch.outputs['output']]}"]
    return [f"output {k} = {names[v]}" for k, v in arch.outputs.items()]


def _call(d: dict, names: dict[str, str]) -> str:
    spec = ops.lookup(d["op"])
    tensors = [names[u] for u in d["inputs"]] if spec.inputs != 1 else []
    args = [*tensors, *(f"{k}={_arg(spec, k, v)}" for k, v in d["args"].items())]
    return f"{d['op']}({', '.join(args)})" if args else d["op"]


def _arg(spec, key: str, value) -> str:
    """An argument as text; an op call given as an argument (`layer=lstm(units=8)`) as a call."""
    if spec.arg(key) is not None and spec.arg(key).type == "layer":
        inner, args = value
        return _call({"op": inner, "inputs": [], "args": dict(args)}, {})
    return _value(value)


def _value(v) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, tuple | list):
        inner = ", ".join(_value(x) for x in v)
        if isinstance(v, list):
            return f"[{inner}]"
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    return text.value(v)


def _setting(value) -> str:
    """One output's loss, metrics or weight, as a train setting writes it."""
    if isinstance(value, tuple | list):
        return f"[{', '.join(map(text.value, value))}]"
    return value if isinstance(value, str) else text.value(value)


def _train(arch: Architecture) -> list[str]:
    if not arch.train:
        return []
    lines = ["train {"]
    for key, value in arch.train.items():
        if key == "optimizer":
            options = arch.options.get(value) or {}
            kwargs = ", ".join(f"{k}={_value(v)}" for k, v in options.items())
            lines.append(f"  optimizer = {value}({kwargs})" if kwargs else f"  optimizer = {value}")
        elif isinstance(value, dict):
            entries = ", ".join(f"{name}: {_setting(v)}" for name, v in value.items())
            lines.append(f"  {key} = {{{entries}}}")
        elif isinstance(value, str):
            lines.append(f"  {key} = {value}")
        elif isinstance(value, tuple | list):
            lines.append(f"  {key} = [{', '.join(map(text.value, value))}]")
        else:
            lines.append(f"  {key} = {text.value(value)}")
    return [*lines, "}"]
