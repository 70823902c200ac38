"""Searching a template on data, and reading what a search found.

    search (run.py)  template + data -> Keras Tuner search -> a results directory
    settings.py      the options of a search, validated (pydantic)
    results.py       the results directory: its files and the shape of results.json/csv
    tuners.py        the `--tuner` table; oracles.py the oracles Keras Tuner lacks
    trials.py        the Keras Tuner tuner and hypermodel that run the trials
    objectives.py    one or several --objective -> the objective Keras Tuner optimises
    pareto.py        points -> the Pareto front, non-dominated sorting, hypervolume
    stopping.py      a trial's epochs -> stopped early or not (diverged, chance, median)
    start.py         --start-from: the first trial (the defaults, or an earlier search's)
    candidates.py    an oracle's proposals -> only feasible, in-budget, new ones; duplicates
    guard.py         the settings that define a search (search.json), compared on rerun
    lock.py          one search at a time in a results directory
    distributed.py   a chief and its workers on Keras Tuner's chief/worker mode (gRPC)
    launch.py        --workers N: a chief and N workers as processes of this host
    storage.py       files written whole or not at all; a full disk
    checkpoints.py   a trial's backups, atomic, falling back on an unreadable one
    progress.py      the lines `archc search` prints
    report.py        results -> leaderboard, choices, Pareto front, one trial drawn
    plot.py          the Pareto front as a picture (matplotlib)

`from archc.search import search, Settings, SearchError` as before. Only the search itself
imports TensorFlow: `search` is imported on first use, so `archc.search.report` (and
`archc report`) stay free of it. `Settings` (settings.py: the options, validated by pydantic)
is imported on first use too.
"""

from __future__ import annotations

from .errors import ReportError, SearchError
from .results import load_results

__all__ = ["ReportError", "SearchError", "Settings", "load_results", "search"]


def __getattr__(name: str):
    """`search` and `Settings` on first use: the CLI imports this package for every
    command, and neither TensorFlow (`search`) nor pydantic (`Settings`) is needed to check
    a template."""
    if name == "search":
        from .run import search

        return search
    if name == "Settings":
        from .settings import Settings

        return Settings
    raise AttributeError(f"module 'archc.search' has no attribute '{name}'")
