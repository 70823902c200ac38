"""The `--tuner` table: each tuner's name -> a one-line description and the Keras Tuner oracle
it runs. The CLI's `--tuner` choices, docs/search.md (a test checks) and the tests read it.

Imports neither TensorFlow nor Keras Tuner (the CLI lists the names for every command); an
oracle's module is imported when the oracle is made.

    >>> list(TUNERS)
    ['random', 'hyperband', 'asha', 'bayesian', 'grid', 'evolution']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import SearchError

if TYPE_CHECKING:
    from .settings import Settings


@dataclass(frozen=True)
class Tuner:
    """One `--tuner`.

    Attributes:
        description: one line for `--help`.
        oracle: makes its oracle from the settings and Keras Tuner's arguments common to all
            oracles (objective, seed, max_consecutive_failed_trials).
        continues_trials: a trial may go on from an earlier trial's checkpoint (Hyperband, ASHA):
            the search then runs Keras Tuner's `Hyperband` tuner, which does that.
    """

    description: str
    oracle: Callable[..., object]
    continues_trials: bool = False


def _random(settings: Settings, **common):
    import keras_tuner as kt

    return kt.oracles.RandomSearchOracle(max_trials=settings.trials, **common)


def _hyperband(settings: Settings, **common):
    import keras_tuner as kt

    oracle = kt.oracles.HyperbandOracle(max_epochs=settings.epochs, factor=3,
                                        hyperband_iterations=None, **common)
    oracle.max_trials = settings.trials  # Hyperband's oracle has no max_trials argument
    return oracle


def _asha(settings: Settings, **common):
    from .oracles import AshaOracle

    return AshaOracle(max_trials=settings.trials, max_epochs=settings.epochs, min_epochs=1,
                      factor=3, **common)


def _bayesian(settings: Settings, **common):
    from .oracles import BayesianOracle

    return BayesianOracle(max_trials=settings.trials, num_initial_points=2, alpha=0.001,
                          beta=2.6, **common)


def _grid(settings: Settings, **common):
    import keras_tuner as kt

    return kt.oracles.GridSearchOracle(max_trials=settings.trials, **common)


def _evolution(settings: Settings, **common):
    from .oracles import EvolutionOracle

    population = max(3, min(20, settings.trials // 5))
    return EvolutionOracle(max_trials=settings.trials, population_size=population,
                           sample_size=max(2, population // 4), **common)


TUNERS: dict[str, Tuner] = {
    "random": Tuner("random search (the default)", _random),
    "hyperband": Tuner("Hyperband: max_epochs = --epochs, factor 3", _hyperband,
                       continues_trials=True),
    "asha": Tuner("asynchronous successive halving: rungs of 1, 3, 9, ... epochs up to "
                  "--epochs, the top third of a rung promoted", _asha, continues_trials=True),
    "bayesian": Tuner("Bayesian optimisation, the paper's settings (alpha 0.001, beta 2.6, "
                      "2 initial points)", _bayesian),
    "grid": Tuner("every active configuration once (a finite space)", _grid),
    "evolution": Tuner("regularised (aging) evolution, Real et al. 2019, keeping the best "
                       "trial", _evolution),
}


def tuner_named(name: str) -> Tuner:
    """The tuner called `name`.

    Raises:
        SearchError: no such tuner.
    """
    if name not in TUNERS:
        raise SearchError(f"expected a tuner among {', '.join(TUNERS)}, found '{name}'")
    return TUNERS[name]


def make_oracle(settings: Settings, objective, seed: int | None):
    """The oracle of `settings.tuner`, for at most `settings.trials` trials; a trial that
    fails does not stop the search (archc stops after `MAX_CRASHES` in a row itself)."""
    return tuner_named(settings.tuner).oracle(settings, objective=objective, seed=seed,
                                        max_consecutive_failed_trials=settings.trials + 1)
