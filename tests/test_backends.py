"""Keras backends other than TensorFlow: the numpy batches (`data/batches.py`) give what
the tf.data pipeline gives, a search runs under JAX on a machine without TensorFlow, and the
PyTorch backend is refused with a message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from test_data import make_fashion

from archc.data import load_data
from archc.data.batches import array_batches, prepare_x

GRAY_TO_RGB_RESIZED = """
template squeeze
input image [32, 32, 3]
graph { image -> conv2d(4, 3) -> global_avg_pool2d -> dense(10, activation=softmax) }
train { loss = categorical_crossentropy }
"""

FLAT_SPARSE = """
template flat
input image [784]
graph { image -> dense(10, activation=softmax) }
train { loss = sparse_categorical_crossentropy }
"""


def fitted(tmp_path, source: str):
    path = tmp_path / "t.arch"
    path.write_text(source)
    return load_data(f"fashion_mnist:{make_fashion(tmp_path / 'fm', gz=False)}",
                     template=str(path))


@pytest.mark.parametrize("source", [GRAY_TO_RGB_RESIZED, FLAT_SPARSE])
def test_numpy_preparation_equals_tf_data(tmp_path, source):
    ds = fitted(tmp_path, source)
    arrays = ds.arrays("test")
    x = {k: arrays.x[k] for k in ds.inputs}
    want_x, want_y = ds.prepare(x, arrays.y)
    got_x, got_y = ds.prepare_numpy(x, arrays.y)
    assert got_x.shape == tuple(want_x.shape) and got_x.dtype == np.float32
    np.testing.assert_allclose(got_x, want_x.numpy(), atol=1e-5)
    np.testing.assert_array_equal(got_y, want_y.numpy())


def test_rgb_to_gray_uses_tf_luma():
    import tensorflow as tf

    rgb = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3)).astype(np.uint8)
    got = prepare_x(rgb, "image", 255.0, (4, 4, 3), (4, 4, 1))
    want = tf.image.rgb_to_grayscale(tf.cast(rgb, tf.float32) / 255.0).numpy()
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_batches_shuffle_every_epoch_and_keep_order_unshuffled(tmp_path):
    ds = fitted(tmp_path, FLAT_SPARSE)
    arrays = ds.arrays("train")
    train = array_batches(ds, arrays, 32, shuffle=True)
    assert len(train) == 3                                  # 90 examples, batches of 32
    first = np.concatenate([train[i][1] for i in range(len(train))])
    train.on_epoch_end()
    second = np.concatenate([train[i][1] for i in range(len(train))])
    assert sorted(first) == sorted(second) == sorted(arrays.y)   # each example once an epoch
    assert not np.array_equal(first, second)                     # in a new order
    again = array_batches(ds, arrays, 32, shuffle=True)          # the seed decides the order
    np.testing.assert_array_equal(np.concatenate([again[i][1] for i in range(3)]), first)
    test = array_batches(ds, ds.arrays("test"), 8, shuffle=False)
    np.testing.assert_array_equal(np.concatenate([test[i][1] for i in range(len(test))]),
                                  ds.arrays("test").y)


WITHOUT_TENSORFLOW = """
import sys
sys.modules["tensorflow"] = None          # any import of TensorFlow fails, as where it is absent
from archc.cli import main
code = main()
assert not any(m == "tensorflow" or m.startswith("tensorflow.") for m in sys.modules
               if sys.modules[m] is not None), "TensorFlow was imported"
sys.exit(code)
"""

TINY = """
template tiny
input image [8, 8, 1]
graph {
  image -> flatten -> dense(choice(16, 32), activation=relu) -> dense(10, activation=softmax)
}
train {
  optimizer = adam
  learning_rate = 1e-2
  batch_size = 64
  loss = categorical_crossentropy
  metrics = [accuracy]
}
"""


def test_search_on_jax_without_tensorflow(tmp_path):
    pytest.importorskip("jax", reason="the JAX backend needs jax (a test extra)")
    script = tmp_path / "run.py"
    script.write_text(WITHOUT_TENSORFLOW)
    template = tmp_path / "tiny.arch"
    template.write_text(textwrap.dedent(TINY))
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, str(script), "search", str(template), "--data",
                          "digits", "--trials", "2", "--epochs", "2", "--dir", str(out)],
                         env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads((out / "results.json").read_text())
    trials = results["trials"]
    assert len(trials) == 2 and all(t["status"] == "COMPLETED" for t in trials), trials
    assert max(t["score"] for t in trials) > 0.5                  # it learned digits
    assert "test accuracy" in run.stdout


def test_the_pytorch_backend_is_refused_with_a_message():
    from archc.diagnostics import ArchError
    from archc.lower import check_backend

    check_backend("jax")
    check_backend("tensorflow")
    with pytest.raises(ArchError, match="PyTorch backend") as caught:
        check_backend("torch")
    assert "KERAS_BACKEND=jax" in caught.value.hint
