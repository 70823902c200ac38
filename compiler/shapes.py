"""Shape, parameter and FLOP rules: op + concrete arguments + input shapes -> output shape,
parameter count and multiply-adds, without building Keras.

Shapes leave out the batch axis. One rule per Keras layer class (`RULES`); ops of the
registry find theirs through `OpSpec.keras_class`. FLOPs count the multiply-adds of
convolutions and dense layers (the usual "MACs"); other layers count 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

Shape = tuple


class ShapeFault(ValueError):
    """A rule's complaint; resolve.py turns it into a positioned ShapeMismatch."""


@dataclass(frozen=True)
class Result:
    shape: Shape
    params: int = 0
    flops: int = 0


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _prod(xs) -> int:
    return math.prod(int(x) for x in xs)


def _rank(shapes: list[Shape], rank: int, what: str) -> Shape:
    (shape,) = shapes
    if len(shape) != rank:
        raise ShapeFault(f"{what} expects an input of rank {rank} "
                         f"({'(H, W, C)' if rank == 3 else '(steps, C)' if rank == 2 else ''}), "
                         f"found {_fmt(shape)}")
    return shape


def _fmt(shape: Shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def conv_length(size: int, kernel: int, stride: int, padding: str, dilation: int = 1) -> int:
    """Keras's output length of a convolution or pooling window."""
    if padding in ("same", "causal"):
        out = -(-size // stride)
    else:
        out = (size - dilation * (kernel - 1) - 1) // stride + 1
    if out < 1:
        raise ShapeFault(f"the spatial size collapses below 1: a window of {kernel} "
                         f"(stride {stride}, padding {padding}) on a size of {size}")
    return out


def _spatial(shape, kernel, strides, padding, dilation=(1, 1)) -> tuple[int, int]:
    kh, kw = _pair(kernel)
    sh, sw = _pair(strides)
    dh, dw = _pair(dilation)
    return (conv_length(shape[0], kh, sh, padding, dh), conv_length(shape[1], kw, sw, padding, dw))


def conv2d(a, shapes) -> Result:
    h, w, c = _rank(shapes, 3, "conv2d")
    groups = a.get("groups", 1)
    if c % groups or a["filters"] % groups:
        raise ShapeFault(f"groups={groups} must divide the input channels ({c}) and filters")
    oh, ow = _spatial((h, w), a["kernel_size"], a["strides"], a["padding"], a["dilation_rate"])
    kh, kw = _pair(a["kernel_size"])
    per_out = kh * kw * (c // groups)
    params = per_out * a["filters"] + (a["filters"] if a["use_bias"] else 0)
    return Result((oh, ow, a["filters"]), params, oh * ow * per_out * a["filters"])


def conv1d(a, shapes) -> Result:
    length, c = _rank(shapes, 2, "conv1d")
    out = conv_length(length, a["kernel_size"], a["strides"], a["padding"], a["dilation_rate"])
    groups = a.get("groups", 1)
    per_out = a["kernel_size"] * (c // groups)
    params = per_out * a["filters"] + (a["filters"] if a["use_bias"] else 0)
    return Result((out, a["filters"]), params, out * per_out * a["filters"])


def depthwise_conv2d(a, shapes) -> Result:
    h, w, c = _rank(shapes, 3, "depthwise_conv2d")
    oh, ow = _spatial((h, w), a["kernel_size"], a["strides"], a["padding"], a["dilation_rate"])
    kh, kw = _pair(a["kernel_size"])
    out_c = c * a["depth_multiplier"]
    params = kh * kw * out_c + (out_c if a["use_bias"] else 0)
    return Result((oh, ow, out_c), params, oh * ow * kh * kw * out_c)


def separable_conv2d(a, shapes) -> Result:
    h, w, c = _rank(shapes, 3, "separable_conv2d")
    oh, ow = _spatial((h, w), a["kernel_size"], a["strides"], a["padding"], a["dilation_rate"])
    kh, kw = _pair(a["kernel_size"])
    mid = c * a["depth_multiplier"]
    f = a["filters"]
    params = kh * kw * mid + mid * f + (f if a["use_bias"] else 0)
    return Result((oh, ow, f), params, oh * ow * (kh * kw * mid + mid * f))


def _transpose_length(size, kernel, stride, padding, output_padding) -> int:
    if output_padding is None:
        return size * stride if padding == "same" else size * stride + max(kernel - stride, 0)
    pad = kernel // 2 if padding == "same" else 0
    return (size - 1) * stride + kernel - 2 * pad + output_padding


def conv2d_transpose(a, shapes) -> Result:
    h, w, c = _rank(shapes, 3, "conv2d_transpose")
    kh, kw = _pair(a["kernel_size"])
    sh, sw = _pair(a["strides"])
    op = a.get("output_padding")
    oph, opw = (None, None) if op is None else _pair(op)
    oh = _transpose_length(h, kh, sh, a["padding"], oph)
    ow = _transpose_length(w, kw, sw, a["padding"], opw)
    f = a["filters"]
    params = kh * kw * c * f + (f if a["use_bias"] else 0)
    return Result((oh, ow, f), params, h * w * kh * kw * c * f)


def pool2d(a, shapes) -> Result:
    h, w, c = _rank(shapes, 3, "pooling")
    size = a.get("pool_size") or (2, 2)
    strides = a.get("strides") or size
    oh, ow = _spatial((h, w), size, strides, a["padding"])
    return Result((oh, ow, c))


def global_pool2d(a, shapes) -> Result:
    _, _, c = _rank(shapes, 3, "global pooling")
    return Result((1, 1, c) if a.get("keepdims") else (c,))


def dense(a, shapes) -> Result:
    (shape,) = shapes
    c = shape[-1]
    units = a["units"]
    params = c * units + (units if a["use_bias"] else 0)
    return Result(shape[:-1] + (units,), params, _prod(shape[:-1]) * c * units)


def same_shape(a, shapes) -> Result:
    return Result(shapes[0])


def batchless_axis(axis: int, rank: int) -> int:
    """A Keras axis (counting the batch axis as 0) as an index into a batch-less shape."""
    if axis == 0 or not -rank <= axis <= rank:
        raise ShapeFault(f"axis {axis} is not an axis of a rank-{rank} input (axis 0 is the batch)")
    return rank + axis if axis < 0 else axis - 1


def _axis_size(shape: Shape, axis) -> int:
    return shape[batchless_axis(axis if isinstance(axis, int) else axis[0], len(shape))]


def batch_norm(a, shapes) -> Result:
    return Result(shapes[0], 4 * _axis_size(shapes[0], a.get("axis", -1)))


def layer_norm(a, shapes) -> Result:
    c = _axis_size(shapes[0], a.get("axis", -1))
    return Result(shapes[0], c * (int(a.get("center", True)) + int(a.get("scale", True))))


def normalization(a, shapes) -> Result:
    if a.get("mean") is not None:
        return Result(shapes[0])
    return Result(shapes[0], 2 * _axis_size(shapes[0], a.get("axis", -1)) + 1)


def concat(a, shapes) -> Result:
    axis = a.get("axis", -1)
    ranks = {len(s) for s in shapes}
    if len(ranks) != 1:
        raise ShapeFault("concat needs inputs of one rank, found " + _fmts(shapes))
    rank = ranks.pop()
    ax = batchless_axis(axis, rank)
    for i in range(rank):
        if i != ax and len({s[i] for s in shapes}) > 1:
            raise ShapeFault("concat needs equal sizes except on the joined axis, found "
                             + _fmts(shapes))
    out = list(shapes[0])
    out[ax] = sum(s[ax] for s in shapes)
    return Result(tuple(out))


def _fmts(shapes) -> str:
    return " and ".join(_fmt(s) for s in shapes)


def elementwise(a, shapes) -> Result:
    """Add / Multiply / ...: equal shapes, or 1s that broadcast (an SE gate (1, 1, C))."""
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    out = []
    for dims in zip(*padded, strict=True):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            raise ShapeFault("element-wise merge of shapes that differ: " + _fmts(shapes))
        out.append(sizes.pop() if sizes else 1)
    return Result(tuple(out))


def upsampling2d(a, shapes) -> Result:
    h, w, c = _rank(shapes, 3, "upsampling2d")
    sh, sw = _pair(a.get("size", (2, 2)))
    return Result((h * sh, w * sw, c))


def _padding_spec(p) -> tuple[tuple[int, int], tuple[int, int]]:
    if isinstance(p, int):
        return (p, p), (p, p)
    first, second = p
    if isinstance(first, int):
        return (first, first), (second, second)
    return tuple(first), tuple(second)


def zero_padding2d(a, shapes) -> Result:
    h, w, c = _rank(shapes, 3, "zero_padding2d")
    (t, b), (left, r) = _padding_spec(a.get("padding", (1, 1)))
    return Result((h + t + b, w + left + r, c))


def cropping2d(a, shapes) -> Result:
    h, w, c = _rank(shapes, 3, "cropping2d")
    (t, b), (left, r) = _padding_spec(a.get("cropping", ((0, 0), (0, 0))))
    oh, ow = h - t - b, w - left - r
    if oh < 1 or ow < 1:
        raise ShapeFault(f"cropping leaves no pixels of {_fmt((h, w, c))}")
    return Result((oh, ow, c))


def flatten(a, shapes) -> Result:
    return Result((_prod(shapes[0]),))


def reshape(a, shapes) -> Result:
    target = tuple(a["target_shape"])
    total = _prod(shapes[0])
    known = _prod(d for d in target if d != -1)
    if -1 in target:
        if known == 0 or total % known:
            raise ShapeFault(f"cannot reshape {_fmt(shapes[0])} to {_fmt(target)}")
        target = tuple(total // known if d == -1 else d for d in target)
    elif known != total:
        raise ShapeFault(f"cannot reshape {_fmt(shapes[0])} ({total} values) to {_fmt(target)} "
                         f"({known} values)")
    return Result(target)


def resizing(a, shapes) -> Result:
    *_, c = _rank(shapes, 3, "resizing")
    return Result((a["height"], a["width"], c))


def reduce(a, shapes) -> Result:
    (shape,) = shapes
    axes = a.get("axis", -1)
    axes = {batchless_axis(x, len(shape))
            for x in (axes if isinstance(axes, tuple | list) else (axes,))}
    if a.get("keepdims"):
        return Result(tuple(1 if i in axes else d for i, d in enumerate(shape)))
    return Result(tuple(d for i, d in enumerate(shape) if i not in axes))


def ssd_decode(a, shapes) -> Result:
    """(class logits (N, C+1), box offsets (N, 4), feature maps (H, W, C)...) -> detections
    (max_detections, 6); N must be the anchors of the maps (len(aspect_ratios) + 1 per cell)."""
    if len(shapes) < 2:
        raise ShapeFault("ssd_decode takes the class logits, the box offsets and the feature maps")
    classes, boxes, *maps = shapes
    if len(classes) != 2 or len(boxes) != 2 or boxes[1] != 4 or classes[0] != boxes[0]:
        raise ShapeFault("ssd_decode expects class logits (N, classes + 1) and box offsets "
                         f"(N, 4), found {_fmts([classes, boxes])}")
    sizes = a.get("feature_maps") or []
    if not sizes:
        if not maps or any(len(m) != 3 for m in maps):
            raise ShapeFault("ssd_decode needs the feature maps (H, W, C) its heads predict "
                             "from, after the two predictions, found " + _fmts(maps or [()]))
        sizes = [m[:2] for m in maps]
    per_cell = len(a.get("aspect_ratios", (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0))) + 1
    anchors = per_cell * sum(int(h) * int(w) for h, w in sizes)
    if anchors != classes[0]:
        grid = ", ".join(f"{h}x{w}" for h, w in sizes)
        raise ShapeFault(f"ssd_decode: feature maps {grid} at {per_cell} anchors per cell make "
                         f"{anchors} anchors, but the predictions have {classes[0]} rows")
    return Result((a.get("max_detections", 100), 6))


RULES: dict[str, Callable] = {
    "Conv2D": conv2d, "Conv1D": conv1d, "DepthwiseConv2D": depthwise_conv2d,
    "SeparableConv2D": separable_conv2d, "Conv2DTranspose": conv2d_transpose,
    "MaxPooling2D": pool2d, "AveragePooling2D": pool2d,
    "GlobalAveragePooling2D": global_pool2d, "GlobalMaxPooling2D": global_pool2d,
    "Dense": dense, "BatchNormalization": batch_norm, "LayerNormalization": layer_norm,
    "Normalization": normalization, "Concatenate": concat,
    "Add": elementwise, "Multiply": elementwise, "Average": elementwise,
    "Maximum": elementwise, "Minimum": elementwise, "Subtract": elementwise,
    "UpSampling2D": upsampling2d, "ZeroPadding2D": zero_padding2d,
    "Cropping2D": cropping2d, "Flatten": flatten, "Reshape": reshape, "Resizing": resizing,
    "archc.Reduce": reduce, "archc.SSDDecode": ssd_decode,
}
SAME_SHAPE = ("Dropout", "SpatialDropout2D", "Activation", "ReLU", "LeakyReLU", "Softmax",
              "Identity", "Rescaling", "ELU")


def rule(keras_class: str) -> Callable:
    if keras_class in RULES:
        return RULES[keras_class]
    if keras_class in SAME_SHAPE:
        return same_shape
    raise KeyError(f"no shape rule for {keras_class}")


def infer(spec, args: dict, shapes: list[Shape]) -> Result:
    """Output shape, parameters and FLOPs of op `spec` with effective `args` on `shapes`.

    Raises:
        ShapeFault: the inputs cannot work with this op.
    """
    return rule(spec.keras_class)(args, shapes)
