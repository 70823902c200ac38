"""Template -> keras_tuner.HyperModel: Keras Tuner's tuners search a template directly."""

from __future__ import annotations

import keras_tuner as kt

from .graph import Template
from .lower import lower
from .resolve import resolve
from .space import declare_space, from_kt


class ArchHyperModel(kt.HyperModel):
    """Declares the template's conditional space into the tuner's `hp`, then builds the model
    of the values the tuner chose. `fit` uses the template's batch size unless given one."""

    def __init__(self, template: Template, name: str | None = None, tunable: bool = True):
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
        declare_space(self.template, hp)
        return lower(resolve(self.template, self.values(hp)))

    def fit(self, hp, model, *args, **kwargs):
        batch_size = self.template.train.get("batch_size")
        if batch_size is not None and "batch_size" not in kwargs and _arrays(args, kwargs):
            kwargs["batch_size"] = resolve_setting(self.template, "batch_size", self.values(hp))
        return model.fit(*args, **kwargs)


def _arrays(args, kwargs) -> bool:
    x = args[0] if args else kwargs.get("x")
    return hasattr(x, "shape") or isinstance(x, list | tuple | dict)


def resolve_setting(template: Template, key: str, values: dict):
    from .resolve import active_values
    from .values import evaluate

    return evaluate(template.train[key], active_values(template, values), None, template.params)
