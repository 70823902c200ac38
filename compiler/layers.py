"""archc's own Keras layers: real, serialisable `keras.layers.Layer` subclasses for the ops
Keras has no layer for (reductions over an axis). Registered so `.keras` files reload.
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
class SSDDecode(keras.layers.Layer):
    """SSD's decoding for inference: inputs `[classes, boxes, *feature_maps]` -- class logits
    (B, N, C+1) with the background first, box offsets (B, N, 4), and the feature maps the
    heads predict from (only their (H, W) are read, to place the anchors; or give
    `feature_maps` and pass only the two predictions). Output (B, max_detections, 6): per
    detection `[ymin, xmin, ymax, xmax, score, class]`, best first, class -1 and zeros in
    the empty rows (`archc.ssd.unpack` splits it).

    Softmax scores, offsets decoded against the anchors (`archc.ssd.make_anchors`) and
    clipped to the image, then per-class non-max suppression by TensorFlow's own kernel
    (`archc.ssd.non_max_suppression`: the result of `tf.image.combined_non_max_suppression`,
    through an op TensorFlow Lite runs natively). In a training step (`training=True`) the
    output is all zeros: no loss reads it, and NMS would only cost time.
    """

    def __init__(self, max_detections: int = 100, iou_threshold: float = 0.45,
                 score_threshold: float = 0.01, s_min: float = 0.2, s_max: float = 0.9,
                 aspect_ratios=(1.0, 2.0, 0.5, 3.0, 1.0 / 3.0), variances=(0.1, 0.2),
                 feature_maps=None, **kwargs):
        super().__init__(**kwargs)
        self.max_detections = int(max_detections)
        self.iou_threshold = float(iou_threshold)
        self.score_threshold = float(score_threshold)
        self.s_min, self.s_max = float(s_min), float(s_max)
        self.aspect_ratios = tuple(float(r) for r in aspect_ratios)
        self.variances = tuple(float(v) for v in variances)
        self.feature_maps = (None if feature_maps is None
                             else tuple(tuple(int(d) for d in m) for m in feature_maps))
        self.anchors = None

    def build(self, input_shape):
        from . import ssd

        classes, boxes, *maps = input_shape
        if self.feature_maps is None:
            if not maps:
                raise ValueError("SSDDecode needs the feature maps as inputs or `feature_maps`")
            self.feature_maps = tuple((int(m[1]), int(m[2])) for m in maps)
        self.anchors = ssd.make_anchors(self.feature_maps, self.s_min, self.s_max,
                                        self.aspect_ratios)
        if classes[1] is not None and classes[1] != len(self.anchors):
            raise ValueError(f"{len(self.anchors)} anchors for feature maps "
                             f"{list(self.feature_maps)}, but {classes[1]} predictions")

    def call(self, inputs, training=None):
        from . import ssd

        logits, offsets = inputs[0], inputs[1]
        if training:  # nothing trains the detections: skip the NMS in training steps
            return K.zeros((K.shape(logits)[0], self.max_detections, 6), logits.dtype)
        scores = K.softmax(logits, axis=-1)[..., 1:]
        boxes = K.clip(ssd.decode(offsets, self.anchors, self.variances), 0.0, 1.0)
        return ssd.non_max_suppression(boxes, scores, self.max_detections, self.iou_threshold,
                                       self.score_threshold)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.max_detections, 6)

    def get_config(self):
        maps = None if self.feature_maps is None else [list(m) for m in self.feature_maps]
        return {**super().get_config(), "max_detections": self.max_detections,
                "iou_threshold": self.iou_threshold, "score_threshold": self.score_threshold,
                "s_min": self.s_min, "s_max": self.s_max,
                "aspect_ratios": list(self.aspect_ratios), "variances": list(self.variances),
                "feature_maps": maps}
