"""Registry entries + concrete arguments -> Keras objects: layers, losses, optimizers, metrics.

The names come from the registry (`ops.OpSpec.keras_class`) and the vocabularies
(`vocab.LOSSES`, `vocab.METRICS`, `vocab.OPTIMIZERS`); this module only looks them up.
Keras is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from .arguments import OpArgError, checked_kwargs, layer_call
from .diagnostics import did_you_mean
from .ops import OpSpec, lookup
from .vocab import LOSSES, METRIC_PRESETS, METRICS, OPTIMIZERS, OptimizerSpec

_OWN = "archc."  # archc's own classes: `archc.layers.Reduce`, `archc.ssd.SSDConfidence`


def _own_object(path: str) -> type:
    """The class at an import path such as `archc.ssd.SSDDecode` (importing registers it)."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _keras_value(value: object) -> object:
    """Lists become tuples (Keras stores and compares tuples), recursively."""
    if isinstance(value, (tuple, list)):
        return tuple(_keras_value(v) for v in value)
    return value


def _keras_kwargs(spec, kwargs: Mapping[str, object]) -> dict[str, object]:
    """Checked kwargs for `spec`, ready for the Keras constructor; an op call given as an
    argument (Bidirectional's `layer`) becomes its Keras layer."""
    out = {}
    for key, value in checked_kwargs(spec, kwargs).items():
        if spec.arg(key).type == "layer":
            name, args = layer_call(value)
            out[key] = build_layer(lookup(name), args)
        else:
            out[key] = _keras_value(value)
    return out


def layer_class(spec: OpSpec) -> type:
    """The Keras layer class of `spec`: from keras.layers, or archc's own (`archc.MODULE.Name`)."""
    if spec.keras_class.startswith(_OWN):
        return _own_object(spec.keras_class)
    from keras import layers  # lazy: keep `archc check` free of keras

    return getattr(layers, spec.keras_class)


def build_layer(spec: OpSpec, kwargs: Mapping[str, object], name: str | None = None):
    """A Keras layer for `spec`: its fixed kwargs plus `kwargs` (as returned by `bind`).

    Raises:
        OpArgError: an unknown keyword or a wrong value.
    """
    return layer_class(spec)(**spec.fixed, **_keras_kwargs(spec, kwargs), name=name)


def build_loss(name: str | None):
    """What to pass to `model.compile(loss=...)` for the template loss `name`: a Keras string
    identifier, an instance of archc's own loss (`archc.ssd.SSDConfidence`), or None for
    `none` in a list of losses (an output no loss trains: SSD's detections)."""
    if name is None:
        return None
    identifier = LOSSES.get(name, name)
    if identifier.startswith(_OWN):
        return _own_object(identifier)()
    return identifier


def build_optimizer(spec: OptimizerSpec | str, kwargs: Mapping[str, object] | None = None):
    """A Keras optimizer instance, e.g. `build_optimizer("sgd", {"momentum": 0.9})`.

    Raises:
        OpArgError: an unknown optimizer, keyword or a wrong value.
    """
    from keras import optimizers  # lazy

    if isinstance(spec, str):
        found = OPTIMIZERS.get(spec)
        if found is None:
            hint = did_you_mean(spec.lower(), OPTIMIZERS)
            raise OpArgError(f"unknown optimizer '{spec}'", hint=hint)
        spec = found
    return getattr(optimizers, spec.keras_class)(**_keras_kwargs(spec, kwargs or {}))


def build_metric(name: str, **kwargs: Any):
    """What to pass to `model.compile(metrics=[...])` for the template metric `name`.

    A Keras string identifier is returned as is; a metric class is instantiated with
    `name=name` (so logs say `val_iou`) and `kwargs` (MeanIoU needs `num_classes`).

    Raises:
        OpArgError: an unknown metric.
    """
    identifier = METRICS.get(name)
    if identifier is None:
        raise OpArgError(f"unknown metric '{name}'", hint=did_you_mean(name.lower(), METRICS))
    if identifier[0].islower():
        return identifier
    from keras import metrics  # lazy

    options = {**METRIC_PRESETS.get(identifier, {}), **kwargs}
    return getattr(metrics, identifier)(name=name, **options)
