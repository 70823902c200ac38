"""The escape hatch `keras_layer("Class", ...)`: any Keras layer class, or a user's class
registered with Keras in a module the template names; shapes and parameters come from Keras
at compile time, and `archc check` (which imports no Keras) warns, at the call, what it
could not check (issue 10, item 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import archc
from archc import pipeline
from archc.diagnostics import ArchError
from archc.lower import layer_name, lower

keras = pytest.importorskip("keras")

ROOT = Path(__file__).resolve().parent.parent

MODULE = '''
import keras


@keras.saving.register_keras_serializable(package="mylayers")
class Scale(keras.layers.Layer):
    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.gamma * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class Unregistered(keras.layers.Layer):
    def call(self, x):
        return x
'''

TEMPLATE = """template escape
input image [16, 16, 3]
graph {
  image -> conv2d(8, 3) -> keras_layer("UnitNormalization", axis=-1)
  -> keras_layer("mylayers.py:Scale", factor=choice(1.0, 2.0))
  -> keras_layer("GlobalAveragePooling2D") -> dense(4)
}
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "mylayers.py").write_text(MODULE)
    path = tmp_path / "escape.arch"
    path.write_text(text)
    return path


def test_shapes_and_parameters_come_from_keras(tmp_path):
    arch = archc.load(write(tmp_path, TEMPLATE)).resolve({"keras_layer_1/factor": 2.0})
    assert arch.unchecked == []
    found = [arch.graph.nodes[n]["shape"] for n in arch.layers()]
    assert found == [(14, 14, 8), (14, 14, 8), (14, 14, 8), (8,), (4,)]
    model = lower(arch, compile=False)
    assert arch.params == model.count_params() == 224 + 8 + 36
    assert model.get_layer(layer_name("keras_layer_1")).factor == 2.0


def test_check_warns_at_each_call_and_imports_no_keras(tmp_path):
    path = write(tmp_path, TEMPLATE)
    code = ("import sys; from archc import pipeline; "
            f"w = pipeline.check_defaults(pipeline.load({str(path)!r})); "
            "print([(x.pos.line, x.pos.column, x.kind) for x in w]); "
            "print(any(m in sys.modules for m in ('keras', 'tensorflow')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == ["[(4, 28, 'warning'), (5, 6, 'warning'), (6, 6, 'warning')]", "False"]
    done = subprocess.run([sys.executable, "-m", "archc", "check", str(path)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0
    assert "escape.arch:4:28: warning: keras_layer 'keras_layer': the output shape of " \
           "UnitNormalization is known only to Keras" in done.stderr


def test_a_fault_after_an_unchecked_layer_is_a_warning_at_check(tmp_path):
    """check guesses that a keras_layer keeps its input's shape, so a conv1d after a Reshape
    to (steps, C) looks wrong to it: a warning, not an error; Keras knows the shape."""
    text = """template t
input image [16, 16, 3]
graph {
  image -> conv2d(8, 3) -> keras_layer("Reshape", target_shape=(196, 8))
  -> conv1d(4, 3) -> global_avg_pool1d -> dense(2)
}
"""
    template = archc.load(write(tmp_path, text))
    (warning,) = pipeline.check_defaults(template)
    assert (warning.kind, warning.pos.line, warning.pos.column) == ("warning", 5, 6)
    assert "could not be checked without Keras" in warning.message
    arch = template.resolve()
    assert [arch.graph.nodes[n]["shape"] for n in arch.layers()][1:3] == [(196, 8), (194, 4)]
    assert arch.params == lower(arch, compile=False).count_params()


@pytest.mark.parametrize(("call", "message"), [
    ('keras_layer("UnitNormalisation")', "keras.layers has no layer class 'UnitNormalisation' "
                                         "(did you mean 'UnitNormalization'?)"),
    ('keras_layer("mylayers.py:Unregistered")', "Unregistered is not registered with Keras"),
    ('keras_layer("mylayers.py:Nope")', "mylayers.py has no layer class 'Nope'"),
    ('keras_layer("missing.py:Scale")', "no Python file"),
    ('keras_layer("UnitNormalization", axes=1)', "UnitNormalization: "),
])
def test_what_keras_refuses_is_located_at_the_call(tmp_path, call, message):
    text = f"template t\ninput x [6, 4]\ngraph {{\n  x -> {call} -> flatten\n}}\n"
    with pytest.raises(ArchError) as err:
        archc.load(write(tmp_path, text)).resolve()
    assert message in err.value.message
    assert (err.value.pos.line, err.value.pos.column) == (4, 8)


@pytest.mark.parametrize(("call", "message"), [
    ('keras_layer("UnitNormalisation")', "keras.layers has no layer class 'UnitNormalisation'"),
    ('keras_layer("mylayers.py:Unregistered")', "Unregistered is not registered with Keras"),
    ('keras_layer("mylayers.py:Scal")', "mylayers.py has no layer class 'Scal'"),
    ('keras_layer("missing.py:Scale")', "no Python file"),
])
def test_check_refuses_a_class_it_can_read_is_wrong(tmp_path, call, message):
    """Without importing Keras or the module: names read from their source text."""
    text = f"template t\ninput x [6, 4]\ngraph {{\n  x -> {call} -> flatten\n}}\n"
    with pytest.raises(ArchError) as err:
        pipeline.check_defaults(archc.load(write(tmp_path, text)))
    assert err.value.kind == "error" and message in err.value.message
    assert (err.value.pos.line, err.value.pos.column) == (4, 8)


def test_a_model_with_a_users_layer_saves_and_reloads(tmp_path):
    """The class is registered with Keras, so the .keras file reloads (its module imported)."""
    arch = archc.load(write(tmp_path, TEMPLATE)).resolve()
    model = lower(arch, compile=False)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras", compile=False)
    assert again.count_params() == arch.params
    assert type(again.get_layer(layer_name("keras_layer_1"))).__name__ == "Scale"
