"""Shape, parameter and FLOP rules: concrete arguments + input shapes -> output shape,
parameter count and multiply-adds, without building Keras.

Each op of the registry holds its rule (`ops.OpSpec.shape`): a function, or, for a family of
Keras layers that differ only in their number of spatial axes (Conv1D/2D/3D, MaxPooling1D/2D,
GlobalAveragePooling1D/2D, ...), the family's rule at that rank (`Conv(2)`, `Pool(1)`).
Shapes leave out the batch axis. FLOPs count the multiply-adds of convolutions and dense
layers (the usual "MACs"); other layers count 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Shape = tuple


class ShapeFault(ValueError):
    """A rule's complaint; resolve.py turns it into a positioned ShapeMismatch."""


class NeedsKeras(ShapeFault):
    """The op has no rule here: only Keras knows its output shape and parameters."""


def from_keras(a, shapes) -> Result:
    """The rule of a layer archc knows only by its Keras class (`keras_layer`): none here;
    resolve.py asks Keras (the layer's `compute_output_spec`) when it may import it."""
    raise NeedsKeras(f"the output shape of {a.get('class_name')} is known only to Keras")


@dataclass(frozen=True)
class Result:
    shape: Shape
    params: int = 0
    flops: int = 0


Rule = Callable[[Mapping, list], Result]  # (effective arguments, input shapes) -> Result


def infer(spec, args: Mapping, shapes: list[Shape]) -> Result:
    """Output shape, parameters and FLOPs of op `spec` with effective `args` on `shapes`.

    Raises:
        ShapeFault: the inputs cannot work with this op.
    """
    return spec.shape(args, shapes)


# ---------------------------------------------------------------- helpers


def _tuple(v, rank: int) -> tuple[int, ...]:
    """An int for every axis (`3` -> (3, 3)), or the tuple as given."""
    return (v,) * rank if isinstance(v, int) else tuple(v)


def _prod(xs) -> int:
    return math.prod(int(x) for x in xs)


_LAYOUTS = {2: "(steps, C)", 3: "(H, W, C)", 4: "(D, H, W, C)"}


def _rank(shapes: list[Shape], rank: int, what: str) -> Shape:
    (shape,) = shapes
    if len(shape) != rank:
        raise ShapeFault(f"{what} expects an input of rank {rank} ({_LAYOUTS.get(rank, '')}), "
                         f"found {_fmt(shape)}")
    return shape


def _fmt(shape: Shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _fmts(shapes) -> str:
    return " and ".join(_fmt(s) for s in shapes)


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


def _windows(size: Shape, kernel, strides, padding: str, dilation=1) -> tuple[int, ...]:
    """The output size on every spatial axis of a window sliding over `size`."""
    rank = len(size)
    return tuple(conv_length(n, k, s, padding, d) for n, k, s, d in zip(
        size, _tuple(kernel, rank), _tuple(strides, rank), _tuple(dilation, rank), strict=True))


def _bias(a, units: int) -> int:
    return units if a["use_bias"] else 0


def _no_dilated_strides(a, rank: int) -> None:
    """Keras's convolutions refuse a stride above 1 together with a dilation above 1."""
    strides, dilation = _tuple(a["strides"], rank), _tuple(a.get("dilation_rate", 1), rank)
    if max(strides) > 1 and max(dilation) > 1:
        raise ShapeFault(f"strides {_fmt(strides)} and dilation_rate {_fmt(dilation)}: Keras "
                         "does not support strides > 1 together with dilation_rate > 1")


# ---------------------------------------------------------------- spatial families


@dataclass(frozen=True)
class Conv:
    """ConvND: `filters` outputs of a kernel over `groups` slices of the channels."""

    rank: int

    def __call__(self, a, shapes) -> Result:
        *size, c = _rank(shapes, self.rank + 1, f"conv{self.rank}d")
        groups, f = a.get("groups", 1), a["filters"]
        if c % groups or f % groups:
            raise ShapeFault(f"groups={groups} must divide the input channels ({c}) and filters")
        _no_dilated_strides(a, self.rank)
        out = _windows(size, a["kernel_size"], a["strides"], a["padding"], a["dilation_rate"])
        per_out = _prod(_tuple(a["kernel_size"], self.rank)) * (c // groups)
        return Result((*out, f), per_out * f + _bias(a, f), _prod(out) * per_out * f)


@dataclass(frozen=True)
class DepthwiseConv:
    """DepthwiseConvND: `depth_multiplier` kernels per input channel."""

    rank: int

    def __call__(self, a, shapes) -> Result:
        *size, c = _rank(shapes, self.rank + 1, f"depthwise_conv{self.rank}d")
        out = _windows(size, a["kernel_size"], a["strides"], a["padding"], a["dilation_rate"])
        kernel = _prod(_tuple(a["kernel_size"], self.rank))
        out_c = c * a["depth_multiplier"]
        return Result((*out, out_c), kernel * out_c + _bias(a, out_c), _prod(out) * kernel * out_c)


@dataclass(frozen=True)
class SeparableConv:
    """SeparableConvND: a depthwise convolution, then a 1x1 one to `filters` channels."""

    rank: int

    def __call__(self, a, shapes) -> Result:
        *size, c = _rank(shapes, self.rank + 1, f"separable_conv{self.rank}d")
        out = _windows(size, a["kernel_size"], a["strides"], a["padding"], a["dilation_rate"])
        kernel = _prod(_tuple(a["kernel_size"], self.rank))
        mid, f = c * a["depth_multiplier"], a["filters"]
        per_pixel = kernel * mid + mid * f
        return Result((*out, f), per_pixel + _bias(a, f), _prod(out) * per_pixel)


def _transpose_length(size, kernel, stride, dilation, padding, output_padding) -> int:
    """Keras's output length of a transposed convolution (its dilated kernel included)."""
    kernel = (kernel - 1) * dilation + 1
    if padding == "same":
        return size * stride if output_padding is None else \
            (size - 1) * stride + kernel % 2 + output_padding
    extra = max(kernel, stride) - kernel if output_padding is None else output_padding
    return (size - 1) * stride + kernel + extra


@dataclass(frozen=True)
class ConvTranspose:
    """ConvNDTranspose: learned upsampling by `strides`."""

    rank: int

    def __call__(self, a, shapes) -> Result:
        *size, c = _rank(shapes, self.rank + 1, f"conv{self.rank}d_transpose")
        _no_dilated_strides(a, self.rank)
        kernel = _tuple(a["kernel_size"], self.rank)
        strides = _tuple(a["strides"], self.rank)
        op = a.get("output_padding")
        extra = (None,) * self.rank if op is None else _tuple(op, self.rank)
        if op is not None and any(p >= s for p, s in zip(extra, strides, strict=True)):
            raise ShapeFault(f"output_padding {_fmt(extra)} must be less than strides "
                             f"{_fmt(strides)} on every axis")
        dilation = _tuple(a.get("dilation_rate", 1), self.rank)
        out = tuple(_transpose_length(*dims, a["padding"], p)
                    for *dims, p in zip(size, kernel, strides, dilation, extra, strict=True))
        f = a["filters"]
        weights = _prod(kernel) * c * f
        return Result((*out, f), weights + _bias(a, f), _prod(size) * weights)


@dataclass(frozen=True)
class Pool:
    """MaxPoolingND / AveragePoolingND (strides default to pool_size)."""

    rank: int

    def __call__(self, a, shapes) -> Result:
        *size, c = _rank(shapes, self.rank + 1, "pooling")
        window = a.get("pool_size") or 2
        out = _windows(size, window, a.get("strides") or window, a["padding"])
        return Result((*out, c))


@dataclass(frozen=True)
class GlobalPool:
    """GlobalAveragePoolingND / GlobalMaxPoolingND: one value per channel."""

    rank: int

    def __call__(self, a, shapes) -> Result:
        *_, c = _rank(shapes, self.rank + 1, "global pooling")
        return Result((1,) * self.rank + (c,) if a.get("keepdims") else (c,))


@dataclass(frozen=True)
class UpSampling:
    """UpSamplingND: every spatial axis times its `size`."""

    rank: int

    def __call__(self, a, shapes) -> Result:
        *size, c = _rank(shapes, self.rank + 1, f"upsampling{self.rank}d")
        factors = _tuple(a.get("size", 2), self.rank)
        return Result((*(n * s for n, s in zip(size, factors, strict=True)), c))


def _margins(p, rank: int) -> tuple[tuple[int, int], ...]:
    """A ZeroPadding/Cropping spec as (before, after) per spatial axis: an int for all of
    them, one int or pair per axis, or (1-D) the pair (before, after)."""
    if isinstance(p, int):
        return ((p, p),) * rank
    if rank == 1 and all(isinstance(x, int) for x in p):
        return (tuple(p),)
    return tuple((x, x) if isinstance(x, int) else tuple(x) for x in p)


@dataclass(frozen=True)
class ZeroPadding:
    """ZeroPaddingND: zeros before and after each spatial axis."""

    rank: int

    def __call__(self, a, shapes) -> Result:
        *size, c = _rank(shapes, self.rank + 1, f"zero_padding{self.rank}d")
        margins = _margins(a.get("padding", 1), self.rank)
        return Result((*(n + b + e for n, (b, e) in zip(size, margins, strict=True)), c))


@dataclass(frozen=True)
class Cropping:
    """CroppingND: rows cut off before and after each spatial axis."""

    rank: int

    def __call__(self, a, shapes) -> Result:
        *size, c = _rank(shapes, self.rank + 1, f"cropping{self.rank}d")
        margins = _margins(a.get("cropping", 0), self.rank)
        out = tuple(n - b - e for n, (b, e) in zip(size, margins, strict=True))
        if min(out) < 1:
            raise ShapeFault(f"cropping leaves no pixels of {_fmt((*size, c))}")
        return Result((*out, c))


# ---------------------------------------------------------------- other layers


def dense(a, shapes) -> Result:
    (shape,) = shapes
    c = shape[-1]
    units = a["units"]
    params = c * units + (units if a["use_bias"] else 0)
    return Result(shape[:-1] + (units,), params, _prod(shape[:-1]) * c * units)


def same_shape(a, shapes) -> Result:
    return Result(shapes[0])


def along_axis(a, shapes) -> Result:
    """A shape-preserving layer over one `axis` (Softmax): the axis must be one of the input's."""
    batchless_axis(a.get("axis", -1), len(shapes[0]))
    return Result(shapes[0])


@dataclass(frozen=True)
class SpatialDropout:
    """SpatialDropoutND: drops whole feature maps of an input of rank N + 1."""

    rank: int

    def __call__(self, a, shapes) -> Result:
        return Result(_rank(shapes, self.rank + 1, f"spatial_dropout{self.rank}d"))


def batchless_axis(axis: int, rank: int) -> int:
    """A Keras axis (counting the batch axis as 0) as an index into a batch-less shape."""
    if axis == 0 or not -rank <= axis <= rank:
        raise ShapeFault(f"axis {axis} is not an axis of a rank-{rank} input (axis 0 is the batch)")
    return rank + axis if axis < 0 else axis - 1


def _axis_size(shape: Shape, axis) -> int:
    return shape[batchless_axis(axis if isinstance(axis, int) else axis[0], len(shape))]


def batch_norm(a, shapes) -> Result:
    """gamma and beta where `scale` and `center` keep them, the moving mean and variance."""
    kept = 2 + int(a.get("center", True)) + int(a.get("scale", True))
    return Result(shapes[0], kept * _axis_size(shapes[0], a.get("axis", -1)))


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
    if a.get("crop_to_aspect_ratio") and a.get("pad_to_aspect_ratio"):
        raise ShapeFault("only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be true")
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


# ---------------------------------------------------------------- sequences and attention


@dataclass(frozen=True)
class Recurrent:
    """SimpleRNN (1 gate), GRU (3), LSTM (4) over (steps, features): each gate has an input
    kernel, a recurrent kernel and a bias (GRU's `reset_after` keeps a second bias)."""

    gates: int
    rank: int = 1  # the steps axis: inputs are (steps, features)

    def __call__(self, a, shapes) -> Result:
        steps, c = _rank(shapes, 2, "a recurrent layer")
        units = a["units"]
        biases = (1 + int(a.get("reset_after", False))) if a.get("use_bias", True) else 0
        per_gate = units * (c + units) + biases * units
        shape = (steps, units) if a.get("return_sequences") else (units,)
        return Result(shape, self.gates * per_gate, steps * self.gates * units * (c + units))


def embedding(a, shapes) -> Result:
    """Embedding: every integer of the input becomes a vector of `output_dim`."""
    return Result(tuple(shapes[0]) + (a["output_dim"],), a["input_dim"] * a["output_dim"])


def self_attention(a, shapes) -> Result:
    """MultiHeadAttention with query = value = key = the input: four projections (query, key,
    value to `num_heads` heads, the heads back to the input's features)."""
    (shape,) = shapes
    if len(shape) < 2:
        raise ShapeFault(f"attention expects (steps..., features), found {_fmt(shape)}")
    c, heads, key = shape[-1], a["num_heads"], a["key_dim"]
    value = a.get("value_dim") or key
    bias = bool(a.get("use_bias", True))
    params = (2 * (c * heads * key + bias * heads * key) + c * heads * value
              + bias * heads * value + heads * value * c + bias * c)
    positions = _prod(shape[:-1])
    projections = positions * c * heads * (2 * key + 2 * value)
    return Result(shape, params, projections + positions * positions * heads * (key + value))


def group_norm(a, shapes) -> Result:
    """GroupNormalization: `groups` must divide the channels; gamma and beta per channel."""
    c = _axis_size(shapes[0], a.get("axis", -1))
    if c % a.get("groups", 32):
        raise ShapeFault(f"groups={a.get('groups', 32)} must divide the {c} channels")
    return Result(shapes[0], c * (int(a.get("center", True)) + int(a.get("scale", True))))


# ---------------------------------------------------------------- images


def image(a, shapes) -> Result:
    """An augmentation layer on images (H, W, C): the shape is kept."""
    return Result(_rank(shapes, 3, "an image layer"))


def crop(a, shapes) -> Result:
    """RandomCrop / CenterCrop: images (H, W, C) -> (height, width, C)."""
    *_, c = _rank(shapes, 3, "cropping")
    return Result((a["height"], a["width"], c))
