"""Template -> keras_tuner.HyperModel: Keras Tuner's tuners search a template directly."""

from __future__ import annotations

import keras_tuner as kt

from .diagnostics import ArchError, ShapeMismatch
from .graph import TemplateGraph
from .lower import lower
from .resolve import resolve
from .space import declare_space, from_kt


class Rejected(kt.errors.FailedTrialError):
    """A candidate that cannot be built (infeasible shapes, or over a budget): Keras Tuner
    records the trial as FAILED, prints no traceback and does not retry it."""


def reason(exc: ArchError) -> str:
    kind = "shape mismatch" if isinstance(exc, ShapeMismatch) else "infeasible"
    return f"{kind}: {exc.message}"


class ArchHyperModel(kt.HyperModel):
    """Declares the template's conditional space into the tuner's `hp`, then builds the model
    of the values the tuner chose. `fit` uses the template's batch size unless given one."""

    def __init__(self, template: TemplateGraph, name: str | None = None, tunable: bool = True):
        super().__init__(name=name or template.name, tunable=tunable)
        self.template = template

    def declare_hyperparameters(self, hp: kt.HyperParameters) -> None:
        declare_space(self.template, hp)

    def values(self, hp: kt.HyperParameters) -> dict:
        """The template's values among hp's (tuners add their own, e.g. Hyperband's
        `tuner/epochs`)."""
        names = {h.name for h in self.template.hyperparameters}
        return from_kt(self.template, {k: v for k, v in hp.values.items() if k in names})

    def build(self, hp: kt.HyperParameters):
        """The model of hp's values.

        Raises:
            Rejected: the values are infeasible (e.g. a skip around layers that change the
                shape); any Keras Tuner tuner then records the trial as failed and goes on.
        """
        declare_space(self.template, hp)
        _every_scope_seen(hp)
        try:
            arch = resolve(self.template, self.values(hp))
        except ArchError as exc:
            raise Rejected(reason(exc)) from None
        return lower(arch)

    def fit(self, hp, model, *args, **kwargs):
        batch_size = self.template.train.get("batch_size")
        if batch_size is not None and "batch_size" not in kwargs and _arrays(args, kwargs):
            kwargs["batch_size"] = resolve_setting(self.template, "batch_size", self.values(hp))
        return model.fit(*args, **kwargs)


def _every_scope_seen(hp: kt.HyperParameters) -> None:
    """Tell Keras Tuner that every conditional scope has been active.

    A stock tuner builds the model again and again at start-up, with values chosen to enter
    each conditional scope it has not yet seen active, only to discover the hyperparameters
    declared inside (`Tuner._activate_all_conditions` reads `hp.active_scopes` and
    `hp.inactive_scopes`, and nothing else does). `declare_space` declares every
    hyperparameter of the template whatever the values, so those builds find nothing new:
    they cost a Keras model each (3 s for squeezenet_se_auto), and one of an infeasible
    combination stopped the tuner before its first trial. With every scope marked seen,
    the start-up builds the defaults once.
    """
    hp.active_scopes.extend(s for s in hp.inactive_scopes if s not in hp.active_scopes)
    hp.inactive_scopes.clear()


def _arrays(args, kwargs) -> bool:
    x = args[0] if args else kwargs.get("x")
    return hasattr(x, "shape") or isinstance(x, list | tuple | dict)


def resolve_setting(template: TemplateGraph, key: str, values: dict):
    from .resolve import active_values
    from .values import evaluate

    return evaluate(template.train[key], active_values(template, values), None, template.params)
