"""results.json as the search writes it -> the lines `archc search` prints: a banner, one line
per finished trial, a summary.

    >>> changes({"units": 32, "skip": True, "pool": [2, 2]}, {"units": 16, "skip": True})
    'units=32, pool=(2, 2)'
"""

from __future__ import annotations

from pathlib import Path

from ..text import plural
from .results import ResultsFile, Settings, TrialRow, spell, tested_metric


def banner(template_name: str, data: str, settings: Settings, objective, directory: Path,
           done: int) -> str:
    """What is searched, how, and where the results go; `done`: trials a resumed search
    finished before."""
    resumed = f"; resuming after {plural(done, 'trial')}" if done else ""
    return (f"search {template_name} ({data}) with {settings.tuner}: "
            f"{plural(settings.trials, 'trial')}, up to {plural(settings.epochs, 'epoch')} each, "
            f"objective {objective.name} ({objective.direction}); results in {directory}"
            f"{resumed}")


def trial_line(results: ResultsFile, trial_id: str) -> str:
    """One line: the trial, what it changed from the defaults, its objective value,
    parameters and seconds, and the best so far."""
    rows = results["trials"]
    row = next(r for r in rows if r["trial_id"] == trial_id)
    done = sum(r["status"] not in ("RUNNING", "DUPLICATE") for r in rows)  # as --trials counts
    head = f"[{done}/{results['settings']['trials']}] trial {trial_id}"
    changed = changes(row["choices"], results["defaults"]) or "defaults"
    if row["status"] != "COMPLETED":
        return f"{head} {row['status'].lower()}: {row['reason']}; {changed}"
    line = (f"{head}: {results['objective']['name']} {_num(row['score'])}, "
            f"{_num(row['params'])} params, {row['seconds']:.1f} s; {changed}")
    best = best_row(results)
    return f"{line} | best {_num(best['score'])} (trial {best['trial_id']})"


def summary(results: ResultsFile, directory: Path) -> str:
    """How many trials ended how; the best trial, its test metric, its choices and model."""
    rows = results["trials"]
    kinds = ("COMPLETED", "DUPLICATE", "INVALID", "FAILED")
    counts = {s: sum(r["status"] == s for r in rows) for s in kinds}
    rejected = counts["INVALID"] + results.get("rejected", 0)
    text = (f"done: {plural(len(rows), 'trial')} ({counts['COMPLETED']} completed, "
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
    """The completed trial with the best score (None if there is none)."""
    done = [r for r in results["trials"] if r["status"] == "COMPLETED" and r["score"] is not None]
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
