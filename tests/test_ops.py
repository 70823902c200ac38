"""The op registry: every entry checked against the real Keras classes it names, its shape
rule included."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import archc
from archc import arguments, factories, freeze, ops, shapes, vocab
from archc.arguments import OpArgError
from archc.lower import layer_name, lower

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
    "input_dim": 10,
    "output_dim": 3,
    "num_heads": 2,
    "key_dim": 3,
    "factor": 0.1,
    "height_factor": 0.2,
    "width_factor": 0.1,
    "layer": ("lstm", (("units", 3),)),
    "class_name": "UnitNormalization",
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
    return factories.layer_class(spec)


ALL_OPS = ops.names()
# keras_layer names its Keras class in an argument and has no rule: tests/test_keras_layer.py
CLASS_OPS = [name for name in ALL_OPS if not ops.lookup(name).open_args]


# ---------------------------------------------------------------- registry is honest


def test_names_sorted_and_lookup():
    assert ALL_OPS == sorted(ALL_OPS)
    assert len(ALL_OPS) == len(set(ALL_OPS))
    for name in ALL_OPS:
        assert ops.lookup(name).name == name
    assert ops.lookup("conv4d") is None


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


@pytest.mark.parametrize("name", CLASS_OPS)
def test_build_layer_with_required_args(name):
    spec = ops.lookup(name)
    layer = factories.build_layer(spec, required_kwargs(spec), name=f"t_{name}")
    assert type(layer) is layer_class(spec)
    assert layer.name == f"t_{name}"
    assert spec.doc


# ssd_decode: class logits and box offsets for the 12 anchors of one 2x1 feature map
# group_normalization: its default of 32 groups must divide the channels
SPECIAL_INPUTS = {"ssd_decode": [(12, 3), (12, 4), (2, 1, 8)], "group_normalization": [(4, 64)],
                  "bidirectional": [(8, 4)]}


def sample_inputs(spec: ops.OpSpec) -> list[tuple[int, ...]]:
    """Small valid input shapes for `spec`: (8, 4) for a 1-D rule, (8, 8, 4) for a 2-D one."""
    if spec.name in SPECIAL_INPUTS:
        return SPECIAL_INPUTS[spec.name]
    rank = getattr(spec.shape, "rank", 2)
    count = 1 if spec.inputs == 1 else 2
    return [(8,) * rank + (4,)] * count


@pytest.mark.parametrize("name", CLASS_OPS)
def test_shape_rule_matches_keras(name):
    """Every entry has a shape rule, and on a small valid input (fixed kwargs and required
    args together) it gives the output shape and parameter count of the Keras layer."""
    spec = ops.lookup(name)
    assert callable(getattr(spec, "shape", None)), f"{name}: no shape rule (OpSpec.shape)"
    kwargs = required_kwargs(spec)
    layer = factories.build_layer(spec, kwargs, name=f"a_{name}")
    inputs = [keras.Input(s) for s in sample_inputs(spec)]
    out = layer(inputs[0] if len(inputs) == 1 else inputs)
    result = shapes.infer(spec, arguments.effective_args(spec, kwargs), sample_inputs(spec))
    assert result.shape == tuple(out.shape[1:]), f"{name}: shape rule {spec.shape!r}"
    assert result.params == layer.count_params(), f"{name}: shape rule {spec.shape!r}"


def test_an_entry_without_a_shape_rule_is_refused():
    with pytest.raises(TypeError, match="shape"):
        ops.OpSpec(name="lstm", keras_class="LSTM", args=(arguments.arg("units", "int"),))


def test_one_dimensional_pooling_ops():
    wanted = {
        "max_pool1d": "MaxPooling1D",
        "avg_pool1d": "AveragePooling1D",
        "global_avg_pool1d": "GlobalAveragePooling1D",
        "global_max_pool1d": "GlobalMaxPooling1D",
    }
    for name, keras_class in wanted.items():
        assert ops.lookup(name).keras_class == keras_class, name


# Rules of a family at ranks no registered op uses yet: a new Keras layer of a known family
# (Conv3D, UpSampling1D, ...) is one entry in ops.py. Arguments under Keras's names.
_CONV = {"strides": 2, "padding": "same", "dilation_rate": 1, "use_bias": True}
FAMILY_CASES = [
    (shapes.Conv(3), "Conv3D", {**_CONV, "filters": 4, "kernel_size": 3, "groups": 2},
     (7, 8, 9, 4)),
    (shapes.Conv(1), "Conv1D", {**_CONV, "filters": 5, "kernel_size": 3, "strides": 1,
                                "padding": "causal", "dilation_rate": 2, "groups": 1}, (16, 4)),
    (shapes.DepthwiseConv(1), "DepthwiseConv1D",
     {**_CONV, "kernel_size": 3, "padding": "valid", "depth_multiplier": 2}, (16, 4)),
    (shapes.SeparableConv(1), "SeparableConv1D",
     {**_CONV, "filters": 6, "kernel_size": 5, "depth_multiplier": 1}, (16, 4)),
    (shapes.ConvTranspose(1), "Conv1DTranspose",
     {**_CONV, "filters": 3, "kernel_size": 3, "output_padding": None}, (8, 4)),
    (shapes.ConvTranspose(3), "Conv3DTranspose",
     {**_CONV, "filters": 3, "kernel_size": 2, "padding": "valid", "output_padding": None},
     (3, 4, 5, 2)),
    (shapes.Pool(3), "MaxPooling3D", {"pool_size": 2, "strides": None, "padding": "valid"},
     (8, 7, 6, 3)),
    (shapes.Pool(1), "AveragePooling1D", {"pool_size": 3, "strides": 2, "padding": "same"},
     (9, 3)),
    (shapes.GlobalPool(3), "GlobalAveragePooling3D", {"keepdims": True}, (4, 4, 4, 3)),
    (shapes.UpSampling(1), "UpSampling1D", {"size": 3}, (8, 4)),
    (shapes.UpSampling(3), "UpSampling3D", {"size": (2, 1, 3)}, (4, 4, 4, 2)),
    (shapes.ZeroPadding(1), "ZeroPadding1D", {"padding": (1, 2)}, (8, 4)),
    (shapes.ZeroPadding(3), "ZeroPadding3D", {"padding": ((0, 1), (1, 2), (2, 0))}, (3, 3, 3, 2)),
    (shapes.Cropping(1), "Cropping1D", {"cropping": (1, 2)}, (8, 4)),
    (shapes.Cropping(3), "Cropping3D", {"cropping": 1}, (6, 6, 6, 2)),
]


@pytest.mark.parametrize(("rule", "keras_class", "kwargs", "shape"), FAMILY_CASES,
                         ids=[case[1] for case in FAMILY_CASES])
def test_family_rules_at_other_ranks_match_keras(rule, keras_class, kwargs, shape):
    layer = getattr(keras.layers, keras_class)(**kwargs)
    out = layer(keras.Input(shape))
    result = rule(kwargs, [shape])
    assert result.shape == tuple(out.shape[1:])
    assert result.params == layer.count_params()


SEQ_TEMPLATE = """
template seq1d
input seq [16, 4]
graph {
  seq -> conv1d(8, 3, activation=relu) -> max_pool1d -> avg_pool1d(2, padding=same)
  -> global_avg_pool1d -> dense(3, activation=softmax)
}
"""


def test_one_dimensional_template_matches_keras(tmp_path):
    path = tmp_path / "seq1d.arch"
    path.write_text(SEQ_TEMPLATE)
    arch = archc.load(path).resolve()
    model = lower(arch)
    assert arch.params == model.count_params() == (3 * 4 * 8 + 8) + (8 * 3 + 3)
    found = {arch.graph.nodes[n]["op"]: arch.graph.nodes[n]["shape"] for n in arch.layers()}
    assert found == {"conv1d": (14, 8), "max_pool1d": (7, 8), "avg_pool1d": (4, 8),
                     "global_avg_pool1d": (8,), "dense": (3,)}
    for node in arch.layers():
        want = tuple(model.get_layer(layer_name(node)).output.shape[1:])
        assert arch.graph.nodes[node]["shape"] == want, node


@pytest.mark.parametrize("name", CLASS_OPS)
def test_arg_names_are_keras_parameters(name):
    spec = ops.lookup(name)
    params = keras_params(layer_class(spec))
    for key in (*spec.arg_names, *spec.fixed):
        assert key in params, f"{name}: {spec.keras_class} has no parameter {key!r}"


@pytest.mark.parametrize("name", CLASS_OPS)
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


@pytest.mark.parametrize("name", CLASS_OPS)
def test_defaults_match_keras(name):
    spec = ops.lookup(name)
    assert_defaults_match(spec, keras_params(layer_class(spec)))


@pytest.mark.parametrize("name", ALL_OPS)
def test_defaults_pass_their_own_checks(name):
    spec = ops.lookup(name)
    for arg in spec.args:
        if not arg.required:
            assert arguments.check_value(arg, arg.default) is None, f"{name}.{arg.name}"
    for key, value in required_kwargs(spec).items():
        assert arguments.check_value(spec.arg(key), value) is None, f"{name}.{key}"


def test_fixed_kwargs():
    assert ops.lookup("relu6").fixed == {"max_value": 6.0}
    assert factories.build_layer(ops.lookup("relu6"), {}).max_value == 6.0
    assert factories.build_layer(ops.lookup("gelu"), {}).activation is keras.activations.gelu
    assert ops.lookup("concat").inputs == "many"
    assert ops.lookup("subtract").inputs == 2
    assert ops.lookup("conv2d").inputs == 1


def test_kwargs_reach_the_layer():
    spec = ops.lookup("conv2d")
    kwargs = arguments.bind(
        spec, [16, [3, 3], 2, "same"], {"activation": "relu", "use_bias": False}
    )
    layer = factories.build_layer(spec, kwargs, name="c")
    assert (layer.filters, layer.kernel_size, layer.strides) == (16, (3, 3), (2, 2))
    assert (layer.padding, layer.use_bias) == ("same", False)
    assert layer.activation is keras.activations.relu


@pytest.mark.parametrize("interpolation", vocab.UPSAMPLING_INTERPOLATIONS)
def test_upsampling_interpolations(interpolation):
    layer = factories.build_layer(ops.lookup("upsampling2d"), {"interpolation": interpolation})
    assert layer(keras.Input((4, 4, 1))).shape == (None, 8, 8, 1)


@pytest.mark.parametrize("interpolation", vocab.RESIZE_INTERPOLATIONS)
def test_resize_interpolations(interpolation):
    spec = ops.lookup("resizing")
    layer = factories.build_layer(spec, {"height": 2, "width": 3, "interpolation": interpolation})
    assert layer(keras.Input((4, 4, 1))).shape == (None, 2, 3, 1)


# ---------------------------------------------------------------- train vocabularies


@pytest.mark.parametrize("name", vocab.ACTIVATIONS)
def test_activation_names_resolve(name):
    assert callable(keras.activations.get(name))


@pytest.mark.parametrize("name", vocab.INITIALIZERS)
def test_initializer_names_resolve(name):
    assert keras.initializers.get(name) is not None


@pytest.mark.parametrize("name", sorted(vocab.LOSSES))
def test_loss_names_resolve(name):
    assert keras.losses.get(factories.build_loss(name)) is not None


@pytest.mark.parametrize("name", sorted(vocab.METRICS))
def test_metric_names_resolve(name):
    extra = {"num_classes": 3} if name == "mean_iou" else {}
    metric = factories.build_metric(name, **extra)
    if isinstance(metric, str):
        assert keras.metrics.get(metric) is not None
    else:
        assert metric.name == name


def test_brief_vocabulary_present():
    for name in ("relu", "relu6", "leaky_relu", "sigmoid", "hard_sigmoid", "tanh", "softmax"):
        assert name in vocab.ACTIVATIONS
    for name in ("swish", "silu", "hard_swish", "hard_silu", "elu", "selu", "gelu", "linear"):
        assert name in vocab.ACTIVATIONS
    assert set(vocab.OPTIMIZERS) >= {"sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta"}
    assert set(vocab.OPTIMIZERS) >= {"adamax", "nadam", "ftrl", "lion"}
    assert {"categorical_crossentropy", "mse", "mae", "huber", "smooth_l1"} <= set(vocab.LOSSES)
    assert {"accuracy", "auc", "precision", "recall", "iou", "mean_iou"} <= set(vocab.METRICS)


@pytest.mark.parametrize("name", sorted(vocab.OPTIMIZERS))
def test_optimizers_match_keras(name):
    spec = vocab.OPTIMIZERS[name]
    params = keras_params(getattr(keras.optimizers, spec.keras_class))
    for key in spec.arg_names:
        assert key in params, f"{name}: {spec.keras_class} has no parameter {key!r}"
    assert_defaults_match(spec, params)
    optimizer = factories.build_optimizer(name, {"learning_rate": 0.05})
    assert type(optimizer).__name__ == spec.keras_class
    assert float(optimizer.learning_rate) == pytest.approx(0.05)


def test_build_optimizer_errors():
    with pytest.raises(OpArgError) as err:
        factories.build_optimizer("rmsrpop")
    assert err.value.hint == "did you mean 'rmsprop'?"
    with pytest.raises(OpArgError) as err:
        factories.build_optimizer("sgd", {"momentum": 1.5})
    assert err.value.keyword == "momentum"
    assert factories.build_optimizer("sgd", {"momentum": 0.9, "nesterov": True}).nesterov


# ---------------------------------------------------------------- bind


CONV = ops.lookup("conv2d")


def test_bind_positional_and_keywords():
    bound = arguments.bind(CONV, [16, 3], {"padding": "same"})
    assert bound == {"filters": 16, "kernel_size": 3, "padding": "same"}


def test_bind_does_not_inspect_values():
    class Opaque:
        def __eq__(self, other):
            raise AssertionError("bind looked at a value")

        __hash__ = None
        __bool__ = __eq__

    a, b = Opaque(), Opaque()
    bound = arguments.bind(CONV, [a], {"kernel_size": b})
    assert bound["filters"] is a and bound["kernel_size"] is b


def test_bind_too_many_positional():
    with pytest.raises(OpArgError) as err:
        arguments.bind(CONV, [16, 3, 1, "same", 2], {})
    assert err.value.message == (
        "conv2d takes at most 4 positional arguments "
        "(filters, kernel_size, strides, padding), found 5"
    )
    assert err.value.index == 4
    assert "dilation_rate=" in err.value.hint


def test_bind_positional_on_keyword_only_ops():
    with pytest.raises(OpArgError, match="flatten takes no positional arguments, found 1"):
        arguments.bind(ops.lookup("flatten"), [1], {})
    with pytest.raises(OpArgError, match=r"at most 1 positional argument \(rate\), found 2"):
        arguments.bind(ops.lookup("dropout"), [0.5, 1], {})


def test_bind_unknown_keyword():
    with pytest.raises(OpArgError) as err:
        arguments.bind(CONV, [16], {"kernal_size": 3})
    assert err.value.message == "conv2d has no argument 'kernal_size'"
    assert err.value.keyword == "kernal_size"
    assert err.value.hint == "did you mean 'kernel_size'?"


def test_bind_unknown_keyword_far_from_everything():
    with pytest.raises(OpArgError) as err:
        arguments.bind(ops.lookup("dropout"), [0.5], {"zzz": 1})
    assert err.value.hint == "its arguments are: rate, seed"


def test_bind_fixed_keyword():
    with pytest.raises(OpArgError) as err:
        arguments.bind(ops.lookup("relu6"), [], {"max_value": 3.0})
    assert "max_value=6.0" in err.value.hint


def test_bind_duplicate():
    with pytest.raises(OpArgError) as err:
        arguments.bind(CONV, [16, 3], {"filters": 32})
    assert err.value.message == (
        "conv2d: argument 'filters' given twice (positionally and by keyword)"
    )
    assert err.value.keyword == "filters"
    assert err.value.index == 0


def test_bind_missing():
    with pytest.raises(OpArgError) as err:
        arguments.bind(CONV, [], {"kernel_size": 3})
    assert err.value.message == "conv2d: missing required argument 'filters'"
    assert err.value.hint.startswith("usage: conv2d(filters, kernel_size, strides=(1, 1)")


def test_bind_merge_op_takes_keywords_only():
    assert arguments.bind(ops.lookup("concat"), [], {"axis": 1}) == {"axis": 1}
    assert arguments.bind(ops.lookup("add"), [], {}) == {}


def test_effective_args():
    values = arguments.effective_args(CONV, {"filters": 8, "kernel_size": 3})
    assert values["strides"] == (1, 1) and values["padding"] == "valid"
    assert values["filters"] == 8
    assert arguments.effective_args(ops.lookup("relu6"), {})["max_value"] == 6.0


# ---------------------------------------------------------------- check_value


def arg(op: str, name: str) -> arguments.ArgSpec:
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
            "filters: expected a positive integer, found 16.0 (use // between integers, or "
            "round(...): // of a float is still a float)",
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
    assert arguments.check_value(arg(op, name), value) == message


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
    assert arguments.check_value(arg(op, name), value) is None


def test_check_value_leaves_placeholders_alone():
    placeholder = object()
    assert arguments.check_value(arg("conv2d", "filters"), placeholder) is None
    assert arguments.check_value(arg("conv2d", "kernel_size"), (3, placeholder)) is None


def test_build_layer_rejects_bad_values():
    with pytest.raises(OpArgError) as err:
        factories.build_layer(CONV, {"filters": 16.0, "kernel_size": 3})
    assert err.value.keyword == "filters"
    assert "use //" in err.value.message
    with pytest.raises(OpArgError):
        factories.build_layer(CONV, {"filters": 16, "kernel_size": 3, "nope": 1})


# ---------------------------------------------------------------- import cost


def test_import_does_not_load_keras():
    code = (
        "import sys, archc.ops, archc.arguments, archc.vocab, archc.factories, archc.shapes; "
        "print(any(m in sys.modules for m in ('keras', 'tensorflow', 'jax', 'torch')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


BIDIRECTIONAL_TEMPLATE = """
template bi
input seq [12, 5]
graph {
  seq -> bidirectional(lstm(choice(8, 16), return_sequences=true))
  -> bidirectional(gru(4), merge_mode=sum) -> dense(3)
}
"""


def test_bidirectional_wraps_an_op_call(tmp_path):
    """`bidirectional(lstm(...))`: the wrapped call's hyperparameters are named under the
    wrapper, shapes and parameters are Keras's, and freeze writes the call back."""
    path = tmp_path / "bi.arch"
    path.write_text(BIDIRECTIONAL_TEMPLATE)
    template = archc.load(path)
    assert [h.name for h in template.hyperparameters] == ["bidirectional/lstm/units"]
    arch = template.resolve({"bidirectional/lstm/units": 16})
    model = lower(arch, compile=False)
    assert arch.params == model.count_params()
    shapes_ = [arch.graph.nodes[n]["shape"] for n in arch.layers()]
    assert shapes_ == [(12, 32), (4,), (3,)]
    frozen = tmp_path / "frozen.arch"
    frozen.write_text(freeze.freeze(arch))
    assert archc.load(frozen).resolve().params == arch.params
