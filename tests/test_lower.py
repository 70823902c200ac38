"""Lowering against Keras, the oracle: parameter counts, shapes, forward passes, save/reload,
and the reference networks at exact parity."""

from __future__ import annotations

import random

import keras
import numpy as np
import pytest

import archc
from archc.graph import templates_dir
from archc.lower import layer_name, lower
from archc.resolve import resolve
from archc.space import sample

TEMPLATES = sorted(p.stem for p in templates_dir().glob("*.arch"))
# Smaller inputs keep the suite fast; parameter counts of these networks do not depend on them.
SMALL_INPUTS = {
    "squeezenet": {"image": (64, 64, 3)}, "squeezenet11": {"image": (64, 64, 3)},
    "mobilenetv2": {"image": (64, 64, 3)}, "unet": {"image": (64, 64, 3)},
    "unet_auto": {"image": (64, 64, 3)}, "mobilenetv2_ssd_auto": {"image": (128, 128, 3)},
}


@pytest.fixture(autouse=True)
def fresh_session():
    yield
    keras.backend.clear_session()


def inputs_for(arch, batch: int = 2):
    rng = np.random.default_rng(0)
    arrays = [rng.random((batch, *shape), dtype=np.float32) for shape in arch.inputs.values()]
    return arrays[0] if len(arrays) == 1 else arrays


def assert_matches_keras(arch, model) -> None:
    assert arch.params == model.count_params()
    for node in arch.layers():
        if arch.graph.nodes[node]["shares"]:
            continue  # a tied replica: its layer is the first repetition's
        want = tuple(model.get_layer(layer_name(node)).output.shape[1:])
        assert arch.graph.nodes[node]["shape"] == want, node


def assert_round_trip(arch, model, tmp_path) -> None:
    x = inputs_for(arch)
    before = model.predict(x, verbose=0)
    path = tmp_path / f"{arch.template.name}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    after = reloaded.predict(x, verbose=0)
    for a, b in zip(keras.tree.flatten(before), keras.tree.flatten(after), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def distinct_samples(template, count: int, seed: int = 0) -> list[dict]:
    """Up to `count` random valid configurations with distinct architectures."""
    rng, seen, found = random.Random(seed), set(), []
    for _ in range(count):
        values = sample(template, rng.randrange(2**31))
        try:
            arch = resolve(template, values)
        except archc.diagnostics.ArchError:
            continue
        key = tuple(sorted((n, d["op"], str(d["args"]), d["shape"])
                           for n, d in arch.graph.nodes(data=True)))
        if key not in seen:
            seen.add(key)
            found.append(values)
    return found


# ---------------------------------------------------------------- reference networks


@pytest.mark.parametrize("name, params", [
    ("squeezenet", 1_248_424), ("squeezenet11", 1_235_496), ("unet", 31_031_745),
    ("unet_auto", 31_031_745), ("mobilenetv2", 3_538_984),
])
def test_reference_parameter_counts(name, params):
    arch = archc.load(name).resolve()
    assert arch.params == params
    assert lower(arch, compile=False).count_params() == params


def test_mobilenetv2_is_keras_applications():
    ours = archc.load("mobilenetv2").build(compile=False)
    ref = keras.applications.MobileNetV2(weights=None)
    assert ours.count_params() == ref.count_params() == 3_538_984
    assert [type(layer).__name__ for layer in ours.layers] == \
        [type(layer).__name__ for layer in ref.layers]
    assert [tuple(layer.output.shape) for layer in ours.layers] == \
        [tuple(layer.output.shape) for layer in ref.layers]


def test_mobilenetv2_without_top():
    arch = archc.load("mobilenetv2", params={"include_top": False}).resolve()
    assert arch.params == 2_257_984


def test_ssd_backbone_at_defaults_is_mobilenetv2_without_top():
    arch = archc.load("mobilenetv2_ssd_auto").resolve()
    head = ("e1/", "e2/", "e3/", "e4/", "class_head", "box_head", "concat")
    backbone = sum(d["params"] for n, d in arch.graph.nodes(data=True)
                   if not n.startswith(head) and not d["shares"])
    assert backbone == 2_257_984


def test_ssd_replicas_share_weights():
    template = archc.load("mobilenetv2_ssd_auto")
    base = template.resolve()
    deeper = template.resolve({"rep_B3_3": 3, "rep_B6_3": 2})
    assert deeper.params == base.params
    assert len(deeper.layers()) > len(base.layers())
    model = lower(deeper, compile=False)
    assert model.count_params() == base.params


# ---------------------------------------------------------------- every template


@pytest.mark.parametrize("name", TEMPLATES)
def test_defaults_match_keras_and_round_trip(name, tmp_path):
    arch = archc.load(name, inputs=SMALL_INPUTS.get(name)).resolve()
    model = lower(arch)
    assert_matches_keras(arch, model)
    assert_round_trip(arch, model, tmp_path)


@pytest.mark.parametrize("name", TEMPLATES)
def test_random_samples_match_keras(name, tmp_path):
    template = archc.load(name, inputs=SMALL_INPUTS.get(name))
    for values in distinct_samples(template, 2, seed=1):
        arch = resolve(template, values)
        model = lower(arch)
        assert_matches_keras(arch, model)
        assert_round_trip(arch, model, tmp_path)
        keras.backend.clear_session()


@pytest.mark.slow
@pytest.mark.parametrize("name", TEMPLATES)
def test_fifty_random_samples_match_keras(name, tmp_path):
    """The acceptance sweep: 50 draws each; every distinct architecture is checked against
    Keras, runs a forward pass on a batch of 2, and every 5th saves and reloads."""
    template = archc.load(name, inputs=SMALL_INPUTS.get(name))
    for k, values in enumerate(distinct_samples(template, 50, seed=2)):
        arch = resolve(template, values)
        model = lower(arch, compile=False)
        assert_matches_keras(arch, model)
        if k % 5 == 0:
            assert_round_trip(arch, model, tmp_path)
        else:
            model.predict(inputs_for(arch), verbose=0)
        keras.backend.clear_session()
