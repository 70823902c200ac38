"""The op registry: the one place that knows Keras layer names.

Each `.arch` op (`conv2d`, `max_pool2d`, ...) is an `OpSpec`: the Keras layer class it builds,
its arguments under Keras's own names, in Keras's positional order, with Keras's defaults.
Adding an op is one entry in `_OPS`. The `train { }` vocabulary (activations, optimizers,
losses, metrics) lives here too, as plain tables of Keras names.

This module must not import keras or tensorflow at import time: `archc check` uses it and
must stay fast. Keras is imported inside the functions that build Keras objects.
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

ArgType = Literal[
    "int",
    "float",
    "bool",
    "str",
    "int_or_pair",  # an int or a pair of ints: kernel_size, strides, pool_size, size
    "padding_spec",  # an int, a pair of ints, or a pair of pairs (ZeroPadding2D, Cropping2D)
    "shape",  # a list of ints, at most one -1 (Reshape)
    "activation",  # a name in ACTIVATIONS
    "axis",  # an int
    "any",  # not checked
]


class OpArgError(Exception):
    """A wrong, unknown, repeated or missing argument to an op.

    `index` is the 0-based position of the offending positional argument, `keyword` the
    offending keyword; the caller turns them into a source position.
    """

    def __init__(
        self,
        message: str,
        index: int | None = None,
        keyword: str | None = None,
        hint: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.index = index
        self.keyword = keyword
        self.hint = hint


# ---------------------------------------------------------------- data model


class ArgSpec(BaseModel):
    """One argument of a Keras class, under Keras's name, with Keras's default.

    `minimum`/`maximum` bound numbers (and each element of pairs and shapes); they are
    inclusive unless `exclusive_minimum`/`exclusive_maximum`. `None` is accepted where the
    Keras default is `None` or `nullable` is set.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    type: ArgType
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    nullable: bool = False

    @property
    def accepts_none(self) -> bool:
        return self.nullable or (not self.required and self.default is None)


class _Callable(BaseModel):
    """What ops and optimizers share: a Keras class and its arguments."""

    model_config = ConfigDict(frozen=True)

    name: str
    keras_class: str
    args: tuple[ArgSpec, ...] = ()
    positional: int = 0  # how many leading `args` a template may pass positionally
    doc: str = ""

    @model_validator(mode="after")
    def _consistent(self):
        names = [a.name for a in self.args]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: an argument is listed twice")
        if self.positional > len(self.args):
            raise ValueError(f"{self.name}: more positional slots than arguments")
        return self

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.name))

    def arg(self, name: str) -> ArgSpec | None:
        return next((a for a in self.args if a.name == name), None)

    @property
    def arg_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.args)

    @property
    def positional_names(self) -> tuple[str, ...]:
        return self.arg_names[: self.positional]


class OpSpec(_Callable):
    """An `.arch` op: a Keras layer class, its arguments, how many input tensors it takes.

    `inputs` is 1 for ordinary layers, an exact count (subtract: 2), or "many" for merge ops,
    whose positional arguments in a template are tensors, not layer arguments. `fixed` holds
    Keras kwargs the op presets (`relu6` = ReLU(max_value=6.0)); a template cannot set them.
    """

    inputs: int | Literal["many"] = 1
    fixed: dict[str, Any] = {}

    @model_validator(mode="after")
    def _fixed_apart(self):
        clash = set(self.fixed) & set(self.arg_names)
        if clash:
            raise ValueError(f"{self.name}: {sorted(clash)} both fixed and an argument")
        return self


class OptimizerSpec(_Callable):
    """A Keras optimizer, as named in `train { optimizer = ... }`."""


# ---------------------------------------------------------------- vocabularies

ACTIVATIONS: tuple[str, ...] = (
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "sigmoid",
    "hard_sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "swish",
    "silu",
    "hard_swish",
    "hard_silu",
    "mish",
    "softplus",
    "softsign",
    "exponential",
    "linear",
)

INITIALIZERS: tuple[str, ...] = (
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
    "zeros",
    "ones",
    "random_normal",
    "random_uniform",
    "truncated_normal",
    "orthogonal",
    "variance_scaling",
)

PADDINGS: tuple[str, ...] = ("valid", "same")
UPSAMPLING_INTERPOLATIONS: tuple[str, ...] = (
    "nearest",
    "bilinear",
    "bicubic",
    "lanczos3",
    "lanczos5",
)
RESIZE_INTERPOLATIONS: tuple[str, ...] = UPSAMPLING_INTERPOLATIONS + ("area",)

# Template loss name -> identifier for `keras.losses.get` / `model.compile(loss=...)`, or
# `archc.MODULE.Class` for archc's own losses; `build_loss` turns a name into what compile takes.
LOSSES: Mapping[str, str] = MappingProxyType(
    {
        "categorical_crossentropy": "categorical_crossentropy",
        "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
        "binary_crossentropy": "binary_crossentropy",
        "binary_focal_crossentropy": "binary_focal_crossentropy",
        "categorical_focal_crossentropy": "categorical_focal_crossentropy",
        "mse": "mean_squared_error",
        "mean_squared_error": "mean_squared_error",
        "mae": "mean_absolute_error",
        "mean_absolute_error": "mean_absolute_error",
        "mape": "mean_absolute_percentage_error",
        "mean_absolute_percentage_error": "mean_absolute_percentage_error",
        "msle": "mean_squared_logarithmic_error",
        "mean_squared_logarithmic_error": "mean_squared_logarithmic_error",
        "huber": "huber",
        "smooth_l1": "huber",  # SSD's SmoothL1 is Huber with delta 1 (Keras's default)
        "log_cosh": "log_cosh",
        "kl_divergence": "kl_divergence",
        "poisson": "poisson",
        "cosine_similarity": "cosine_similarity",
        "hinge": "hinge",
        "squared_hinge": "squared_hinge",
        "categorical_hinge": "categorical_hinge",
        "dice": "dice",
        "tversky": "tversky",
        # SSD (archc.ssd): confidence loss with hard negative mining for the class logits,
        # SmoothL1 on the matched anchors for the box offsets.
        "ssd_confidence": "archc.ssd.SSDConfidence",
        "ssd_smooth_l1": "archc.ssd.SSDSmoothL1",
    }
)

# Template metric name -> Keras identifier. A lowercase identifier is passed to
# `model.compile(metrics=...)` as a string (so `accuracy` keeps Keras's own resolution by
# loss); a capitalised one is a `keras.metrics` class that `build_metric` instantiates.
METRICS: Mapping[str, str] = MappingProxyType(
    {
        "accuracy": "accuracy",
        "categorical_accuracy": "categorical_accuracy",
        "sparse_categorical_accuracy": "sparse_categorical_accuracy",
        "binary_accuracy": "binary_accuracy",
        "top_k_categorical_accuracy": "top_k_categorical_accuracy",
        "sparse_top_k_categorical_accuracy": "sparse_top_k_categorical_accuracy",
        "mse": "mse",
        "mean_squared_error": "mean_squared_error",
        "mae": "mae",
        "mean_absolute_error": "mean_absolute_error",
        "mape": "mape",
        "rmse": "RootMeanSquaredError",
        "auc": "AUC",
        "precision": "Precision",
        "recall": "Recall",
        "iou": "BinaryIoU",
        "binary_iou": "BinaryIoU",
        "mean_iou": "MeanIoU",  # needs num_classes
        "r2_score": "R2Score",
    }
)

# Preset kwargs for metric classes: archc models output probabilities, not class ids.
_METRIC_PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {"MeanIoU": {"sparse_y_pred": False}}
)

# ---------------------------------------------------------------- argument tables

_REQUIRED = object()  # sentinel: the argument has no default


def _arg(name: str, type_: ArgType, default: Any = _REQUIRED, **kw: Any) -> ArgSpec:
    if default is _REQUIRED:
        return ArgSpec(name=name, type=type_, required=True, **kw)
    return ArgSpec(name=name, type=type_, default=default, **kw)


def _init(name: str, default: str) -> ArgSpec:
    return _arg(name, "str", default, choices=INITIALIZERS)


def _unit(name: str, default: float) -> ArgSpec:
    """A float in [0, 1]: momentum, beta, rho."""
    return _arg(name, "float", default, minimum=0, maximum=1)


def _positive(name: str, default: Any, type_: ArgType = "float", **kw: Any) -> ArgSpec:
    return _arg(name, type_, default, minimum=0, exclusive_minimum=True, **kw)


_FILTERS = _arg("filters", "int", minimum=1)
_UNITS = _arg("units", "int", minimum=1)
_KERNEL = _arg("kernel_size", "int_or_pair", minimum=1)
_STRIDES = _arg("strides", "int_or_pair", (1, 1), minimum=1)
_POOL_STRIDES = _arg("strides", "int_or_pair", None, minimum=1)
_PADDING = _arg("padding", "str", "valid", choices=PADDINGS)
_DILATION = _arg("dilation_rate", "int_or_pair", (1, 1), minimum=1)
_DEPTH_MULT = _arg("depth_multiplier", "int", 1, minimum=1)
_ACTIVATION = _arg("activation", "activation", None)
_USE_BIAS = _arg("use_bias", "bool", True)
_KERNEL_INIT = _init("kernel_initializer", "glorot_uniform")
_BIAS_INIT = _init("bias_initializer", "zeros")
_AXIS = _arg("axis", "axis", -1)
_RATE = _arg("rate", "float", minimum=0, maximum=1, exclusive_maximum=True)
_SEED = _arg("seed", "int", None, minimum=0)
_KEEPDIMS = _arg("keepdims", "bool", False)


def _activation_op(name: str) -> OpSpec:
    return OpSpec(
        name=name,
        keras_class="Activation",
        fixed={"activation": name},
        doc=f"the {name} activation",
    )


def _merge_op(name: str, keras_class: str, doc: str, inputs: int | str = "many") -> OpSpec:
    return OpSpec(name=name, keras_class=keras_class, inputs=inputs, doc=doc)


_CONV_OPS = [
    OpSpec(
        name="conv1d",
        keras_class="Conv1D",
        positional=4,
        args=(
            _FILTERS,
            _arg("kernel_size", "int", minimum=1),
            _arg("strides", "int", 1, minimum=1),
            _arg("padding", "str", "valid", choices=("valid", "same", "causal")),
            _arg("dilation_rate", "int", 1, minimum=1),
            _arg("groups", "int", 1, minimum=1),
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
        positional=4,
        args=(
            _FILTERS,
            _KERNEL,
            _STRIDES,
            _PADDING,
            _DILATION,
            _arg("groups", "int", 1, minimum=1),
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
        positional=4,
        args=(
            _FILTERS,
            _KERNEL,
            _STRIDES,
            _PADDING,
            _arg("output_padding", "int_or_pair", None, minimum=0),
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
        name="max_pool2d",
        keras_class="MaxPooling2D",
        positional=3,
        args=(_arg("pool_size", "int_or_pair", (2, 2), minimum=1), _POOL_STRIDES, _PADDING),
        doc="2D max pooling (strides default to pool_size)",
    ),
    OpSpec(
        name="avg_pool2d",
        keras_class="AveragePooling2D",
        positional=3,
        args=(_arg("pool_size", "int_or_pair", minimum=1), _POOL_STRIDES, _PADDING),
        doc="2D average pooling (strides default to pool_size)",
    ),
    OpSpec(
        name="global_avg_pool2d",
        keras_class="GlobalAveragePooling2D",
        args=(_KEEPDIMS,),
        doc="mean over height and width",
    ),
    OpSpec(
        name="global_max_pool2d",
        keras_class="GlobalMaxPooling2D",
        args=(_KEEPDIMS,),
        doc="maximum over height and width",
    ),
]

_CORE_OPS = [
    OpSpec(
        name="dense",
        keras_class="Dense",
        positional=3,
        args=(_UNITS, _ACTIVATION, _USE_BIAS, _KERNEL_INIT, _BIAS_INIT),
        doc="fully connected layer on the last axis",
    ),
    OpSpec(
        name="dropout",
        keras_class="Dropout",
        positional=1,
        args=(_RATE, _SEED),
        doc="randomly zero a fraction `rate` of inputs while training",
    ),
    OpSpec(
        name="spatial_dropout2d",
        keras_class="SpatialDropout2D",
        positional=1,
        args=(_RATE, _SEED),
        doc="drop whole feature maps while training",
    ),
    OpSpec(
        name="batch_norm",
        keras_class="BatchNormalization",
        positional=3,
        args=(
            _AXIS,
            _unit("momentum", 0.99),
            _positive("epsilon", 0.001),
            _arg("center", "bool", True),
            _arg("scale", "bool", True),
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
        positional=2,
        args=(
            _AXIS,
            _positive("epsilon", 0.001),
            _arg("center", "bool", True),
            _arg("scale", "bool", True),
        ),
        doc="layer normalization",
    ),
    OpSpec(name="identity", keras_class="Identity", doc="pass the input through unchanged"),
]

_ACTIVATION_OPS = [
    OpSpec(
        name="activation",
        keras_class="Activation",
        positional=1,
        args=(_arg("activation", "activation"),),
        doc="apply a named activation",
    ),
    OpSpec(
        name="relu",
        keras_class="ReLU",
        positional=3,
        args=(
            _arg("max_value", "float", None, minimum=0),
            _arg("negative_slope", "float", 0.0, minimum=0),
            _arg("threshold", "float", 0.0, minimum=0),
        ),
        doc="rectified linear unit, optionally capped and leaky",
    ),
    OpSpec(
        name="relu6",
        keras_class="ReLU",
        fixed={"max_value": 6.0},
        args=(
            _arg("negative_slope", "float", 0.0, minimum=0),
            _arg("threshold", "float", 0.0, minimum=0),
        ),
        doc="ReLU capped at 6 (MobileNet)",
    ),
    OpSpec(
        name="leaky_relu",
        keras_class="LeakyReLU",
        positional=1,
        args=(_arg("negative_slope", "float", 0.3, minimum=0),),
        doc="leaky ReLU",
    ),
    OpSpec(
        name="softmax",
        keras_class="Softmax",
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
        positional=1,
        args=(
            _arg("size", "int_or_pair", (2, 2), minimum=1),
            _arg("interpolation", "str", "nearest", choices=UPSAMPLING_INTERPOLATIONS),
        ),
        doc="repeat rows and columns (or interpolate) by `size`",
    ),
    OpSpec(
        name="zero_padding2d",
        keras_class="ZeroPadding2D",
        positional=1,
        args=(_arg("padding", "padding_spec", (1, 1), **_NONNEG_PADDING),),
        doc="pad height and width with zeros",
    ),
    OpSpec(
        name="cropping2d",
        keras_class="Cropping2D",
        positional=1,
        args=(_arg("cropping", "padding_spec", ((0, 0), (0, 0)), **_NONNEG_PADDING),),
        doc="crop rows and columns off height and width",
    ),
    OpSpec(name="flatten", keras_class="Flatten", doc="flatten all but the batch axis"),
    OpSpec(
        name="reshape",
        keras_class="Reshape",
        positional=1,
        args=(_arg("target_shape", "shape"),),
        doc="reshape to `target_shape` (batch axis excluded; one -1 allowed)",
    ),
    OpSpec(
        name="resizing",
        keras_class="Resizing",
        positional=3,
        args=(
            _arg("height", "int", minimum=1),
            _arg("width", "int", minimum=1),
            _arg("interpolation", "str", "bilinear", choices=RESIZE_INTERPOLATIONS),
            _arg("crop_to_aspect_ratio", "bool", False),
            _arg("pad_to_aspect_ratio", "bool", False),
        ),
        doc="resize images to height x width",
    ),
    OpSpec(
        name="rescaling",
        keras_class="Rescaling",
        positional=2,
        args=(_arg("scale", "float"), _arg("offset", "float", 0.0)),
        doc="x * scale + offset",
    ),
    OpSpec(
        name="normalization",
        keras_class="Normalization",
        args=(
            _arg("axis", "axis", -1, nullable=True),
            _arg("mean", "any", None),
            _arg("variance", "any", None),
            _arg("invert", "bool", False),
        ),
        doc="(x - mean) / sqrt(variance); give both mean and variance, or adapt it",
    ),
]


def _registry(specs: Sequence[OpSpec]) -> Mapping[str, OpSpec]:
    table: dict[str, OpSpec] = {}
    for spec in specs:
        if spec.name in table:
            raise ValueError(f"op {spec.name!r} registered twice")
        table[spec.name] = spec
    return MappingProxyType(table)


def _reduce_op(reduction: str) -> OpSpec:
    return OpSpec(
        name=f"reduce_{reduction}",
        keras_class="archc.Reduce",
        positional=2,
        args=(_arg("axis", "axis", -1), _KEEPDIMS),
        fixed={"reduction": reduction},
        doc=f"{reduction} over an axis (archc's own layer: Keras has none)",
    )


_REDUCE_OPS = [_reduce_op(r) for r in ("mean", "max", "sum")]

_DETECTION_OPS = [
    OpSpec(
        name="ssd_decode",
        keras_class="archc.SSDDecode",
        inputs="many",
        args=(
            _arg("max_detections", "int", 100, minimum=1),
            _unit("iou_threshold", 0.45),
            _unit("score_threshold", 0.01),
            _arg("s_min", "float", 0.2, minimum=0, maximum=1, exclusive_minimum=True),
            _arg("s_max", "float", 0.9, minimum=0, maximum=1, exclusive_minimum=True),
            _arg("aspect_ratios", "any", (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)),
            _arg("variances", "any", (0.1, 0.2)),
            _arg("feature_maps", "any", None),
        ),
        doc="SSD decoding: (class logits, box offsets, feature maps...) -> (max_detections, 6) "
        "[ymin, xmin, ymax, xmax, score, class] after TensorFlow's per-class non-max "
        "suppression (archc's own layer, see archc.ssd)",
    ),
]

OPS: Mapping[str, OpSpec] = _registry(
    _CONV_OPS + _POOL_OPS + _CORE_OPS + _ACTIVATION_OPS + _MERGE_OPS + _RESHAPE_OPS
    + _REDUCE_OPS + _DETECTION_OPS
)

# ---------------------------------------------------------------- optimizers

_LR = _positive("learning_rate", 0.001)
_EPSILON = _positive("epsilon", 1e-07)
_BETA_1 = _unit("beta_1", 0.9)
_BETA_2 = _unit("beta_2", 0.999)
_OPTIMIZER_TAIL = (
    _arg("clipnorm", "float", None, minimum=0, exclusive_minimum=True),
    _arg("clipvalue", "float", None, minimum=0, exclusive_minimum=True),
    _arg("global_clipnorm", "float", None, minimum=0, exclusive_minimum=True),
    _arg("use_ema", "bool", False),
    _unit("ema_momentum", 0.99),
)
_WEIGHT_DECAY = _arg("weight_decay", "float", None, minimum=0)


def _optimizer(name: str, keras_class: str, *args: ArgSpec, decay: bool = True) -> OptimizerSpec:
    """An optimizer: its own arguments, then (weight_decay and) the arguments all share."""
    tail = ((_WEIGHT_DECAY,) if decay else ()) + _OPTIMIZER_TAIL
    return OptimizerSpec(name=name, keras_class=keras_class, args=args + tail, doc=keras_class)


OPTIMIZERS: Mapping[str, OptimizerSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            _optimizer(
                "sgd",
                "SGD",
                _positive("learning_rate", 0.01),
                _unit("momentum", 0.0),
                _arg("nesterov", "bool", False),
            ),
            _optimizer(
                "rmsprop",
                "RMSprop",
                _LR,
                _unit("rho", 0.9),
                _unit("momentum", 0.0),
                _EPSILON,
                _arg("centered", "bool", False),
            ),
            _optimizer(
                "adam", "Adam", _LR, _BETA_1, _BETA_2, _EPSILON, _arg("amsgrad", "bool", False)
            ),
            _optimizer(
                "adamw",
                "AdamW",
                _LR,
                _arg("weight_decay", "float", 0.004, minimum=0),
                _BETA_1,
                _BETA_2,
                _EPSILON,
                _arg("amsgrad", "bool", False),
                decay=False,
            ),
            _optimizer(
                "adagrad",
                "Adagrad",
                _LR,
                _arg("initial_accumulator_value", "float", 0.1, minimum=0),
                _EPSILON,
            ),
            _optimizer("adadelta", "Adadelta", _LR, _unit("rho", 0.95), _EPSILON),
            _optimizer("adamax", "Adamax", _LR, _BETA_1, _BETA_2, _EPSILON),
            _optimizer("nadam", "Nadam", _LR, _BETA_1, _BETA_2, _EPSILON),
            _optimizer(
                "ftrl",
                "Ftrl",
                _LR,
                _arg("learning_rate_power", "float", -0.5, maximum=0),
                _arg("initial_accumulator_value", "float", 0.1, minimum=0),
                _arg("l1_regularization_strength", "float", 0.0, minimum=0),
                _arg("l2_regularization_strength", "float", 0.0, minimum=0),
                _arg("l2_shrinkage_regularization_strength", "float", 0.0, minimum=0),
                _arg("beta", "float", 0.0, minimum=0),
            ),
            _optimizer("lion", "Lion", _LR, _BETA_1, _unit("beta_2", 0.99)),
        )
    }
)

# ---------------------------------------------------------------- lookup and binding


def lookup(name: str) -> OpSpec | None:
    """The op called `name`, or None."""
    return OPS.get(name)


def names() -> list[str]:
    """All op names, sorted."""
    return sorted(OPS)


def suggest(word: str, candidates: Sequence[str]) -> str | None:
    """A "did you mean 'x'?" hint for a misspelt name, or None when nothing is close."""
    close = difflib.get_close_matches(word.lower(), list(candidates), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def signature(spec: _Callable) -> str:
    """`conv2d(filters, kernel_size, strides=(1, 1), padding='valid', *, ...)` for messages."""
    parts = []
    for i, arg in enumerate(spec.args):
        if i == spec.positional:
            parts.append("*")
        parts.append(arg.name if arg.required else f"{arg.name}={_show(arg.default)}")
    return f"{spec.name}({', '.join(parts)})"


def bind(
    spec: _Callable, positional: Sequence[object], keywords: Mapping[str, object]
) -> dict[str, object]:
    """Name a call's arguments: positional values in order, then keywords.

    Values are never looked at (they may be symbolic placeholders); only names and counts
    are checked. Defaults are not filled in: see `effective_args`.
    """
    _check_positional_count(spec, len(positional))
    bound: dict[str, object] = dict(zip(spec.arg_names, positional, strict=False))
    for key, value in keywords.items():
        if spec.arg(key) is None:
            raise _unknown_keyword(spec, key)
        if key in bound:
            raise OpArgError(
                f"{spec.name}: argument '{key}' given twice (positionally and by keyword)",
                index=spec.arg_names.index(key),
                keyword=key,
            )
        bound[key] = value
    for arg in spec.args:
        if arg.required and arg.name not in bound:
            raise OpArgError(
                f"{spec.name}: missing required argument '{arg.name}'",
                hint=f"usage: {signature(spec)}",
            )
    return bound


def _check_positional_count(spec: _Callable, found: int) -> None:
    limit = spec.positional
    if found <= limit:
        return
    if limit == 0:
        message = f"{spec.name} takes no positional arguments, found {found}"
    else:
        plural = "argument" if limit == 1 else "arguments"
        listed = ", ".join(spec.positional_names)
        message = f"{spec.name} takes at most {limit} positional {plural} ({listed}), found {found}"
    rest = spec.arg_names[limit:]
    if rest:
        hint = "pass the others by name, e.g. " + ", ".join(f"{n}=..." for n in rest[:3])
    else:
        hint = f"usage: {signature(spec)}"
    raise OpArgError(message, index=limit, hint=hint)


def _unknown_keyword(spec: _Callable, key: str) -> OpArgError:
    fixed = getattr(spec, "fixed", {})
    if key in fixed:
        hint = f"{spec.name} always has {key}={_show(fixed[key])}"
    elif spec.args:
        hint = suggest(key, spec.arg_names) or f"its arguments are: {', '.join(spec.arg_names)}"
    else:
        hint = f"{spec.name} takes no arguments"
    return OpArgError(f"{spec.name} has no argument '{key}'", keyword=key, hint=hint)


def effective_args(spec: _Callable, bound: Mapping[str, object]) -> dict[str, object]:
    """Every argument's value: Keras's defaults, then the op's fixed kwargs, then `bound`."""
    values: dict[str, object] = {a.name: a.default for a in spec.args if not a.required}
    values.update(getattr(spec, "fixed", {}))
    values.update(bound)
    return values


# ---------------------------------------------------------------- value checks

_CONCRETE = (numbers.Number, str, tuple, list, type(None))


def is_concrete(value: object) -> bool:
    """True for plain Python values (numbers, strings, None, tuples/lists of them)."""
    if isinstance(value, (tuple, list)):
        return all(is_concrete(v) for v in value)
    return isinstance(value, _CONCRETE)


def check_value(arg: ArgSpec, value: object) -> str | None:
    """None if `value` suits `arg`, else `"NAME: expected X, found Y"` (maybe with a hint).

    A value that is not concrete (a symbolic placeholder, or a list holding one) is not
    judged: None. bool is not a number here, and an integral float is not an integer.
    """
    if value is None:
        return None if arg.accepts_none or arg.type == "any" else _complaint(arg, value, "")
    if not is_concrete(value):
        return None
    problem = _CHECKERS[arg.type](arg, value)
    return None if problem is None else _complaint(arg, value, problem)


def _complaint(arg: ArgSpec, value: object, extra: str) -> str:
    expected = describe(arg)
    if arg.accepts_none:
        expected += " or none"
    message = f"{arg.name}: expected {expected}, found {_show(value)}"
    return f"{message} ({extra})" if extra else message


# Each checker returns None when the value is fine, else an extra note ("" for none).


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _in_range(arg: ArgSpec, value: float) -> bool:
    lo, hi = arg.minimum, arg.maximum
    if lo is not None and (value <= lo if arg.exclusive_minimum else value < lo):
        return False
    return not (hi is not None and (value >= hi if arg.exclusive_maximum else value > hi))


def _int_problem(arg: ArgSpec, value: object) -> str | None:
    if _is_int(value):
        return None if _in_range(arg, value) else ""
    if isinstance(value, float) and value.is_integer():
        return "use // for integer division"
    return ""


def _float_problem(arg: ArgSpec, value: object) -> str | None:
    return None if _is_number(value) and _in_range(arg, value) else ""


def _bool_problem(arg: ArgSpec, value: object) -> str | None:
    return None if isinstance(value, bool) else ""


def _choice_problem(value: object, choices: Sequence[str]) -> str | None:
    if not isinstance(value, str):
        return ""
    if value in choices:
        return None
    return suggest(value, choices) or ""


def _str_problem(arg: ArgSpec, value: object) -> str | None:
    if arg.choices:
        return _choice_problem(value, arg.choices)
    return None if isinstance(value, str) else ""


def _activation_problem(arg: ArgSpec, value: object) -> str | None:
    return _choice_problem(value, ACTIVATIONS)


def _axis_problem(arg: ArgSpec, value: object) -> str | None:
    return None if _is_int(value) else ""


def _pair(value: object) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 2


def _first_problem(problems: Sequence[str | None]) -> str | None:
    """Element checks -> None if all passed, else the most telling note (a hint beats "")."""
    found = [p for p in problems if p is not None]
    return max(found, key=len) if found else None


def _int_or_pair_problem(arg: ArgSpec, value: object) -> str | None:
    if _pair(value):
        return _first_problem([_int_problem(arg, v) for v in value])
    return _int_problem(arg, value)


def _padding_problem(arg: ArgSpec, value: object) -> str | None:
    if _pair(value) and all(_pair(v) for v in value):
        return _first_problem([_int_problem(arg, x) for v in value for x in v])
    return _int_or_pair_problem(arg, value)


def _shape_problem(arg: ArgSpec, value: object) -> str | None:
    if not isinstance(value, (tuple, list)) or not value:
        return ""
    if sum(1 for v in value if v == -1 and _is_int(v)) > 1:
        return "at most one -1"
    return _first_problem([None if v == -1 else _int_problem(_POSITIVE, v) for v in value])


_POSITIVE = ArgSpec(name="_", type="int", minimum=1)

_CHECKERS = {
    "int": _int_problem,
    "float": _float_problem,
    "bool": _bool_problem,
    "str": _str_problem,
    "int_or_pair": _int_or_pair_problem,
    "padding_spec": _padding_problem,
    "shape": _shape_problem,
    "activation": _activation_problem,
    "axis": _axis_problem,
    "any": lambda arg, value: None,
}


def describe(arg: ArgSpec) -> str:
    """What `arg` accepts, in words: "a positive integer", "'valid' or 'same'"."""
    kind = arg.type
    if kind == "int":
        return _describe_number(arg, "integer")
    if kind == "float":
        return _describe_number(arg, "float")
    if kind == "int_or_pair":
        return f"{_describe_number(arg, 'integer')} or a pair of them"
    if kind == "padding_spec":
        return f"{_describe_number(arg, 'integer')}, a pair of them, or a pair of pairs"
    if kind == "str" and arg.choices:
        return _describe_choices(arg.choices)
    return _SIMPLE_DESCRIPTIONS[kind]


_SIMPLE_DESCRIPTIONS = {
    "bool": "true or false",
    "str": "a string",
    "shape": "a list of positive integers (one may be -1)",
    "activation": "an activation name (relu, sigmoid, ...)",
    "axis": "an integer axis",
    "any": "a value",
}


def _describe_number(arg: ArgSpec, noun: str) -> str:
    lo, hi = arg.minimum, arg.maximum
    if hi is None and lo == 0:
        return f"a positive {noun}" if arg.exclusive_minimum else f"a non-negative {noun}"
    if hi is None and lo == 1 and noun == "integer" and not arg.exclusive_minimum:
        return "a positive integer"
    article = "an" if noun == "integer" else "a"
    if lo is not None and hi is not None:
        left = "(" if arg.exclusive_minimum else "["
        right = ")" if arg.exclusive_maximum else "]"
        return f"{article} {noun} in {left}{_num(lo)}, {_num(hi)}{right}"
    if lo is not None:
        return f"{article} {noun} {'>' if arg.exclusive_minimum else '>='} {_num(lo)}"
    if hi is not None:
        return f"{article} {noun} {'<' if arg.exclusive_maximum else '<='} {_num(hi)}"
    return f"{article} {noun}"


def _describe_choices(choices: Sequence[str]) -> str:
    quoted = [f"'{c}'" for c in choices]
    if len(quoted) == 2:
        return f"{quoted[0]} or {quoted[1]}"
    return "one of " + ", ".join(quoted)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _show(value: object) -> str:
    """A value as a template would spell it: 'same', true, none, (3, 3), [1, 2]."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(_show(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value)


# ---------------------------------------------------------------- building Keras objects


def _keras_value(value: object) -> object:
    """Lists become tuples (Keras stores and compares tuples), recursively."""
    if isinstance(value, (tuple, list)):
        return tuple(_keras_value(v) for v in value)
    return value


def _checked(spec: _Callable, kwargs: Mapping[str, object]) -> dict[str, object]:
    """Validate concrete kwargs for `spec`, ready for the Keras constructor."""
    out: dict[str, object] = {}
    for key, value in kwargs.items():
        arg = spec.arg(key)
        if arg is None:
            raise _unknown_keyword(spec, key)
        if not is_concrete(value):
            raise TypeError(f"{spec.name}: {key} is still symbolic at build time: {value!r}")
        problem = check_value(arg, value)
        if problem:
            raise OpArgError(f"{spec.name}: {problem}", keyword=key)
        out[key] = _keras_value(value)
    return out


def layer_class(spec: OpSpec) -> type:
    """The Keras layer class of `spec`: from keras.layers, or archc's own (`archc.Name`)."""
    if spec.keras_class.startswith("archc."):
        from . import layers as archc_layers

        return getattr(archc_layers, spec.keras_class.removeprefix("archc."))
    from keras import layers  # lazy: keep `import archc.ops` free of keras

    return getattr(layers, spec.keras_class)


def build_layer(spec: OpSpec, kwargs: Mapping[str, object], name: str | None = None):
    """A Keras layer for `spec`: its fixed kwargs plus `kwargs` (as returned by `bind`)."""
    return layer_class(spec)(**spec.fixed, **_checked(spec, kwargs), name=name)


def build_loss(name: str | None):
    """What to pass to `model.compile(loss=...)` for the template loss `name`: a Keras string
    identifier, an instance of archc's own loss (`archc.ssd.SSDConfidence`), or None for
    `none` in a list of losses (an output no loss trains: SSD's detections)."""
    if name is None:
        return None
    identifier = LOSSES.get(name, name)
    if identifier.startswith("archc."):
        import importlib

        module, _, cls = identifier.rpartition(".")
        return getattr(importlib.import_module(module), cls)()
    return identifier


def lookup_optimizer(name: str) -> OptimizerSpec | None:
    return OPTIMIZERS.get(name)


def build_optimizer(spec: OptimizerSpec | str, kwargs: Mapping[str, object] | None = None):
    """A Keras optimizer instance, e.g. `build_optimizer("sgd", {"momentum": 0.9})`."""
    from keras import optimizers  # lazy

    if isinstance(spec, str):
        found = OPTIMIZERS.get(spec)
        if found is None:
            hint = suggest(spec, list(OPTIMIZERS))
            raise OpArgError(f"unknown optimizer '{spec}'", hint=hint)
        spec = found
    return getattr(optimizers, spec.keras_class)(**_checked(spec, kwargs or {}))


def build_metric(name: str, **kwargs: Any):
    """What to pass to `model.compile(metrics=[...])` for the template metric `name`.

    A Keras string identifier is returned as is; a metric class is instantiated with
    `name=name` (so logs say `val_iou`) and `kwargs` (MeanIoU needs `num_classes`).
    """
    identifier = METRICS.get(name)
    if identifier is None:
        raise OpArgError(f"unknown metric '{name}'", hint=suggest(name, list(METRICS)))
    if identifier[0].islower():
        return identifier
    from keras import metrics  # lazy

    options = {**_METRIC_PRESETS.get(identifier, {}), **kwargs}
    return getattr(metrics, identifier)(name=name, **options)
