"""The example spaces of examples/spaces/ against the same models written in plain Keras: the
defaults and 10 samples of each compile to the parameter count of the hand-written model,
and of the Keras Tuner HyperModel a person would write for the same space (issue 10)."""

from __future__ import annotations

from pathlib import Path

import keras
import keras_tuner as kt
import pytest

import archc
from archc import space

SPACES = Path(__file__).resolve().parent.parent / "examples" / "spaces"
L = keras.layers


# ---------------------------------------------------------------- sequence_classifier.arch


def keras_sequence_classifier(c: dict) -> keras.Model:
    """The network of one configuration `c` (archc's choices), written in plain Keras."""
    cell = L.LSTM if c["cell"] == "lstm" else L.GRU
    inputs = keras.Input((40,))
    x = L.Embedding(1000, c["embedding/output_dim"])(inputs)
    x = L.SpatialDropout1D(c["spatial_dropout1d/rate"])(x)
    for _ in range(c["stacked"]):
        x = cell(c["units"], return_sequences=True)(x)
    x = L.Dropout(c["dropout/rate"])(cell(c["units"])(x))
    return keras.Model(inputs, L.Dense(4, activation="softmax")(x))


class SequenceClassifier(kt.HyperModel):
    """The space of sequence_classifier.arch as a person writes it for Keras Tuner."""

    def build(self, hp):
        units = hp.Choice("units", [32, 64, 128])
        cell = L.LSTM if hp.Choice("cell", ["lstm", "gru"]) == "lstm" else L.GRU
        inputs = keras.Input((40,))
        x = L.Embedding(1000, hp.Choice("embedding/output_dim", [32, 64]))(inputs)
        x = L.SpatialDropout1D(hp.Choice("spatial_dropout1d/rate", [0.0, 0.2]))(x)
        for _ in range(hp.Int("stacked", 0, 2)):
            x = cell(units, return_sequences=True)(x)
        x = L.Dropout(hp.Choice("dropout/rate", [0.2, 0.5]))(cell(units)(x))
        model = keras.Model(inputs, L.Dense(4, activation="softmax")(x))
        rate = hp.Choice("learning_rate", [1e-3, 3e-4])
        model.compile(optimizer=keras.optimizers.Adam(rate), loss="categorical_crossentropy",
                      metrics=["accuracy"])
        return model


# ---------------------------------------------------------------- augmented_cnn.arch


def keras_augmented_cnn(c: dict) -> keras.Model:
    inputs = keras.Input((32, 32, 3))
    x = L.Rescaling(1 / 255)(inputs)
    x = L.RandomTranslation(0.1, 0.1)(L.RandomFlip("horizontal")(x))
    if c["rotate"]:
        x = L.RandomRotation(c["random_rotation/factor"])(x)
    if c["zoom"]:
        x = L.RandomZoom(0.1)(x)
    for i in range(c["stages"]):
        x = L.Conv2D(c["width"] * 2**i, 3, padding="same", activation="relu")(x)
        x = L.MaxPooling2D()(L.BatchNormalization()(x))
    x = L.Dropout(c["dropout/rate"])(L.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, L.Dense(10, activation="softmax")(x))


class AugmentedCNN(kt.HyperModel):
    """The space of augmented_cnn.arch as a person writes it for Keras Tuner: the rotation's
    factor exists only when rotations are on (a conditional scope)."""

    def build(self, hp):
        width = hp.Choice("width", [16, 32, 48])
        inputs = keras.Input((32, 32, 3))
        x = L.Rescaling(1 / 255)(inputs)
        x = L.RandomTranslation(0.1, 0.1)(L.RandomFlip("horizontal")(x))
        if hp.Boolean("rotate"):
            with hp.conditional_scope("rotate", [True]):
                x = L.RandomRotation(hp.Choice("random_rotation/factor", [0.05, 0.1]))(x)
        if hp.Boolean("zoom"):
            x = L.RandomZoom(0.1)(x)
        for i in range(hp.Int("stages", 2, 4)):
            x = L.Conv2D(width * 2**i, 3, padding="same", activation="relu")(x)
            x = L.MaxPooling2D()(L.BatchNormalization()(x))
        x = L.Dropout(hp.Choice("dropout/rate", [0.2, 0.4]))(L.GlobalAveragePooling2D()(x))
        model = keras.Model(inputs, L.Dense(10, activation="softmax")(x))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy",
                      metrics=["accuracy"])
        return model


CASES = {
    "sequence_classifier": (keras_sequence_classifier, SequenceClassifier),
    "augmented_cnn": (keras_augmented_cnn, AugmentedCNN),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_defaults_and_samples_match_plain_keras(name):
    template = archc.load(SPACES / f"{name}.arch")
    plain, _ = CASES[name]
    configurations = [None] + [space.sample(template, seed) for seed in range(10)]
    for values in configurations:
        arch = template.resolve(values)
        want = plain(arch.choices).count_params()
        assert arch.params == want, (name, arch.choices)
        assert template.build(values, compile=False).count_params() == want, arch.choices


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_hypermodel_is_the_same_space(name):
    """The hand-written HyperModel, at its defaults, is archc's default network."""
    template = archc.load(SPACES / f"{name}.arch")
    _, hypermodel = CASES[name]
    hp = kt.HyperParameters()
    model = hypermodel().build(hp)
    assert model.count_params() == template.resolve().params
    assert set(hp.values) == set(template.resolve().choices)
