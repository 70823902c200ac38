"""Keras Tuner oracles that Keras Tuner lacks: regularised evolution, asynchronous successive
halving (ASHA), and Bayesian optimisation that never proposes a configuration already tried.

All are `keras_tuner.Oracle` subclasses, so they compose with any `keras_tuner.Tuner` (and
with Keras Tuner's save/reload and chief/worker mode). They count only ACTIVE values when they
compare configurations, as Keras Tuner's own duplicate check (`Oracle._duplicate`) does.
"""

from __future__ import annotations

import random
import warnings

import keras_tuner as kt
import numpy as np
from keras_tuner.src.engine import hyperparameters as hp_module
from keras_tuner.src.engine import trial as trial_module
from scipy.linalg import solve_triangular
from scipy.spatial.distance import cdist
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import Matern

from .pareto import minimised, ranking

RUNNING, STOPPED = trial_module.TrialStatus.RUNNING, trial_module.TrialStatus.STOPPED
IDLE, COMPLETED = trial_module.TrialStatus.IDLE, trial_module.TrialStatus.COMPLETED


class EvolutionOracle(kt.Oracle):
    """Regularised (aging) evolution, Real et al. 2019, "Regularized Evolution for Image
    Classifier Architecture Search" (AAAI), Algorithm 1.

    The population is the `population_size` most recently completed trials (a queue: a new
    child pushes out the oldest member, not the worst), plus, with `elite` (the default), the
    best trial so far however old. Until the population is full, trials are random. Then each
    trial takes `sample_size` members at random, and mutates the best of them:
    one active hyperparameter gets another value; hyperparameters that the change
    activates are drawn at random, those it deactivates are dropped. A child equal to an
    earlier trial (active values) is redrawn; after `_max_collisions` tries the oracle falls
    back to a random configuration, and stops when those are exhausted too.

    The elite is archc's departure from Real et al.: their aging pays off over thousands of
    trials, but a search of tens has a population of a few trials, and aging then evicts its
    one good trial within a few children and goes on mutating dead ones (issue 11's
    10-trial search did: every child descended from a trial at chance).

    With several objectives (`objectives.Scalarised`) selection is NSGA-II's (Deb et al.
    2002) instead: the population is the `population_size` completed trials that
    non-dominated sorting ranks first (a better front, then a larger crowding distance:
    `pareto.ranking`), and the parent is the best of the sample by the same ranking within the
    population. The scalarised score plays no part.

    Randomness is a function of `seed` and the trial id, so a resumed search proposes what an
    uninterrupted one would.

    Args:
        objective, max_trials, hyperparameters, seed, ...: as for `keras_tuner.Oracle`.
        population_size: P, the number of recent trials in the population.
        sample_size: S, the tournament size (S <= P).
        elite: keep the best trial so far in the population (P + 1 members once it is old).
    """

    def __init__(self, objective=None, max_trials=100, population_size=20, sample_size=5,
                 seed=None, elite=True, **kwargs):
        super().__init__(objective=objective, max_trials=max_trials, seed=seed, **kwargs)
        if not 1 <= sample_size <= population_size:
            raise ValueError(f"expected 1 <= sample_size <= population_size, found "
                             f"sample_size={sample_size}, population_size={population_size}")
        self.population_size = population_size
        self.sample_size = sample_size
        self.elite = elite

    def populate_space(self, trial_id):
        population = self.population()
        if len(population) < self.population_size:
            return _response(self._random_values())
        rng = random.Random(f"{self.seed}/{int(trial_id)}")  # ids are padded to max_trials
        parent = self._best(rng.sample(self._with_elite(population), self.sample_size))
        for _ in range(self._max_collisions):
            child = self.mutate(parent.hyperparameters.values, rng)
            if child is not None and not self._duplicate(child):
                return _response(child)
        return _response(self._random_values())

    def population(self) -> list:
        """The last `population_size` completed trials, oldest first; with several
        objectives, the `population_size` best by non-dominated sorting, in trial order."""
        done = [self.trials[t] for t in self.end_order
                if self.trials[t].status == trial_module.TrialStatus.COMPLETED]
        if not self._several():
            return done[-self.population_size:]
        done = [t for t in done if self._point(t) is not None]
        ranks = ranking([self._point(t) for t in done])
        best = sorted(range(len(done)), key=lambda i: (ranks[i], i))[:self.population_size]
        return [done[i] for i in sorted(best)]

    def _with_elite(self, population: list) -> list:
        """`population`, and the best completed trial so far if aging has evicted it (with
        several objectives the population is elitist already: NSGA-II keeps the best)."""
        if not self.elite or self._several():
            return population
        done = [t for t in self.trials.values()
                if t.status == trial_module.TrialStatus.COMPLETED and t.score is not None]
        best = self._best(done)
        return population if best in population else [best, *population]

    def _best(self, trials: list):
        if self._several():
            ranks = ranking([self._point(t) for t in self.population()])
            place = {t.trial_id: r for t, r in zip(self.population(), ranks, strict=True)}
            return min(trials, key=lambda t: (place[t.trial_id], int(t.trial_id)))
        sign = 1 if self.objective.direction == "max" else -1
        return max(trials, key=lambda t: sign * t.score)

    def _several(self) -> bool:
        return len(getattr(self.objective, "objectives", ())) > 1

    def _point(self, trial) -> tuple | None:
        """The trial's objectives as a point to minimise; None if one is missing."""
        values = [trial.metrics.get_best_value(o.name) if trial.metrics.exists(o.name)
                  else None for o in self.objective.objectives]
        if any(v is None for v in values):
            return None
        return tuple(minimised(v, o.direction)
                     for v, o in zip(values, self.objective.objectives, strict=True))

    def mutate(self, values: dict, rng: random.Random) -> dict | None:
        """`values` with one active hyperparameter changed, and the conditional
        hyperparameters that the change activates drawn at random (None: nothing to mutate)."""
        hps = self.get_space()
        hps.values = {k: v for k, v in values.items() if not k.startswith("tuner/")}
        active = [hp for hp in hps.space if hps.is_active(hp)]
        for hp in rng.sample(active, len(active)):
            value = _other_value(hp, hps.values.get(hp.name), rng)
            if value is not None:
                hps.values[hp.name] = value
                return self._complete(hps, rng)
        return None

    def _complete(self, hps, rng: random.Random) -> dict:
        """Keep the active values (parents come before children in `hps.space`), draw the
        newly active ones, drop the inactive ones."""
        for hp in hps.space:
            if not hps.is_active(hp.name):  # by name: a shared hp may be declared twice
                hps.values.pop(hp.name, None)
            elif hp.name not in hps.values:
                hps.values[hp.name] = hp.random_sample(rng.randrange(2**31))
        return hps.values

    def get_state(self):
        state = super().get_state()
        state.update(population_size=self.population_size, sample_size=self.sample_size,
                     elite=self.elite)
        return state

    def set_state(self, state):
        super().set_state(state)
        self.population_size = state["population_size"]
        self.sample_size = state["sample_size"]
        self.elite = state.get("elite", False)  # saved before the elite: pure aging


def _other_value(hp, current, rng: random.Random):
    """A value of `hp` other than `current`, or None if it has no other."""
    if isinstance(hp, hp_module.Fixed):
        return None
    if isinstance(hp, hp_module.Choice | hp_module.Boolean):
        others = [v for v in hp.values if v != current]
        return rng.choice(others) if others else None
    for _ in range(20):  # Int, Float: a fresh draw, on the hp's own sampling scale
        value = hp.random_sample(rng.randrange(2**31))
        if value != current:
            return value
    return None


def _response(values: dict | None) -> dict:
    if values is None:
        return {"status": STOPPED, "values": None}
    return {"status": RUNNING, "values": values}


class AshaOracle(kt.Oracle):
    """Asynchronous successive halving (ASHA), Li et al. 2020, "A System for Massively
    Parallel Hyperparameter Tuning" (MLSys), Algorithm 2.

    Rung k trains a configuration for `min_epochs * factor**k` epochs in all, the last rung
    for `max_epochs` (1, 3, 5 epochs for 5 epochs at most). Whenever a trial is asked for,
    the highest rung (but the last) that has a configuration among the top 1/`factor` of its
    completed trials, not promoted yet, promotes the best such configuration to the next
    rung: a new trial that goes on from that trial's checkpoint, as Keras Tuner's Hyperband
    does (`tuner/trial_id`, `tuner/initial_epoch`, `tuner/epochs`; run it with the
    `Hyperband` tuner). Otherwise a new random configuration starts at rung 0. No trial waits
    for another, so workers never idle.

    A trial's rung is its `tuner/rung` value, saved with the trial, and a configuration is
    promoted when a later trial continues it (`tuner/trial_id`): the rungs are read from the
    trials, so a reloaded oracle (after `kill -9`) promotes what an uninterrupted one would.
    `get_state` adds the rung settings.

    Args:
        objective, max_trials, seed, ...: as for `keras_tuner.Oracle`; every trial counts,
            promotions included.
        max_epochs: R, the epochs of the last rung.
        min_epochs: r, the epochs of rung 0.
        factor: eta, the reduction factor (the top 1/eta of a rung are promoted).
    """

    def __init__(self, objective=None, max_trials=100, max_epochs=100, min_epochs=1, factor=3,
                 seed=None, **kwargs):
        super().__init__(objective=objective, max_trials=max_trials, seed=seed, **kwargs)
        if factor < 2 or not 1 <= min_epochs <= max_epochs:
            raise ValueError(f"expected factor >= 2 and 1 <= min_epochs <= max_epochs, found "
                             f"factor={factor}, min_epochs={min_epochs}, max_epochs={max_epochs}")
        self.max_epochs, self.min_epochs, self.factor = max_epochs, min_epochs, factor

    @property
    def rungs(self) -> list[int]:
        """The epochs of each rung: r, r*eta, r*eta**2, ... below R, then R."""
        epochs, out = self.min_epochs, []
        while epochs < self.max_epochs:
            out.append(epochs)
            epochs *= self.factor
        return [*out, self.max_epochs]

    def populate_space(self, trial_id):
        promotion = self.promotion()
        if promotion is not None:
            parent = self.trials[promotion]
            return _response({**parent.hyperparameters.values,
                              **self._rung_values(parent.hyperparameters.values["tuner/rung"]
                                                  + 1, promotion)})
        values = self._random_values()
        if values is None and self.ongoing_trials:
            return {"status": IDLE}
        return _response(values and {**values, **self._rung_values(0, None)})

    def promotion(self) -> str | None:
        """The trial whose configuration goes to the next rung now, or None."""
        promoted = {t.hyperparameters.values.get("tuner/trial_id") for t in self.trials.values()}
        for rung in reversed(range(len(self.rungs) - 1)):
            done = self.completed(rung)
            for trial in done[:len(done) // self.factor]:
                if trial.trial_id not in promoted:
                    return trial.trial_id
        return None

    def completed(self, rung: int) -> list:
        """The completed trials of a rung, best first (ties: the earlier trial)."""
        sign = -1 if self.objective.direction == "max" else 1
        done = [t for t in self.trials.values() if t.status == COMPLETED
                and t.score is not None and t.hyperparameters.values.get("tuner/rung") == rung]
        return sorted(done, key=lambda t: (sign * t.score, int(t.trial_id)))

    def _rung_values(self, rung: int, parent: str | None) -> dict:
        values = {"tuner/rung": rung, "tuner/epochs": self.rungs[rung],
                  "tuner/initial_epoch": self.rungs[rung - 1] if rung else 0}
        if parent is not None:
            values["tuner/trial_id"] = parent
        return values

    def _compute_values_hash(self, values):
        # A configuration's identity leaves out its rung (a promotion continues a trial).
        kept = {k: v for k, v in values.items()
                if k not in ("tuner/rung", "tuner/epochs", "tuner/initial_epoch")}
        return super()._compute_values_hash(kept)

    def get_state(self):
        state = super().get_state()
        state.update(max_epochs=self.max_epochs, min_epochs=self.min_epochs, factor=self.factor)
        return state

    def set_state(self, state):
        super().set_state(state)
        self.max_epochs = state["max_epochs"]
        self.min_epochs = state["min_epochs"]
        self.factor = state["factor"]


class BayesianOracle(kt.oracles.BayesianOptimizationOracle):
    """Keras Tuner's Bayesian optimisation, except that a proposal equal to an earlier trial's
    active values -- the Gaussian process often proposes its optimum again -- is replaced by
    a random configuration not tried yet (Keras Tuner's `_random_values`), so no configuration
    is trained twice."""

    def _make_gpr(self):
        # Keras Tuner's own regressor (kernel, restarts, alpha, seed), in the class below.
        gpr = super()._make_gpr()
        return QuickPredictGPR(**gpr.get_params(deep=False))

    def populate_space(self, trial_id):
        from sklearn.exceptions import ConvergenceWarning  # Keras Tuner needs sklearn here

        with warnings.catch_warnings():  # the Gaussian process's length-scale bounds
            warnings.simplefilter("ignore", ConvergenceWarning)
            response = super().populate_space(trial_id)
        if response["status"] == RUNNING and self._duplicate(response["values"]):
            return _response(self._random_values())
        return response


class QuickPredictGPR(GaussianProcessRegressor):
    """scikit-learn's `GaussianProcessRegressor`, with a fast path for the call Keras Tuner's
    Bayesian oracle makes hundreds of thousands of times per search: the posterior mean and
    standard deviation at one point, inside L-BFGS-B's numerical gradients of the acquisition
    (50 restarts x (hyperparameters + 1) evaluations a step). scikit-learn spends most of such
    a call validating its input and the kernel's arguments (0.34 ms); in a 20-trial search
    of squeezenet_se_auto (35 hyperparameters) the oracle took 8 s a trial (bench/search.md).

    `fit` is scikit-learn's; it then keeps what the posterior at a point needs for Keras
    Tuner's kernel (Matern, nu = 2.5): the scaled training points and the inverse of the
    Cholesky factor. `predict` computes the same posterior (Rasmussen & Williams, Alg. 2.1,
    as scikit-learn does) for a 2-D float array; anything else -- another kernel, several
    targets, a covariance -- goes to scikit-learn's `predict`. A test checks both agree.
    """

    def fit(self, X, y):
        super().fit(X, y)
        self._point = self._point_model()
        return self

    def _point_model(self):
        kernel = self.kernel_
        if not (type(kernel) is Matern and kernel.nu == 2.5 and np.ndim(self.alpha_) == 1
                and np.ndim(self._y_train_mean) == 0 and np.ndim(self._y_train_std) == 0):
            return None
        scale = np.asarray(kernel.length_scale, dtype=np.float64)
        l_inv = solve_triangular(self.L_, np.eye(len(self.L_)), lower=True, check_finite=False)
        return scale, self.X_train_ / scale, l_inv

    def predict(self, X, return_std=False, return_cov=False):
        point = getattr(self, "_point", None)
        if (point is None or return_cov or not isinstance(X, np.ndarray) or X.ndim != 2
                or X.dtype != np.float64 or X.shape[1] != point[1].shape[1]):
            return super().predict(X, return_std=return_std, return_cov=return_cov)
        scale, train, l_inv = point
        d = np.sqrt(5.0) * cdist(X / scale, train)
        k = (1.0 + d + d * d / 3.0) * np.exp(-d)       # Matern 2.5: k(x, x) = 1
        mean = self._y_train_std * (k @ self.alpha_) + self._y_train_mean
        if not return_std:
            return mean
        v = l_inv @ k.T
        var = 1.0 - np.einsum("ij,ij->j", v, v)
        return mean, np.sqrt(np.maximum(var, 0.0)) * self._y_train_std
