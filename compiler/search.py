"""Template + data -> a Keras Tuner search -> a results directory.

`search` is the pipeline: load the data and fit the template to it (inputs, classes), pick a
Keras Tuner oracle, and run Keras Tuner's own search loop over an `ArchHyperModel` extended so
that a candidate is checked by the compiler (shapes, cost; no Keras) before any model is built.
The directory then holds Keras Tuner's project (`kt/`, reloadable), `results.json` and
`results.csv` (rewritten after every trial), the best models (`models/`), TensorBoard logs
(`logs/`) and the backups of an unfinished trial (`checkpoints/`). Rerunning the same command
resumes: Keras Tuner reloads its oracle, and an interrupted trial goes on from its last
finished epoch.

TensorFlow is imported here at module level: the CLI imports this module lazily.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import json
import os
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import keras
import keras_tuner as kt
from keras_tuner.src import config as kt_config
from keras_tuner.src.engine import metrics_tracking

from . import pipeline
from .data import load_data
from .diagnostics import ArchError
from .graph import TemplateGraph as Template
from .hypermodel import ArchHyperModel, Rejected, reason, resolve_setting
from .lower import lower
from .oracles import BayesianOracle, EvolutionOracle
from .report import tested_metric
from .resolve import Architecture, active_values, resolve
from .space import _label, declare_space, default_values, from_kt

TUNERS = ("random", "hyperband", "bayesian", "grid", "evolution")
COSTS = ("params", "bytes", "flops", "peak_activation_bytes")
MAX_CRASHES = 3  # trials in a row that raise (not rejected candidates) before the search stops


class SearchError(ArchError):
    """A search that cannot start or go on (a directory of another search, repeated crashes)."""


@dataclass
class Settings:
    """The `archc search` options (the paper's settings are the defaults)."""

    tuner: str = "random"
    trials: int = 100
    epochs: int = 100
    patience: int = 5
    seed: int | None = None
    objective: str | None = None
    fraction: float = 1.0
    max_params: int | None = None
    keep: int = 3
    overwrite: bool = False
    verbose: bool = False


def search(template: str, data: str, directory, settings: Settings | None = None, *,
           dataset=None, log=print) -> dict:
    """Run (or resume) a search and return the results (what `results.json` holds).

    Args:
        template: a template path or bundled name.
        data: a data spec for `archc.data.load_data` (`digits`, `folder:DIR`, ...).
        directory: the results directory.
        settings: the options; `Settings()` if None.
        dataset: an `archc.data.Dataset` to use instead of loading `data`.
        log: where progress lines go.

    Raises:
        ArchError: the template cannot take the data, or `directory` holds another search.
    """
    settings = settings or Settings()
    if settings.tuner not in TUNERS:
        raise SearchError(f"expected a tuner among {', '.join(TUNERS)}, found '{settings.tuner}'")
    loaded = pipeline.load(template)
    ds = dataset or load_data(data, fraction=settings.fraction, seed=settings.seed or 0,
                              template=loaded)
    fitted = ds.adapt(loaded)
    objective = make_objective(settings.objective, fitted, ds)
    results = Results(Path(directory), fitted, data, settings, objective)
    results.prepare()
    hypermodel = SearchHyperModel(fitted, ds, settings.max_params)
    tuner = make_tuner(hypermodel, objective, settings, results, log)
    log(_banner(fitted, ds, settings, objective, results, tuner))
    board = keras.callbacks.TensorBoard(str(results.dir / "logs"), write_graph=False,
                                        profile_batch=0)
    with warnings.catch_warnings():
        # Hyperband continues a trial from its checkpoint, optimizer state included, into a
        # model whose optimizer is not built yet: Keras says it skips that state.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        tuner.search(epochs=settings.epochs, verbose=2 if settings.verbose else 0,
                     callbacks=[board])
    final = results.write(tuner)
    log(_summary(final, results))
    return final


# ---------------------------------------------------------------- template, data, objective


def make_objective(name: str | None, template: Template, ds) -> kt.Objective:
    """`NAME` or `NAME:min|max`; the default is the template's validation metric for
    classification (`val_accuracy`) and `val_loss` otherwise. A cost (params, bytes, flops)
    is minimised."""
    name = name or _default_objective(template, ds)
    name, _, direction = name.partition(":")
    if direction not in ("", "min", "max"):
        raise SearchError(f"expected an objective NAME or NAME:min or NAME:max, found "
                          f"'{name}:{direction}'")
    return kt.Objective(name, direction or _direction(name))


def _default_objective(template: Template, ds) -> str:
    metrics = ()
    if "metrics" in template.train:  # evaluated at the defaults, without shape inference
        metrics = resolve_setting(template, "metrics", default_values(template))
    metrics = metrics if isinstance(metrics, tuple) else (metrics,)
    if ds.task == "classification" and metrics and len(template.outputs) == 1:
        return f"val_{metrics[0]}"
    return "val_loss"


def _direction(metric: str) -> str:
    if metric in COSTS:
        return "min"
    inferred = metrics_tracking.infer_metric_direction(metric)
    if inferred:
        return inferred
    return "min" if "loss" in metric or "error" in metric else "max"


# ---------------------------------------------------------------- the hypermodel


class SearchHyperModel(ArchHyperModel):
    """The template's `ArchHyperModel`, trained on a dataset: `candidate` checks a point of
    the space with the compiler alone (shape inference and the cost model, milliseconds), and
    `fit` trains on the data's tf.data pipelines with the batch size of the train section."""

    def __init__(self, template: Template, dataset, max_params: int | None = None):
        super().__init__(template)
        self.dataset = dataset
        self.max_params = max_params

    def values(self, hp) -> dict:
        """The template's values in `hp` (Keras Tuner's labels translated; `tuner/*` dropped)."""
        names = {h.name for h in self.template.hyperparameters}
        return from_kt(self.template, {k: v for k, v in hp.values.items() if k in names})

    def choices(self, hp) -> dict:
        """The active hyperparameters and their values."""
        return active_values(self.template, self.values(hp))

    def candidate(self, hp) -> Architecture:
        """The architecture of `hp`'s values.

        Raises:
            Rejected: infeasible (shapes), or more parameters than `max_params`.
        """
        try:
            arch = resolve(self.template, self.values(hp))
        except ArchError as exc:  # results.json says INVALID, with the reason
            raise Rejected(reason(exc)) from None
        if self.max_params is not None and arch.params > self.max_params:
            raise Rejected(f"over budget: {arch.params:,} parameters > --max-params "
                           f"{self.max_params:,}")
        return arch

    def build(self, hp):
        declare_space(self.template, hp)
        return lower(self.candidate(hp))

    def fit(self, hp, model, *args, callbacks=(), **kwargs):
        """Train on the data; return each metric's best value over all the trial's epochs
        (those before a restart included: `EpochLog`) and the model's cost."""
        arch = resolve(self.template, self.values(hp))
        batch_size = _batch_size(arch)
        # Fresh pipelines (over the data set's cached arrays): a trial's batches then follow
        # the seed alone, not how many trials this process ran before it.
        train = self.dataset.pipeline("train", batch_size)
        model.fit(train, *args, callbacks=callbacks, shuffle=False,
                  validation_data=self.dataset.pipeline("validation", batch_size), **kwargs)
        log = next(c for c in callbacks if isinstance(c, EpochLog))
        return {**best_metrics(log.epochs), **arch.cost()}

    def evaluate(self, hp, model, split: str = "test") -> dict | None:
        """`model`'s metrics on `split` ({name: value}), or None if the data has no such
        split."""
        if self.dataset.arrays(split) is None:
            return None
        batch_size = _batch_size(resolve(self.template, self.values(hp)))
        metrics = model.evaluate(self.dataset.pipeline(split, batch_size), verbose=0,
                                 return_dict=True)
        return {name: float(value) for name, value in metrics.items()}


def _batch_size(arch: Architecture) -> int:
    return int(arch.train.get("batch_size", 32))


def best_metrics(epochs: dict) -> dict:
    """{metric: its best value over the epochs} (max or min by the metric's name)."""
    out: dict = {}
    for logs in epochs.values():
        for name, value in logs.items():
            better = max if _direction(name) == "max" else min
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
        with open(self.path, "a") as f:
            f.write(json.dumps({"epoch": epoch, **self.epochs[epoch]}) + "\n")


def read_epochs(path) -> dict[int, dict]:
    epochs: dict[int, dict] = {}
    if os.path.exists(path):
        for line in Path(path).read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a kill
                continue
            epoch = row.pop("epoch")
            epochs = {e: v for e, v in epochs.items() if e < epoch}
            epochs[epoch] = row
    return epochs


# ---------------------------------------------------------------- the tuner


class _SearchTuner:
    """What archc adds to a Keras Tuner tuner (a mixin, placed before the tuner class):
    candidates checked before they are built, per-trial early stopping, backups and epoch
    logs, the session cleared between trials, results written and one line printed per
    trial, the best models kept."""

    def __init__(self, *args, results: Results, log=print, trial_seed: int | None = None,
                 **kwargs):
        self.results = results
        self.log = log
        self.trial_seed = trial_seed
        self._model = None
        self._crashes = 0
        self._gradients: set = set()
        super().__init__(*args, **kwargs)

    def _populate_initial_space(self):
        # `declare_space` declares the whole conditional space at once, so Keras Tuner's
        # exploratory builds (`_activate_all_conditions`, one Keras model each) are not needed.
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)

    def on_search_begin(self):
        # The collections between trials (`_try_build`) then skip the long-lived objects of
        # TensorFlow's and the data's import: 0.5 s less per collection.
        gc.collect()
        gc.freeze()
        self.oracle.verbose = 0  # Keras Tuner's banners; archc prints one line per trial
        kt_config.DEBUG = self.results.settings.verbose  # its tracebacks of failed trials
        super().on_search_begin()

    def on_search_end(self):
        super().on_search_end()
        self._test_kept_models()
        gc.unfreeze()

    def _test_kept_models(self) -> None:
        """Evaluate each kept model (the best `--keep` trials, at their best epoch) on the
        test split, once: the test set plays no part in choosing them."""
        untested = [self.oracle.get_trial(p.stem.removeprefix("trial_"))
                    for p in sorted((self.results.dir / "models").glob("trial_*.keras"))]
        untested = [t for t in untested if "test" not in self.results.record(t.trial_id)]
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
        self.results.begin(trial.trial_id)
        self.results.write(self)

    def run_trial(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        try:
            arch = self.hypermodel.candidate(hp)
        except Rejected as exc:
            self.results.update(trial.trial_id, reason=str(exc))
            raise
        self.results.update(trial.trial_id, **arch.cost())
        if self.trial_seed is not None:  # the same weights and batches for the same seed
            keras.utils.set_random_seed(self.trial_seed * 100_003 + int(trial.trial_id))
        kwargs["callbacks"] = [*kwargs.get("callbacks", ()), *self._callbacks(trial)]
        return super().run_trial(trial, *args, **kwargs)

    def _callbacks(self, trial) -> list:
        objective = self.oracle.objective
        backup = self.results.dir / "checkpoints" / f"trial_{trial.trial_id}"
        out = [keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=True),
               EpochLog(self.results.epoch_log(trial.trial_id))]
        if objective.name not in COSTS:
            out.append(keras.callbacks.EarlyStopping(
                objective.name, patience=self.results.settings.patience, mode=objective.direction))
        return out

    def _try_build(self, hp):
        self._model = None  # before Keras Tuner clears the session
        self._model = super()._try_build(hp)
        return self._model

    def on_trial_end(self, trial):
        super().on_trial_end(trial)  # the oracle scores and saves the trial
        ended = self.oracle.get_trial(trial.trial_id)
        epochs = read_epochs(self.results.epoch_log(ended.trial_id))
        self.results.finish(ended.trial_id, epochs=max(epochs) + 1 if epochs else 0)
        if ended.status == "COMPLETED":
            self._keep_best(ended)
        self._model = None  # Keras Tuner clears the session and collects before each build
        _forget_gradients(self._gradients)
        results = self.results.write(self)
        self.log(self.results.progress(ended.trial_id, results))
        self._count_crash(ended, results)

    def _keep_best(self, trial) -> None:
        """Save the trial's model (its best epoch) if it is among the best `keep`; delete the
        models that no longer are."""
        best = {t.trial_id for t in self.oracle.get_best_trials(self.results.settings.keep)
                if t.status == "COMPLETED"}
        if trial.trial_id in best and self._model is not None:
            self._model.load_weights(self._get_checkpoint_fname(trial.trial_id))
            self.results.save_model(trial.trial_id, self._model)
        self.results.prune_models(best)

    def _count_crash(self, trial, results: dict) -> None:
        row = next(r for r in results["trials"] if r["trial_id"] == trial.trial_id)
        self._crashes = self._crashes + 1 if row["status"] == "FAILED" else 0
        if self._crashes >= MAX_CRASHES:
            raise SearchError(f"{MAX_CRASHES} trials in a row failed; the last: {row['reason']}",
                              hint="rerun with --debug -v to see the training output")


def _gradient_registry() -> dict:
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


class HyperbandSearch(_SearchTuner, kt.Hyperband):
    """Keras Tuner's Hyperband with archc's additions."""


def make_tuner(hypermodel, objective, settings: Settings, results: Results, log=print):
    """The tuner for `settings.tuner`, reloading the project in `results.dir / "kt"` unless
    `settings.overwrite`."""
    common = dict(hypermodel=hypermodel, directory=str(results.dir), project_name="kt",
                  overwrite=settings.overwrite, results=results, log=log,
                  trial_seed=settings.seed)
    kt_seed = None if settings.seed is None else settings.seed + 1  # Keras Tuner reads 0 as unset
    with contextlib.redirect_stdout(io.StringIO()):  # Keras Tuner's "Reloading Tuner from ..."
        if settings.tuner == "hyperband":
            tuner = HyperbandSearch(objective=objective, max_epochs=settings.epochs, factor=3,
                                    hyperband_iterations=None, seed=kt_seed,
                                    max_consecutive_failed_trials=settings.trials + 1, **common)
        else:
            tuner = SearchTuner(oracle=make_oracle(settings, objective, kt_seed), **common)
    tuner.oracle.max_trials = settings.trials  # Hyperband's oracle has no max_trials argument
    return tuner


def make_oracle(settings: Settings, objective, seed: int | None):
    common = dict(objective=objective, max_trials=settings.trials, seed=seed,
                  max_consecutive_failed_trials=settings.trials + 1)
    if settings.tuner == "random":
        return kt.oracles.RandomSearchOracle(**common)
    if settings.tuner == "bayesian":  # the paper's settings
        return BayesianOracle(num_initial_points=2, alpha=0.001, beta=2.6, **common)
    if settings.tuner == "grid":
        return kt.oracles.GridSearchOracle(**common)
    if settings.tuner == "evolution":
        population = max(2, min(20, settings.trials // 5))
        return EvolutionOracle(population_size=population, sample_size=max(1, population // 4),
                               **common)
    raise ValueError(f"no tuner '{settings.tuner}'")


# ---------------------------------------------------------------- results


class Results:
    """The results directory: per-trial records (`kt/trial_ID/archc.json`, beside Keras
    Tuner's `trial.json`), `results.json`, `results.csv`, `models/`."""

    def __init__(self, directory: Path, template: Template, data: str, settings: Settings,
                 objective: kt.Objective):
        self.dir = directory
        self.template = template
        self.data = data
        self.settings = settings
        self.objective = objective
        self.defaults = {h.name: h.default for h in template.hyperparameters}
        self._started: dict[str, float] = {}

    # ---- the directory

    def prepare(self) -> None:
        """Start afresh (`--overwrite`) or check that the directory holds this search."""
        if self.settings.overwrite:
            for name in ("models", "logs", "checkpoints", "kt"):
                shutil.rmtree(self.dir / name, ignore_errors=True)
            for name in ("results.json", "results.csv"):
                (self.dir / name).unlink(missing_ok=True)
        elif (self.dir / "results.json").exists():
            self._check_same_search(json.loads((self.dir / "results.json").read_text()))
        for name in ("models", "logs", "checkpoints"):
            (self.dir / name).mkdir(parents=True, exist_ok=True)

    def _check_same_search(self, old: dict) -> None:
        header = self.header()
        for key in ("template", "tuner", "objective"):
            if old.get(key) != header[key]:
                raise SearchError(
                    f"{self.dir} holds another search ({key} {_show(old.get(key))}, not "
                    f"{_show(header[key])})",
                    hint="give --overwrite to start afresh, or another --dir")

    def header(self) -> dict:
        s = self.settings
        return {"template": self.template.name, "template_path": str(self.template.path),
                "data": self.data, "tuner": s.tuner,
                "objective": {"name": self.objective.name,
                              "direction": self.objective.direction},
                "seed": s.seed,
                "settings": {"trials": s.trials, "epochs": s.epochs, "patience": s.patience,
                             "fraction": s.fraction, "max_params": s.max_params, "keep": s.keep},
                "defaults": _jsonable(self.defaults),
                "params": _jsonable(self.template.params),
                "inputs": {k: list(v) for k, v in self.template.inputs.items()}}

    # ---- per-trial records

    def _record_path(self, trial_id: str) -> Path:
        return self.dir / "kt" / f"trial_{trial_id}" / "archc.json"

    def epoch_log(self, trial_id: str) -> Path:
        return self.dir / "kt" / f"trial_{trial_id}" / "epochs.jsonl"

    def record(self, trial_id: str) -> dict:
        path = self._record_path(trial_id)
        return json.loads(path.read_text()) if path.exists() else {}

    def update(self, trial_id: str, **fields) -> None:
        _write_atomic(self._record_path(trial_id),
                      json.dumps({**self.record(trial_id), **fields}, indent=1))

    def begin(self, trial_id: str) -> None:
        self._started[trial_id] = time.perf_counter()
        self.update(trial_id, reason=None)

    def finish(self, trial_id: str, epochs: int) -> None:
        seconds = time.perf_counter() - self._started.pop(trial_id, time.perf_counter())
        self.update(trial_id, seconds=round(seconds, 3), epochs=epochs)

    # ---- models

    def model_path(self, trial_id: str) -> Path:
        return self.dir / "models" / f"trial_{trial_id}.keras"

    def save_model(self, trial_id: str, model) -> None:
        path = self.model_path(trial_id)
        tmp = path.with_name(f".tmp_{path.name}")  # Keras wants the .keras suffix
        model.save(tmp)
        os.replace(tmp, path)

    def prune_models(self, keep: set[str]) -> None:
        for path in (self.dir / "models").glob("trial_*.keras"):
            if path.stem.removeprefix("trial_") not in keep:
                path.unlink()

    # ---- results.json, results.csv

    def write(self, tuner) -> dict:
        """Rewrite results.json and results.csv from the tuner's trials; return the JSON."""
        trials = sorted(tuner.oracle.trials.values(), key=lambda t: int(t.trial_id))
        out = {**self.header(), "trials": [self.row(tuner, t) for t in trials]}
        _write_atomic(self.dir / "results.json", json.dumps(out, indent=1))
        _write_atomic(self.dir / "results.csv", self.csv(out["trials"]))
        return out

    def row(self, tuner, trial) -> dict:
        rec = self.record(trial.trial_id)
        status, reason = trial.status, rec.get("reason")
        if status == "FAILED" and not reason:
            reason = _last_line(trial.message)
        elif status == "FAILED":
            status = "INVALID"  # rejected before training
        metrics = {name: float(trial.metrics.get_best_value(name))
                   for name in trial.metrics.metrics if name not in COSTS}
        model = self.model_path(trial.trial_id)
        values = trial.hyperparameters.values
        return {"trial_id": trial.trial_id, "status": status,
                "choices": _jsonable(tuner.hypermodel.choices(trial.hyperparameters)),
                **{k: rec.get(k) for k in ("params", "bytes", "flops")},
                "metrics": metrics, "test": rec.get("test"), "score": _float(trial.score),
                "epochs": rec.get("epochs"), "seconds": rec.get("seconds"),
                "model": f"models/{model.name}" if model.exists() else None,
                "reason": reason, "continues": values.get("tuner/trial_id")}

    def csv(self, rows: list[dict]) -> str:
        metrics = sorted({m for r in rows for m in r["metrics"]})
        tests = sorted({m for r in rows for m in r["test"] or {}})
        hps = [h.name for h in self.template.hyperparameters]
        head = ["trial_id", "status", "score", "params", "bytes", "flops", "epochs", "seconds"]
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(head + metrics + [f"test_{m}" for m in tests] + hps)
        for r in rows:
            writer.writerow([_cell(r[k]) for k in head]
                            + [_cell(r["metrics"].get(m)) for m in metrics]
                            + [_cell((r["test"] or {}).get(m)) for m in tests]
                            + [_cell(r["choices"].get(h)) for h in hps])
        return text.getvalue()

    # ---- progress

    def progress(self, trial_id: str, results: dict) -> str:
        """One line: the trial, what it changed from the defaults, its objective value,
        parameters and seconds, and the best so far."""
        rows = results["trials"]
        row = next(r for r in rows if r["trial_id"] == trial_id)
        done = sum(r["status"] != "RUNNING" for r in rows)
        head = f"[{done}/{self.settings.trials}] trial {trial_id}"
        changes = self.changes(row["choices"]) or "defaults"
        if row["status"] != "COMPLETED":
            return f"{head} {row['status'].lower()}: {row['reason']}; {changes}"
        line = (f"{head}: {self.objective.name} {_num(row['score'])}, "
                f"{_num(row['params'])} params, {row['seconds']:.1f} s; {changes}")
        best = best_row(results)
        return f"{line} | best {_num(best['score'])} (trial {best['trial_id']})"

    def changes(self, choices: dict) -> str:
        """The choices that differ from their hyperparameters' defaults, `name=value`."""
        defaults = _jsonable(self.defaults)
        return ", ".join(f"{k}={_show(v)}" for k, v in choices.items() if defaults.get(k) != v)


def best_row(results: dict) -> dict | None:
    """The completed trial with the best score (None if there is none)."""
    done = [r for r in results["trials"] if r["status"] == "COMPLETED" and r["score"] is not None]
    if not done:
        return None
    sign = 1 if results["objective"]["direction"] == "max" else -1
    return max(done, key=lambda r: sign * r["score"])


def _banner(template, ds, settings, objective, results, tuner) -> str:
    done = sum(t.status != "RUNNING" for t in tuner.oracle.trials.values())
    resumed = f"; resuming after {_count(done, 'trial')}" if done else ""
    describe = ds.describe() if hasattr(ds, "describe") else ""
    return (f"search {template.name} ({describe}) with {settings.tuner}: "
            f"{_count(settings.trials, 'trial')}, up to {_count(settings.epochs, 'epoch')} each, "
            f"objective {objective.name} "
            f"({objective.direction}); results in {results.dir}{resumed}")


def _summary(results: dict, res: Results) -> str:
    rows = results["trials"]
    counts = {s: sum(r["status"] == s for r in rows) for s in ("COMPLETED", "INVALID", "FAILED")}
    best = best_row(results)
    text = (f"done: {_count(len(rows), 'trial')} ({counts['COMPLETED']} completed, "
            f"{counts['INVALID']} rejected before training, {counts['FAILED']} failed)")
    if best:
        text += (f"; best trial {best['trial_id']}: {res.objective.name} {_num(best['score'])}"
                 f"{_test_part(best, res.objective.name)}, {_num(best['params'])} params; "
                 f"{res.changes(best['choices']) or 'defaults'}")
        if best["model"]:
            text += f"; model {res.dir / best['model']}"
    return text


def _test_part(row: dict, objective: str) -> str:
    """`" (test accuracy 0.81)"` for an objective `val_accuracy` the trial was tested on."""
    name = tested_metric(objective)
    value = (row.get("test") or {}).get(name)
    return "" if value is None else f" (test {name} {_num(value)})"


# ---------------------------------------------------------------- small helpers


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _float(value):
    return None if value is None else float(value)


def _num(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}"


def _show(value) -> str:
    if isinstance(value, dict):
        return value.get("name", str(value))
    return _label(tuple(value) if isinstance(value, list) else value)


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool | list | tuple):
        return _show(value)
    return value


def _last_line(message: str | None) -> str | None:
    lines = [line for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


