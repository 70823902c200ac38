"""A candidate proposed by an oracle -> admitted, rejected or a duplicate, before any Keras
model is built.

Rejection (infeasible shapes, a `constraint`, `--max-params/--max-bytes/--max-flops`) happens
inside the oracle: `admit_candidates` wraps the oracle's `populate_space`, and a proposal
the compiler rejects is replaced by a fresh random one (Keras Tuner's `_random_values`) until
one is admitted. A rejected proposal therefore never becomes a trial and does not count
against `--trials`; its values go into the oracle's tried set (saved with the oracle), so no
oracle proposes them again, and after `MAX_REJECTIONS` in a row the search stops with a clear
message. A Hyperband continuation (`tuner/trial_id`) is a trial already admitted.

Duplicates are trials: `Duplicates` maps each trained trial's identity (`identity.py`: the
concrete network and its training settings) to its id, and a later trial with the same
identity is recorded with `duplicate_of` and its original's metrics, not trained.

Imports Keras Tuner (it runs inside a search).
"""

from __future__ import annotations

import keras_tuner as kt

from ..hypermodel import Rejected
from ..identity import identity
from .errors import SearchError

MAX_REJECTIONS = 1_000  # proposals rejected in a row before the search gives up
MAX_COLLISIONS = 1_000  # random draws equal to tried values before an oracle says the space is done
RUNNING = "RUNNING"
HINT = ("the budget or the template's constraints may exclude the whole space: `archc space` "
        "gives its cost range")


def admit_candidates(oracle, check, on_reject=None) -> None:
    """Make `oracle` propose only candidates that `check(hp)` accepts.

    Args:
        oracle: a `keras_tuner.Oracle` (any: random, Bayesian, Hyperband, evolution, ...).
        check: raises `Rejected` for a `kt.HyperParameters` that must not be trained.
        on_reject: called with the rejected values and the reason, for the record.
    """
    propose = oracle.populate_space
    # Keras Tuner's random draws give up after 20 collisions with tried values; rejected values
    # count as tried, so a tight budget would end the search while in-budget ones remain.
    oracle._max_collisions = max(oracle._max_collisions, MAX_COLLISIONS)

    def populate_space(trial_id):
        response = propose(trial_id)
        for _ in range(MAX_REJECTIONS):
            values = response.get("values")
            if response.get("status") != RUNNING or not values or "tuner/trial_id" in values:
                return response
            problem = _problem(oracle, check, values)
            if problem is None:
                return response
            oracle._tried_so_far.add(oracle._compute_values_hash(values))
            if on_reject is not None:
                on_reject(values, problem)
            fresh = oracle._random_values()
            if fresh is None and not oracle.trials:
                raise SearchError(f"every candidate was rejected; the last: {problem}",
                                  hint=HINT)
            response = ({**response, "values": fresh} if fresh is not None
                        else {"status": "STOPPED", "values": None})
        raise SearchError(f"{MAX_REJECTIONS:,} candidates in a row were rejected; the last: "
                          f"{problem}", hint=HINT)

    oracle.populate_space = populate_space


def _problem(oracle, check, values: dict) -> str | None:
    hp = oracle.get_space()
    hp.values = dict(values)
    try:
        check(hp)
    except Rejected as exc:
        return str(exc)
    return None


class Duplicates:
    """The trained trials by identity: which earlier trial a candidate repeats."""

    def __init__(self):
        self.first: dict[str, str] = {}

    @staticmethod
    def key(arch, hp: kt.HyperParameters) -> str:
        """The candidate's identity; a tuner's epoch budget (Hyperband) is part of it."""
        extra = {k: v for k, v in hp.values.items() if k.startswith("tuner/")}
        return identity(arch, extra)

    def original(self, key: str, trial_id: str) -> str | None:
        """The trial that `key` first went with, or None (and `trial_id` becomes it)."""
        first = self.first.setdefault(key, trial_id)
        return None if first == trial_id else first
