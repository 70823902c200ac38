"""A template's search as a Keras Tuner tuner: a hypermodel trained on a dataset, and what archc
adds to a tuner (candidates checked by the compiler before Keras builds them, early stopping,
hopeless trials stopped (`stopping.py`), backups and epoch logs, the results directory
rewritten and one line printed per epoch and per trial, the best models kept and tested).

`make_tuner` makes the tuner of a `tuners.TUNERS` entry. TensorFlow is imported here at module
level: the CLI imports the search lazily.
"""

from __future__ import annotations

import contextlib
import gc
import io
import math

import keras
import keras_tuner as kt
from keras_tuner.src import config as kt_config
from keras_tuner.src.engine import metrics_tracking

from ..diagnostics import ArchError
from ..factories import keras_result
from ..graph import Constraint
from ..graph import TemplateGraph as Template
from ..hypermodel import ArchHyperModel, Rejected, reason
from ..resolve import Architecture, check_budget, resolve
from . import progress, stopping
from .candidates import Duplicates, admit_candidates
from .checkpoints import SafeBackupAndRestore
from .distributed import ALL_TRIALS, PatientClient
from .errors import SearchError
from .objectives import parts, scored, watched
from .results import (
    COSTS,
    KT_PROJECT,
    Results,
    TrialRow,
    append_epoch,
    read_epochs,
)
from .settings import Settings
from .start import seed_first, start_values
from .storage import disk_full
from .tuners import make_oracle, tuner_named

MAX_CRASHES = 3  # trials in a row that raise (not rejected candidates) before the search stops
MAX_REPEATS = 100  # duplicates in a row that each add a trial in their place


# ---------------------------------------------------------------- the hypermodel


class SearchHyperModel(ArchHyperModel):
    """The template's `ArchHyperModel`, trained on a dataset: `candidate` checks a point of
    the space with the compiler alone (shape inference and the cost model, milliseconds), and
    `fit` trains on the data's tf.data pipelines with the batch size of the train section."""

    def __init__(self, template: Template, dataset, budgets: tuple[Constraint, ...] = (),
                 objective: kt.Objective | None = None):
        super().__init__(template)
        self.dataset = dataset
        self.budgets = budgets
        self.objective = objective  # several objectives: `fit` adds their scalarisation

    def candidate(self, hp) -> Architecture:
        """The architecture of `hp`'s values.

        Raises:
            Rejected: infeasible (shapes), or over a budget (the template's constraints,
                `budgets`); the oracle then proposes another (`candidates.admit_candidates`).
        """
        arch = super().candidate(hp)
        try:
            check_budget(arch, self.budgets)
        except ArchError as exc:
            raise Rejected(reason(exc)) from None
        return arch

    def fit(self, hp, model, *args, callbacks=(), **kwargs):
        """Train on the data; return each metric's best value over all the trial's epochs
        (those before a restart included: `EpochLog`) and the model's cost.

        Raises:
            FailedTrialError: the loss became non-finite (`stopping.StopHopeless`).
        """
        arch = resolve(self.template, self.values(hp), keras_result)
        batch_size = _batch_size(arch)
        # Fresh pipelines (over the data set's cached arrays): a trial's batches then follow
        # the seed alone, not how many trials this process ran before it.
        train = self.dataset.pipeline("train", batch_size)
        model.fit(train, *args, callbacks=callbacks, shuffle=False,
                  validation_data=self.dataset.pipeline("validation", batch_size), **kwargs)
        stop = next((c for c in callbacks if isinstance(c, stopping.StopHopeless)), None)
        if stop is not None and stop.stopper.verdict is not None:
            _unless_diverged(stop.stopper.verdict.record())
        log = next(c for c in callbacks if isinstance(c, EpochLog))
        return self.scored({**best_metrics(log.epochs), **arch.cost()})

    def scored(self, metrics: dict) -> dict:
        """The metrics with the scalarisation of several objectives added.

        Raises:
            ObjectiveNotLogged: an objective is neither a logged metric nor a cost.
        """
        if self.objective is None:
            return metrics
        missing = [o.name for o in parts(self.objective) if o.name not in metrics]
        if missing:
            logged = ", ".join(sorted(m for m in metrics if m not in COSTS))
            raise ObjectiveNotLogged(f"--objective {missing[0]}: expected a metric the trials "
                                     f"log ({logged}) or a cost ({', '.join(COSTS[:3])}), "
                                     f"found '{missing[0]}'")
        return scored(metrics, self.objective)

    def evaluate(self, hp, model, split: str = "test") -> dict | None:
        """`model`'s metrics on `split` ({name: value}), or None if the data has no such
        split."""
        if self.dataset.arrays(split) is None:
            return None
        batch_size = _batch_size(resolve(self.template, self.values(hp), keras_result))
        metrics = model.evaluate(self.dataset.pipeline(split, batch_size), verbose=0,
                                 return_dict=True)
        return {name: float(value) for name, value in metrics.items()}


def _batch_size(arch: Architecture) -> int:
    return int(arch.train.get("batch_size", 32))


def direction(metric: str) -> str:
    """Whether a metric (or a cost) is better higher ("max") or lower ("min")."""
    if metric in COSTS:
        return "min"
    inferred = metrics_tracking.infer_metric_direction(metric)
    if inferred:
        return inferred
    return "min" if "loss" in metric or "error" in metric else "max"


def best_metrics(epochs: dict) -> dict:
    """{metric: its best finite value over the epochs} (max or min by the metric's name)."""
    out: dict = {}
    for logs in epochs.values():
        for name, value in logs.items():
            if value is None or not math.isfinite(value):
                continue
            better = max if direction(name) == "max" else min
            out[name] = value if name not in out else better(out[name], value)
    return out


class EpochLog(keras.callbacks.Callback):
    """Each finished epoch's logs as one JSON line in `path`; a restarted trial reads the
    earlier ones back, so its metrics cover every epoch."""

    def __init__(self, path):
        super().__init__()
        self.path = str(path)
        self.epochs: dict[int, dict] = {}

    def on_train_begin(self, logs=None):
        self.epochs = read_epochs(self.path)

    def on_epoch_end(self, epoch, logs=None):
        # An epoch run again after a restart replaces the first run's line and what followed.
        self.epochs = {e: v for e, v in self.epochs.items() if e < epoch}
        self.epochs[epoch] = {k: float(v) for k, v in (logs or {}).items()
                              if isinstance(v, int | float) or hasattr(v, "__float__")}
        append_epoch(self.path, epoch, self.epochs[epoch])


# ---------------------------------------------------------------- the tuner


class ObjectiveNotLogged(SearchError, kt.errors.FatalError):
    """An objective that a trial did not log: Keras Tuner stops the search (a `FatalError`),
    and the CLI shows the message (a `SearchError`)."""


class DiskFullInTrial(kt.errors.FatalError):
    """A full disk while a trial trained: Keras Tuner stops the search (a `FatalError`)
    instead of recording the trial as failed; `search` turns it into a message."""


class _SearchTuner:
    """What archc adds to a Keras Tuner tuner (a mixin, placed before the tuner class):
    candidates checked before they are built, per-trial early stopping, hopeless trials
    stopped, backups and epoch logs, the session cleared between trials, results written and
    one line printed per epoch and per trial, the best models kept."""

    def __init__(self, *args, results: Results, log=print, trial_seed: int | None = None,
                 **kwargs):
        self.results = results
        self.log = log
        self.trial_seed = trial_seed
        self._model = None
        self._crashes = 0
        self._gradients: set = set()
        self.duplicates = Duplicates()
        self._repeats = 0  # duplicates in a row
        self.clock = progress.Clock()
        self._known = 0  # the trials the oracle held when this trial began
        super().__init__(*args, **kwargs)
        if self._is_worker():  # the oracle's decisions are the chief's (distributed.py)
            from keras_tuner.src.distribute import oracle_client

            self.oracle = PatientClient(self.oracle, oracle_client.TIMEOUT)
            return
        first = start_values(results.settings.start_from, self.hypermodel.template)
        if first is not None:
            seed_first(self.oracle, first)  # inside the checks: a bad start is replaced
        admit_candidates(self.oracle, self.hypermodel.candidate, results.reject)
        self._recall_trials()

    def trials(self) -> list:
        """Every trial of the search; a worker asks the chief's oracle (Keras Tuner's
        `get_best_trials` lists the trials without a score after the scored ones)."""
        if self._is_worker():
            return self.oracle.get_best_trials(ALL_TRIALS)
        return list(self.oracle.trials.values())

    def _recall_identities(self) -> None:
        """A worker: the identities of the trials other workers ran, from their records in
        the shared results directory, so that it does not train them again."""
        for trial in sorted(self.trials(), key=lambda t: int(t.trial_id)):
            record = self.results.record(trial.trial_id)
            if record.get("identity") and not record.get("duplicate_of"):
                self.duplicates.first.setdefault(record["identity"], trial.trial_id)

    def _recall_trials(self) -> None:
        """On resuming: the identities of the trials so far, and one more trial allowed for
        each duplicate among them (a duplicate does not count against --trials)."""
        for trial_id in sorted(self.oracle.trials, key=int):
            record = self.results.record(trial_id)
            if record.get("duplicate_of"):
                self.oracle.max_trials += 1
            elif record.get("identity"):
                self.duplicates.first.setdefault(record["identity"], trial_id)

    def on_search_begin(self):
        # The collections between trials (`_try_build`) then skip the long-lived objects of
        # TensorFlow's and the data's import: 0.5 s less per collection.
        gc.collect()
        gc.freeze()
        self.oracle.verbose = 0  # Keras Tuner's banners; archc prints one line per trial
        kt_config.DEBUG = self.results.settings.verbose  # its tracebacks of failed trials
        self.clock = progress.Clock()
        super().on_search_begin()

    def on_search_end(self):
        super().on_search_end()
        if not self._is_worker():  # the chief tests them once the search ends
            self._test_kept_models()
        gc.unfreeze()

    def _test_kept_models(self) -> None:
        """Evaluate each kept model (the best `--keep` trials, at their best epoch) on the
        test split, once: the test set plays no part in choosing them."""
        untested = [self.oracle.get_trial(trial_id) for trial_id in self.results.kept()
                    if "test" not in self.results.record(trial_id)]
        if not untested or self.hypermodel.dataset.arrays("test") is None:
            return
        for trial in untested:
            model = self.load_model(trial)  # built from its hps, its best epoch's weights
            self.results.update(trial.trial_id,
                                test=self.hypermodel.evaluate(trial.hyperparameters, model))
        self.results.write(self)

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._gradients = set(_gradient_registry())
        self.clock.trial_begins()
        self.results.begin(trial.trial_id)
        self._known = len(self.trials())
        if self._is_worker():
            self.results.update(trial.trial_id, worker=self.tuner_id)
            self._recall_identities()
        else:
            self.results.write(self)

    def run_trial(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        try:
            arch = self.hypermodel.candidate(hp)
        except Rejected as exc:
            self.results.update(trial.trial_id, reason=str(exc))
            raise
        key = Duplicates.key(arch, hp)
        self.results.update(trial.trial_id, **arch.cost(), identity=key)
        stop = self.results.record(trial.trial_id).get("stop")
        if stop:  # stopped before the search was interrupted: it stays stopped
            return self._stopped_before(trial, stop, arch)
        original = self._original(key, trial.trial_id)
        if original is not None:
            return self._repeat(trial, original)
        if self.trial_seed is not None:  # the same weights and batches for the same seed
            keras.utils.set_random_seed(self.trial_seed * 100_003 + int(trial.trial_id))
        kwargs["callbacks"] = [*kwargs.get("callbacks", ()), *self._callbacks(trial)]
        try:
            return super().run_trial(trial, *args, **kwargs)
        except Exception as exc:
            if disk_full(exc):  # not the trial's fault: stop the search, the trial resumes
                raise DiskFullInTrial(str(exc)) from exc
            raise

    def _original(self, key: str, trial_id: str) -> str | None:
        """The completed trial that trained the same architecture, or None (this trial then
        becomes the one that trains it)."""
        first = self.duplicates.first.get(key)
        if first not in (None, trial_id) and self.oracle.get_trial(first).status == "COMPLETED":
            return first
        self.duplicates.first[key] = trial_id
        self._repeats = 0
        return None

    def _repeat(self, trial, original: str) -> dict:
        """A duplicate is not trained: it takes its original's metrics (the oracle learns the
        score of these values), and one more trial is allowed in its place."""
        self.results.update(trial.trial_id, duplicate_of=original,
                            reason=f"duplicate of trial {original}", epochs=0)
        self._repeats += 1
        # Beyond MAX_REPEATS, the space looks exhausted: trials end. A chief's oracle grants
        # the extra trial itself (`distributed.chief_hooks`).
        if self._repeats <= MAX_REPEATS and not self._is_worker():
            self.oracle.max_trials += 1
        metrics = self.oracle.get_trial(original).metrics
        return {name: metrics.get_best_value(name) for name in metrics.metrics}

    def _stopped_before(self, trial, stop: dict, arch: Architecture) -> dict:
        """The metrics a stopped trial logged before an interruption, without training."""
        _unless_diverged(stop)
        self._model = self._try_build(trial.hyperparameters)  # `_keep_best` loads its weights
        return self.hypermodel.scored({
            **best_metrics(read_epochs(self.results.epoch_log(trial.trial_id))), **arch.cost()})

    def _callbacks(self, trial) -> list:
        objective = watched(self.oracle.objective)
        backup = self.results.checkpoint_dir(trial.trial_id)
        out = [SafeBackupAndRestore(str(backup), label=f"trial {trial.trial_id}"),
               EpochLog(self.results.epoch_log(trial.trial_id))]
        if objective is not None:
            out.append(keras.callbacks.EarlyStopping(
                objective.name, patience=self.results.settings.patience, mode=objective.direction))
        out.append(stopping.StopHopeless(self._stopper(trial),
                                         self.results.record_path(trial.trial_id)))
        return out

    def _stopper(self, trial) -> stopping.Stopper:
        """The stopping rules for `trial`: the finished trials' curves of the objective, the
        trial's own earlier epochs (and those of the trial it continues), read from the results
        directory, so that a resumed search decides as an uninterrupted one."""
        objective = watched(self.oracle.objective)  # None: only costs, no median rule
        trials = self.trials()
        parents = {t.trial_id: t.hyperparameters.values.get("tuner/trial_id") for t in trials}

        def history(trial_id):
            return stopping.lineage(trial_id, parents,
                                    lambda t: read_epochs(self.results.epoch_log(t)))

        peers = [stopping.curve(history(t.trial_id), objective.name) for t in trials
                 if objective is not None and t.status == "COMPLETED"
                 and t.trial_id != trial.trial_id]
        data = self.hypermodel.dataset
        return stopping.Stopper(
            self.results.settings.stop_early,
            classes=data.classes if data.task == "classification" else None,
            objective=objective and objective.name,
            direction=objective.direction if objective else "max", peers=peers,
            history=history(trial.trial_id),
            max_epochs=self.results.settings.epochs)

    def on_epoch_end(self, trial, model, epoch, logs=None):
        """One line per epoch (Keras prints its own with -v)."""
        super().on_epoch_end(trial, model, epoch, logs=logs)
        self.clock.epoch_ends()
        settings = self.results.settings
        if settings.verbose:
            return
        epochs = trial.hyperparameters.values.get("tuner/epochs", settings.epochs)
        eta = self.clock.eta(epochs - epoch - 1, settings.trials - self._known,
                             settings.epochs)
        self.log(progress.epoch_line(trial.trial_id, epoch, epochs, logs or {},
                                     getattr(watched(self.oracle.objective), "name", "loss"),
                                     self.clock.trial_seconds(), eta))

    def _try_build(self, hp):
        self._model = None  # before Keras Tuner clears the session
        self._model = super()._try_build(hp)
        return self._model

    def on_trial_end(self, trial):
        # The record first: a chief writes results.json from it when the trial ends.
        self.results.finish(trial.trial_id)
        super().on_trial_end(trial)  # the oracle scores and saves the trial
        ended = self.oracle.get_trial(trial.trial_id)
        self.clock.trial_ends()
        if ended.status == "COMPLETED":
            self._keep_best(ended)
        self._model = None  # Keras Tuner clears the session and collects before each build
        _forget_gradients(self._gradients)
        if self._is_worker():  # the chief writes results.json and prints the trial's line
            row = self.results.row(self, ended)
            self.log(f"{self.tuner_id}: trial {ended.trial_id} {row['status'].lower()}")
        else:
            results = self.results.write(self)
            self.log(progress.trial_line(results, ended.trial_id))
            row = next(r for r in results["trials"] if r["trial_id"] == ended.trial_id)
        self._count_crash(row)

    def _keep_best(self, trial) -> None:
        """Save the trial's model (its best epoch) if it is among the best `keep`; delete the
        models that no longer are."""
        best = {t.trial_id for t in self.oracle.get_best_trials(self.results.settings.keep)
                if t.status == "COMPLETED"}
        if trial.trial_id in best and self._model is not None:
            self._model.load_weights(self._get_checkpoint_fname(trial.trial_id))
            self.results.save_model(trial.trial_id, self._model)
        self.results.prune_models(best)

    def _count_crash(self, row: TrialRow) -> None:
        self._crashes = self._crashes + 1 if row["status"] == "FAILED" else 0
        if self._crashes >= MAX_CRASHES:
            raise SearchError(f"{MAX_CRASHES} trials in a row failed; the last: {row['reason']}",
                              hint="rerun with --debug -v to see the training output")


def _unless_diverged(stop: dict | None) -> None:
    """Raises FailedTrialError for a diverged trial: Keras Tuner then never scores it, keeps
    its model or counts it among the best."""
    if stop and stop["rule"] == "diverged":
        raise kt.errors.FailedTrialError(stop["reason"])


def _gradient_registry() -> dict:
    if keras.backend.backend() != "tensorflow":
        return {}
    from tensorflow.python.framework import ops as tf_ops

    return getattr(getattr(tf_ops, "_gradient_registry", None), "_registry", None) or {}


def _forget_gradients(known: set) -> None:
    """Unregister the gradient functions that TensorFlow registered during a trial.

    Keras's optimizer sums gradients through `tf.custom_gradient`, which registers one
    function per traced training step in TensorFlow's global gradient registry and never
    removes it; each holds its traced graph (about 6 MB for a small model), so memory grew
    with every trial. The trial's traced functions are dead once it ends.
    """
    registry = _gradient_registry()
    for name in [n for n in registry if n.startswith("CustomGradient-") and n not in known]:
        del registry[name]


class SearchTuner(_SearchTuner, kt.Tuner):
    """A Keras Tuner `Tuner` with archc's additions, for any oracle."""


class _Hyperband(kt.Hyperband):
    """Keras Tuner's Hyperband tuner (a trial goes on from an earlier trial's checkpoint for
    `tuner/epochs` epochs) on an oracle made by the tuner table: `kt.Hyperband.__init__` does
    nothing but make its own oracle."""

    def __init__(self, oracle, **kwargs):
        kt.Tuner.__init__(self, oracle=oracle, **kwargs)


class HyperbandSearch(_SearchTuner, _Hyperband):
    """Keras Tuner's Hyperband with archc's additions."""


def make_tuner(hypermodel: SearchHyperModel, objective: kt.Objective, settings: Settings,
               results: Results, log=print) -> SearchTuner | HyperbandSearch:
    """The tuner of `settings.tuner` (`tuners.TUNERS`), reloading the project in
    `results.dir / KT_PROJECT` unless `settings.overwrite`."""
    kt_seed = None if settings.seed is None else settings.seed + 1  # Keras Tuner reads 0 as unset
    kind = HyperbandSearch if tuner_named(settings.tuner).continues_trials else SearchTuner
    with contextlib.redirect_stdout(io.StringIO()):  # Keras Tuner's "Reloading Tuner from ..."
        return kind(oracle=make_oracle(settings, objective, kt_seed), hypermodel=hypermodel,
                    directory=str(results.dir), project_name=KT_PROJECT,
                    overwrite=settings.overwrite, results=results, log=log,
                    trial_seed=settings.seed,
                    distribution_strategy=distribution_strategy(settings.strategy))


def distribution_strategy(name: str):
    """`--strategy`: None, or `tf.distribute.MirroredStrategy` over every GPU this process
    sees (its CPU when it sees none), which Keras Tuner builds and trains each model in."""
    if name in (None, "none"):
        return None
    import tensorflow as tf

    return tf.distribute.MirroredStrategy()
