"""The Keras names a template may use outside the op table -> plain tables: activations,
initializers, paddings, interpolations, losses, metrics, and the optimizers of
`train { optimizer = ... }` with their arguments.

No Keras import: `archc check` reads these tables to judge a template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .arguments import ArgSpec, CallSpec, arg, positive, unit


@dataclass(frozen=True, kw_only=True)
class OptimizerSpec(CallSpec):
    """A Keras optimizer, as named in `train { optimizer = ... }`."""

    __hash__ = CallSpec.__hash__


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
# `archc.MODULE.Class` for archc's own losses; `factories.build_loss` turns a name into what
# compile takes.
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
# loss); a capitalised one is a `keras.metrics` class that `factories.build_metric` instantiates.
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
METRIC_PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {"MeanIoU": {"sparse_y_pred": False}}
)

# ---------------------------------------------------------------- optimizers

_LR = positive("learning_rate", 0.001)
_EPSILON = positive("epsilon", 1e-07)
_BETA_1 = unit("beta_1", 0.9)
_BETA_2 = unit("beta_2", 0.999)
_OPTIMIZER_TAIL = (
    arg("clipnorm", "float", None, minimum=0, exclusive_minimum=True),
    arg("clipvalue", "float", None, minimum=0, exclusive_minimum=True),
    arg("global_clipnorm", "float", None, minimum=0, exclusive_minimum=True),
    arg("use_ema", "bool", False),
    unit("ema_momentum", 0.99),
)
_WEIGHT_DECAY = arg("weight_decay", "float", None, minimum=0)


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
                positive("learning_rate", 0.01),
                unit("momentum", 0.0),
                arg("nesterov", "bool", False),
            ),
            _optimizer(
                "rmsprop",
                "RMSprop",
                _LR,
                unit("rho", 0.9),
                unit("momentum", 0.0),
                _EPSILON,
                arg("centered", "bool", False),
            ),
            _optimizer(
                "adam", "Adam", _LR, _BETA_1, _BETA_2, _EPSILON, arg("amsgrad", "bool", False)
            ),
            _optimizer(
                "adamw",
                "AdamW",
                _LR,
                arg("weight_decay", "float", 0.004, minimum=0),
                _BETA_1,
                _BETA_2,
                _EPSILON,
                arg("amsgrad", "bool", False),
                decay=False,
            ),
            _optimizer(
                "adagrad",
                "Adagrad",
                _LR,
                arg("initial_accumulator_value", "float", 0.1, minimum=0),
                _EPSILON,
            ),
            _optimizer("adadelta", "Adadelta", _LR, unit("rho", 0.95), _EPSILON),
            _optimizer("adamax", "Adamax", _LR, _BETA_1, _BETA_2, _EPSILON),
            _optimizer("nadam", "Nadam", _LR, _BETA_1, _BETA_2, _EPSILON),
            _optimizer(
                "ftrl",
                "Ftrl",
                _LR,
                arg("learning_rate_power", "float", -0.5, maximum=0),
                arg("initial_accumulator_value", "float", 0.1, minimum=0),
                arg("l1_regularization_strength", "float", 0.0, minimum=0),
                arg("l2_regularization_strength", "float", 0.0, minimum=0),
                arg("l2_shrinkage_regularization_strength", "float", 0.0, minimum=0),
                arg("beta", "float", 0.0, minimum=0),
            ),
            _optimizer("lion", "Lion", _LR, _BETA_1, unit("beta_2", 0.99)),
        )
    }
)
