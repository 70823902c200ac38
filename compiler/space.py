"""Template graph -> hyperparameters (kt.HyperParameters, conditional).

The template's hyperparameters (`Template.hyperparameters`, declaration order, parents first)
become a Keras Tuner `HyperParameters` object whose conditional scopes make exactly the
hyperparameters whose condition holds active. The module also counts, enumerates, samples and
describes the space of ACTIVE assignments without Keras Tuner: `archc check` imports
`count_configurations`, so nothing here imports keras_tuner, keras or tensorflow at module level.

Values: a template's choice values are ints, floats, strings, bools or tuples/lists (kernel
sizes). Keras Tuner takes only one scalar type per Choice, so a choice with tuple or list
values is declared over string labels (`"(3, 3)"`); `to_kt` / `from_kt` translate assignments.
Counting, enumeration and conditions use `HpSpec.domain()`; where Keras Tuner's Int/Float would
take other values (stepped floats, log ints with a step) the hp is an ordered Choice instead.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Iterator

from .hyper import Clause, HpSpec, holds, show_condition
from .kinds import Hp

_KT_SCALARS = (bool, int, float, str)


class _Inactive:
    """The state value of an inactive hyperparameter in the counting programme."""

    def __repr__(self) -> str:
        return "INACTIVE"


INACTIVE = _Inactive()


# ---- values


def values_of(spec: HpSpec):
    """Every value `spec` can take: a `range` for an int, a tuple otherwise.

    Args:
        spec: the hyperparameter.

    Returns:
        A sequence (lazy for ints, so `int(1, 10**9)` costs nothing), or None for a continuous
        float.
    """
    if spec.kind == Hp.INT:
        return range(int(spec.min), int(spec.max) + 1, int(spec.step or 1))
    return spec.domain()


def is_continuous(spec: HpSpec) -> bool:
    return spec.kind == Hp.FLOAT and not spec.step


def _specs(template) -> list[HpSpec]:
    specs = list(template.hyperparameters)
    _check_order(specs)
    return specs


def _check_order(specs: list[HpSpec]) -> None:
    """Every clause names an hp declared earlier (Keras Tuner needs parents first)."""
    seen: set[str] = set()
    for spec in specs:
        for c in spec.condition:
            if c.hp not in seen:
                raise ValueError(f"hyperparameter '{spec.name}' is conditioned on '{c.hp}', "
                                 "which is not declared before it")
        seen.add(spec.name)


# ---- Keras Tuner


def _needs_labels(spec: HpSpec) -> bool:
    """A choice whose values Keras Tuner cannot hold as they are (tuples, lists, None)."""
    if spec.kind != Hp.CHOICE:
        return False
    types = {type(v) for v in spec.values}
    return len(types) != 1 or not issubclass(next(iter(types)), _KT_SCALARS)


def _label(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, tuple | list):
        inner = ", ".join(_label(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    return str(value)


def _labels(spec: HpSpec) -> dict:
    """value -> string label for a choice that Keras Tuner holds as strings (injective)."""
    labels = [_label(v) for v in spec.values]
    if len(set(labels)) != len(labels):
        labels = [f"{k}: {lab}" for k, lab in enumerate(labels)]
    return dict(zip(spec.values, labels, strict=True))


def kt_value(spec: HpSpec, value):
    """The value Keras Tuner holds for `value` of `spec` (the value itself for scalars)."""
    return _labels(spec)[value] if _needs_labels(spec) else value


def to_kt(template, assignment: dict) -> dict:
    """A template assignment (name -> value) as Keras Tuner values (for `hp.values`)."""
    specs = {s.name: s for s in template.hyperparameters}
    return {k: kt_value(specs[k], v) if k in specs else v for k, v in assignment.items()}


def from_kt(template, values: dict) -> dict:
    """Keras Tuner values (e.g. a trial's `hp.values`) as template values.

    Args:
        template: the Template.
        values: name -> value as Keras Tuner holds it; names the template lacks pass through.

    Returns:
        name -> value, with string labels of tuple-valued choices turned back into tuples.
    """
    out = dict(values)
    for spec in template.hyperparameters:
        if spec.name in out and _needs_labels(spec):
            back = {lab: v for v, lab in _labels(spec).items()}
            out[spec.name] = back[out[spec.name]]
    return out


def declare_space(template, hp=None):
    """Declare every hyperparameter of `template` into a Keras Tuner `HyperParameters`.

    Each hp is declared with Keras Tuner's own API (`hp.Choice`, `hp.Int`, `hp.Float`,
    `hp.Boolean`) inside nested `hp.conditional_scope(parent, values)` calls, one per clause
    of its condition, outermost first. Where Keras Tuner's scopes cannot express a condition
    (it requires each scope's parent to be declared under exactly the enclosing scopes, which
    a shared hp's joined condition, or a recursive block's re-narrowed clause, may break) the
    hp is registered with the same conditions given directly (`hp.merge`); the activity is the
    same. Stepped floats and log ints with a step become ordered Choices (`_kt_declaration`).

    Args:
        template: a `graph.Template`.
        hp: a `keras_tuner.HyperParameters` to declare into (a trial's); a new one if None.

    Returns:
        The `HyperParameters` object; its active values are the defaults unless `hp` had values.
    """
    import keras_tuner as kt

    hp = kt.HyperParameters() if hp is None else hp
    by_name = {}
    for spec in _specs(template):
        by_name[spec.name] = spec
        if _scopes_fit(hp, spec.condition, by_name):
            with contextlib.ExitStack() as stack:
                for c in spec.condition:
                    stack.enter_context(hp.conditional_scope(c.hp, _kt_values(c, by_name)))
                _declare_one(hp, spec)
        else:
            _declare_with_conditions(hp, spec, by_name)
    return hp


def _kt_values(c: Clause, by_name: dict) -> list:
    return [kt_value(by_name[c.hp], v) for v in c.values]


def _scopes_fit(hp, condition, by_name: dict) -> bool:
    """Whether nested scopes work: clause k's hp exists under exactly clauses 0..k-1."""
    for k, c in enumerate(condition):
        parents = [(p.hp, _kt_values(p, by_name)) for p in condition[:k]]
        found = [[(p.name, list(p.values)) for p in h.conditions]
                 for h in hp.space if h.name == c.hp]
        if not any(_same_conditions(f, parents) for f in found):
            return False
    return True


def _same_conditions(a: list, b: list) -> bool:
    return len(a) == len(b) and all(x[0] == y[0] and list(x[1]) == list(y[1])
                                    for x, y in zip(a, b, strict=True))


def _declare_one(hp, spec: HpSpec) -> None:
    method, kwargs = _kt_declaration(spec)
    getattr(hp, method)(spec.name, **kwargs)


def _kt_declaration(spec: HpSpec) -> tuple[str, dict]:
    """(`HyperParameters` method name, its keyword arguments) declaring `spec`.

    Keras Tuner's own Int/Float is used wherever its value set is exactly the template's
    domain. Where it is not -- a stepped float (Keras Tuner computes 0.1 + 2 * 0.1 =
    0.30000000000000004 and may drop the upper bound), a log-sampled int with a step > 1
    (Keras Tuner multiplies by the step, the template adds it) -- the hp is an ordered Choice
    of its exact values, so that counts, conditions and trial values agree.
    """
    if spec.kind == Hp.CHOICE:
        values = [kt_value(spec, v) for v in spec.values]
        return "Choice", {"values": values, "default": kt_value(spec, spec.default)}
    if spec.kind == Hp.BOOL:
        return "Boolean", {"default": bool(spec.default)}
    if spec.kind == Hp.INT and (spec.sampling == "linear" or (spec.step or 1) == 1):
        step = int(spec.step or 1) if spec.sampling == "linear" else None  # kt: log step > 1
        return "Int", {"min_value": int(spec.min), "max_value": int(spec.max), "step": step,
                       "sampling": spec.sampling, "default": int(spec.default)}
    if spec.kind == Hp.FLOAT and (not spec.step or _kt_float_exact(spec)):
        return "Float", {"min_value": float(spec.min), "max_value": float(spec.max),
                         "step": spec.step or None, "sampling": spec.sampling,
                         "default": float(spec.default)}
    return "Choice", {"values": list(values_of(spec)), "ordered": True, "default": spec.default}


def _kt_float_exact(spec: HpSpec) -> bool:
    """Whether Keras Tuner's stepped Float takes exactly the values of `spec.domain()`."""
    if spec.sampling != "linear":
        return False
    from keras_tuner.engine import hyperparameters as kt_hps

    kt_float = kt_hps.Float(spec.name, float(spec.min), float(spec.max), step=spec.step)
    return list(kt_float.values) == list(spec.domain())


def _declare_with_conditions(hp, spec: HpSpec, by_name: dict) -> None:
    """Register `spec` with its conditions given directly (Keras Tuner's `merge`)."""
    from keras_tuner.engine import hyperparameters as kt_hps
    from keras_tuner.src.engine.conditions import Parent

    conditions = [Parent(c.hp, _kt_values(c, by_name)) for c in spec.condition]
    method, kwargs = _kt_declaration(spec)
    hp.merge([getattr(kt_hps, method)(spec.name, conditions=conditions, **kwargs)],
             overwrite=False)


# ---- counting


def count_configurations(template) -> int | None:
    """The exact number of distinct assignments of the ACTIVE hyperparameters.

    A dynamic programme over the hps in declaration order. Its state holds the values of the
    earlier hps that a later condition still mentions (INACTIVE for an inactive one), each
    value reduced to its class -- the values that satisfy the same clauses -- and maps each
    state to the number of assignments of the hps so far that reach it. An hp that no later
    condition mentions multiplies counts by its domain size without branching; one mentioned
    is forgotten after the last hp that mentions it.

    Cost: O(sum over hps of states x value classes), where the states at a step are at most
    the product of (value classes + 1) of the hps still remembered -- a repeat count and the
    enclosing optionals, not the whole space: milliseconds for the seed templates.

    Args:
        template: a `graph.Template`.

    Returns:
        The count (a Python int, exact at any size), or None if an hp that can be active is a
        continuous float (infinitely many configurations).
    """
    specs = _specs(template)
    last_use, clause_sets = _mentions(specs)
    live: list[str] = []
    states: dict[tuple, int] = {(): 1}
    for i, spec in enumerate(specs):
        keep = [k for k, name in enumerate(live) if last_use[name] > i]
        remember = last_use.get(spec.name, -1) > i
        index = {name: k for k, name in enumerate(live)}
        tests = [(index[c.hp], c.values) for c in spec.condition]
        choices = None
        new: dict[tuple, int] = {}
        for state, n in states.items():
            base = tuple(state[k] for k in keep)
            if not all(state[k] in values for k, values in tests):
                _add(new, base + (INACTIVE,) if remember else base, n)
                continue
            if choices is None:
                if is_continuous(spec):
                    return None
                choices = _classes(spec, clause_sets.get(spec.name, ()), remember)
            for rep, weight in choices:
                _add(new, base + (rep,) if remember else base, n * weight)
        live = [live[k] for k in keep] + ([spec.name] if remember else [])
        states = new
    return sum(states.values())


def _add(states: dict, key: tuple, n: int) -> None:
    states[key] = states.get(key, 0) + n


def _mentions(specs: list[HpSpec]) -> tuple[dict, dict]:
    """(name -> index of the last hp whose condition mentions it, name -> its clause sets)."""
    last_use: dict[str, int] = {}
    clause_sets: dict[str, set] = {}
    for i, spec in enumerate(specs):
        for c in spec.condition:
            last_use[c.hp] = i
            clause_sets.setdefault(c.hp, set()).add(c.values)
    return last_use, clause_sets


def _classes(spec: HpSpec, sets, remember: bool) -> list[tuple]:
    """[(representative value, number of values)] of `spec`'s values, grouped by the clauses
    (value sets) they satisfy; one group of all values when nothing remembers them."""
    values = values_of(spec)
    if not remember:
        return [(None, len(values))]
    sets = sorted(sets, key=repr)
    groups: dict[tuple, list] = {}
    for v in values:
        key = tuple(v in s for s in sets)
        if key in groups:
            groups[key][1] += 1
        else:
            groups[key] = [v, 1]
    return [tuple(g) for g in groups.values()]


# ---- enumeration, defaults, sampling


def enumerate_configurations(template, limit: int | None = None) -> Iterator[dict]:
    """Every assignment of the active hps, by brute force (for tests and small spaces).

    Args:
        template: a `graph.Template`.
        limit: stop after this many assignments (None: all).

    Yields:
        dicts name -> value of the active hps, in declaration order; each distinct once.

    Raises:
        ValueError: if an hp that can be active is a continuous float.
    """
    specs = _specs(template)
    if limit is not None and limit <= 0:
        return
    produced = 0
    for assignment in _extend(specs, 0, {}):
        yield assignment
        produced += 1
        if limit is not None and produced >= limit:
            return


def _extend(specs: list[HpSpec], i: int, assignment: dict) -> Iterator[dict]:
    while i < len(specs) and not holds(specs[i].condition, assignment):
        i += 1
    if i == len(specs):
        yield dict(assignment)
        return
    spec = specs[i]
    values = values_of(spec)
    if values is None:
        raise ValueError(f"'{spec.name}' is a continuous float: its values cannot be listed")
    for v in values:
        assignment[spec.name] = v
        yield from _extend(specs, i + 1, assignment)
    del assignment[spec.name]


def default_values(template) -> dict:
    """The active hps at their defaults (an hp is active if its condition holds at them)."""
    out: dict = {}
    for spec in _specs(template):
        if holds(spec.condition, out):
            out[spec.name] = spec.default
    return out


def sample(template, seed) -> dict:
    """A random valid assignment of the active hps, the same for the same seed.

    Each active hp takes a value uniformly from its domain (a continuous float: uniformly on
    its sampling scale).

    Args:
        template: a `graph.Template`.
        seed: anything `random.Random` accepts.

    Returns:
        name -> value of the active hps.
    """
    rng = random.Random(seed)
    out: dict = {}
    for spec in _specs(template):
        if holds(spec.condition, out):
            out[spec.name] = _draw(spec, rng)
    return out


def _draw(spec: HpSpec, rng: random.Random):
    values = values_of(spec)
    if values is not None:
        return rng.choice(values)
    p = rng.random()
    low, high = spec.min, spec.max
    if spec.sampling == "log":
        return low * math.pow(high / low, p)
    if spec.sampling == "reverse_log":
        return high + low - low * math.pow(high / low, 1 - p)
    return low + p * (high - low)


# ---- description


def describe(template) -> dict:
    """The space as a JSON-serialisable dict.

    Returns:
        {"hyperparameters": [{"name", "kind", "values" (choice, bool) or "min", "max",
        "step", "sampling" (int, float), "default", "condition" (a human string),
        "active_when" ([{"hp", "values"}], the clauses)}], "configurations": int or None}
    """
    return {"hyperparameters": [_describe_hp(s) for s in _specs(template)],
            "configurations": count_configurations(template)}


def _describe_hp(spec: HpSpec) -> dict:
    out: dict = {"name": spec.name, "kind": spec.kind}
    if spec.kind in (Hp.CHOICE, Hp.BOOL):
        out["values"] = [_json(v) for v in spec.domain()]
    else:
        out.update(min=_json(spec.min), max=_json(spec.max), step=_json(spec.step),
                   sampling=spec.sampling)
    out["default"] = _json(spec.default)
    out["condition"] = show_condition(spec.condition)
    out["active_when"] = [{"hp": c.hp, "values": [_json(v) for v in c.values]}
                          for c in spec.condition]
    return out


def _json(value):
    if isinstance(value, tuple | list):
        return [_json(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


_HEADERS = ("NAME", "KIND", "VALUES/RANGE", "DEFAULT", "ACTIVE WHEN")


def format_table(description: dict) -> str:
    """An aligned table of a `describe()` result, then a line with the number of configurations.

    Args:
        description: what `describe` returns (or the same loaded back from JSON).

    Returns:
        The table, without a trailing newline.
    """
    rows = [_HEADERS] + [_row(h) for h in description["hyperparameters"]]
    widths = [max(len(r[k]) for r in rows) for k in range(len(_HEADERS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    n = description["configurations"]
    lines.append("infinitely many (continuous floats)" if n is None
                 else f"{n:,} distinct configurations")
    return "\n".join(lines)


def _row(h: dict) -> tuple:
    return (h["name"], h["kind"], _show_domain(h), _show(h["default"]), h["condition"])


def _show_domain(h: dict) -> str:
    if "values" in h:
        return ", ".join(_show(v) for v in h["values"])
    text = f"{_show(h['min'])}..{_show(h['max'])}"
    if h.get("step") is not None:
        text += f" step {_show(h['step'])}"
    if h.get("sampling", "linear") != "linear":
        text += f" ({h['sampling']})"
    return text


def _show(value) -> str:
    if isinstance(value, list):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    return _label(value)
