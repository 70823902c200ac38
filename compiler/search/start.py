"""`--start-from defaults|DIR[:TRIAL]` -> the values of a search's first trial: the template's
baseline, or a trial of an earlier search (its best, unless TRIAL names one).

The oracle proposes the first trial as usual and `seed_first` replaces its values, once, when
the search has no trial yet (a resumed search is not seeded again). The seeded values then go
through the same checks as any proposal (`candidates.admit_candidates`): an infeasible or
over-budget start is replaced by another candidate, with the reason recorded. Later trials
are the tuner's own; evolution mutates around the start as soon as it is in its population.
"""

from __future__ import annotations

import re

from ..diagnostics import ArchError
from ..resolve import active_values
from ..space import to_kt
from .errors import SearchError
from .report import find_trial, ranked, trial_choices
from .results import load_results

DEFAULTS = "defaults"
_TRIAL_SUFFIX = re.compile(r"(?P<dir>.+):(?P<trial>\d+)")


def start_values(spec: str | None, template) -> dict | None:
    """The first trial's values as Keras Tuner holds them, or None without `spec`.

    Raises:
        SearchError, ReportError: no such results or trial, or choices the template does not
            take (another template's search).
    """
    if not spec:
        return None
    chosen = active_values(template) if spec == DEFAULTS else _from_results(spec, template)
    return to_kt(template, chosen)


def _from_results(spec: str, template) -> dict:
    match = _TRIAL_SUFFIX.fullmatch(spec)
    directory, trial_id = (match["dir"], match["trial"]) if match else (spec, None)
    results = load_results(directory)
    if trial_id is not None:
        trial = find_trial(results, trial_id)
    else:
        best = ranked(results)
        if not best:
            raise SearchError(f"--start-from {spec}: the search in {directory} has no trial "
                              "with a score yet", hint="name a trial: DIR:TRIAL_ID")
        trial = best[0]
    try:
        return active_values(template, trial_choices(trial))
    except ArchError as exc:
        raise SearchError(f"--start-from {spec}: trial {trial['trial_id']}'s choices do not "
                          f"fit template {template.name}: {exc.message}") from None


def seed_first(oracle, values: dict) -> None:
    """Make `oracle`'s first proposal of a search without trials be `values` (its own tuner
    keys, such as Hyperband's `tuner/epochs`, kept)."""
    propose = oracle.populate_space
    seeded: list[str] = []

    def populate_space(trial_id):
        response = propose(trial_id)
        if seeded or oracle.trials or response.get("status") != "RUNNING":
            return response
        seeded.append(trial_id)
        own = {k: v for k, v in (response.get("values") or {}).items() if k.startswith("tuner/")}
        oracle._tried_so_far.add(oracle._compute_values_hash(values))
        return {**response, "values": {**values, **own}}

    oracle.populate_space = populate_space
