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
from .resolve import Architecture

RESERVED = {"template", "import", "param", "input", "hp", "block", "graph", "train", "output",
            "optional", "residual", "repeat", "choice", "merge", "if", "else", "as", "in",
            "by", "step", "default", "shared", "true", "false", "none", "and", "or", "not"}


class FreezeError(ArchError):
    """An architecture that the language cannot write without structure (tied weights)."""


def freeze(arch: Architecture, name: str | None = None) -> str:
    """The architecture as `.arch` text.

    Args:
        arch: a resolved architecture.
        name: the template's name (default: the original's, with `_frozen`).
    Raises:
        FreezeError: the architecture ties weights (a `shared` repeat).
    """
    g = arch.graph
    tied = [n for n, d in g.nodes(data=True) if d.get("shares")]
    if tied:
        raise FreezeError(f"'{tied[0]}' shares its weights with '{g.nodes[tied[0]]['shares']}':"
                          " freeze cannot write tied weights yet", None)
    names = _names(arch)
    lines = [f"template {name or arch.template.name + '_frozen'}"]
    lines += [f"input {k} {text.declared_shape(v)}" for k, v in arch.inputs.items()]
    lines += ["graph {", *(f"  {c}" for c in _chains(arch, names)), "}"]
    lines += _train(arch)
    return "\n".join(lines) + "\n"


def _names(arch: Architecture) -> dict[str, str]:
    """A legal, unique identifier for every node: its path with `/` and `.` as `_`; inputs
    keep their names."""
    used = set(arch.inputs) | set(ops.OPS) | RESERVED
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


def _chains(arch: Architecture, names: dict[str, str]) -> list[str]:
    """One statement per chain: `NAME = HEAD -> call -> call`."""
    g = arch.graph
    outputs = set(arch.outputs.values())
    chains: dict[str, list[str]] = {}  # the chain's last node -> its parts
    order: list[str] = []
    for n in nx.topological_sort(g):
        d = g.nodes[n]
        if d["op"] == Node.INPUT:
            continue
        inputs = d["inputs"]
        u = inputs[0] if len(inputs) == 1 else None
        if u in chains and g.out_degree(u) == 1 and u not in outputs:
            chains[n] = chains.pop(u) + [_call(d, names)]
            order[order.index(u)] = n
            continue
        head = names[u] if u is not None else None
        chains[n] = [head, _call(d, names)] if head else [_call(d, names)]
        order.append(n)
    return [f"{names[n]} = " + " -> ".join(chains[n]) for n in order] + _outputs(arch, names)


def _outputs(arch: Architecture, names: dict[str, str]) -> list[str]:
    if list(arch.outputs) == ["output"]:
        return [f"output {names[arch.outputs['output']]}"]
    return [f"output {k} = {names[v]}" for k, v in arch.outputs.items()]


def _call(d: dict, names: dict[str, str]) -> str:
    spec = ops.lookup(d["op"])
    tensors = [names[u] for u in d["inputs"]] if spec.inputs != 1 else []
    args = [*tensors, *(f"{k}={_value(v)}" for k, v in d["args"].items())]
    return f"{d['op']}({', '.join(args)})" if args else d["op"]


def _value(v) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, tuple | list):
        inner = ", ".join(_value(x) for x in v)
        if isinstance(v, list):
            return f"[{inner}]"
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    return text.value(v)


def _train(arch: Architecture) -> list[str]:
    if not arch.train:
        return []
    lines = ["train {"]
    for key, value in arch.train.items():
        if key == "optimizer":
            options = arch.options.get(value) or {}
            kwargs = ", ".join(f"{k}={_value(v)}" for k, v in options.items())
            lines.append(f"  optimizer = {value}({kwargs})" if kwargs else f"  optimizer = {value}")
        elif isinstance(value, str):
            lines.append(f"  {key} = {value}")
        elif isinstance(value, tuple | list):
            lines.append(f"  {key} = [{', '.join(map(text.value, value))}]")
        else:
            lines.append(f"  {key} = {text.value(value)}")
    return [*lines, "}"]
