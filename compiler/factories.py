"""Registry entries + concrete arguments -> Keras objects: layers, losses, optimizers, metrics.

The names come from the registry (`ops.OpSpec.keras_class`) and the vocabularies
(`vocab.LOSSES`, `vocab.METRICS`, `vocab.OPTIMIZERS`); this module only looks them up.
Keras is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from functools import cache
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
        if getattr(spec.arg(key), "type", None) == "layer":
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


def build_layer(spec: OpSpec, kwargs: Mapping[str, object], name: str | None = None,
                origin: str | None = None):
    """A Keras layer for `spec`: its fixed kwargs plus `kwargs` (as returned by `bind`);
    `origin` is the template file a `keras_layer`'s module path is relative to.

    Raises:
        OpArgError: an unknown keyword or a wrong value, an unknown or unregistered class.
    """
    if spec.open_args:
        rest = dict(_keras_kwargs(spec, kwargs))
        cls = named_layer_class(rest.pop("class_name"), origin)
        try:
            return cls(**rest, name=name)
        except (TypeError, ValueError) as exc:
            raise OpArgError(f"{cls.__name__}: {_first_line(exc)}") from None
    return layer_class(spec)(**spec.fixed, **_keras_kwargs(spec, kwargs), name=name)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def named_layer_class(name: str, origin: str | None = None) -> type:
    """The class a `keras_layer` names: `"UnitNormalization"` in keras.layers, or
    `"FILE.py:Class"` / `"package.module:Class"`, a class registered with
    `keras.saving.register_keras_serializable` (so that saved models reload).

    Raises:
        OpArgError: no such module or class, or a class that is not registered.
    """
    import keras  # lazy: only a template with keras_layer gets here

    if ":" not in name:
        cls = getattr(keras.layers, name, None)
        if not isinstance(cls, type) or not issubclass(cls, keras.layers.Layer):
            layers = [n for n in dir(keras.layers) if n[:1].isupper()]
            raise OpArgError(f"keras.layers has no layer class '{name}'",
                             hint=did_you_mean(name, layers))
        return cls
    module_name, _, class_name = name.rpartition(":")
    cls = getattr(_user_module(module_name, origin), class_name, None)
    if not isinstance(cls, type) or not issubclass(cls, keras.layers.Layer):
        raise OpArgError(f"{module_name} has no layer class '{class_name}'")
    if keras.saving.get_registered_object(keras.saving.get_registered_name(cls)) is not cls:
        raise OpArgError(f"{class_name} is not registered with Keras",
                         hint="decorate it with @keras.saving.register_keras_serializable()")
    return cls


def _user_module(module: str, origin: str | None):
    """A module by its import name, or a `.py` file relative to the template's folder."""
    if not module.endswith(".py"):
        try:
            return importlib.import_module(module)
        except ImportError as exc:
            raise OpArgError(f"cannot import {module}: {exc}") from None
    from pathlib import Path

    path = Path(origin).parent / module if origin else Path(module)
    if not path.is_file():
        raise OpArgError(f"no Python file {path}")
    return _module_file(str(path.resolve()))


@cache
def _module_file(path: str):
    """A user's module file, executed once a process (its classes registered once)."""
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(f"archc_user.{Path(path).stem}", path)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def keras_result(spec: OpSpec, args: Mapping[str, object], in_shapes: list, origin=None):
    """A `keras_layer`'s output shape and parameters, from Keras itself: the layer called on
    symbolic inputs (its `compute_output_spec`); FLOPs unknown (0).

    Raises:
        shapes.ShapeFault: Keras refuses the class, the arguments or the input.
    """
    import keras

    from .shapes import Result, ShapeFault

    try:
        layer = build_layer(spec, args, origin=origin)
        out = layer(*[keras.KerasTensor((None, *s)) for s in in_shapes])
    except OpArgError as exc:
        raise ShapeFault(exc.message + (f" ({exc.hint})" if exc.hint else "")) from None
    except Exception as exc:  # noqa: BLE001 - whatever Keras raises is the template's fault
        raise ShapeFault(f"Keras refuses it: {_first_line(exc)}") from None
    if not hasattr(out, "shape"):
        raise ShapeFault("the layer gives several tensors; keras_layer takes one")
    return Result(tuple(out.shape[1:]), layer.count_params())


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
