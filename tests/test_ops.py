"""The op registry: every entry checked against the real Keras classes it names."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from archc import ops
from archc.ops import OpArgError

keras = pytest.importorskip("keras")

# A valid value for every required argument in the registry.
REQUIRED_SAMPLES = {
    "filters": 4,
    "kernel_size": 3,
    "units": 5,
    "rate": 0.5,
    "pool_size": 2,
    "activation": "relu",
    "target_shape": (-1,),
    "height": 4,
    "width": 6,
    "scale": 0.5,
}


def required_kwargs(spec: ops.OpSpec) -> dict[str, object]:
    return {a.name: REQUIRED_SAMPLES[a.name] for a in spec.args if a.required}


def keras_params(keras_class) -> dict[str, inspect.Parameter]:
    params = inspect.signature(keras_class.__init__).parameters
    return {
        name: p
        for name, p in params.items()
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


def layer_class(spec: ops.OpSpec):
    return ops.layer_class(spec)


ALL_OPS = ops.names()


# ---------------------------------------------------------------- registry is honest


def test_names_sorted_and_lookup():
    assert ALL_OPS == sorted(ALL_OPS)
    assert len(ALL_OPS) == len(set(ALL_OPS))
    for name in ALL_OPS:
        assert ops.lookup(name).name == name
    assert ops.lookup("conv3d") is None


def test_required_ops_present():
    wanted = {
        "conv2d": "Conv2D",
        "depthwise_conv2d": "DepthwiseConv2D",
        "separable_conv2d": "SeparableConv2D",
        "conv2d_transpose": "Conv2DTranspose",
        "max_pool2d": "MaxPooling2D",
        "avg_pool2d": "AveragePooling2D",
        "global_avg_pool2d": "GlobalAveragePooling2D",
        "global_max_pool2d": "GlobalMaxPooling2D",
        "dense": "Dense",
        "dropout": "Dropout",
        "batch_norm": "BatchNormalization",
        "activation": "Activation",
        "relu": "ReLU",
        "relu6": "ReLU",
        "leaky_relu": "LeakyReLU",
        "concat": "Concatenate",
        "add": "Add",
        "multiply": "Multiply",
        "upsampling2d": "UpSampling2D",
        "zero_padding2d": "ZeroPadding2D",
        "flatten": "Flatten",
        "reshape": "Reshape",
        "resizing": "Resizing",
        "rescaling": "Rescaling",
        "normalization": "Normalization",
    }
    for name, keras_class in wanted.items():
        assert ops.lookup(name).keras_class == keras_class, name
    for name in ("sigmoid", "tanh", "softmax", "swish", "hard_swish", "elu", "gelu"):
        assert ops.lookup(name) is not None, name


@pytest.mark.parametrize("name", ALL_OPS)
def test_build_layer_with_required_args(name):
    spec = ops.lookup(name)
    layer = ops.build_layer(spec, required_kwargs(spec), name=f"t_{name}")
    assert type(layer) is layer_class(spec)
    assert layer.name == f"t_{name}"
    assert spec.doc


# ssd_decode: class logits and box offsets for the 12 anchors of one 2x1 feature map
SPECIAL_INPUTS = {"ssd_decode": [(12, 3), (12, 4), (2, 1, 8)]}


@pytest.mark.parametrize("name", ALL_OPS)
def test_layer_applies_to_a_tensor(name):
    """Fixed kwargs and required args together give a layer Keras can call."""
    spec = ops.lookup(name)
    layer = ops.build_layer(spec, required_kwargs(spec), name=f"a_{name}")
    count = 1 if spec.inputs == 1 else 2
    shape = (8, 4) if name == "conv1d" else (8, 8, 4)
    inputs = [keras.Input(s) for s in SPECIAL_INPUTS.get(name, [shape] * count)]
    out = layer(inputs[0] if count == 1 else inputs)
    assert out.shape[0] is None


@pytest.mark.parametrize("name", ALL_OPS)
def test_arg_names_are_keras_parameters(name):
    spec = ops.lookup(name)
    params = keras_params(layer_class(spec))
    for key in (*spec.arg_names, *spec.fixed):
        assert key in params, f"{name}: {spec.keras_class} has no parameter {key!r}"


@pytest.mark.parametrize("name", ALL_OPS)
def test_positional_order_is_keras_order(name):
    spec = ops.lookup(name)
    keras_order = list(keras_params(layer_class(spec)))
    assert list(spec.positional_names) == keras_order[: spec.positional]


def assert_defaults_match(spec, params):
    for arg in spec.args:
        keras_default = params[arg.name].default
        if keras_default is inspect.Parameter.empty:
            assert arg.required, f"{spec.name}.{arg.name}: Keras requires it"
        else:
            assert not arg.required, f"{spec.name}.{arg.name}: Keras has a default"
            assert arg.default == keras_default, f"{spec.name}.{arg.name}"
            assert type(arg.default) is type(keras_default), f"{spec.name}.{arg.name}"


@pytest.mark.parametrize("name", ALL_OPS)
def test_defaults_match_keras(name):
    spec = ops.lookup(name)
    assert_defaults_match(spec, keras_params(layer_class(spec)))


@pytest.mark.parametrize("name", ALL_OPS)
def test_defaults_pass_their_own_checks(name):
    spec = ops.lookup(name)
    for arg in spec.args:
        if not arg.required:
            assert ops.check_value(arg, arg.default) is None, f"{name}.{arg.name}"
    for key, value in required_kwargs(spec).items():
        assert ops.check_value(spec.arg(key), value) is None, f"{name}.{key}"


def test_fixed_kwargs():
    assert ops.lookup("relu6").fixed == {"max_value": 6.0}
    assert ops.build_layer(ops.lookup("relu6"), {}).max_value == 6.0
    assert ops.build_layer(ops.lookup("gelu"), {}).activation is keras.activations.gelu
    assert ops.lookup("concat").inputs == "many"
    assert ops.lookup("subtract").inputs == 2
    assert ops.lookup("conv2d").inputs == 1


def test_kwargs_reach_the_layer():
    spec = ops.lookup("conv2d")
    kwargs = ops.bind(spec, [16, [3, 3], 2, "same"], {"activation": "relu", "use_bias": False})
    layer = ops.build_layer(spec, kwargs, name="c")
    assert (layer.filters, layer.kernel_size, layer.strides) == (16, (3, 3), (2, 2))
    assert (layer.padding, layer.use_bias) == ("same", False)
    assert layer.activation is keras.activations.relu


@pytest.mark.parametrize("interpolation", ops.UPSAMPLING_INTERPOLATIONS)
def test_upsampling_interpolations(interpolation):
    layer = ops.build_layer(ops.lookup("upsampling2d"), {"interpolation": interpolation})
    assert layer(keras.Input((4, 4, 1))).shape == (None, 8, 8, 1)


@pytest.mark.parametrize("interpolation", ops.RESIZE_INTERPOLATIONS)
def test_resize_interpolations(interpolation):
    spec = ops.lookup("resizing")
    layer = ops.build_layer(spec, {"height": 2, "width": 3, "interpolation": interpolation})
    assert layer(keras.Input((4, 4, 1))).shape == (None, 2, 3, 1)


# ---------------------------------------------------------------- train vocabularies


@pytest.mark.parametrize("name", ops.ACTIVATIONS)
def test_activation_names_resolve(name):
    assert callable(keras.activations.get(name))


@pytest.mark.parametrize("name", ops.INITIALIZERS)
def test_initializer_names_resolve(name):
    assert keras.initializers.get(name) is not None


@pytest.mark.parametrize("name", sorted(ops.LOSSES))
def test_loss_names_resolve(name):
    assert keras.losses.get(ops.build_loss(name)) is not None


@pytest.mark.parametrize("name", sorted(ops.METRICS))
def test_metric_names_resolve(name):
    extra = {"num_classes": 3} if name == "mean_iou" else {}
    metric = ops.build_metric(name, **extra)
    if isinstance(metric, str):
        assert keras.metrics.get(metric) is not None
    else:
        assert metric.name == name


def test_brief_vocabulary_present():
    for name in ("relu", "relu6", "leaky_relu", "sigmoid", "hard_sigmoid", "tanh", "softmax"):
        assert name in ops.ACTIVATIONS
    for name in ("swish", "silu", "hard_swish", "hard_silu", "elu", "selu", "gelu", "linear"):
        assert name in ops.ACTIVATIONS
    assert set(ops.OPTIMIZERS) >= {"sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta"}
    assert set(ops.OPTIMIZERS) >= {"adamax", "nadam", "ftrl", "lion"}
    assert {"categorical_crossentropy", "mse", "mae", "huber", "smooth_l1"} <= set(ops.LOSSES)
    assert {"accuracy", "auc", "precision", "recall", "iou", "mean_iou"} <= set(ops.METRICS)


@pytest.mark.parametrize("name", sorted(ops.OPTIMIZERS))
def test_optimizers_match_keras(name):
    spec = ops.OPTIMIZERS[name]
    params = keras_params(getattr(keras.optimizers, spec.keras_class))
    for key in spec.arg_names:
        assert key in params, f"{name}: {spec.keras_class} has no parameter {key!r}"
    assert_defaults_match(spec, params)
    optimizer = ops.build_optimizer(name, {"learning_rate": 0.05})
    assert type(optimizer).__name__ == spec.keras_class
    assert float(optimizer.learning_rate) == pytest.approx(0.05)


def test_build_optimizer_errors():
    with pytest.raises(OpArgError) as err:
        ops.build_optimizer("rmsrpop")
    assert err.value.hint == "did you mean 'rmsprop'?"
    with pytest.raises(OpArgError) as err:
        ops.build_optimizer("sgd", {"momentum": 1.5})
    assert err.value.keyword == "momentum"
    assert ops.build_optimizer("sgd", {"momentum": 0.9, "nesterov": True}).nesterov


# ---------------------------------------------------------------- bind


CONV = ops.lookup("conv2d")


def test_bind_positional_and_keywords():
    bound = ops.bind(CONV, [16, 3], {"padding": "same"})
    assert bound == {"filters": 16, "kernel_size": 3, "padding": "same"}


def test_bind_does_not_inspect_values():
    class Opaque:
        def __eq__(self, other):
            raise AssertionError("bind looked at a value")

        __hash__ = None
        __bool__ = __eq__

    a, b = Opaque(), Opaque()
    bound = ops.bind(CONV, [a], {"kernel_size": b})
    assert bound["filters"] is a and bound["kernel_size"] is b


def test_bind_too_many_positional():
    with pytest.raises(OpArgError) as err:
        ops.bind(CONV, [16, 3, 1, "same", 2], {})
    assert err.value.message == (
        "conv2d takes at most 4 positional arguments "
        "(filters, kernel_size, strides, padding), found 5"
    )
    assert err.value.index == 4
    assert "dilation_rate=" in err.value.hint


def test_bind_positional_on_keyword_only_ops():
    with pytest.raises(OpArgError, match="flatten takes no positional arguments, found 1"):
        ops.bind(ops.lookup("flatten"), [1], {})
    with pytest.raises(OpArgError, match=r"at most 1 positional argument \(rate\), found 2"):
        ops.bind(ops.lookup("dropout"), [0.5, 1], {})


def test_bind_unknown_keyword():
    with pytest.raises(OpArgError) as err:
        ops.bind(CONV, [16], {"kernal_size": 3})
    assert err.value.message == "conv2d has no argument 'kernal_size'"
    assert err.value.keyword == "kernal_size"
    assert err.value.hint == "did you mean 'kernel_size'?"


def test_bind_unknown_keyword_far_from_everything():
    with pytest.raises(OpArgError) as err:
        ops.bind(ops.lookup("dropout"), [0.5], {"zzz": 1})
    assert err.value.hint == "its arguments are: rate, seed"


def test_bind_fixed_keyword():
    with pytest.raises(OpArgError) as err:
        ops.bind(ops.lookup("relu6"), [], {"max_value": 3.0})
    assert "max_value=6.0" in err.value.hint


def test_bind_duplicate():
    with pytest.raises(OpArgError) as err:
        ops.bind(CONV, [16, 3], {"filters": 32})
    assert err.value.message == (
        "conv2d: argument 'filters' given twice (positionally and by keyword)"
    )
    assert err.value.keyword == "filters"
    assert err.value.index == 0


def test_bind_missing():
    with pytest.raises(OpArgError) as err:
        ops.bind(CONV, [], {"kernel_size": 3})
    assert err.value.message == "conv2d: missing required argument 'filters'"
    assert err.value.hint.startswith("usage: conv2d(filters, kernel_size, strides=(1, 1)")


def test_bind_merge_op_takes_keywords_only():
    assert ops.bind(ops.lookup("concat"), [], {"axis": 1}) == {"axis": 1}
    assert ops.bind(ops.lookup("add"), [], {}) == {}


def test_effective_args():
    values = ops.effective_args(CONV, {"filters": 8, "kernel_size": 3})
    assert values["strides"] == (1, 1) and values["padding"] == "valid"
    assert values["filters"] == 8
    assert ops.effective_args(ops.lookup("relu6"), {})["max_value"] == 6.0


# ---------------------------------------------------------------- check_value


def arg(op: str, name: str) -> ops.ArgSpec:
    return ops.lookup(op).arg(name)


@pytest.mark.parametrize(
    ("op", "name", "value", "message"),
    [
        ("conv2d", "filters", "abc", "filters: expected a positive integer, found 'abc'"),
        ("conv2d", "filters", 0, "filters: expected a positive integer, found 0"),
        ("conv2d", "filters", True, "filters: expected a positive integer, found true"),
        (
            "conv2d",
            "filters",
            16.0,
            "filters: expected a positive integer, found 16.0 (use // for integer division)",
        ),
        ("dropout", "rate", 1.5, "rate: expected a float in [0, 1), found 1.5"),
        ("dropout", "rate", 1, "rate: expected a float in [0, 1), found 1"),
        ("dropout", "rate", None, "rate: expected a float in [0, 1), found none"),
        ("conv2d", "padding", "full", "padding: expected 'valid' or 'same', found 'full'"),
        (
            "conv2d",
            "padding",
            "SAME",
            "padding: expected 'valid' or 'same', found 'SAME' (did you mean 'same'?)",
        ),
        (
            "conv2d",
            "activation",
            "rleu",
            "activation: expected an activation name (relu, sigmoid, ...) or none, "
            "found 'rleu' (did you mean 'relu'?)",
        ),
        (
            "conv2d",
            "kernel_size",
            (3, 0),
            "kernel_size: expected a positive integer or a pair of them, found (3, 0)",
        ),
        (
            "conv2d",
            "kernel_size",
            [3, 3, 3],
            "kernel_size: expected a positive integer or a pair of them, found [3, 3, 3]",
        ),
        ("conv2d", "use_bias", 1, "use_bias: expected true or false, found 1"),
        (
            "reshape",
            "target_shape",
            [-1, -1],
            "target_shape: expected a list of positive integers (one may be -1), "
            "found [-1, -1] (at most one -1)",
        ),
        ("concat", "axis", 1.0, "axis: expected an integer axis, found 1.0"),
        ("batch_norm", "epsilon", 0, "epsilon: expected a positive float, found 0"),
        (
            "upsampling2d",
            "interpolation",
            "linear",
            "interpolation: expected one of 'nearest', 'bilinear', 'bicubic', 'lanczos3', "
            "'lanczos5', found 'linear' (did you mean 'bilinear'?)",
        ),
    ],
)
def test_check_value_messages(op, name, value, message):
    assert ops.check_value(arg(op, name), value) == message


@pytest.mark.parametrize(
    ("op", "name", "value"),
    [
        ("conv2d", "filters", 16),
        ("conv2d", "kernel_size", (3, 1)),
        ("conv2d", "kernel_size", [1, 7]),
        ("conv2d", "activation", None),
        ("conv2d", "activation", "relu6"),
        ("max_pool2d", "strides", None),
        ("dropout", "rate", 0),
        ("dropout", "rate", 0.5),
        ("rescaling", "scale", 1 / 255),
        ("zero_padding2d", "padding", 1),
        ("zero_padding2d", "padding", (1, 2)),
        ("zero_padding2d", "padding", ((0, 1), (0, 1))),
        ("reshape", "target_shape", [-1, 4]),
        ("concat", "axis", -1),
        ("normalization", "axis", None),
        ("normalization", "mean", [0.1, 0.2]),
    ],
)
def test_check_value_accepts(op, name, value):
    assert ops.check_value(arg(op, name), value) is None


def test_check_value_leaves_placeholders_alone():
    placeholder = object()
    assert ops.check_value(arg("conv2d", "filters"), placeholder) is None
    assert ops.check_value(arg("conv2d", "kernel_size"), (3, placeholder)) is None


def test_build_layer_rejects_bad_values():
    with pytest.raises(OpArgError) as err:
        ops.build_layer(CONV, {"filters": 16.0, "kernel_size": 3})
    assert err.value.keyword == "filters"
    assert "use //" in err.value.message
    with pytest.raises(OpArgError):
        ops.build_layer(CONV, {"filters": 16, "kernel_size": 3, "nope": 1})


# ---------------------------------------------------------------- import cost


def test_import_does_not_load_keras():
    code = (
        "import sys, archc.ops; "
        "print(any(m in sys.modules for m in ('keras', 'tensorflow', 'jax', 'torch')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
