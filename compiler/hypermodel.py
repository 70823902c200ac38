"""Template -> keras_tuner.HyperModel: Keras Tuner's tuners search a template directly."""

from __future__ import annotations

import keras_tuner as kt

from .diagnostics import ArchError, ShapeMismatch
from .factories import keras_result
from .graph import TemplateGraph
from .lower import lower
from .resolve import Architecture, OverBudget, active_values, resolve
from .space import declare_space, from_kt
from .values import evaluate


class Rejected(kt.errors.FailedTrialError):
    """A candidate that cannot be built (infeasible shapes, or over a budget): Keras Tuner
    records the trial as FAILED, prints no traceback and does not retry it."""


def reason(exc: ArchError) -> str:
    if isinstance(exc, OverBudget):
        return exc.message  # "over budget: ..."
    kind = "shape mismatch" if isinstance(exc, ShapeMismatch) else "infeasible"
    return f"{kind}: {exc.message}"


class ArchHyperModel(kt.HyperModel):
    """Declares the template's conditional space into the tuner's `hp`, then builds the model
    of the values the tuner chose. `fit` uses the template's batch size unless given one.

    Keras Tuner finds a space's conditional hyperparameters by building the model again and
    again at start-up (`Tuner._populate_initial_space` calls `declare_hyperparameters`, then
    `_activate_all_conditions` builds with values chosen to enter each conditional scope it
    has not seen active). `declare_hyperparameters` declares the whole space, so those builds
    would find nothing new: they would cost a Keras model each (3 s for squeezenet_se_auto),
    and one of an infeasible combination would stop the tuner before its first trial. The
    build that follows `declare_hyperparameters` therefore only declares the space, marks
    every scope seen (`_every_scope_seen`) and returns no model: Keras Tuner reads only the
    scopes of that build, and any tuner then starts without building anything.
    """

    def __init__(self, template: TemplateGraph, name: str | None = None, tunable: bool = True):
        super().__init__(name=name or template.name, tunable=tunable)
        self.template = template
        self._exploring = False  # the next `build` is Keras Tuner's start-up exploration

    def declare_hyperparameters(self, hp: kt.HyperParameters) -> None:
        declare_space(self.template, hp)
        self._exploring = True

    def values(self, hp: kt.HyperParameters) -> dict:
        """The template's values among hp's (tuners add their own, e.g. Hyperband's
        `tuner/epochs`; Keras Tuner's labels of tuple values translated back)."""
        names = {h.name for h in self.template.hyperparameters}
        return from_kt(self.template, {k: v for k, v in hp.values.items() if k in names})

    def choices(self, hp: kt.HyperParameters) -> dict:
        """The active hyperparameters and their values."""
        return active_values(self.template, self.values(hp))

    def candidate(self, hp: kt.HyperParameters) -> Architecture:
        """The architecture of hp's values (the compiler's shape rules; Keras only for the
        shapes of `keras_layer` calls).

        Raises:
            Rejected: the values are infeasible (e.g. a skip around layers that change the
                shape); any Keras Tuner tuner then records the trial as failed and goes on.
        """
        try:
            return resolve(self.template, self.values(hp), keras_result)
        except ArchError as exc:
            raise Rejected(reason(exc)) from None

    def build(self, hp: kt.HyperParameters):
        """The model of hp's values (None for Keras Tuner's start-up exploration).

        Raises:
            Rejected: see `candidate`.
        """
        declare_space(self.template, hp)
        if self._exploring:
            self._exploring = False
            _every_scope_seen(hp)
            return None
        return lower(self.candidate(hp))

    def fit(self, hp, model, *args, **kwargs):
        batch_size = self.template.train.get("batch_size")
        if batch_size is not None and "batch_size" not in kwargs and _arrays(args, kwargs):
            kwargs["batch_size"] = resolve_setting(self.template, "batch_size", self.values(hp))
        return model.fit(*args, **kwargs)


def _every_scope_seen(hp: kt.HyperParameters) -> None:
    """Tell Keras Tuner that every conditional scope has been active (it reads
    `hp.active_scopes` and `hp.inactive_scopes` after a start-up build, and nothing else
    does)."""
    hp.active_scopes.extend(s for s in hp.inactive_scopes if s not in hp.active_scopes)
    hp.inactive_scopes.clear()


def _arrays(args, kwargs) -> bool:
    x = args[0] if args else kwargs.get("x")
    return hasattr(x, "shape") or isinstance(x, list | tuple | dict)


def resolve_setting(template: TemplateGraph, key: str, values: dict):
    return evaluate(template.train[key], active_values(template, values), None, template.params)
