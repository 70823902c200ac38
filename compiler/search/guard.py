"""A results directory + the settings of a new `archc search` -> go ahead, or a refusal that
says why: another search's settings, a damaged file, a trial removed by hand.

Every setting that defines a search is recorded in `DIR/search.json` (written first, before
Keras Tuner's project) and compared on every rerun: the template (its name and a hash of its
file and the files it imports), the data spec and a fingerprint of its arrays, fraction,
seed, epochs, patience, objective, tuner, the budgets, the template params of --set and the
input shapes of --input. Only `EXTENDABLE` settings may
change, and only with `--extend`.

Never imports TensorFlow, Keras or Keras Tuner.

    >>> differences({"seed": 1, "epochs": 2, "trials": 3}, {"seed": 1, "epochs": 4, "trials": 5})
    {'epochs': (2, 4), 'trials': (3, 5)}
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

from ..diagnostics import SourcePos
from .errors import SearchError
from .results import KT_PROJECT, RECORD, RESULTS_JSON
from .settings import Settings
from .storage import write_atomic

SEARCH_JSON = "search.json"
EXTENDABLE = ("trials",)  # settings `--extend` may change on an existing search
# What results.json recorded before search.json existed: its keys in a recorded settings.
_LEGACY = {"template": ("template",), "data": ("data",), "tuner": ("tuner",),
           "seed": ("seed",), "trials": ("settings", "trials"),
           "epochs": ("settings", "epochs"), "patience": ("settings", "patience"),
           "fraction": ("settings", "fraction"), "max_params": ("settings", "max_params")}
_NAMES = {"template": "template", "template_hash": "template content (hash of its files)",
          "data": "--data", "data_fingerprint": "data content (hash of its splits)",
          "objective": "--objective", "max_params": "--max-params", "max_bytes": "--max-bytes",
          "max_flops": "--max-flops", "stop_early": "--stop-early", "params": "--set",
          "inputs": "--input"}  # else --KEY
_SAMPLE_ROWS = 64  # rows of each array the data fingerprint reads
_TRIAL_DIR = re.compile(r"trial_(\d+)$")


# ---------------------------------------------------------------- the recorded settings


def recorded_settings(template, data: str, dataset, settings: Settings, objective) -> dict:
    """What search.json records: the settings that define the search."""
    return {"template": template.name, "template_hash": template_hash(template),
            "data": data, "data_fingerprint": data_fingerprint(dataset),
            "fraction": settings.fraction, "seed": settings.seed, "epochs": settings.epochs,
            "patience": settings.patience, "objective": _objectives(objective),
            "tuner": settings.tuner, "max_params": settings.max_params,
            "max_bytes": settings.max_bytes, "max_flops": settings.max_flops,
            "stop_early": settings.stop_early, "trials": settings.trials,
            "params": dict(settings.params or {}),
            "inputs": {k: list(v) for k, v in (settings.inputs or {}).items()}}


def _objectives(objective) -> str:
    """`val_accuracy:max`; several objectives (a scalarised one) comma-separated."""
    return ",".join(f"{o.name}:{o.direction}"
                    for o in getattr(objective, "objectives", [objective]))


def template_hash(template) -> str:
    """A hash of the template's text and the text of every file it imports."""
    sources = getattr(getattr(template, "source", None), "sources", None)
    if not sources:
        sources = {str(template.path): Path(template.path).read_text(encoding="utf-8")}
    digest = hashlib.sha256()
    for text in sorted(sources.values()):
        digest.update(hashlib.sha256(text.encode("utf-8")).digest())
    return digest.hexdigest()[:16]


def data_fingerprint(dataset) -> str:
    """A hash of each split's arrays: their names, shapes, dtypes and up to `_SAMPLE_ROWS`
    evenly spaced rows (cheap for any size, and different for other files or splits)."""
    digest = hashlib.sha256()
    for split in ("train", "validation", "test"):
        arrays = dataset.arrays(split)
        if arrays is not None:
            digest.update(split.encode())
            _hash_arrays(digest, {"x": arrays.x, "y": arrays.y})
    return digest.hexdigest()[:16]


def _hash_arrays(digest, value, name: str = "") -> None:
    if isinstance(value, dict):
        for key in sorted(value):
            _hash_arrays(digest, value[key], f"{name}/{key}")
        return
    array = np.asarray(value)
    digest.update(f"{name}{array.shape}{array.dtype}".encode())
    if array.ndim and len(array):
        rows = np.unique(np.linspace(0, len(array) - 1, _SAMPLE_ROWS).astype(np.int64))
        digest.update(np.ascontiguousarray(array[rows]).tobytes())


def differences(recorded: dict, given: dict) -> dict:
    """{setting: (recorded, given)} for each setting both know and that differs."""
    return {k: (recorded[k], given[k]) for k in given
            if k in recorded and recorded[k] != given[k]}


# ---------------------------------------------------------------- the check


def check_directory(directory: Path, given: dict, extend: bool) -> None:
    """Refuse a directory that holds another search, a damaged file or a gap where a trial
    was; return if the search may start or resume in it.

    Raises:
        SearchError: with the path or the differing settings, and what to do.
    """
    recorded = _recorded(directory)
    if recorded is None and (directory / KT_PROJECT).is_dir():
        raise SearchError(f"{directory} holds a Keras Tuner project ({KT_PROJECT}/) but no "
                          f"record of its settings ({SEARCH_JSON} or {RESULTS_JSON})",
                          hint="give --overwrite to start afresh, or another --dir")
    if recorded is not None:
        _compare(directory, recorded, given, extend)
    _check_project(directory)


def check_same_search(directory: Path, given: dict) -> None:
    """A worker's check of the directory its chief writes: the same settings, when the
    chief recorded them there (shared storage); `--trials` is the chief's to decide.

    Raises:
        SearchError: a setting differs.
    """
    if (directory / SEARCH_JSON).exists():
        _compare(directory, _read_json(directory / SEARCH_JSON, dict), given, extend=True)


def write_settings(directory: Path, given: dict) -> None:
    """Record the settings (first, and again after `--extend`)."""
    write_atomic(directory / SEARCH_JSON, json.dumps(given, indent=1))


def _recorded(directory: Path) -> dict | None:
    """The recorded settings: search.json's, else those results.json's header holds."""
    path = directory / SEARCH_JSON
    if path.exists():
        return _read_json(path, dict)
    path = directory / RESULTS_JSON
    if not path.exists():
        return None
    header = _read_json(path, dict)
    out = {}
    for key, where in _LEGACY.items():
        value = header
        for part in where:
            value = value.get(part, {}) if isinstance(value, dict) else {}
        if value != {}:
            out[key] = value
    if isinstance(header.get("objective"), dict):
        spec = header["objective"]
        out["objective"] = f"{spec.get('name')}:{spec.get('direction')}"
    return out


def _compare(directory: Path, recorded: dict, given: dict, extend: bool) -> None:
    changed = differences(recorded, given)
    fixed = {k: v for k, v in changed.items() if not (extend and k in EXTENDABLE)}
    if not fixed:
        return
    lines = "\n".join(f"  {_NAMES.get(k, '--' + k)}: {_spell(old)} recorded, {_spell(new)} "
                      "given" for k, (old, new) in fixed.items())
    may = [k for k in fixed if k in EXTENDABLE]
    hint = "rerun with the recorded settings to resume it"
    if may:
        hint += f", give --extend to change {', '.join('--' + k for k in may)}"
    raise SearchError(f"{directory} holds another search; "
                      f"{'these settings differ' if len(fixed) > 1 else 'a setting differs'}"
                      f":\n{lines}",
                      hint=hint + ", --overwrite to start afresh, or another --dir")


def _spell(value) -> str:
    """A recorded setting as the command line spells it: `width=8 stride=1`, `image=28,28,1`.

    >>> _spell({"image": [28, 28, 1]}), _spell({}), _spell(None)
    ('image=28,28,1', 'none', 'none')
    """
    if isinstance(value, dict):
        return " ".join(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}"
                        for k, v in value.items()) or "none"
    return "none" if value is None else str(value)


# ---------------------------------------------------------------- damaged projects


def _check_project(directory: Path) -> None:
    """Every JSON file a resumed search reads parses; no trial's directory is missing."""
    results = directory / RESULTS_JSON
    if results.exists():
        rows = _read_json(results, dict).get("trials")
        if not isinstance(rows, list):
            raise _damaged(results, "has no list of trials")
    project = directory / KT_PROJECT
    for name in ("oracle.json", "tuner0.json"):
        if (project / name).exists():
            _read_json(project / name, dict)
    for trial_dir in sorted(project.glob("trial_*")):
        for name in ("trial.json", RECORD):
            if (trial_dir / name).exists():
                _read_json(trial_dir / name, dict)
    _check_trials(directory)


def _check_trials(directory: Path) -> None:
    """A trial directory deleted by hand would let Keras Tuner number a new trial like an
    existing one and replace it, and results.json's row with it: refuse."""
    project = directory / KT_PROJECT
    present = {int(m.group(1)) for p in project.glob("trial_*/trial.json")
               if (m := _TRIAL_DIR.match(p.parent.name))}
    expected = set(range(max(present) + 1)) if present else set()
    results = directory / RESULTS_JSON
    if results.exists():
        expected |= {int(r["trial_id"]) for r in _read_json(results, dict)["trials"]
                     if isinstance(r, dict) and str(r.get("trial_id", "")).isdigit()}
    missing = sorted(expected - present)
    if missing:
        names = ", ".join(f"{KT_PROJECT}/trial_{n}" for n in missing)
        raise SearchError(f"{directory} lacks the Keras Tuner record of "
                          f"{'trials' if len(missing) > 1 else 'trial'} "
                          f"{', '.join(map(str, missing))} ({names}/trial.json): a rerun would "
                          f"number new trials like existing ones and replace their rows",
                          hint="restore those folders, or give --overwrite to start afresh")


def _read_json(path: Path, kind: type):
    """A JSON file's content, of type `kind`.

    Raises:
        SearchError: the file cannot be read, is not JSON, or holds something else.
    """
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _damaged(path, f"cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        reason = "is empty" if not path.stat().st_size else f"is not JSON ({exc})"
        raise _damaged(path, reason) from None
    if not isinstance(value, kind):
        raise _damaged(path, f"holds a JSON {type(value).__name__}, not an object")
    return value


def _damaged(path: Path, reason: str) -> SearchError:
    if path.name == RESULTS_JSON and (path.parent / SEARCH_JSON).exists():
        hint = (f"delete {path} to have it rebuilt from {path.parent / KT_PROJECT}, or rerun "
                "with --overwrite to start afresh")
    else:
        hint = "restore it, or rerun with --overwrite to start afresh (its trials are lost)"
    return SearchError(f"cannot resume the search: this file {reason}",
                       pos=SourcePos(str(path), 0, 0), hint=hint)
