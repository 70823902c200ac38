"""`archc compile` and the Python API end to end: JSON summary, infeasible choices, export
to .keras (reloaded in a fresh process) and .tflite, and Keras Tuner searching a template."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pytest

import archc
from archc.diagnostics import ArchErrors

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden"


def archc_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archc", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_compile_json_has_the_summary():
    done = archc_cli("compile", "squeezenet_se_auto", "--set", "group1=2",
                     "--set", "group1/rep1/second/use_se=true", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    for key in ("params", "bytes", "flops", "choices", "inputs", "outputs", "layers"):
        assert key in summary
    assert summary["params"] == summary["keras_params"]
    assert summary["bytes"] == 4 * summary["params"]
    assert summary["choices"]["group1"] == 2
    assert summary["choices"]["group1/rep1/second/use_se"] is True
    assert "group1/rep1/second/se/ratio" in summary["choices"]
    assert "group1/rep1/first/se/ratio" not in summary["choices"]  # inactive: no SE there
    assert summary["inputs"] == {"image": [None, 32, 32, 3]}
    layer = summary["layers"][0]
    assert set(layer) >= {"name", "type", "output_shape", "params"}


def test_compile_sample_is_reproducible():
    first = json.loads(archc_cli("compile", "squeezenet_sem_auto", "--sample", "7",
                                 "--json").stdout)
    again = json.loads(archc_cli("compile", "squeezenet_sem_auto", "--sample", "7",
                                 "--json").stdout)
    assert first["choices"] == again["choices"]


def test_infeasible_choice_is_a_shape_error_not_a_traceback():
    done = archc_cli("compile", "unet_auto", "--input", "image=16,16,3", "--set", "levels=5")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    expected = (GOLDEN / "infeasible_unet_auto.expected").read_text()
    assert done.stderr.replace(str(ROOT) + "/", "") == expected


def test_unknown_or_invalid_values_are_errors():
    done = archc_cli("compile", "squeezenet_auto", "--set", "group1=7")
    assert done.returncode == 1 and "group1 = 7 is not one of its values (1, 2)" in done.stderr
    done = archc_cli("compile", "squeezenet_auto", "--set", "grop1=2")
    assert done.returncode == 1 and "did you mean 'group1'" in done.stderr


def test_keras_file_reloads_in_a_fresh_process(tmp_path):
    out = tmp_path / "model.keras"
    done = archc_cli("compile", "squeezenet_se_auto", "--set", "group1/rep0/first/use_se=true",
                     "-o", str(out))
    assert done.returncode == 0, done.stderr
    x = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    model = keras.models.load_model(out)
    np.save(tmp_path / "want.npy", model.predict(x, verbose=0))
    script = ("import numpy as np, keras, sys; d=sys.argv[1]; "
              "m=keras.models.load_model(d+'/model.keras'); "
              "np.save(d+'/got.npy', m.predict(np.load(d+'/x.npy'), verbose=0))")
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, timeout=300)
    np.testing.assert_allclose(np.load(tmp_path / "got.npy"), np.load(tmp_path / "want.npy"),
                               rtol=1e-6)


def test_tflite_export_of_squeezenet_se_auto(tmp_path):
    out = tmp_path / "model.tflite"
    done = archc_cli("compile", "squeezenet_se_auto", "-o", str(out))
    assert done.returncode == 0, done.stderr
    size = out.stat().st_size
    assert f"wrote {out} ({size:,} bytes)" in done.stdout
    assert size > 4 * 100_000  # float32 weights of a ~124k-parameter network


def test_cost_without_keras_matches_keras():
    template = archc.load("squeezenet_se_auto")
    values = {"group1": 2, "group1/rep1/first/use_se": True}
    cost = template.cost(values)
    model = template.build(values)
    assert cost["params"] == model.count_params()
    assert cost["flops"] > 0 and cost["peak_activation_bytes"] > 0


def test_keras_tuner_searches_a_template_directly(tmp_path):
    template = archc.load("mlp_auto", inputs={"landmarks": (8, 3)}, params={"classes": 3})
    rng = np.random.default_rng(0)
    x = rng.random((32, 8, 3), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 3, 32), 3)
    tuner = kt.RandomSearch(template.hypermodel(), objective="val_loss", max_trials=2,
                            directory=tmp_path, project_name="mlp", seed=1)
    tuner.search(x, y, validation_data=(x, y), epochs=1, verbose=0)
    best = tuner.get_best_hyperparameters(1)[0]
    assert "layers" in best.values
    model = tuner.get_best_models(1)[0]
    assert model.count_params() == template.cost(best.values)["params"]


def test_load_rejects_a_broken_template(tmp_path):
    bad = tmp_path / "bad.arch"
    bad.write_text("template bad\ninput x [4]\ngraph { x -> dense(0) }\n")
    with pytest.raises(ArchErrors) as caught:
        archc.load(bad)
    assert "filters" not in str(caught.value) and "units" in str(caught.value)


def test_a_block_branches_on_a_named_hyperparameter(tmp_path):
    # The block is also expanded alone (to find its faults where the graph never calls it):
    # the named hp must be known there too; it was a KeyError, an internal error.
    path = tmp_path / "branch.arch"
    path.write_text("""
template branch
input x [10, 8]
hp cell = choice(lstm, gru)
block rnn(units) {
  if cell == lstm { lstm(units) } else { gru(units) }
}
graph { x -> rnn(16) -> dense(2, activation=softmax) }
""")
    template = archc.load(path)
    assert [h.name for h in template.hyperparameters] == ["cell"]
    ops = {v: {d["op"] for _, d in template.resolve({"cell": v}).graph.nodes(data=True)}
           for v in ("lstm", "gru")}
    assert "lstm" in ops["lstm"] and "gru" not in ops["lstm"]
    assert "gru" in ops["gru"] and "lstm" not in ops["gru"]
