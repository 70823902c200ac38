"""Template + data -> a Keras Tuner search -> a results directory.

`search` is the pipeline: load the template and the data and fit the template to the data
(inputs, classes), choose the objective, make the tuner of `--tuner` (`tuners.TUNERS`,
`trials.make_tuner`) and run Keras Tuner's own search loop; the results directory
(`results.py`) is rewritten after every trial. Rerunning the same command resumes: Keras Tuner
reloads its oracle, and an interrupted trial goes on from its last finished epoch. One search
at a time holds the directory (`lock.py`); a rerun must match its recorded settings
(`guard.py`); a full disk stops it with a message (`storage.py`). A distributed search
(`distributed.py`) runs the same pipeline on a chief, which serves the oracle, and on each
worker, which trains the trials the chief gives it.

TensorFlow is imported here at module level (through `trials`): the CLI imports this module
lazily.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import keras
import keras_tuner as kt

from .. import pipeline
from ..data import load_data
from ..graph import Constraint
from ..graph import TemplateGraph as Template
from ..hypermodel import resolve_setting
from ..imports import Loaded
from ..lower import check_backend
from ..space import default_values
from . import distributed, progress
from .distributed import ALONE, Role
from .errors import SearchError
from .guard import check_directory, check_same_search, recorded_settings, write_settings
from .lock import SearchLock, usable_directory
from .objectives import combine
from .results import KT_PROJECT, Results, ResultsFile
from .settings import Settings
from .storage import atomic_keras_tuner_json, disk_full, disk_full_error
from .trials import MAX_REPEATS, SearchHyperModel, direction, make_tuner
from .tuners import tuner_named


def search(template: str, data: str, directory, settings: Settings | None = None, *,
           dataset=None, log=print, role: Role = ALONE) -> ResultsFile | None:
    """Run (or resume) a search and return the results (what `results.json` holds; None
    on a worker, whose chief writes them).

    The directory is checked and locked (`lock.py`) before anything is loaded, and its
    recorded settings compared with these (`guard.py`) before anything is written.

    Args:
        template: a template path or bundled name.
        data: a data spec for `archc.data.load_data` (`digits`, `folder:DIR`, ...).
        directory: the results directory.
        settings: the options; `Settings()` if None.
        dataset: an `archc.data.Dataset` to use instead of loading `data`.
        log: where progress lines go.
        role: alone, or the chief or a worker of a distributed search.

    Raises:
        ArchError: the template cannot take the data; `directory` is not usable, in use,
            damaged or holds another search; the disk is full (`storage.DiskFull`); a
            worker cannot reach its chief.
    """
    settings = settings or Settings()
    tuner_named(settings.tuner)  # an unknown tuner fails before anything is loaded
    if role.kind == "worker" and settings.overwrite:
        raise SearchError("a worker cannot start the search afresh: --overwrite is the chief's")
    directory = usable_directory(directory)
    try:
        if role.kind == "worker":
            distributed.wait_for_chief(role)
            with distributed.worker_lock(directory, role):
                return _search(template, data, directory, settings, dataset, log, role)
        with SearchLock(directory, note=log):
            return _search(template, data, directory, settings, dataset, log, role)
    except Exception as exc:
        if disk_full(exc):
            raise disk_full_error(directory, exc) from None
        lost = distributed.lost_chief(exc, role)
        if lost is not None:
            raise lost from None
        raise


def _search(template: str, data: str, directory: Path, settings: Settings, dataset,
            log, role: Role = ALONE) -> ResultsFile | None:
    check_backend(keras.backend.backend())
    loaded = configured_template(template, settings)
    ds = dataset or load_data(data, fraction=settings.fraction, seed=settings.seed or 0,
                              template=loaded)
    fitted = ds.adapt(loaded)
    objective = make_objective(settings.objective, fitted, ds)
    results = Results(directory, fitted, data, settings, objective)
    given = recorded_settings(fitted, data, ds, settings, objective)
    if role.kind == "worker":  # the chief's directory: compared, never started afresh
        check_same_search(directory, given)
    elif not settings.overwrite:
        check_directory(directory, given, settings.extend)
    results.prepare()
    if role.kind != "worker":
        write_settings(directory, given)
    hypermodel = SearchHyperModel(fitted, ds, budgets(settings), objective)
    with atomic_keras_tuner_json(), distributed.environment(role):
        tuner = _reload_tuner(hypermodel, objective, settings, results, log)
        done = sum(t.status != "RUNNING" for t in tuner.trials())
        describe = ds.describe() if hasattr(ds, "describe") else ""
        log(progress.banner(fitted.name, describe, settings, objective, results.dir, done))
        if role.kind == "chief":
            return _serve(tuner, role, results, log)
        _run(tuner, settings, results)
        if role.kind == "worker":
            log(f"{role.tuner_id}: the chief has no trial left; done")
            return None
        final = results.write(tuner)
    log(progress.summary(final, results.dir))
    return final


def _run(tuner, settings: Settings, results: Results) -> None:
    """Keras Tuner's search loop: alone, or a worker's (trials from the chief)."""
    with _quiet_optimizer():
        tuner.search(epochs=settings.epochs, verbose=2 if settings.verbose else 0,
                     callbacks=_log_callbacks(results))


@contextlib.contextmanager
def _quiet_optimizer():
    """Hyperband continues a trial from its checkpoint, optimizer state included, into a model
    whose optimizer is not built yet (and the kept models are tested so): Keras says it skips
    that state."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        yield


def _serve(tuner, role: Role, results: Results, log) -> ResultsFile:
    """The chief: serve the oracle until the workers finished the search, then test the
    kept models."""
    tuner.on_search_begin()  # quiet oracle, as alone
    distributed.keep_running_trials(tuner.oracle, results.dir)
    distributed.chief_hooks(tuner, results, log, MAX_REPEATS)
    tuner.save()
    results.write(tuner)
    distributed.serve(tuner, role, results.dir, log)
    with _quiet_optimizer():
        tuner.on_search_end()  # the kept models are tested on the chief
    final = results.write(tuner)
    log(progress.summary(final, results.dir))
    return final


def _reload_tuner(hypermodel, objective, settings: Settings, results: Results, log):
    """`make_tuner`, with Keras Tuner's errors on a project it cannot reload (valid JSON of
    the wrong shape) as a message."""
    try:
        return make_tuner(hypermodel, objective, settings, results, log)
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        reason = f"a file lacks the key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise SearchError(f"cannot reload the Keras Tuner project in "
                          f"{results.dir / KT_PROJECT}: {reason}",
                          hint="rerun with --overwrite to start afresh") from None


def configured_template(template, settings: Settings):
    """The template with `settings.params` (`--set`) and `settings.inputs` (`--input`); the
    data is then fitted to those inputs.

    Raises:
        SearchError: a `--set` names a hyperparameter (the search chooses those) or nothing.
    """
    source = template if isinstance(template, Loaded) else pipeline.read(template)
    params, others = pipeline.split(pipeline.param_names(source), dict(settings.params or {}))
    if others:
        name = next(iter(others))
        known = ", ".join(sorted(pipeline.param_names(source))) or "none"
        raise SearchError(f"--set {name}=...: expected a param of the template ({known}), "
                          f"found '{name}'", hint="--set fixes a template's params; the "
                                                  "search chooses its hyperparameters")
    inputs = {k: tuple(v) for k, v in (settings.inputs or {}).items()}
    return pipeline.expand(source, params, inputs)


def budgets(settings: Settings) -> tuple[Constraint, ...]:
    """The `--max-params`, `--max-bytes` and `--max-flops` of `settings` as constraints."""
    limits = {"params": settings.max_params, "bytes": settings.max_bytes,
              "flops": settings.max_flops}
    return tuple(Constraint(cost, "<=", limit, source=f"--max-{cost}")
                 for cost, limit in limits.items() if limit is not None)


def make_objective(names: str | list[str] | tuple[str, ...] | None, template: Template,
                   ds) -> kt.Objective:
    """Each of `names` is `NAME` or `NAME:min|max`; the default is the template's validation
    metric for classification (`val_accuracy`) and `val_loss` otherwise. A cost (params,
    bytes, flops) is minimised. Several objectives are scalarised (`objectives.combine`).

    Raises:
        SearchError: a direction other than min or max; an objective given twice.
    """
    names = [names] if isinstance(names, str) else list(names or ())
    given = [_one_objective(n) for n in names or [_default_objective(template, ds)]]
    seen = [o.name for o in given]
    twice = next((n for n in seen if seen.count(n) > 1), None)
    if twice is not None:
        raise SearchError(f"--objective {twice} is given twice: give each objective once")
    return combine(given)


def _one_objective(spec: str) -> kt.Objective:
    name, _, way = spec.partition(":")
    if way not in ("", "min", "max") or not name:
        raise SearchError(f"expected an objective NAME or NAME:min or NAME:max, found "
                          f"'{spec}'")
    return kt.Objective(name, way or direction(name))


def _default_objective(template: Template, ds) -> str:
    metrics = ()
    if "metrics" in template.train:  # evaluated at the defaults, without shape inference
        metrics = resolve_setting(template, "metrics", default_values(template))
    metrics = metrics if isinstance(metrics, tuple) else (metrics,)
    if ds.task == "classification" and metrics and len(template.outputs) == 1:
        return f"val_{metrics[0]}"
    return "val_loss"


def _log_callbacks(results) -> list:
    """TensorBoard logs of every trial, where TensorFlow is installed: Keras's TensorBoard
    callback writes through `tf.summary`, which a JAX or PyTorch machine may not have."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return []
    return [keras.callbacks.TensorBoard(str(results.logs_dir), write_graph=False,
                                        profile_batch=0)]
