"""Hyperparameter specifications and activity conditions, as found in a template.

A condition is a conjunction of clauses `hp in {values}`: exactly what Keras Tuner's nested
`conditional_scope(parent_name, parent_values)` calls express.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .diagnostics import SourcePos
from .kinds import Hp


@dataclass(frozen=True)
class Clause:
    hp: str
    values: tuple  # sorted, distinct

    def holds(self, assignment: dict) -> bool:
        return self.hp in assignment and assignment[self.hp] in self.values

    def __str__(self) -> str:
        vals = ", ".join(_fmt(v) for v in self.values)
        return f"{self.hp} = {vals}" if len(self.values) == 1 else f"{self.hp} in {{{vals}}}"


Condition = tuple  # tuple[Clause, ...], outermost first


def show_condition(condition: Condition) -> str:
    return " and ".join(str(c) for c in condition) if condition else "always"


def holds(condition: Condition, assignment: dict) -> bool:
    return all(c.holds(assignment) for c in condition)


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _sorted(values) -> tuple:
    """The distinct values, sorted by type name, then value. Values of one type (the usual
    case) sort without a key: a long repeat range narrows a clause per repetition."""
    unique = set(values)
    if len({type(v) for v in unique}) == 1:
        try:
            return tuple(sorted(unique))
        except TypeError:  # unorderable values of one type
            pass
    return tuple(sorted(unique, key=lambda v: (str(type(v)), v)))


def clause(hp: str, values) -> Clause:
    return Clause(hp, _sorted(values))


@dataclass(frozen=True)
class HpSpec:
    """One hyperparameter; `kind` is one of kinds.Hp."""

    name: str
    kind: str
    default: object
    pos: SourcePos = field(compare=False)
    values: tuple | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    sampling: str = "linear"
    condition: Condition = ()
    origin: SourcePos | None = field(default=None, compare=False)
    options: tuple = field(default=(), compare=False)  # (label, kwargs) of call-valued choices

    def domain(self) -> tuple | None:
        """Every value the hp can take, or None for a continuous float range."""
        if self.kind == Hp.CHOICE:
            return self.values
        if self.kind == Hp.BOOL:
            return (False, True)
        if self.sampling != "linear" and self.step and self.step > 1:
            return self._geometric()
        if self.kind == Hp.INT:  # a range: int(1, 10**9) costs nothing until iterated
            return range(int(self.min), int(self.max) + 1, int(self.step or 1))
        if self.step:
            n = int(round((self.max - self.min) / self.step))
            return tuple(round(self.min + i * self.step, 12) for i in range(n + 1))
        return None

    def _geometric(self) -> tuple:
        """Keras Tuner's meaning of a step with log sampling: a factor, min * step ** i."""
        values, v = [], self.min
        while v <= self.max * (1 + 1e-12):
            values.append(int(v) if self.kind == Hp.INT else round(v, 12))
            v *= self.step
        return tuple(values)

    def same_space(self, other: HpSpec) -> bool:
        keys = ("kind", "default", "values", "min", "max", "step", "sampling")
        return all(getattr(self, k) == getattr(other, k) for k in keys)

    def with_condition(self, condition: Condition) -> HpSpec:
        return replace(self, condition=condition)


def union(a: Condition, b: Condition, domain_of) -> Condition:
    """The weakest conjunction that holds whenever `a` or `b` holds.

    Exact when the two differ in one clause on the same hp (its value sets are joined);
    otherwise keeps the clauses they share, which may leave an hp active where it is unused.
    """
    if a == b:
        return a
    da, db = dict((c.hp, c) for c in a), dict((c.hp, c) for c in b)
    if [c.hp for c in a] == [c.hp for c in b]:
        differing = [h for h in da if da[h] != db[h]]
        if len(differing) == 1:
            h = differing[0]
            joined = set(da[h].values) | set(db[h].values)
            domain = domain_of(h)
            if domain is not None and len(domain) <= len(joined) and set(domain) <= joined:
                return tuple(c for c in a if c.hp != h)
            return tuple(clause(h, joined) if c.hp == h else c for c in a)
    return tuple(c for c in a if db.get(c.hp) == c)
