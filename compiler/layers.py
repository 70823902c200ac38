"""archc's own Keras layers: op arguments -> real, serialisable `keras.layers.Layer`
subclasses for the ops Keras has no layer for (reductions over an axis, self-attention on one
input). Registered so `.keras` files reload. SSD's decoding layer lives with the rest of SSD,
in `ssd.py`.
"""

from __future__ import annotations

import keras
from keras import ops as K

REDUCTIONS = {"mean": K.mean, "max": K.max, "sum": K.sum}


@keras.saving.register_keras_serializable(package="archc")
class Reduce(keras.layers.Layer):
    """`reduction` (mean | max | sum) over `axis`, keeping the axis when `keepdims`."""

    def __init__(self, axis=-1, keepdims: bool = False, reduction: str = "mean", **kwargs):
        super().__init__(**kwargs)
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {sorted(REDUCTIONS)}, found {reduction!r}")
        self.reduction = reduction
        self.axis = tuple(axis) if isinstance(axis, list | tuple) else axis
        self.keepdims = keepdims

    def call(self, inputs):
        return REDUCTIONS[self.reduction](inputs, axis=self.axis, keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        axes = self.axis if isinstance(self.axis, tuple) else (self.axis,)
        rank = len(input_shape)
        axes = {a % rank for a in axes}
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in axes)

    def get_config(self):
        return {**super().get_config(), "reduction": self.reduction, "axis": self.axis,
                "keepdims": self.keepdims}


@keras.saving.register_keras_serializable(package="archc")
class SelfAttention(keras.layers.MultiHeadAttention):
    """Keras's MultiHeadAttention on one input: the query, the key and the value are the
    same tensor (a chain has one tensor flowing; `multi_head_attention` in a template)."""

    def build(self, input_shape):
        super().build(input_shape, input_shape)

    def call(self, inputs, training=None):
        return super().call(inputs, inputs, training=training)

    def compute_output_shape(self, input_shape, *_):
        # MultiHeadAttention's own compute_output_spec passes the key and value shapes too
        return super().compute_output_shape(input_shape, input_shape)

    def compute_output_spec(self, inputs, training=None):
        return super().compute_output_spec(inputs, inputs)
