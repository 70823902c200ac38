"""Names, labels and attributes -> DOT statements: quoting, attribute lists, node, edge,
cluster and `digraph` text. Knows DOT's syntax, nothing about what is drawn.

    >>> print(digraph("g", {"rankdir": "TB"}, {}, {}, ["  " + node_stmt("a", {"shape": "box"})]))
    digraph "g" {
      rankdir="TB";
      node [];
      edge [];
      "a" [shape="box"];
    }
    <BLANKLINE>
"""

from __future__ import annotations

from collections.abc import Iterable

from ..diagnostics import clip


class Left(str):
    """Label text drawn left-justified, line by line (DOT's `\\l`)."""


def quote(text, eol: str = "\\n") -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, newlines as `eol`.

    >>> print(quote('a"b\\\\c/d'))
    "a\\"b\\\\c/d"
    """
    text = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\r", "")
    return '"' + text.replace("\n", eol) + '"'


MAX_ATTR = 1000  # characters of an attribute value: Graphviz refuses very long strings


def attr_value(value) -> str:
    """One attribute's value, quoted and shortened to MAX_ATTR characters; a `Left` label
    with DOT's left-justified line ends."""
    if isinstance(value, Left):
        return quote(clip(str(value), MAX_ATTR) + "\n", eol="\\l")
    return quote(clip(str(value), MAX_ATTR))


def attrs(values: dict) -> str:
    """A DOT attribute list, every value quoted: `[k="v", ...]`."""
    return "[" + ", ".join(f"{k}={attr_value(v)}" for k, v in values.items()) + "]"


def node_stmt(node: str, look: dict) -> str:
    """`"node" [k="v", ...];`"""
    return f"{quote(node)} {attrs(look)};"


def edge_stmt(u: str, v: str, look: dict | None = None) -> str:
    """`  "u" -> "v" [k="v", ...];`, without the list when there is no attribute."""
    return f"  {quote(u)} -> {quote(v)}{' ' + attrs(look) if look else ''};"


def subgraph(name: str, values: dict, body: list[str], indent: str) -> list[str]:
    """A `subgraph` (a cluster, when its name starts with `cluster`) at `indent`: its
    attributes one per line, then `body` (already indented one step further)."""
    lines = [f"{indent}subgraph {quote(name)} {{"]
    lines += [f"{indent}  {k}={attr_value(v)};" for k, v in values.items()]
    return lines + body + [indent + "}"]


def digraph(name: str, graph: dict, node: dict, edge: dict, body: Iterable[str]) -> str:
    """The whole DOT text: graph attributes, node and edge defaults, then `body`'s statements
    (node statements, clusters and edges, each line already indented)."""
    lines = [f"digraph {quote(name)} {{"]
    lines += [f"  {k}={attr_value(v)};" for k, v in graph.items()]
    lines += [f"  node {attrs(node)};", f"  edge {attrs(edge)};", *body, "}"]
    return "\n".join(lines) + "\n"
