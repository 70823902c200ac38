"""Values of the template language during expansion: constants, tensors and symbolic values.

A `Sym` is an expression the compiler cannot fold yet because it depends on a hyperparameter
(`hp`), a tensor's shape (`shape`) or an unbound block parameter (`param`). `evaluate` folds it
once values and shapes are known.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import text

BINARY = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "%": operator.mod, "**": operator.pow,
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}


def make_divisible(v, divisor, min_value=None) -> int:
    """`v` rounded to the nearest multiple of `divisor`, at least `min_value` (default
    `divisor`), and never more than 10% below `v`: the channel rounding of MobileNet and
    EfficientNet (`_make_divisible` in their reference code, `round_filters` in Keras's).

    >>> make_divisible(32 * 1.1, 8), make_divisible(16 * 0.35, 8), make_divisible(20, 16)
    (32, 8, 32)
    """
    if min_value is None:
        min_value = divisor
    rounded = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * v else rounded)


BUILTINS: dict[str, Callable] = {
    "min": min, "max": max, "abs": abs, "round": round,
    "floor": lambda x: int(math.floor(x)), "ceil": lambda x: int(math.ceil(x)),
    "log2": math.log2, "sqrt": math.sqrt, "make_divisible": make_divisible,
}
BUILTIN_KEYWORDS = {"make_divisible": ("v", "divisor", "min_value")}  # builtins with keywords
SHAPE_ATTRS = ("height", "width", "channels", "rank")
MAX_INT = 2**63 - 1  # the largest integer a template may write or compute (docs/language.md)


@dataclass(frozen=True)
class Tensor:
    """The output of a node of the template graph."""

    node: str


@dataclass(frozen=True)
class Sym:
    """A value known only later. `op` is 'hp', 'shape', 'param', a BINARY key, 'neg',
    'not', 'and', 'or', 'call', 'seq' or 'if' (args: test, then, else); `args` its
    operands."""

    op: str
    args: tuple

    @property
    def hps(self) -> frozenset[str]:
        if self.op == "hp":
            return frozenset([self.args[0]])
        return frozenset().union(*(a.hps for a in self.args if isinstance(a, Sym)))

    @property
    def shape_dependent(self) -> bool:
        if self.op == "shape":
            return True
        return any(isinstance(a, Sym) and a.shape_dependent for a in self.args)

    @property
    def param_dependent(self) -> bool:
        if self.op == "param":
            return True
        return any(isinstance(a, Sym) and a.param_dependent for a in self.args)

    def __str__(self) -> str:
        return show(self)


def show(value) -> str:
    """Source-like text of a value, for DOT labels and messages: symbols as written, constants
    as `text.value` spells them (a tuple without the one-element comma)."""
    if isinstance(value, Sym):
        return _show_sym(value)
    if isinstance(value, Tensor):
        return value.node
    if isinstance(value, tuple):
        return "(" + ", ".join(show(v) for v in value) + ")"
    return text.value(value)


def _show_sym(s: Sym) -> str:
    if s.op in ("hp", "param"):
        return s.args[0]
    if s.op == "shape":
        node, attr = s.args
        return f"{node}.{attr}" if isinstance(attr, str) else f"{node}.shape[{attr}]"
    if s.op in BINARY or s.op in ("and", "or"):
        return f"({show(s.args[0])} {s.op} {show(s.args[1])})"
    if s.op == "neg":
        return f"-{show(s.args[0])}"
    if s.op == "not":
        return f"not {show(s.args[0])}"
    if s.op == "seq":
        return show(tuple(s.args))
    if s.op == "if":
        return f"({show(s.args[1])} if {show(s.args[0])} else {show(s.args[2])})"
    return f"{s.args[0]}(" + ", ".join(show(a) for a in s.args[1:]) + ")"


def combine(op: str, *args):
    """Apply `op` to constants now, or build a Sym when an operand is symbolic."""
    if op == "and" and any(a is False for a in args if not isinstance(a, Sym)):
        return False
    if op == "or" and any(a is True for a in args if not isinstance(a, Sym)):
        return True
    if op in ("and", "or") and any(isinstance(a, Sym) for a in args):
        rest = tuple(a for a in args if isinstance(a, Sym))
        return rest[0] if len(rest) == 1 else Sym(op, rest)
    if any(isinstance(a, Sym) for a in args):
        return Sym(op, args)
    return apply(op, args)


def apply(op: str, args: tuple):
    """Apply an operator or builtin to constant operands; the result is bounded.

    Raises:
        OverflowError: an integer beyond `MAX_INT` or a float that is not finite, refused
            before it is computed where computing it would take long (`9 ** 9 ** 9`).
        ZeroDivisionError, ValueError, TypeError: as Python raises them.

    >>> apply("**", (10, 100))
    Traceback (most recent call last):
    OverflowError: 10 ** 100 is too large: integers are limited to 2**63 - 1
    """
    if op == "**":
        _check_power(*args)
    return bounded(_apply(op, args), op)


def bounded(value, op: str = ""):
    """`value` if it is a finite float or an integer within `MAX_INT`.

    Raises:
        OverflowError: it is not.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise OverflowError(f"the result of {op or 'an operation'} is too large: integers are "
                            "limited to 2**63 - 1")
    if isinstance(value, float) and not math.isfinite(value):
        raise OverflowError(f"the result of {op or 'an operation'} is not a finite number")
    return value


def _check_power(base, exponent) -> None:
    """Refuse `base ** exponent` before computing it when it would pass `MAX_INT`."""
    integers = all(isinstance(a, int) and not isinstance(a, bool) for a in (base, exponent))
    if not integers or abs(base) <= 1 or exponent <= 0:
        return
    if exponent * math.log2(abs(base)) > 63:
        raise OverflowError(f"{text.value(base)} ** {text.value(exponent)} is too large: "
                            "integers are limited to 2**63 - 1")


def _apply(op: str, args: tuple):
    if op in BINARY:
        return BINARY[op](*args)
    if op == "neg":
        return -args[0]
    if op == "not":
        return not args[0]
    if op == "and":
        return all(args)
    if op == "or":
        return any(args)
    if op == "seq":
        return tuple(args)
    if op == "if":
        return args[1] if args[0] else args[2]
    if op == "call":
        return BUILTINS[args[0]](*args[1:])
    raise ValueError(f"cannot apply {op}")


def evaluate(value, hp_values: Mapping[str, object] | None = None,
             shape_of: Callable[[str, object], object] | None = None,
             params: Mapping[str, object] | None = None):
    """Fold a (possibly symbolic) value given hyperparameter values, a shape oracle and params.

    Raises KeyError when a needed hyperparameter or param is missing.

    >>> evaluate(Sym("*", (Sym("hp", ("f",)), 2)), {"f": 16})
    32
    """
    if isinstance(value, tuple):
        return tuple(evaluate(v, hp_values, shape_of, params) for v in value)
    if isinstance(value, dict):  # a train setting per output
        return {k: evaluate(v, hp_values, shape_of, params) for k, v in value.items()}
    if not isinstance(value, Sym):
        return value
    if value.op == "hp":
        return (hp_values or {})[value.args[0]]
    if value.op == "param":
        return (params or {})[value.args[0]]
    if value.op == "shape":
        if shape_of is None:
            raise KeyError(f"shape of {value.args[0]}")
        return shape_of(value.args[0], value.args[1])
    if value.op == "if":  # only the branch taken: the other may not compute (a division by 0)
        test = evaluate(value.args[0], hp_values, shape_of, params)
        return evaluate(value.args[1] if test else value.args[2], hp_values, shape_of, params)
    args = tuple(evaluate(a, hp_values, shape_of, params) for a in value.args)
    return apply(value.op, args)
