"""Concrete architecture graph -> keras.Model (Keras 3 functional API), compiled with the
template's training settings.

Real Keras layers only (the registry's classes and archc's own registered layers), named
after the template (`group1/rep0/first/se/dense` becomes `group1.rep0.first.se.dense`, since
Keras names cannot hold '/'), so models save to `.keras` and reload anywhere archc is
importable.
"""

from __future__ import annotations

import networkx as nx

from . import factories, ops
from .diagnostics import ArchError
from .kinds import Node
from .resolve import Architecture


def layer_name(node: str) -> str:
    return node.replace("/", ".").replace("'", "_")


def check_backend(backend: str) -> None:
    """Refuse Keras's PyTorch backend: its layers keep their weights in a torch
    `ParameterDict` keyed by weight path, and torch forbids '.' in those keys, which archc's
    layer names use for the template's nesting (`group1.rep0.first.fire.squeeze`)."""
    if backend == "torch":
        raise ArchError("archc cannot build models on Keras's PyTorch backend yet: torch "
                        "forbids the '.' of archc's layer names in weight names",
                        hint="use KERAS_BACKEND=tensorflow (the default) or KERAS_BACKEND=jax")


def lower(arch: Architecture, compile: bool = True):
    """Build (and compile) the Keras model of `arch`."""
    import keras

    check_backend(keras.backend.backend())

    tensors: dict[str, object] = {}
    layers: dict[str, object] = {}
    for node in nx.topological_sort(arch.graph):
        data = arch.graph.nodes[node]
        if data["op"] == Node.INPUT:
            tensors[node] = keras.Input(shape=data["shape"], name=layer_name(node))
            continue
        pos = data.get("pos")
        layer = layers.get(data.get("shares")) or factories.build_layer(
            ops.lookup(data["op"]), data["args"], name=layer_name(node),
            origin=pos.file if pos else None)
        layers[node] = layer
        inputs = [tensors[u] for u in data["inputs"]]
        tensors[node] = layer(inputs if len(inputs) > 1 else inputs[0])
    inputs = [tensors[name] for name in arch.inputs]
    model = keras.Model(
        inputs=inputs[0] if len(inputs) == 1 else inputs,
        outputs=_outputs(arch, tensors),
        name=arch.template.name,
    )
    if compile:
        compile_model(model, arch)
    return model


def _outputs(arch: Architecture, tensors: dict):
    outs = {name: tensors[node] for name, node in arch.outputs.items()}
    return next(iter(outs.values())) if len(outs) == 1 else outs


def compile_model(model, arch: Architecture) -> None:
    """`model.compile` from the template's train section (defaults: adam, 1e-3)."""
    train = arch.train
    name = train.get("optimizer", "adam")
    kwargs = dict(arch.options.get(name, {}))
    if "learning_rate" in train:
        kwargs["learning_rate"] = train["learning_rate"]
    optimizer = factories.build_optimizer(name, kwargs)
    model.compile(optimizer=optimizer, loss=_losses(arch), metrics=_metrics(arch),
                  loss_weights=_loss_weights(arch))


def _losses(arch: Architecture):
    """One loss for every output, or a list: the i-th loss for the i-th `output`."""
    loss = arch.train.get("loss", "categorical_crossentropy")
    if isinstance(loss, dict):  # by output name
        return _per_output(arch, {name: factories.build_loss(loss[name]) for name in arch.outputs})
    if not isinstance(loss, tuple):
        return factories.build_loss(loss)
    if len(loss) != len(arch.outputs):
        raise ValueError(f"{len(loss)} losses for {len(arch.outputs)} outputs")
    return {name: factories.build_loss(item) for name, item in zip(arch.outputs, loss, strict=True)}


def _items(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _loss_weights(arch: Architecture):
    """None, or one weight per output by name (1.0 for an output a mapping leaves out)."""
    weights = arch.train.get("loss_weights")
    if weights is None:
        return None
    if isinstance(weights, dict):
        by_name = {name: float(weights.get(name, 1.0)) for name in arch.outputs}
    else:
        by_name = {name: float(w) for name, w in zip(arch.outputs, _items(weights), strict=True)}
    return list(by_name.values()) if len(by_name) == 1 else by_name


def _per_output(arch: Architecture, by_name: dict):
    """Keras's form of a setting per output: the value itself for a model of one output
    (whose output is a tensor, not a dict), else the dict."""
    return next(iter(by_name.values())) if len(arch.outputs) == 1 else by_name


def _metrics(arch: Architecture):
    metrics = arch.train.get("metrics", ())
    if isinstance(metrics, dict):  # by output name; an output it leaves out has none
        return _per_output(arch, {name: [factories.build_metric(m)
                                         for m in _items(metrics.get(name, ()))]
                                  for name in arch.outputs})
    metrics = [factories.build_metric(m)
               for m in (metrics if isinstance(metrics, tuple) else (metrics,))]
    if len(arch.outputs) > 1:
        return {name: metrics for name in arch.outputs} if metrics else None
    return metrics


def to_tflite(model) -> bytes:
    """The model as a TensorFlow Lite flatbuffer (through a SavedModel export)."""
    import tempfile

    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        model.export(tmp, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        return converter.convert()
