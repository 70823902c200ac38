"""Values and shapes spelled as text, one way for every stage: messages, tables, DOT labels,
CSV cells.

    >>> value(True), value(None), value((3, 3)), value((1,)), value([1, 2]), value(0.5)
    ('true', 'none', '(3, 3)', '(1,)', '[1, 2]', '0.5')
    >>> quoted("same"), quoted(3)
    ("'same'", '3')
    >>> shape((15, 15, 96)), shape((10,)), shape((None, 4))
    ('(15, 15, 96)', '(10,)', '(?, 4)')
    >>> declared_shape((468, 3))
    '[468, 3]'
    >>> plural(1, "trial"), plural(3, "trial")
    ('1 trial', '3 trials')
"""

from __future__ import annotations

CONSTANTS = {True: "true", False: "false", None: "none"}


def value(v) -> str:
    """A constant as a template spells it: `true`, `none`, `(3, 3)`, `[1, 2]`, `relu`."""
    if isinstance(v, bool) or v is None:
        return CONSTANTS[v]
    if isinstance(v, tuple):
        return _sequence(v, "(", ")")
    if isinstance(v, list):
        return _sequence(v, "[", "]")
    if isinstance(v, float):
        return repr(v)
    return str(v)


def quoted(v) -> str:
    """`value`, with a string in quotes: what a message says it found."""
    return repr(v) if isinstance(v, str) else value(v)


def _sequence(items, left: str, right: str) -> str:
    inner = ", ".join(value(x) for x in items)
    return f"{left}{inner},{right}" if left == "(" and len(items) == 1 else f"{left}{inner}{right}"


def shape(dims) -> str:
    """A tensor shape as Keras prints it, without the batch dimension: `(15, 15, 96)`,
    `(10,)`; an unknown dimension is `?`."""
    return value(tuple("?" if d is None else d for d in dims))


def declared_shape(dims) -> str:
    """A shape as a template declares an input: `[468, 3]`."""
    return "[" + ", ".join(str(d) for d in dims) + "]"


def plural(n: int, noun: str) -> str:
    """`1 trial`, `3 trials`, `2,016 configurations`."""
    return f"{n:,} {noun}{'s' * (n != 1)}"
