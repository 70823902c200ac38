"""The op registry: an `.arch` op name -> its `OpSpec`, the one place that knows Keras layer
names.

An op is one entry in the table below: an `OpSpec` with the Keras layer class it builds
(`keras_class`: a name in `keras.layers`, or the import path of archc's own layer), its
arguments under Keras's own names, in Keras's positional order, with Keras's defaults
(`arguments.ArgSpec`), and its shape rule (`shape`: a rule of `shapes.py`, which gives the
output shape, parameters and FLOPs without Keras). A Keras layer of a family `shapes.py`
already knows (ConvND, PoolingND, GlobalPoolingND, ...) is one entry here and nothing else;
a layer of a new family needs its rule in `shapes.py` first. `tests/test_ops.py` checks every
entry against Keras: class, argument names, order and defaults, output shape and parameters.

The `train { }` vocabulary (activations, optimizers, losses, metrics) is in `vocab.py`;
`arguments.py` binds and checks a call's arguments; `factories.py` builds the Keras objects.
This module never imports Keras: `archc check` uses it and must stay fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from . import shapes
from .arguments import (
    ArgSpec,
    CallSpec,
    arg,
    check_value,
    effective_args,
    layer_call,
    positive,
    unit,
)
from .vocab import (
    ACTIVATIONS,
    INITIALIZERS,
    PADDINGS,
    RESIZE_INTERPOLATIONS,
    UPSAMPLING_INTERPOLATIONS,
)


@dataclass(frozen=True, kw_only=True)
class OpSpec(CallSpec):
    """An `.arch` op: a Keras layer class, its arguments, its shape rule, its input count.

    `shape` computes the output shape, parameters and FLOPs from the effective arguments and
    the input shapes (`shapes.Rule`); it is required, so an entry without one is refused when
    the table is built. `inputs` is 1 for ordinary layers, an exact count
    (subtract: 2), or "many" for merge ops, whose positional arguments in a template are
    tensors, not layer arguments. `fixed` holds Keras kwargs the op presets (`relu6` =
    ReLU(max_value=6.0)); a template cannot set them.
    """

    shape: shapes.Rule
    inputs: int | Literal["many"] = 1
    fixed: dict[str, Any] = field(default_factory=dict)
    open_args: bool = False  # any keyword goes to the Keras class, checked by Keras only

    __hash__ = CallSpec.__hash__

    def __post_init__(self):
        super().__post_init__()
        if not callable(self.shape):
            raise ValueError(f"{self.name}: its shape rule is not a function")
        if self.inputs != "many" and not (isinstance(self.inputs, int) and self.inputs >= 1):
            raise ValueError(f"{self.name}: inputs is a count >= 1 or 'many'")
        clash = set(self.fixed) & set(self.arg_names)
        if clash:
            raise ValueError(f"{self.name}: {sorted(clash)} both fixed and an argument")


# ---------------------------------------------------------------- argument tables


def _init(name: str, default: str) -> ArgSpec:
    return arg(name, "str", default, choices=INITIALIZERS)


_FILTERS = arg("filters", "int", minimum=1)
_UNITS = arg("units", "int", minimum=1)
_KERNEL = arg("kernel_size", "int_or_pair", minimum=1)
_STRIDES = arg("strides", "int_or_pair", (1, 1), minimum=1)
_POOL_STRIDES = arg("strides", "int_or_pair", None, minimum=1)
_POOL_STRIDES_1D = arg("strides", "int", None, minimum=1)
_PADDING = arg("padding", "str", "valid", choices=PADDINGS)
_DILATION = arg("dilation_rate", "int_or_pair", (1, 1), minimum=1)
_DEPTH_MULT = arg("depth_multiplier", "int", 1, minimum=1)
_ACTIVATION = arg("activation", "activation", None, choices=ACTIVATIONS)
_KERNEL_3D = arg("kernel_size", "int_or_triple", minimum=1)
_STRIDES_3D = arg("strides", "int_or_triple", (1, 1, 1), minimum=1)
_DILATION_3D = arg("dilation_rate", "int_or_triple", (1, 1, 1), minimum=1)
_USE_BIAS = arg("use_bias", "bool", True)
_KERNEL_INIT = _init("kernel_initializer", "glorot_uniform")
_BIAS_INIT = _init("bias_initializer", "zeros")
_AXIS = arg("axis", "axis", -1)
_RATE = arg("rate", "float", minimum=0, maximum=1, exclusive_maximum=True)
_SEED = arg("seed", "int", None, minimum=0)
_KEEPDIMS = arg("keepdims", "bool", False)


def _activation_op(name: str) -> OpSpec:
    return OpSpec(
        name=name,
        keras_class="Activation",
        shape=shapes.same_shape,
        fixed={"activation": name},
        doc=f"the {name} activation",
    )


def _merge_op(name: str, keras_class: str, doc: str, inputs: int | str = "many") -> OpSpec:
    return OpSpec(
        name=name,
        keras_class=keras_class,
        shape=shapes.elementwise,
        inputs=inputs,
        doc=doc,
    )


_CONV_OPS = [
    OpSpec(
        name="conv1d",
        keras_class="Conv1D",
        shape=shapes.Conv(1),
        positional=4,
        args=(
            _FILTERS,
            arg("kernel_size", "int", minimum=1),
            arg("strides", "int", 1, minimum=1),
            arg("padding", "str", "valid", choices=("valid", "same", "causal")),
            arg("dilation_rate", "int", 1, minimum=1),
            arg("groups", "int", 1, minimum=1),
            _ACTIVATION,
            _USE_BIAS,
            _KERNEL_INIT,
            _BIAS_INIT,
        ),
        doc="1D convolution (ECA's channel interaction)",
    ),
    OpSpec(
        name="conv2d",
        keras_class="Conv2D",
        shape=shapes.Conv(2),
        positional=4,
        args=(
            _FILTERS,
            _KERNEL,
            _STRIDES,
            _PADDING,
            _DILATION,
            arg("groups", "int", 1, minimum=1),
            _ACTIVATION,
            _USE_BIAS,
            _KERNEL_INIT,
            _BIAS_INIT,
        ),
        doc="2D convolution",
    ),
    OpSpec(
        name="depthwise_conv2d",
        keras_class="DepthwiseConv2D",
        shape=shapes.DepthwiseConv(2),
        positional=4,
        args=(
            _KERNEL,
            _STRIDES,
            _PADDING,
            _DEPTH_MULT,
            _DILATION,
            _ACTIVATION,
            _USE_BIAS,
            _init("depthwise_initializer", "glorot_uniform"),
            _BIAS_INIT,
        ),
        doc="depthwise 2D convolution (one filter per input channel)",
    ),
    OpSpec(
        name="separable_conv2d",
        keras_class="SeparableConv2D",
        shape=shapes.SeparableConv(2),
        positional=4,
        args=(
            _FILTERS,
            _KERNEL,
            _STRIDES,
            _PADDING,
            _DILATION,
            _DEPTH_MULT,
            _ACTIVATION,
            _USE_BIAS,
            _init("depthwise_initializer", "glorot_uniform"),
            _init("pointwise_initializer", "glorot_uniform"),
            _BIAS_INIT,
        ),
        doc="depthwise-separable 2D convolution",
    ),
    OpSpec(
        name="conv2d_transpose",
        keras_class="Conv2DTranspose",
        shape=shapes.ConvTranspose(2),
        positional=4,
        args=(
            _FILTERS,
            _KERNEL,
            _STRIDES,
            _PADDING,
            arg("output_padding", "int_or_pair", None, minimum=0),
            _DILATION,
            _ACTIVATION,
            _USE_BIAS,
            _KERNEL_INIT,
            _BIAS_INIT,
        ),
        doc="transposed 2D convolution (learned upsampling)",
    ),
]

_POOL_OPS = [
    OpSpec(
        name="max_pool1d",
        keras_class="MaxPooling1D",
        shape=shapes.Pool(1),
        positional=3,
        args=(arg("pool_size", "int", 2, minimum=1), _POOL_STRIDES_1D, _PADDING),
        doc="1D max pooling over the steps (strides default to pool_size)",
    ),
    OpSpec(
        name="avg_pool1d",
        keras_class="AveragePooling1D",
        shape=shapes.Pool(1),
        positional=3,
        args=(arg("pool_size", "int", minimum=1), _POOL_STRIDES_1D, _PADDING),
        doc="1D average pooling over the steps (strides default to pool_size)",
    ),
    OpSpec(
        name="global_avg_pool1d",
        keras_class="GlobalAveragePooling1D",
        shape=shapes.GlobalPool(1),
        args=(_KEEPDIMS,),
        doc="mean over the steps",
    ),
    OpSpec(
        name="global_max_pool1d",
        keras_class="GlobalMaxPooling1D",
        shape=shapes.GlobalPool(1),
        args=(_KEEPDIMS,),
        doc="maximum over the steps",
    ),
    OpSpec(
        name="max_pool2d",
        keras_class="MaxPooling2D",
        shape=shapes.Pool(2),
        positional=3,
        args=(arg("pool_size", "int_or_pair", (2, 2), minimum=1), _POOL_STRIDES, _PADDING),
        doc="2D max pooling (strides default to pool_size)",
    ),
    OpSpec(
        name="avg_pool2d",
        keras_class="AveragePooling2D",
        shape=shapes.Pool(2),
        positional=3,
        args=(arg("pool_size", "int_or_pair", minimum=1), _POOL_STRIDES, _PADDING),
        doc="2D average pooling (strides default to pool_size)",
    ),
    OpSpec(
        name="global_avg_pool2d",
        keras_class="GlobalAveragePooling2D",
        shape=shapes.GlobalPool(2),
        args=(_KEEPDIMS,),
        doc="mean over height and width",
    ),
    OpSpec(
        name="global_max_pool2d",
        keras_class="GlobalMaxPooling2D",
        shape=shapes.GlobalPool(2),
        args=(_KEEPDIMS,),
        doc="maximum over height and width",
    ),
]

_CORE_OPS = [
    OpSpec(
        name="dense",
        keras_class="Dense",
        shape=shapes.dense,
        positional=3,
        args=(_UNITS, _ACTIVATION, _USE_BIAS, _KERNEL_INIT, _BIAS_INIT),
        doc="fully connected layer on the last axis",
    ),
    OpSpec(
        name="dropout",
        keras_class="Dropout",
        shape=shapes.same_shape,
        positional=1,
        args=(_RATE, _SEED),
        doc="randomly zero a fraction `rate` of inputs while training",
    ),
    OpSpec(
        name="spatial_dropout2d",
        keras_class="SpatialDropout2D",
        shape=shapes.SpatialDropout(2),
        positional=1,
        args=(_RATE, _SEED),
        doc="drop whole feature maps while training",
    ),
    OpSpec(
        name="batch_norm",
        keras_class="BatchNormalization",
        shape=shapes.batch_norm,
        positional=3,
        args=(
            _AXIS,
            unit("momentum", 0.99),
            positive("epsilon", 0.001),
            arg("center", "bool", True),
            arg("scale", "bool", True),
            _init("beta_initializer", "zeros"),
            _init("gamma_initializer", "ones"),
            _init("moving_mean_initializer", "zeros"),
            _init("moving_variance_initializer", "ones"),
        ),
        doc="batch normalization",
    ),
    OpSpec(
        name="layer_norm",
        keras_class="LayerNormalization",
        shape=shapes.layer_norm,
        positional=2,
        args=(
            _AXIS,
            positive("epsilon", 0.001),
            arg("center", "bool", True),
            arg("scale", "bool", True),
        ),
        doc="layer normalization",
    ),
    OpSpec(
        name="identity",
        keras_class="Identity",
        shape=shapes.same_shape,
        doc="pass the input through unchanged",
    ),
]

_ACTIVATION_OPS = [
    OpSpec(
        name="activation",
        keras_class="Activation",
        shape=shapes.same_shape,
        positional=1,
        args=(arg("activation", "activation", choices=ACTIVATIONS),),
        doc="apply a named activation",
    ),
    OpSpec(
        name="relu",
        keras_class="ReLU",
        shape=shapes.same_shape,
        positional=3,
        args=(
            arg("max_value", "float", None, minimum=0),
            arg("negative_slope", "float", 0.0, minimum=0),
            arg("threshold", "float", 0.0, minimum=0),
        ),
        doc="rectified linear unit, optionally capped and leaky",
    ),
    OpSpec(
        name="relu6",
        keras_class="ReLU",
        shape=shapes.same_shape,
        fixed={"max_value": 6.0},
        args=(
            arg("negative_slope", "float", 0.0, minimum=0),
            arg("threshold", "float", 0.0, minimum=0),
        ),
        doc="ReLU capped at 6 (MobileNet)",
    ),
    OpSpec(
        name="leaky_relu",
        keras_class="LeakyReLU",
        shape=shapes.same_shape,
        positional=1,
        args=(arg("negative_slope", "float", 0.3, minimum=0),),
        doc="leaky ReLU",
    ),
    OpSpec(
        name="softmax",
        keras_class="Softmax",
        shape=shapes.along_axis,
        positional=1,
        args=(_AXIS,),
        doc="softmax over `axis`",
    ),
    *(
        _activation_op(name)
        for name in (
            "sigmoid",
            "hard_sigmoid",
            "tanh",
            "swish",
            "silu",
            "hard_swish",
            "hard_silu",
            "elu",
            "selu",
            "gelu",
            "mish",
            "softplus",
        )
    ),
]

_MERGE_OPS = [
    OpSpec(
        name="concat",
        keras_class="Concatenate",
        shape=shapes.concat,
        inputs="many",
        args=(_AXIS,),
        doc="concatenate tensors along `axis` (channels by default)",
    ),
    _merge_op("add", "Add", "element-wise sum"),
    _merge_op("multiply", "Multiply", "element-wise product (broadcasts, e.g. SE gating)"),
    _merge_op("average", "Average", "element-wise mean"),
    _merge_op("maximum", "Maximum", "element-wise maximum"),
    _merge_op("minimum", "Minimum", "element-wise minimum"),
    _merge_op("subtract", "Subtract", "first input minus second", inputs=2),
]

_NONNEG_PADDING = {"minimum": 0}

_RESHAPE_OPS = [
    OpSpec(
        name="upsampling2d",
        keras_class="UpSampling2D",
        shape=shapes.UpSampling(2),
        positional=1,
        args=(
            arg("size", "int_or_pair", (2, 2), minimum=1),
            arg("interpolation", "str", "nearest", choices=UPSAMPLING_INTERPOLATIONS),
        ),
        doc="repeat rows and columns (or interpolate) by `size`",
    ),
    OpSpec(
        name="zero_padding2d",
        keras_class="ZeroPadding2D",
        shape=shapes.ZeroPadding(2),
        positional=1,
        args=(arg("padding", "padding_spec", (1, 1), **_NONNEG_PADDING),),
        doc="pad height and width with zeros",
    ),
    OpSpec(
        name="cropping2d",
        keras_class="Cropping2D",
        shape=shapes.Cropping(2),
        positional=1,
        args=(arg("cropping", "padding_spec", ((0, 0), (0, 0)), **_NONNEG_PADDING),),
        doc="crop rows and columns off height and width",
    ),
    OpSpec(
        name="flatten",
        keras_class="Flatten",
        shape=shapes.flatten,
        doc="flatten all but the batch axis",
    ),
    OpSpec(
        name="reshape",
        keras_class="Reshape",
        shape=shapes.reshape,
        positional=1,
        args=(arg("target_shape", "shape"),),
        doc="reshape to `target_shape` (batch axis excluded; one -1 allowed)",
    ),
    OpSpec(
        name="resizing",
        keras_class="Resizing",
        shape=shapes.resizing,
        positional=3,
        args=(
            arg("height", "int", minimum=1),
            arg("width", "int", minimum=1),
            arg("interpolation", "str", "bilinear", choices=RESIZE_INTERPOLATIONS),
            arg("crop_to_aspect_ratio", "bool", False),
            arg("pad_to_aspect_ratio", "bool", False),
        ),
        doc="resize images to height x width",
    ),
    OpSpec(
        name="rescaling",
        keras_class="Rescaling",
        shape=shapes.same_shape,
        positional=2,
        args=(arg("scale", "float"), arg("offset", "float", 0.0)),
        doc="x * scale + offset",
    ),
    OpSpec(
        name="normalization",
        keras_class="Normalization",
        shape=shapes.normalization,
        args=(
            arg("axis", "axis", -1, nullable=True),
            arg("mean", "any", None),
            arg("variance", "any", None),
            arg("invert", "bool", False),
        ),
        doc="(x - mean) / sqrt(variance); give both mean and variance, or adapt it",
    ),
]


def _reduce_op(reduction: str) -> OpSpec:
    return OpSpec(
        name=f"reduce_{reduction}",
        keras_class="archc.layers.Reduce",
        shape=shapes.reduce,
        positional=2,
        args=(arg("axis", "axis", -1), _KEEPDIMS),
        fixed={"reduction": reduction},
        doc=f"{reduction} over an axis (archc's own layer: Keras has none)",
    )


_REDUCE_OPS = [_reduce_op(r) for r in ("mean", "max", "sum")]

_DETECTION_OPS = [
    OpSpec(
        name="ssd_decode",
        keras_class="archc.ssd.SSDDecode",
        shape=shapes.ssd_decode,
        inputs="many",
        args=(
            arg("max_detections", "int", 100, minimum=1),
            unit("iou_threshold", 0.45),
            unit("score_threshold", 0.01),
            arg("s_min", "float", 0.2, minimum=0, maximum=1, exclusive_minimum=True),
            arg("s_max", "float", 0.9, minimum=0, maximum=1, exclusive_minimum=True),
            arg("aspect_ratios", "any", (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)),
            arg("variances", "any", (0.1, 0.2)),
            arg("feature_maps", "any", None),
        ),
        doc="SSD decoding: (class logits, box offsets, feature maps...) -> (max_detections, 6) "
        "[ymin, xmin, ymax, xmax, score, class] after TensorFlow's per-class non-max "
        "suppression (archc's own layer, see archc.ssd)",
    ),
]

_CONV_OPS_MORE = [
    OpSpec(
        name="conv3d",
        keras_class="Conv3D",
        shape=shapes.Conv(3),
        positional=4,
        args=(_FILTERS, _KERNEL_3D, _STRIDES_3D, _PADDING, _DILATION_3D,
              arg("groups", "int", 1, minimum=1), _ACTIVATION, _USE_BIAS, _KERNEL_INIT,
              _BIAS_INIT),
        doc="3D convolution (volumes, video)",
    ),
    OpSpec(
        name="conv1d_transpose",
        keras_class="Conv1DTranspose",
        shape=shapes.ConvTranspose(1),
        positional=4,
        args=(_FILTERS, arg("kernel_size", "int", minimum=1), arg("strides", "int", 1, minimum=1),
              _PADDING, arg("output_padding", "int", None, minimum=0),
              arg("dilation_rate", "int", 1, minimum=1), _ACTIVATION, _USE_BIAS, _KERNEL_INIT,
              _BIAS_INIT),
        doc="transposed 1D convolution (learned upsampling of sequences)",
    ),
    OpSpec(
        name="conv3d_transpose",
        keras_class="Conv3DTranspose",
        shape=shapes.ConvTranspose(3),
        positional=4,
        args=(_FILTERS, _KERNEL_3D, _STRIDES_3D, _PADDING,
              arg("output_padding", "int_or_triple", None, minimum=0), _DILATION_3D,
              _ACTIVATION, _USE_BIAS, _KERNEL_INIT, _BIAS_INIT),
        doc="transposed 3D convolution",
    ),
    OpSpec(
        name="separable_conv1d",
        keras_class="SeparableConv1D",
        shape=shapes.SeparableConv(1),
        positional=4,
        args=(_FILTERS, arg("kernel_size", "int", minimum=1), arg("strides", "int", 1, minimum=1),
              _PADDING, arg("dilation_rate", "int", 1, minimum=1), _DEPTH_MULT, _ACTIVATION,
              _USE_BIAS, _init("depthwise_initializer", "glorot_uniform"),
              _init("pointwise_initializer", "glorot_uniform"), _BIAS_INIT),
        doc="depthwise-separable 1D convolution",
    ),
    OpSpec(
        name="depthwise_conv1d",
        keras_class="DepthwiseConv1D",
        shape=shapes.DepthwiseConv(1),
        positional=4,
        args=(arg("kernel_size", "int", minimum=1), arg("strides", "int", 1, minimum=1),
              _PADDING, _DEPTH_MULT, arg("dilation_rate", "int", 1, minimum=1), _ACTIVATION,
              _USE_BIAS, _init("depthwise_initializer", "glorot_uniform"), _BIAS_INIT),
        doc="depthwise 1D convolution (one filter per input channel)",
    ),
]

_POOL_3D = arg("strides", "int_or_triple", None, minimum=1)

_POOL_OPS_3D = [
    OpSpec(
        name="max_pool3d",
        keras_class="MaxPooling3D",
        shape=shapes.Pool(3),
        positional=3,
        args=(arg("pool_size", "int_or_triple", (2, 2, 2), minimum=1), _POOL_3D, _PADDING),
        doc="3D max pooling (strides default to pool_size)",
    ),
    OpSpec(
        name="avg_pool3d",
        keras_class="AveragePooling3D",
        shape=shapes.Pool(3),
        positional=3,
        args=(arg("pool_size", "int_or_triple", minimum=1), _POOL_3D, _PADDING),
        doc="3D average pooling (strides default to pool_size)",
    ),
    OpSpec(
        name="global_avg_pool3d",
        keras_class="GlobalAveragePooling3D",
        shape=shapes.GlobalPool(3),
        args=(_KEEPDIMS,),
        doc="mean over depth, height and width",
    ),
    OpSpec(
        name="global_max_pool3d",
        keras_class="GlobalMaxPooling3D",
        shape=shapes.GlobalPool(3),
        args=(_KEEPDIMS,),
        doc="maximum over depth, height and width",
    ),
]


def _recurrent_args(gates: str, *extra: ArgSpec) -> tuple[ArgSpec, ...]:
    """A recurrent layer's arguments in Keras's order; SimpleRNN has no recurrent_activation."""
    head = (_UNITS, arg("activation", "activation", "tanh", choices=ACTIVATIONS))
    if gates != "simple":
        head += (arg("recurrent_activation", "activation", "sigmoid", choices=ACTIVATIONS),)
    return head + (
        _USE_BIAS, _KERNEL_INIT, _init("recurrent_initializer", "orthogonal"), _BIAS_INIT,
        *extra,
        unit("dropout", 0.0),
        unit("recurrent_dropout", 0.0),
        _SEED,
        arg("return_sequences", "bool", False),
        arg("go_backwards", "bool", False),
    )


_SEQUENCE_OPS = [
    OpSpec(
        name="lstm",
        keras_class="LSTM",
        shape=shapes.Recurrent(4),
        positional=1,
        args=_recurrent_args("lstm", arg("unit_forget_bias", "bool", True)),
        doc="long short-term memory over (steps, features); the last output, or every step's "
        "with return_sequences=true",
    ),
    OpSpec(
        name="gru",
        keras_class="GRU",
        shape=shapes.Recurrent(3),
        positional=1,
        args=(*_recurrent_args("gru"), arg("reset_after", "bool", True)),
        doc="gated recurrent unit over (steps, features)",
    ),
    OpSpec(
        name="simple_rnn",
        keras_class="SimpleRNN",
        shape=shapes.Recurrent(1),
        positional=1,
        args=_recurrent_args("simple"),
        doc="fully connected recurrent layer over (steps, features)",
    ),
    OpSpec(
        name="embedding",
        keras_class="Embedding",
        shape=shapes.embedding,
        positional=2,
        args=(
            arg("input_dim", "int", minimum=1),
            arg("output_dim", "int", minimum=1),
            arg("embeddings_initializer", "str", "uniform", choices=("uniform", *INITIALIZERS)),
            arg("mask_zero", "bool", False),
        ),
        doc="integer ids in [0, input_dim) -> vectors of output_dim",
    ),
    OpSpec(
        name="multi_head_attention",
        keras_class="archc.layers.SelfAttention",
        shape=shapes.self_attention,
        positional=2,
        args=(
            arg("num_heads", "int", minimum=1),
            arg("key_dim", "int", minimum=1),
            arg("value_dim", "int", None, minimum=1),
            unit("dropout", 0.0),
            _USE_BIAS,
        ),
        doc="self-attention: Keras's MultiHeadAttention with the input as query, key and value",
    ),
    OpSpec(
        name="spatial_dropout1d",
        keras_class="SpatialDropout1D",
        shape=shapes.SpatialDropout(1),
        positional=1,
        args=(_RATE, _SEED),
        doc="drop whole channels of a sequence while training",
    ),
    OpSpec(
        name="spatial_dropout3d",
        keras_class="SpatialDropout3D",
        shape=shapes.SpatialDropout(3),
        positional=1,
        args=(_RATE, _SEED),
        doc="drop whole feature volumes while training",
    ),
    OpSpec(
        name="group_normalization",
        keras_class="GroupNormalization",
        shape=shapes.group_norm,
        positional=5,
        args=(
            arg("groups", "int", 32, minimum=1),
            _AXIS,
            positive("epsilon", 0.001),
            arg("center", "bool", True),
            arg("scale", "bool", True),
        ),
        doc="normalization over groups of channels (groups must divide them)",
    ),
]

def _bidirectional(a, in_shapes) -> shapes.Result:
    """Bidirectional: the wrapped recurrent op's rule, run forwards and backwards; `concat`
    doubles its features, the other merge modes keep them. (A rule here, not in shapes.py,
    because it looks the wrapped op up in the table.)"""
    name, given = layer_call(a["layer"])
    inner = OPS[name]
    for key, value in given.items():
        problem = check_value(inner.arg(key), value) if inner.arg(key) else None
        if problem:
            raise shapes.ShapeFault(f"{name}: {problem}")
    one = inner.shape(effective_args(inner, given), in_shapes)
    wide = one.shape[-1] * (2 if a.get("merge_mode", "concat") == "concat" else 1)
    return shapes.Result((*one.shape[:-1], wide), 2 * one.params, 2 * one.flops)


_RECURRENT = ("lstm", "gru", "simple_rnn")

_SEQUENCE_OPS.append(OpSpec(
    name="bidirectional",
    keras_class="Bidirectional",
    shape=_bidirectional,
    positional=2,
    args=(arg("layer", "layer", choices=_RECURRENT),
          arg("merge_mode", "str", "concat", choices=("concat", "sum", "mul", "ave"))),
    doc="a recurrent op run forwards and backwards, its two outputs merged: "
    "bidirectional(lstm(64), merge_mode=concat)",
))

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_AUG_INTERPOLATIONS = ("nearest", "bilinear")


def _factor(name: str, default=None, **kw) -> ArgSpec:
    if default is None:
        return arg(name, "float_or_pair", **kw)
    return arg(name, "float_or_pair", default, **kw)


def _fill_args() -> tuple[ArgSpec, ...]:
    return (
        arg("fill_mode", "str", "reflect", choices=_FILL_MODES),
        arg("interpolation", "str", "bilinear", choices=_AUG_INTERPOLATIONS),
        _SEED,
        arg("fill_value", "float", 0.0),
    )


_IMAGE_OPS = [
    OpSpec(
        name="random_flip",
        keras_class="RandomFlip",
        shape=shapes.image,
        positional=2,
        args=(arg("mode", "str", "horizontal_and_vertical",
                  choices=("horizontal", "vertical", "horizontal_and_vertical")), _SEED),
        doc="flip images at random while training",
    ),
    OpSpec(
        name="random_translation",
        keras_class="RandomTranslation",
        shape=shapes.image,
        positional=2,
        args=(_factor("height_factor", minimum=-1, maximum=1),
              _factor("width_factor", minimum=-1, maximum=1), *_fill_args()),
        doc="shift images by a random fraction of their height and width while training",
    ),
    OpSpec(
        name="random_rotation",
        keras_class="RandomRotation",
        shape=shapes.image,
        positional=1,
        args=(_factor("factor", minimum=-1, maximum=1), *_fill_args()),
        doc="rotate images by a random fraction of a full turn while training",
    ),
    OpSpec(
        name="random_zoom",
        keras_class="RandomZoom",
        shape=shapes.image,
        positional=2,
        args=(_factor("height_factor", minimum=-1, maximum=1, exclusive_minimum=True),
              arg("width_factor", "float_or_pair", None, minimum=-1, maximum=1,
                  exclusive_minimum=True),
              *_fill_args()),
        doc="zoom images in or out at random while training",
    ),
    OpSpec(
        name="random_contrast",
        keras_class="RandomContrast",
        shape=shapes.image,
        positional=3,
        args=(_factor("factor", minimum=0, maximum=1), arg("value_range", "any", (0, 255)),
              _SEED),
        doc="scale the contrast of images at random while training",
    ),
    OpSpec(
        name="random_brightness",
        keras_class="RandomBrightness",
        shape=shapes.image,
        positional=3,
        args=(_factor("factor", minimum=-1, maximum=1), arg("value_range", "any", (0, 255)),
              _SEED),
        doc="shift the brightness of images at random while training",
    ),
    OpSpec(
        name="random_crop",
        keras_class="RandomCrop",
        shape=shapes.crop,
        positional=3,
        args=(arg("height", "int", minimum=1), arg("width", "int", minimum=1), _SEED),
        doc="crop a random height x width window while training, the centre one otherwise",
    ),
    OpSpec(
        name="center_crop",
        keras_class="CenterCrop",
        shape=shapes.crop,
        positional=2,
        args=(arg("height", "int", minimum=1), arg("width", "int", minimum=1)),
        doc="crop the central height x width window (resizing a smaller image first)",
    ),
]

_ESCAPE_OPS = [
    OpSpec(
        name="keras_layer",
        keras_class="",
        shape=shapes.from_keras,
        positional=1,
        args=(arg("class_name", "str"),),
        open_args=True,
        doc="any Keras layer by its class name (`keras_layer(\"UnitNormalization\", axis=-1)`), "
        "or a registered class of the user's (`keras_layer(\"mylayers.py:Scale\", factor=2.0)`); "
        "its other keywords go to the class as they are",
    ),
]

# ---------------------------------------------------------------- the table


def _registry(specs: Sequence[OpSpec]) -> Mapping[str, OpSpec]:
    table: dict[str, OpSpec] = {}
    for spec in specs:
        if spec.name in table:
            raise ValueError(f"op {spec.name!r} registered twice")
        table[spec.name] = spec
    return MappingProxyType(table)


OPS: Mapping[str, OpSpec] = _registry(
    _CONV_OPS + _POOL_OPS + _CORE_OPS + _ACTIVATION_OPS + _MERGE_OPS + _RESHAPE_OPS
    + _REDUCE_OPS + _DETECTION_OPS + _CONV_OPS_MORE + _POOL_OPS_3D + _SEQUENCE_OPS + _IMAGE_OPS
    + _ESCAPE_OPS
)


# ---------------------------------------------------------------- lookup


def lookup(name: str) -> OpSpec | None:
    """The op called `name`, or None."""
    return OPS.get(name)


def names() -> list[str]:
    """All op names, sorted."""
    return sorted(OPS)
