"""The example spaces of examples/spaces/ against the same spaces written by hand as Keras
Tuner HyperModels (bench/spaces/): at the defaults and at 10 samples, archc's parameter count
(computed without Keras) equals the hand-written model's `count_params()`, and the model
archc builds at the defaults has that count too."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import keras_tuner as kt
import pytest

import archc
from archc import pipeline

ROOT = Path(__file__).resolve().parent.parent
SPACES = ROOT / "examples" / "spaces"

# example -> the HyperModel class written by hand in bench/spaces/<example>.py
EXAMPLES = {"efficientnet_scaled": "EfficientNetScaled", "inception_cell": "InceptionCell",
            "densenet_block": "DenseNetBlock", "resnet_stages": "ResNetStages",
            "two_heads": "TwoHeads", "sequence_classifier": "SequenceClassifier",
            "augmented_cnn": "AugmentedCNN"}


def hand_written(example: str):
    path = ROOT / "bench" / "spaces" / f"{example}.py"
    spec = importlib.util.spec_from_file_location(f"hand_{example}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, EXAMPLES[example])()


def keras_params(hypermodel, choices: dict) -> int:
    hp = kt.HyperParameters()
    hp.values.update(choices)
    return hypermodel.build(hp).count_params()


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_example_space_matches_its_hand_written_hypermodel(example):
    template = archc.load(SPACES / f"{example}.arch")
    hypermodel = hand_written(example)
    defaults = template.resolve()
    assert template.build().count_params() == defaults.cost()["params"]
    points = [defaults] + [pipeline.choose(template, {}, seed) for seed in range(10)]
    assert len({tuple(sorted(a.choices.items())) for a in points}) > 5  # the samples differ
    for arch in points:
        assert arch.cost()["params"] == keras_params(hypermodel, arch.choices), arch.choices


def test_make_divisible_is_keras_mobilenet_rounding():
    from keras.src.applications.mobilenet_v2 import _make_divisible

    from archc.values import make_divisible

    cases = [(c * w, d) for c in (3, 16, 24, 32, 40, 80, 112, 320, 1280)
             for w in (0.25, 0.35, 0.5, 0.75, 1.0, 1.1, 1.4, 2.0) for d in (4, 8, 16)]
    assert all(make_divisible(v, d) == _make_divisible(v, d) for v, d in cases)
    assert make_divisible(5, 8, min_value=4) == _make_divisible(5, 8, 4)
