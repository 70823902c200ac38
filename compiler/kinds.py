"""The names of the kinds of things the template graph holds: node kinds (a node's `kind`
attribute), cluster kinds (`graph.graph["clusters"][cid]["kind"]`) and hyperparameter kinds
(`HpSpec.kind`). Every stage that reads the graph compares against these, never against a
bare string, so a new construct is found by searching for its constant.

They are plain strings, so graphs, golden files and results.json spell them as before.

    >>> Node.OP, Cluster.REPEAT
    ('op', 'repeat')
    >>> Cluster.REP in Cluster.ALL
    True
"""

from __future__ import annotations


class Node:
    """`kind` of a template-graph node."""

    INPUT = "input"    # a template input; `shape` holds its dimensions
    OUTPUT = "output"  # a named output; its one in-edge is the tensor it returns
    OP = "op"          # one layer: `op` names its registry entry, `args` its arguments
    SELECT = "select"  # joins the alternatives of a structure: passes on the live input
    ALL = frozenset({INPUT, OUTPUT, OP, SELECT})


class Cluster:
    """`kind` of a cluster: the structure a group of nodes came from (drawing, report)."""

    BLOCK = "block"              # one call of a block
    OPTIONAL = "optional"        # `optional NAME { ... }`: present or identity
    RESIDUAL = "residual"        # `residual { ... }` / `residual? NAME { ... }`
    REPEAT = "repeat"            # `repeat ...`: holds one REP per repetition
    REP = "rep"                  # one repetition of a REPEAT
    CHOICE = "choice"            # `choice NAME { a | b }`: holds one ALTERNATIVE each
    ALTERNATIVE = "alternative"  # one alternative of a CHOICE
    MERGE = "merge"              # a merge point of several inputs
    IF = "if"                    # one branch of an `if` / `else`
    COPY = "copy"                # a drawing-only copy of a merge's leading stages
    ALL = frozenset({BLOCK, OPTIONAL, RESIDUAL, REPEAT, REP, CHOICE, ALTERNATIVE, MERGE, IF,
                     COPY})


class Hp:
    """`kind` of a hyperparameter (`hyper.HpSpec.kind`)."""

    CHOICE = "choice"
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    ALL = frozenset({CHOICE, BOOL, INT, FLOAT})
