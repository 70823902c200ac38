"""A search's results directory: its files, the shape of `results.json` and `results.csv`,
written by `Results` (during `archc search`) and read by `load_results` (`archc report`,
`archc dot --trial`). This is the one module that knows the layout:

    DIR/results.json                 `ResultsFile`: the search (`Header`), one `TrialRow` a trial
    DIR/results.csv                  the rows: `CSV_COLUMNS`, metrics, test_METRIC, hyperparameters
    DIR/models/trial_ID.keras        the kept models
    DIR/logs/ID/                     TensorBoard logs
    DIR/checkpoints/trial_ID/        `BackupAndRestore` state of a running trial
    DIR/kt/                          Keras Tuner's project
    DIR/kt/trial_ID/archc.json       `TrialRecord`: what archc learns of a trial as it runs
    DIR/kt/trial_ID/epochs.jsonl     one JSON line per finished epoch
    DIR/search.json, DIR/search.lock the recorded settings (`guard.py`), the lock (`lock.py`)
    DIR/rejected.jsonl               the candidates rejected before training, with the reason

Never imports TensorFlow, Keras or Keras Tuner: the tuner's trials are read through their
attributes.

    >>> spell(True), spell([3, 3]), spell(None)
    ('true', '(3, 3)', 'none')
    >>> tested_metric("val_accuracy")
    'accuracy'
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from .. import pipeline, text
from .errors import ReportError
from .pareto import front, minimised
from .storage import replace_with, write_atomic

if TYPE_CHECKING:
    from .settings import Settings

RESULTS_JSON, RESULTS_CSV = "results.json", "results.csv"
MODELS, LOGS, CHECKPOINTS = "models", "logs", "checkpoints"
KT_PROJECT = "kt"  # Keras Tuner's `project_name`
RECORD, EPOCHS = "archc.json", "epochs.jsonl"
REJECTED = "rejected.jsonl"  # one line a candidate rejected before it became a trial
COSTS = ("params", "bytes", "flops", "peak_activation_bytes")  # the compiler's cost model


# ---------------------------------------------------------------- the JSON shape


class Objective(TypedDict):
    name: str        # a metric (`val_accuracy`) or a cost (`params`)
    direction: str   # "max" or "min"


class RecordedSettings(TypedDict):
    """The `Settings` that results.json records under `settings`."""

    trials: int
    epochs: int
    patience: int
    fraction: float
    max_params: int | None
    max_bytes: int | None
    max_flops: int | None
    keep: int
    stop_early: str


class Header(TypedDict):
    """What results.json says of the search."""

    template: str                   # the template's name
    template_path: str              # its file, to draw trials on it again
    data: str                       # the `--data` spec
    tuner: str                      # a name of `tuners.TUNERS`
    objective: Objective            # what Keras Tuner optimises (`score`)
    objectives: list[Objective]     # those given: one, or those of a Pareto search
    seed: int | None
    settings: RecordedSettings
    defaults: dict[str, Any]        # every hyperparameter's default
    params: dict[str, Any]          # the template's params as the search set them
    inputs: dict[str, list[int]]    # the input shapes as the search set them


class TrialRow(TypedDict):
    """One trial of results.json (docs/search.md describes each field)."""

    trial_id: str
    status: str  # COMPLETED, STOPPED, DIVERGED, DUPLICATE, INVALID, FAILED, RUNNING
    choices: dict[str, Any]         # the active hyperparameters by name
    params: int | None
    bytes: int | None
    flops: int | None
    metrics: dict[str, float]       # each metric's best value over the trial's epochs
    test: dict[str, float] | None   # the kept models' metrics on the test split
    score: float | None             # the objective as Keras Tuner scored the trial
    epochs: int | None
    seconds: float | None
    model: str | None               # `models/trial_ID.keras` while the model is kept
    reason: str | None              # why a trial has no result, or stopped early
    stopped: str | None             # the rule that stopped it early (stopping.py)
    stopped_epoch: int | None       # the epoch (1-based) in which it stopped
    continues: str | None           # Hyperband, ASHA: the trial whose training this continues
    identity: str | None            # the architecture's hash with its training settings
    duplicate_of: str | None        # the trial that trained this architecture (not trained)
    pareto: bool                    # on the Pareto front of the search's objectives
    worker: str | None              # a distributed search: the worker that ran the trial


class ResultsFile(Header):
    """results.json."""

    trials: list[TrialRow]
    rejected: int                   # candidates rejected before they became trials


class TrialRecord(TypedDict, total=False):
    """`kt/trial_ID/archc.json`: what archc adds to Keras Tuner's `trial.json`."""

    reason: str | None
    params: int
    bytes: int
    flops: int
    peak_activation_bytes: int
    seconds: float
    epochs: int
    test: dict[str, float] | None
    identity: str
    duplicate_of: str
    stop: dict | None               # `stopping.Verdict`: rule, epoch, reason
    worker: str                     # a distributed search: the worker that ran it


CSV_COLUMNS = ("trial_id", "status", "score", "params", "bytes", "flops", "epochs", "seconds",
               "stopped", "stopped_epoch", "identity", "duplicate_of", "pareto", "worker")


# ---------------------------------------------------------------- writing


class Results:
    """The results directory of one search, written as the search goes: per-trial records
    beside Keras Tuner's `trial.json`, `results.json`, `results.csv` and `models/`."""

    def __init__(self, directory: Path, template, data: str, settings: Settings, objective):
        self.dir = Path(directory)
        self.template = template
        self.data = data
        self.settings = settings
        self.objective = objective  # a keras_tuner.Objective
        self.defaults = {h.name: h.default for h in template.hyperparameters}
        self._started: dict[str, float] = {}

    # ---- the directory

    @property
    def logs_dir(self) -> Path:
        return self.dir / LOGS

    def checkpoint_dir(self, trial_id: str) -> Path:
        return self.dir / CHECKPOINTS / f"trial_{trial_id}"

    def prepare(self) -> None:
        """Start afresh (`--overwrite`); `guard.check_directory` checks a directory that is
        resumed."""
        if self.settings.overwrite:
            for name in (MODELS, LOGS, CHECKPOINTS, KT_PROJECT):
                shutil.rmtree(self.dir / name, ignore_errors=True)
            for name in (RESULTS_JSON, RESULTS_CSV, REJECTED):
                (self.dir / name).unlink(missing_ok=True)
        for name in (MODELS, LOGS, CHECKPOINTS):
            (self.dir / name).mkdir(parents=True, exist_ok=True)

    def header(self) -> Header:
        s = self.settings
        return Header(
            template=self.template.name, template_path=str(self.template.path), data=self.data,
            tuner=s.tuner,
            objective=Objective(name=self.objective.name, direction=self.objective.direction),
            objectives=[Objective(name=o.name, direction=o.direction)
                        for o in getattr(self.objective, "objectives", [self.objective])],
            seed=s.seed, settings={k: getattr(s, k) for k in RecordedSettings.__annotations__},
            defaults=_jsonable(self.defaults), params=_jsonable(self.template.params),
            inputs={k: list(v) for k, v in self.template.inputs.items()})

    # ---- per-trial records

    def _record_path(self, trial_id: str) -> Path:
        return self.dir / KT_PROJECT / f"trial_{trial_id}" / RECORD

    def epoch_log(self, trial_id: str) -> Path:
        return self.dir / KT_PROJECT / f"trial_{trial_id}" / EPOCHS

    def record(self, trial_id: str) -> TrialRecord:
        path = self._record_path(trial_id)
        return json.loads(path.read_text()) if path.exists() else {}

    def update(self, trial_id: str, **fields) -> None:
        update_record(self._record_path(trial_id), **fields)

    def record_path(self, trial_id: str) -> Path:
        return self._record_path(trial_id)

    def begin(self, trial_id: str) -> None:
        self._started[trial_id] = time.perf_counter()
        self.update(trial_id, reason=None)

    def finish(self, trial_id: str) -> None:
        """Record the trial's seconds and the epochs its epoch log holds."""
        seconds = time.perf_counter() - self._started.pop(trial_id, time.perf_counter())
        epochs = read_epochs(self.epoch_log(trial_id))
        self.update(trial_id, seconds=round(seconds, 3), epochs=max(epochs) + 1 if epochs else 0)

    def reject(self, values: dict, reason: str) -> None:
        """Record a candidate rejected before it became a trial."""
        with open(self.dir / REJECTED, "a") as f:
            f.write(json.dumps({"values": _jsonable(values), "reason": reason}) + "\n")

    def rejected(self) -> int:
        path = self.dir / REJECTED
        return len(path.read_text().splitlines()) if path.exists() else 0

    # ---- models

    def model_path(self, trial_id: str) -> Path:
        return self.dir / MODELS / f"trial_{trial_id}.keras"

    def kept(self) -> list[str]:
        """The ids of the trials whose models are kept."""
        return [p.stem.removeprefix("trial_")
                for p in sorted((self.dir / MODELS).glob("trial_*.keras"))]

    def save_model(self, trial_id: str, model) -> None:
        replace_with(self.model_path(trial_id), model.save)  # a whole file, or none

    def prune_models(self, keep: set[str]) -> None:
        for trial_id in self.kept():
            if trial_id not in keep:
                self.model_path(trial_id).unlink(missing_ok=True)  # another worker's prune

    # ---- results.json, results.csv

    def write(self, tuner) -> ResultsFile:
        """Rewrite results.json and results.csv from the tuner's trials; return the JSON."""
        trials = sorted(tuner.oracle.trials.values(), key=lambda t: int(t.trial_id))
        out = ResultsFile(**self.header(), trials=[self.row(tuner, t) for t in trials],
                          rejected=self.rejected())
        mark_front(out)
        _write_atomic(self.dir / RESULTS_JSON, strict_json(out, indent=1))
        _write_atomic(self.dir / RESULTS_CSV, self.csv(out["trials"]))
        return out

    def row(self, tuner, trial) -> TrialRow:
        """A Keras Tuner trial, with archc's record of it, as a row of results.json."""
        rec = self.record(trial.trial_id)
        status, reason = trial.status, rec.get("reason")
        stop = rec.get("stop") if status in ("COMPLETED", "FAILED") else None
        if stop:
            status = "DIVERGED" if stop["rule"] == "diverged" else "STOPPED"
            reason = stop["reason"]
        elif status == "FAILED" and not reason:
            reason = _last_line(trial.message)
        elif status == "FAILED":
            status = "INVALID"  # rejected before training
        if rec.get("duplicate_of"):
            status = "DUPLICATE"
        metrics = {name: float(trial.metrics.get_best_value(name))
                   for name in trial.metrics.metrics if name not in COSTS}
        model = self.model_path(trial.trial_id)
        return TrialRow(
            trial_id=trial.trial_id, status=status,
            choices=_jsonable(tuner.hypermodel.choices(trial.hyperparameters)),
            params=rec.get("params"), bytes=rec.get("bytes"), flops=rec.get("flops"),
            metrics=metrics, test=rec.get("test"), score=_float(trial.score),
            epochs=rec.get("epochs"), seconds=rec.get("seconds"),
            model=f"{MODELS}/{model.name}" if model.exists() else None, reason=reason,
            stopped=stop and stop["rule"], stopped_epoch=stop and stop["epoch"],
            continues=trial.hyperparameters.values.get("tuner/trial_id"),
            identity=rec.get("identity"), duplicate_of=rec.get("duplicate_of"), pareto=False,
            worker=rec.get("worker"))

    def csv(self, rows: list[TrialRow]) -> str:
        metrics = sorted({m for r in rows for m in r["metrics"]})
        tests = sorted({m for r in rows for m in r["test"] or {}})
        hps = [h.name for h in self.template.hyperparameters]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*CSV_COLUMNS, *metrics, *[f"test_{m}" for m in tests], *hps])
        for r in rows:
            writer.writerow([_cell(r[k]) for k in CSV_COLUMNS]
                            + [_cell(r["metrics"].get(m)) for m in metrics]
                            + [_cell((r["test"] or {}).get(m)) for m in tests]
                            + [_cell(r["choices"].get(h)) for h in hps])
        return out.getvalue()


def append_epoch(path: Path, epoch: int, logs: dict) -> None:
    """Add a finished epoch's logs to a trial's epoch log, on a line of its own even after a
    line cut short by a kill or a full disk (a non-finite value as null)."""
    with open(path, "ab+") as f:  # appends go to the end wherever the file is read
        end = f.seek(0, os.SEEK_END)
        if end:
            f.seek(end - 1)
            if f.read(1) != b"\n":
                f.write(b"\n")
        f.write((strict_json({"epoch": epoch, **logs}) + "\n").encode())


def update_record(path, **fields) -> None:
    """Set fields of a trial's record (`TrialRecord`), given the record's path."""
    path = Path(path)
    old = json.loads(path.read_text()) if path.exists() else {}
    _write_atomic(path, strict_json({**old, **fields}, indent=1))


def strict_json(value, **kwargs) -> str:
    """JSON that strict parsers read: NaN and the infinities become null.

    >>> strict_json({"loss": float("nan"), "acc": [0.5, float("inf")]})
    '{"loss": null, "acc": [0.5, null]}'
    """
    return json.dumps(_finite(value), allow_nan=False, **kwargs)


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def read_epochs(path) -> dict[int, dict]:
    """{epoch: its logs} from a trial's epoch log; an epoch run again after a restart
    replaces the first run's line and the lines after it."""
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


# ---------------------------------------------------------------- reading


def load_results(directory: str | Path) -> ResultsFile:
    """The parsed `DIR/results.json`.

    Raises:
        ReportError: DIR or its results.json is missing, unreadable or not a search's results.
    """
    path = Path(directory)
    if not path.is_dir():
        raise ReportError(f"no such results directory: {path}",
                          hint="give the --dir of an `archc search` run")
    results_file = path / RESULTS_JSON
    if not results_file.is_file():
        raise ReportError(f"{path} has no {RESULTS_JSON}",
                          hint="`archc search --dir DIR` writes it after its first trial")
    try:
        results = json.loads(results_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ReportError(f"cannot read {results_file}: {exc}") from None
    if not isinstance(results, dict) or not isinstance(results.get("trials"), list):
        raise ReportError(f"{results_file} is not a search's results: it has no list of trials")
    return results


def objective(results: ResultsFile) -> tuple[str, str]:
    """The objective's name and direction ('max' or 'min')."""
    spec = results.get("objective") or {}
    if isinstance(spec, str):
        spec = {"name": spec}
    name = spec.get("name") or "score"
    direction = spec.get("direction") or ("min" if "loss" in name else "max")
    return name, direction


def score(trial: TrialRow, name: str) -> float | None:
    """The trial's objective value: its score, else its metric of that name; None if neither
    is a finite number."""
    value = trial.get("score")
    if value is None:
        value = (trial.get("metrics") or {}).get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def objectives(results: ResultsFile) -> list[tuple[str, str]]:
    """The objectives given to the search, (name, direction) each: those of a Pareto search,
    else the one objective."""
    given = results.get("objectives")
    if isinstance(given, list) and given and all(isinstance(o, dict) for o in given):
        return [(str(o.get("name")), o.get("direction") or "max") for o in given]
    return [objective(results)]


def value(trial: TrialRow, name: str) -> float | None:
    """The trial's value of one objective: a metric, or a cost; None if it has no finite
    one."""
    found = (trial.get("metrics") or {}).get(name)
    if found is None and name in COSTS:
        found = trial.get(name)
    if isinstance(found, bool) or not isinstance(found, (int, float)) or not math.isfinite(found):
        return None
    return float(found)


def front_points(results: ResultsFile, rows: list[TrialRow]) -> tuple[list[TrialRow], list]:
    """The trials that have a value of every objective (duplicates apart: their original
    counts), and their points to minimise (`pareto.minimised`)."""
    given = objectives(results)
    kept, points = [], []
    for row in rows:
        values = [value(row, name) for name, _ in given]
        if row.get("status") in ("COMPLETED", "STOPPED") and not row.get("duplicate_of") \
                and None not in values:
            kept.append(row)
            points.append(tuple(minimised(v, way) for v, (_, way) in zip(values, given,
                                                                          strict=True)))
    return kept, points


def mark_front(results: ResultsFile) -> None:
    """Set each row's `pareto`: whether it is on the front of the search's objectives (with
    one objective, the front is the best trial and its ties)."""
    kept, points = front_points(results, results["trials"])
    members = {kept[i]["trial_id"] for i in front(points)}
    for row in results["trials"]:
        row["pareto"] = row["trial_id"] in members


def tested_metric(objective_name: str) -> str:
    """The test metric (a key of a row's `test`) that matches an objective: `val_accuracy` ->
    `accuracy`."""
    return objective_name.removeprefix("val_")


def template_ref(results: ResultsFile, directory: str | Path) -> str:
    """How to load the search's template: its recorded path where that still exists
    (as given, or relative to DIR), else its name."""
    path = results.get("template_path")
    if path:
        for candidate in (Path(path), Path(directory) / path):
            if candidate.is_file():
                return str(candidate)
    if not results.get("template"):
        raise ReportError(f"{Path(directory) / RESULTS_JSON} names no template")
    return str(results["template"])


def load_template(results: ResultsFile, directory: str | Path, ref: str | None = None,
                  params: dict | None = None, source=None):
    """The template the search explored, with the params and inputs it recorded (if any);
    `source`: `ref` already read (`pipeline.read`)."""
    same = ref is None or Path(ref).stem == results.get("template")
    recorded = (results.get("params") or {}) if same else {}
    inputs = results.get("inputs") if same else None
    inputs = {k: tuple(v) for k, v in inputs.items()} if isinstance(inputs, dict) else None
    return pipeline.load(source or ref or template_ref(results, directory),
                         {**recorded, **(params or {})}, inputs)


def spell(value) -> str:
    """A recorded value as the template spells it (`text.value`): JSON holds tuples as
    lists."""
    return text.value(tuple(value) if isinstance(value, list) else value)


# ---------------------------------------------------------------- small helpers


def _cell(value):
    if value is None:
        return ""
    return spell(value) if isinstance(value, bool | list | tuple) else value


def _write_atomic(path: Path, content: str) -> None:
    write_atomic(path, content)  # whole or not at all (storage.py)


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


def _float(value):
    return None if value is None else float(value)


def _last_line(message: str | None) -> str | None:
    lines = [line for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else None
