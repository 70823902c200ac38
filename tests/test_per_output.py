"""Training settings per output (docs/language.md, train): `loss`, `metrics` and
`loss_weights` given as `{output: value}` reach Keras's `compile` by output name."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import archc
from archc.diagnostics import ArchErrors

GRAPH = """
    input image [8, 8, 3]
    graph {
      f = image -> conv2d(4, 3, activation=relu) -> global_avg_pool2d
      output label = f -> dense(3, activation=softmax)
      output box = f -> dense(2)
    }
    """

TRAIN = """
    train {
      loss = {label: categorical_crossentropy, box: huber}
      metrics = {label: [accuracy], box: mae}
      loss_weights = {box: choice(0.5, 2.0)}
    }
    """


def load(tmp_path, text: str):
    path = tmp_path / "t.arch"
    path.write_text(textwrap.dedent(text))
    return archc.load(path)


def test_settings_per_output_reach_keras(tmp_path):
    template = load(tmp_path, GRAPH + TRAIN)
    assert template.resolve({"loss_weights/box": 2.0}).train == {
        "loss": {"label": "categorical_crossentropy", "box": "huber"},
        "metrics": {"label": ("accuracy",), "box": "mae"},
        "loss_weights": {"box": 2.0}}
    model = template.build({"loss_weights/box": 2.0})
    rng = np.random.default_rng(0)
    x = rng.random((8, 8, 8, 3)).astype("float32")
    y = {"label": np.eye(3)[rng.integers(0, 3, 8)], "box": rng.random((8, 2))}
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert "label_accuracy" in logs and "box_mae" in logs
    assert "box_accuracy" not in logs and "label_mae" not in logs
    weighted = logs["label_loss"] + 2.0 * logs["box_loss"]  # loss_weights: label 1, box 2
    assert logs["loss"] == pytest.approx(weighted, rel=1e-4)


@pytest.mark.parametrize(("train", "message"), [
    ("loss = {label: mse, boxx: mse}", "loss: no output 'boxx'"),
    ("loss = {label: mse}", "loss: no loss for output 'box'"),
    ("loss = {label: mse, box: mse}\nmetrics = {box: [acuracy]}", "expected metric names"),
    ("loss_weights = {label: -1}", "expected a weight >= 0"),
    ("optimizer = {label: adam}", "optimizer: expected one value, found a value per output"),
])
def test_faults_of_settings_per_output_are_located(tmp_path, train, message):
    with pytest.raises(ArchErrors) as caught:
        load(tmp_path, GRAPH + "train {\n" + train + "\n}\n")
    errors = [e for e in caught.value.errors if message in e.message]
    assert errors and all(e.pos is not None for e in errors), caught.value.errors


def test_freeze_writes_settings_per_output(tmp_path):
    from archc import freeze

    template = load(tmp_path, GRAPH + TRAIN)
    text = freeze.freeze(template.resolve({"loss_weights/box": 0.5}))
    assert "loss = {label: categorical_crossentropy, box: huber}" in text
    assert "metrics = {label: [accuracy], box: mae}" in text
    assert "loss_weights = {box: 0.5}" in text
