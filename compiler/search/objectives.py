"""The objectives of `--objective` (given once or more) -> the one Keras Tuner objective that
the search's oracle optimises, and the metric a trial's epochs are judged by.

One objective is itself. Several are `Scalarised`: Keras Tuner's `MultiObjective` (named
`multi_objective`, minimised), whose value is its sum of the objectives -- each minimised one
added, each maximised one subtracted -- except that a cost (params, bytes, flops) enters as
`COST_WEIGHT` times its base-10 logarithm. Keras Tuner's plain sum would add 100,000
parameters to an accuracy of 0.9, and the cost alone would decide; in decades, a model ten
times smaller is worth 0.1 of accuracy. Every oracle but evolution optimises that number;
evolution selects by non-dominated sorting (`oracles.EvolutionOracle`), and the results mark
the Pareto front of the objectives themselves (`results.py`).

    >>> s = Scalarised([kt.Objective("val_accuracy", "max"), kt.Objective("params", "min")])
    >>> round(s.get_value({"val_accuracy": 0.9, "params": 100_000}), 6)
    -0.4
    >>> watched(s).name
    'val_accuracy'
"""

from __future__ import annotations

import math

import keras_tuner as kt
from keras_tuner.src.engine.objective import MultiObjective

from .results import COSTS

COST_WEIGHT = 0.1  # the scalarisation's weight of a cost, per decade (a factor of ten)


class Scalarised(MultiObjective):
    """Several objectives as one number to minimise (the module's docstring says how).

    A trial's epochs are compared on its metrics alone (Keras's logs hold no costs): its
    costs are the same in every epoch, so the best epoch is the same. `fit` returns the
    costs with the metrics, so that a trial's score holds them (`scored`)."""

    def has_value(self, logs) -> bool:
        return all(o.name in logs for o in self.objectives if o.name not in COSTS)

    def get_value(self, logs) -> float:
        return sum(term(o, logs[o.name]) for o in self.objectives if o.name in logs)


def term(objective: kt.Objective, value: float) -> float:
    """One objective's part of the scalarisation (to minimise)."""
    if objective.name in COSTS:
        value = COST_WEIGHT * math.log10(max(float(value), 1.0))
    return -value if objective.direction == "max" else value


def combine(objectives: list[kt.Objective]) -> kt.Objective:
    """The search's Keras Tuner objective: the one given, or their `Scalarised` sum."""
    return objectives[0] if len(objectives) == 1 else Scalarised(list(objectives))


def parts(objective: kt.Objective) -> list[kt.Objective]:
    """The objectives that were given."""
    return list(objective.objectives) if isinstance(objective, MultiObjective) else [objective]


def watched(objective: kt.Objective) -> kt.Objective | None:
    """The metric a trial's epochs are judged by (early stopping, the stopping rules, the
    progress line): the first objective that is not a cost; None if all are costs."""
    return next((o for o in parts(objective) if o.name not in COSTS), None)


def scored(metrics: dict, objective: kt.Objective) -> dict:
    """A trial's metrics and costs, with the scalarisation added when there are several
    objectives (Keras Tuner scores a trial by `objective.name`)."""
    if isinstance(objective, Scalarised) and objective.has_value(metrics):
        return {**metrics, objective.name: objective.get_value(metrics)}
    return metrics
