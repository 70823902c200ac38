"""results.json as the search writes it -> the lines `archc search` prints: a banner, one line
per epoch while a trial trains and one per finished trial, a summary.

    >>> changes({"units": 32, "skip": True, "pool": [2, 2]}, {"units": 16, "skip": True})
    'units=32, pool=(2, 2)'
    >>> epoch_line("3", 1, 5, {"loss": 0.51234, "val_accuracy": 0.8}, "val_accuracy", 12.3, 250)
    '  trial 3 epoch 2/5: loss 0.5123, val_accuracy 0.8; 12.3 s; search ETA 4.2 min'
"""

from __future__ import annotations

import time
from pathlib import Path

from ..text import plural
from .results import ResultsFile, TrialRow, spell, tested_metric
from .settings import Settings

SCORED = ("COMPLETED", "STOPPED")  # the statuses of trials with a score (DIVERGED has none)


def banner(template_name: str, data: str, settings: Settings, objective, directory: Path,
           done: int) -> str:
    """What is searched, how, and where the results go; `done`: trials a resumed search
    finished before."""
    resumed = f"; resuming after {plural(done, 'trial')}" if done else ""
    return (f"search {template_name} ({data}) with {settings.tuner}: "
            f"{plural(settings.trials, 'trial')}, up to {plural(settings.epochs, 'epoch')} each, "
            f"objective {objective.name} ({objective.direction}), stopping early: "
            f"{settings.stop_early}; results in {directory}"
            f"{resumed}")


class Clock:
    """The search's pace in this session -> a trial's seconds and the search's ETA."""

    def __init__(self, now=time.perf_counter):
        self.now = now
        self.start = self.trial_start = now()
        self.epochs = self.trained = self._trial_epochs = 0

    def trial_begins(self) -> None:
        self.trial_start, self._trial_epochs = self.now(), 0

    def epoch_ends(self) -> None:
        self.epochs += 1
        self._trial_epochs += 1

    def trial_ends(self) -> None:
        self.trained += self._trial_epochs > 0

    def trial_seconds(self) -> float:
        return self.now() - self.trial_start

    def eta(self, epochs_left: int, trials_left: int, max_epochs: int) -> float | None:
        """Seconds until the search ends: this session's seconds per epoch times the epochs
        left in this trial and, for each trial left, the mean epochs of the trials trained so
        far (`max_epochs` before one has ended)."""
        if not self.epochs:
            return None
        ended = self.epochs - self._trial_epochs
        per_trial = ended / self.trained if self.trained else max_epochs
        per_epoch = (self.now() - self.start) / self.epochs
        return per_epoch * (max(epochs_left, 0) + max(trials_left, 0) * per_trial)


def epoch_line(trial_id: str, epoch: int, epochs: int, logs: dict, objective: str,
               seconds: float, eta: float | None) -> str:
    """One line as a trial trains: its epoch (1-based) of `epochs`, the loss and the objective,
    its seconds so far and the search's ETA."""
    shown = [f"{name} {_num(float(logs[name]))}" for name in dict.fromkeys(("loss", objective))
             if name in logs]
    tail = f"; search ETA {_duration(eta)}" if eta is not None else ""
    return (f"  trial {trial_id} epoch {epoch + 1}/{epochs}: {', '.join(shown)}; "
            f"{seconds:.1f} s{tail}")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def trial_line(results: ResultsFile, trial_id: str) -> str:
    """One line: the trial, what it changed from the defaults, its objective value,
    parameters and seconds, why it stopped early, and the best so far."""
    rows = results["trials"]
    row = next(r for r in rows if r["trial_id"] == trial_id)
    done = sum(r["status"] not in ("RUNNING", "DUPLICATE") for r in rows)  # as --trials counts
    head = f"[{done}/{results['settings']['trials']}] trial {trial_id}"
    changed = changes(row["choices"], results["defaults"]) or "defaults"
    if row["status"] not in SCORED:
        return f"{head} {row['status'].lower()}: {row['reason']}; {changed}"
    stopped = f"; stopped early: {row['reason']}" if row["status"] == "STOPPED" else ""
    line = (f"{head}: {_objective_part(results, row)}, "
            f"{_num(row['params'])} params, {row['seconds']:.1f} s{stopped}; {changed}")
    best = best_row(results)
    return f"{line} | best {_num(best['score'])} (trial {best['trial_id']})"


def _objective_part(results: ResultsFile, row: TrialRow) -> str:
    """`val_accuracy 0.8123`; with several objectives, each metric's value, the scalarised
    score, and whether the trial is on the front so far."""
    score = f"{results['objective']['name']} {_num(row['score'])}"
    given = results.get("objectives") or []
    if len(given) < 2:
        return score
    metrics = [f"{o['name']} {_num(row['metrics'].get(o['name']))}" for o in given
               if o["name"] in row["metrics"]]
    front = ", on the front" if row.get("pareto") else ""
    return ", ".join([*metrics, score]) + front


def summary(results: ResultsFile, directory: Path) -> str:
    """How many trials ended how; the best trial, its test metric, its choices and model."""
    rows = results["trials"]
    kinds = ("COMPLETED", "STOPPED", "DIVERGED", "DUPLICATE", "INVALID", "FAILED")
    counts = {s: sum(r.get("status") == s for r in rows) for s in kinds}
    rejected = counts["INVALID"] + results.get("rejected", 0)
    text = (f"done: {plural(len(rows), 'trial')} ({counts['COMPLETED']} completed, "
            f"{counts['STOPPED']} stopped early, {counts['DIVERGED']} diverged, "
            f"{counts['DUPLICATE']} duplicates not trained, {counts['FAILED']} failed; "
            f"{rejected} candidates rejected before training)")
    best = best_row(results)
    if best:
        name = results["objective"]["name"]
        text += (f"; best trial {best['trial_id']}: {name} {_num(best['score'])}"
                 f"{_test_part(best, name)}, {_num(best['params'])} params; "
                 f"{changes(best['choices'], results['defaults']) or 'defaults'}")
        if best["model"]:
            text += f"; model {directory / best['model']}"
    return text


def changes(choices: dict, defaults: dict) -> str:
    """The choices that differ from their hyperparameters' defaults, `name=value` (both as
    results.json holds them)."""
    return ", ".join(f"{k}={spell(v)}" for k, v in choices.items() if defaults.get(k) != v)


def best_row(results: ResultsFile) -> TrialRow | None:
    """The completed (or stopped early) trial with the best score (None if there is none)."""
    done = [r for r in results["trials"] if r["status"] in SCORED and r["score"] is not None]
    if not done:
        return None
    sign = 1 if results["objective"]["direction"] == "max" else -1
    return max(done, key=lambda r: sign * r["score"])


def _test_part(row: TrialRow, objective: str) -> str:
    """`" (test accuracy 0.81)"` for an objective `val_accuracy` the trial was tested on."""
    name = tested_metric(objective)
    value = (row.get("test") or {}).get(name)
    return "" if value is None else f" (test {name} {_num(value)})"


def _num(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}"
