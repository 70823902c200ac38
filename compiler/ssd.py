"""SSD (Liu et al., 2016) for archc's detection templates: default boxes (anchors), box
encoding and matching, the SSD loss, and decoding with non-max suppression.

Conventions (the TensorFlow Object Detection API's):

- boxes are corners `[ymin, xmin, ymax, xmax]` normalised to [0, 1] by the image size;
- anchors are centres and sizes `[cy, cx, h, w]`, in the order a detection head's
  `conv2d(anchors * k, 3) -> reshape((-1, k))` lays out its rows: feature map by feature
  map, then row, column, and the anchors of one cell;
- class 0 is the background; a digit labelled `d` is class `d + 1` in the targets and in
  the `classes` output; decoded detections report `d` again;
- box regressions are SSD's centre offsets `[ty, tx, th, tw]`, scaled by the variances 0.1
  (centre) and 0.2 (size).

Training targets for a model with outputs `classes` (N, C+1 logits) and `boxes` (N, 4) are
`{"classes": (N,) ints, "boxes": (N, 5)}`: the 4 encoded offsets and a 1/0 flag that marks
the anchor positive (matched), which `ssd_smooth_l1` needs to see. `targets(...)` builds
them for a batch of images. The losses are `SSDConfidence` (`ssd_confidence`: softmax
cross-entropy on the positives and on the hardest negatives, 3 per positive) and
`SSDSmoothL1` (`ssd_smooth_l1`: SmoothL1 on the positives' offsets), each normalised by the
number of positives in the batch, so their sum is SSD's loss with alpha = 1.

For inference the `ssd_decode` op (the `SSDDecode` layer) turns the two outputs into
detections: softmax scores, boxes decoded against the anchors, and per-class non-max
suppression by TensorFlow (`non_max_suppression`); `unpack` splits its rows into boxes,
scores, classes and counts, and `inference_model` wraps a trained model for prediction.

    >>> anchors = make_anchors([(2, 2), (1, 1)])
    >>> anchors.shape
    (30, 4)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops as K

S_MIN, S_MAX = 0.2, 0.9
ASPECT_RATIOS = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)
VARIANCES = (0.1, 0.2)
NEG_POS_RATIO = 3.0


# ---------------------------------------------------------------- anchors


def scales(count: int, s_min: float = S_MIN, s_max: float = S_MAX) -> list[float]:
    """SSD's linear scale schedule over `count` feature maps: s_min for the first (finest),
    s_max for the last, plus 1.0 after the last (for the extra ratio-1 box)."""
    if count == 1:
        return [s_min, 1.0]
    step = (s_max - s_min) / (count - 1)
    return [s_min + step * k for k in range(count)] + [1.0]


def anchors_per_cell(aspect_ratios: Sequence[float] = ASPECT_RATIOS) -> int:
    """One box per aspect ratio, plus SSD's extra ratio-1 box of scale sqrt(s_k * s_k+1)."""
    return len(aspect_ratios) + 1


def make_anchors(feature_maps: Sequence[tuple[int, int]], s_min: float = S_MIN,
                 s_max: float = S_MAX,
                 aspect_ratios: Sequence[float] = ASPECT_RATIOS) -> np.ndarray:
    """Default boxes `[cy, cx, h, w]` (N, 4) float32 for feature maps of sizes (H, W), finest
    first. Per cell: the ratio-1 box of scale s_k, the extra one of scale sqrt(s_k s_k+1),
    then one box per other ratio r (width s_k sqrt(r), height s_k / sqrt(r)), in the order of
    `aspect_ratios` (the ratio-1 entry gives the first box)."""
    if not feature_maps:
        raise ValueError("no feature maps to place anchors on")
    s = scales(len(feature_maps), s_min, s_max)
    rows = []
    for k, (height, width) in enumerate(feature_maps):
        sizes = []
        for i, r in enumerate(aspect_ratios):
            sizes.append((s[k] / math.sqrt(r), s[k] * math.sqrt(r)))
            if i == 0:
                extra = math.sqrt(s[k] * s[k + 1])
                sizes.append((extra, extra))
        cy, cx = np.meshgrid((np.arange(height) + 0.5) / height, (np.arange(width) + 0.5) / width,
                             indexing="ij")
        centres = np.stack([cy.ravel(), cx.ravel()], axis=-1)           # (H*W, 2)
        hw = np.asarray(sizes)                                           # (A, 2)
        cell = np.concatenate([np.repeat(centres, len(hw), axis=0),
                               np.tile(hw, (len(centres), 1))], axis=-1)
        rows.append(cell)
    return np.concatenate(rows).astype(np.float32)


def feature_maps_of(obj) -> list[tuple[int, int]]:
    """The (H, W) of the feature maps an SSD model predicts from: of the `ssd_decode` layer
    of a Keras model, of the `ssd_decode` node of an `Architecture`, or of a `Template` at
    its defaults."""
    found = _decode_node(obj)
    if found is None:
        return list(_built_decode_layer(obj).feature_maps)
    return _node_maps(*found)


def _decode_node(obj) -> tuple | None:
    """(graph, attributes) of the `ssd_decode` node of an `Architecture` (a `Template` is
    resolved at its defaults first), or None for a Keras model.

    Duck-typed, so that this module imports no pipeline stage: a template is what has a
    `resolve()`, an architecture what has a `graph` of op nodes.
    """
    if callable(getattr(obj, "resolve", None)):
        obj = obj.resolve()
    graph = getattr(obj, "graph", None)
    if graph is None:
        return None
    for _, data in graph.nodes(data=True):
        if data["op"] == "ssd_decode":
            return graph, data
    raise ValueError(f"{obj.template.name} has no ssd_decode node")


def _built_decode_layer(model) -> SSDDecode:
    layer = _decode_layer(model)
    if layer is None or layer.anchors is None:
        raise ValueError("the model has no built ssd_decode (SSDDecode) layer")
    return layer


def _node_maps(graph, node: dict) -> list[tuple[int, int]]:
    """The feature maps of an `ssd_decode` node: its `feature_maps`, else its inputs' (H, W)."""
    if node["args"].get("feature_maps"):
        return [tuple(int(d) for d in m) for m in node["args"]["feature_maps"]]
    return [(int(s[0]), int(s[1])) for s in (graph.nodes[u]["shape"] for u in node["inputs"][2:])]


def anchors_for(obj) -> np.ndarray:
    """The anchors of a Keras model, `Architecture` or `Template` (see `feature_maps_of`),
    with the scales and ratios its `ssd_decode` was given."""
    found = _decode_node(obj)
    if found is None:
        return _built_decode_layer(obj).anchors
    graph, node = found
    options = {k: node["args"][k] for k in ("s_min", "s_max", "aspect_ratios")
               if k in node["args"]}
    return make_anchors(_node_maps(graph, node), **options)


def _decode_layer(model):
    return next((layer for layer in getattr(model, "layers", ())
                 if isinstance(layer, SSDDecode)), None)


# ---------------------------------------------------------------- boxes


def to_corners(centred):
    """`[cy, cx, h, w]` -> `[ymin, xmin, ymax, xmax]` (numpy or tensors, any leading axes)."""
    xp = np if isinstance(centred, np.ndarray) else K
    cy, cx, h, w = (centred[..., i] for i in range(4))
    return xp.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], axis=-1)


def to_centres(corners):
    """`[ymin, xmin, ymax, xmax]` -> `[cy, cx, h, w]`."""
    xp = np if isinstance(corners, np.ndarray) else K
    y0, x0, y1, x1 = (corners[..., i] for i in range(4))
    return xp.stack([(y0 + y1) / 2, (x0 + x1) / 2, y1 - y0, x1 - x0], axis=-1)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of corner boxes a (n, 4) and b (m, 4) -> (n, m)."""
    a, b = np.asarray(a, np.float64)[:, None, :], np.asarray(b, np.float64)[None, :, :]
    inter = (np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
             * np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0,
                       None))
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-12)


def match(boxes, anchors, iou_threshold: float = 0.5) -> np.ndarray:
    """For each anchor, the index of the ground-truth box it predicts, or -1 (background).

    SSD's matching: first every box takes its best anchor (greedily, best pairs first, so two
    boxes never fight over one anchor while others are free), then every other anchor takes
    the box it overlaps most if that IoU is at least `iou_threshold`.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    matched = np.full(len(anchors), -1, np.int64)
    if len(boxes) == 0:
        return matched
    overlaps = iou(boxes, to_corners(np.asarray(anchors, np.float64)))   # (k, N)
    best = overlaps.argmax(axis=0)
    above = overlaps.max(axis=0) >= iou_threshold
    matched[above] = best[above]
    free = overlaps.copy()
    for _ in range(min(len(boxes), len(anchors))):
        g, a = np.unravel_index(np.argmax(free), free.shape)
        matched[a] = g
        free[g, :] = -1.0
        free[:, a] = -1.0
    return matched


def encode(boxes, labels, anchors, iou_threshold: float = 0.5,
           variances: Sequence[float] = VARIANCES) -> tuple[np.ndarray, np.ndarray]:
    """Targets of one image: class per anchor (N,) int32 (0 = background, label + 1 for a
    matched anchor) and offsets (N, 4) float32 `[ty, tx, th, tw]` (zero for background).

    Args:
        boxes: (k, 4) corners, normalised. labels: (k,) ints from 0. anchors: (N, 4) centred.
    """
    anchors = np.asarray(anchors, np.float64)
    labels = np.asarray(labels, np.int64).reshape(-1)
    matched = match(boxes, anchors, iou_threshold)
    classes = np.where(matched >= 0, labels[np.maximum(matched, 0)] + 1 if len(labels) else 0, 0)
    offsets = np.zeros((len(anchors), 4), np.float64)
    positive = matched >= 0
    if positive.any():
        gt = to_centres(np.asarray(boxes, np.float64).reshape(-1, 4))[matched[positive]]
        a = anchors[positive]
        offsets[positive] = np.stack([
            (gt[:, 0] - a[:, 0]) / (a[:, 2] * variances[0]),
            (gt[:, 1] - a[:, 1]) / (a[:, 3] * variances[0]),
            np.log(gt[:, 2] / a[:, 2]) / variances[1],
            np.log(gt[:, 3] / a[:, 3]) / variances[1],
        ], axis=-1)
    return classes.astype(np.int32), offsets.astype(np.float32)


def decode(offsets, anchors, variances: Sequence[float] = VARIANCES):
    """Offsets `[ty, tx, th, tw]` (..., N, 4; a 5th column, the positive flag of a target, is
    ignored) -> corner boxes (..., N, 4). Numpy in, numpy out; tensors in, tensors out."""
    xp = np if isinstance(offsets, np.ndarray) else K
    a = np.asarray(anchors, np.float32)
    cy = offsets[..., 0] * variances[0] * a[:, 2] + a[:, 0]
    cx = offsets[..., 1] * variances[0] * a[:, 3] + a[:, 1]
    h = xp.exp(offsets[..., 2] * variances[1]) * a[:, 2]
    w = xp.exp(offsets[..., 3] * variances[1]) * a[:, 3]
    return xp.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], axis=-1)


def targets(boxes: Sequence, labels: Sequence, anchors, iou_threshold: float = 0.5
            ) -> dict[str, np.ndarray]:
    """Training targets for n images: `{"classes": (n, N) int32, "boxes": (n, N, 5) float32}`
    (offsets and the positive flag), for a model with outputs `classes` and `boxes`."""
    classes, offsets = [], []
    for b, lab in zip(boxes, labels, strict=True):
        c, o = encode(b, lab, anchors, iou_threshold)
        classes.append(c)
        offsets.append(np.concatenate([o, (c > 0)[:, None].astype(np.float32)], axis=-1))
    n = len(classes)
    return {"classes": np.asarray(classes, np.int32).reshape(n, len(anchors)),
            "boxes": np.asarray(offsets, np.float32).reshape(n, len(anchors), 5)}


# ---------------------------------------------------------------- losses


def _normaliser(positives):
    """batch size / positives in the batch: Keras averages per-image losses over the batch,
    so per-image sums times this average to (sum over the batch) / positives."""
    batch = K.cast(K.shape(positives)[0], positives.dtype)
    return batch / K.maximum(K.sum(positives), 1.0)


@keras.saving.register_keras_serializable(package="archc")
class SSDConfidence(keras.losses.Loss):
    """SSD's confidence loss for the `classes` output (logits, (N, C+1)) against class ids
    (N,): softmax cross-entropy summed over the positive anchors and the hardest negatives
    (the `neg_pos_ratio` per positive of each image with the highest loss, at least
    `min_negatives`), divided by the number of positives in the batch."""

    def __init__(self, neg_pos_ratio: float = NEG_POS_RATIO, min_negatives: int = 0,
                 name: str = "ssd_confidence", reduction: str = "sum_over_batch_size",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.neg_pos_ratio = float(neg_pos_ratio)
        self.min_negatives = int(min_negatives)

    def call(self, y_true, y_pred):
        y_pred = K.convert_to_tensor(y_pred)
        labels = K.cast(K.reshape(y_true, K.shape(y_pred)[:-1]), "int32")
        ce = K.sparse_categorical_crossentropy(labels, y_pred, from_logits=True)  # (B, N)
        positive = K.cast(labels > 0, ce.dtype)
        count = K.sum(positive, axis=1, keepdims=True)
        anchors = K.cast(K.shape(ce)[1], ce.dtype)
        wanted = K.minimum(K.maximum(self.neg_pos_ratio * count, float(self.min_negatives)),
                           anchors - count)
        candidates = K.where(labels > 0, -1.0, K.stop_gradient(ce))
        rank = K.argsort(K.argsort(-candidates, axis=1), axis=1)
        negative = K.cast(K.cast(rank, ce.dtype) < wanted, ce.dtype) * (1.0 - positive)
        per_image = K.sum(ce * (positive + negative), axis=1)
        return per_image * _normaliser(positive)

    def get_config(self):
        return {**super().get_config(), "neg_pos_ratio": self.neg_pos_ratio,
                "min_negatives": self.min_negatives}


@keras.saving.register_keras_serializable(package="archc")
class SSDSmoothL1(keras.losses.Loss):
    """SSD's localisation loss for the `boxes` output (offsets, (N, 4)) against targets
    (N, 5) = offsets and the positive flag: SmoothL1 (Huber, delta 1) summed over the
    positive anchors' four offsets, divided by the number of positives in the batch."""

    def __init__(self, name: str = "ssd_smooth_l1", reduction: str = "sum_over_batch_size",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        y_pred = K.convert_to_tensor(y_pred)
        y_true = K.cast(y_true, y_pred.dtype)
        if y_true.shape[-1] != 5:
            raise ValueError("ssd_smooth_l1 expects targets of (anchors, 5): the 4 encoded "
                             "offsets and the positive flag (archc.ssd.targets builds them), "
                             f"found a last axis of {y_true.shape[-1]}")
        positive = y_true[..., 4]
        diff = K.abs(y_pred - y_true[..., :4])
        smooth = K.where(diff < 1.0, 0.5 * diff * diff, diff - 0.5)
        per_image = K.sum(K.sum(smooth, axis=-1) * positive, axis=1)
        return per_image * _normaliser(positive)


# ---------------------------------------------------------------- inference


def non_max_suppression(boxes, scores, max_detections: int = 100, iou_threshold: float = 0.45,
                        score_threshold: float = 0.01):
    """Per-class NMS of a batch: boxes (B, N, 4) in [0, 1], scores (B, N, C) without the
    background -> (B, max_detections, 6) `[ymin, xmin, ymax, xmax, score, class]`, best
    first, zero rows with class -1 after the last detection.

    The same detections as `tf.image.combined_non_max_suppression(boxes[:, :, None],
    scores, max_detections, max_detections, ...)` (a test checks it), computed by
    `tf.image.non_max_suppression_with_scores` (NonMaxSuppressionV5, a TensorFlow Lite
    builtin; the combined op is not one): every (box, class) pair is a candidate, the box
    shifted by 2 x class so that boxes of different classes never overlap, and one NMS pass
    over all of them keeps the best `max_detections`.
    """
    import tensorflow as tf

    classes = scores.shape[-1]

    def one_image(args):
        image_boxes, image_scores = args                              # (N, 4), (N, C)
        flat_scores = tf.reshape(image_scores, [-1])                  # anchor-major
        labels = tf.tile(tf.range(classes), tf.shape(image_boxes)[:1])
        flat_boxes = tf.repeat(image_boxes, classes, axis=0)
        shifted = flat_boxes + 2.0 * tf.cast(labels, flat_boxes.dtype)[:, None]
        keep, kept_scores = tf.image.non_max_suppression_with_scores(
            shifted, flat_scores, max_detections, iou_threshold=iou_threshold,
            score_threshold=score_threshold)
        rows = tf.concat([tf.gather(flat_boxes, keep), kept_scores[:, None],
                          tf.cast(tf.gather(labels, keep), flat_boxes.dtype)[:, None]], axis=1)
        empty = max_detections - tf.shape(keep)[0]
        padding = tf.concat([tf.zeros([empty, 5], rows.dtype),
                             -tf.ones([empty, 1], rows.dtype)], axis=1)
        return tf.concat([rows, padding], axis=0)

    return tf.map_fn(one_image, (boxes, scores),
                     fn_output_signature=tf.TensorSpec([max_detections, 6], boxes.dtype))


@keras.saving.register_keras_serializable(package="archc")
class SSDDecode(keras.layers.Layer):
    """SSD's decoding for inference: inputs `[classes, boxes, *feature_maps]` -- class logits
    (B, N, C+1) with the background first, box offsets (B, N, 4), and the feature maps the
    heads predict from (only their (H, W) are read, to place the anchors; or give
    `feature_maps` and pass only the two predictions). Output (B, max_detections, 6): per
    detection `[ymin, xmin, ymax, xmax, score, class]`, best first, class -1 and zeros in
    the empty rows (`unpack` splits it).

    Softmax scores, offsets decoded against the anchors (`make_anchors`) and clipped to the
    image, then per-class non-max suppression by TensorFlow's own kernel
    (`non_max_suppression`: the result of `tf.image.combined_non_max_suppression`, through an
    op TensorFlow Lite runs natively). In a training step (`training=True`) the
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
        classes, boxes, *maps = input_shape
        if self.feature_maps is None:
            if not maps:
                raise ValueError("SSDDecode needs the feature maps as inputs or `feature_maps`")
            self.feature_maps = tuple((int(m[1]), int(m[2])) for m in maps)
        self.anchors = make_anchors(self.feature_maps, self.s_min, self.s_max, self.aspect_ratios)
        if classes[1] is not None and classes[1] != len(self.anchors):
            raise ValueError(f"{len(self.anchors)} anchors for feature maps "
                             f"{list(self.feature_maps)}, but {classes[1]} predictions")

    def call(self, inputs, training=None):
        logits, offsets = inputs[0], inputs[1]
        if training:  # nothing trains the detections: skip the NMS in training steps
            return K.zeros((K.shape(logits)[0], self.max_detections, 6), logits.dtype)
        scores = K.softmax(logits, axis=-1)[..., 1:]
        boxes = K.clip(decode(offsets, self.anchors, self.variances), 0.0, 1.0)
        return non_max_suppression(boxes, scores, self.max_detections, self.iou_threshold,
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


def unpack(detections) -> dict:
    """The `ssd_decode` output (..., K, 6) as `{"boxes": (..., K, 4), "scores": (..., K),
    "classes": (..., K) int (-1 where empty), "valid": (...) the number of detections}`."""
    xp = np if isinstance(detections, np.ndarray) else K
    classes = detections[..., 5]
    return {"boxes": detections[..., :4], "scores": detections[..., 4],
            "classes": xp.cast(classes, "int32") if xp is K else classes.astype(np.int32),
            "valid": xp.sum(xp.cast(classes >= 0, "int32") if xp is K
                            else (classes >= 0).astype(np.int32), axis=-1)}


def inference_model(model, feature_maps: Sequence[tuple[int, int]] | None = None, **options):
    """A Keras model from `model`'s inputs to `{"boxes", "scores", "classes", "valid"}`.

    A model with an `ssd_decode` layer (the `detections` output of `mobilenetv2_ssd_auto`)
    keeps it; for a model with only `classes` and `boxes` outputs, give the feature-map
    sizes of its heads (finest first) and the `SSDDecode` options (max_detections, ...).
    """
    layer = _decode_layer(model)
    if layer is not None and not options:
        detections = layer.output
    else:
        if feature_maps is None:
            raise ValueError("give feature_maps: the model has no ssd_decode layer")
        outputs = model.output
        detections = SSDDecode(feature_maps=[list(m) for m in feature_maps], **options,
                               name="ssd_decode")([outputs["classes"], outputs["boxes"]])
    return keras.Model(model.inputs, unpack(detections), name=f"{model.name}_detector")
