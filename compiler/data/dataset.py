"""`Dataset`: the splits of a data set as numpy arrays, the shapes a template wants, and
the tf.data pipelines (cache -> shuffle -> batch -> preprocess -> prefetch) built from them
(on other Keras backends, the same batches from `batches.py`, without TensorFlow).

Examples are stored raw (uint8 images at their stored size, labels as class ids) and
turned into what the template takes -- float32 in [0, 1], resized to the input's height
and width, gray <-> RGB, flattened for a flat input, labels one-hot or ids as the loss
wants -- after batching, so a large data set never sits in memory as float32 at the
template's size.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from ..vocab import LOSSES
from . import batches
from .errors import DataError

SPLITS = ("train", "validation", "test")
TASKS = ("classification", "segmentation", "detection")


@dataclass(frozen=True)
class Input:
    """One input as stored: `image` (H, W, C) values in [0, scale], or an `array` as is."""

    kind: str
    shape: tuple
    scale: float = 1.0


@dataclass
class Arrays:
    """The examples of one split: x by input name, y (an array or a dict of arrays), and
    the labels that stratified splits and subsamples keep in proportion (None: random)."""

    x: dict[str, np.ndarray]
    y: object
    strata: np.ndarray | None = None

    def __len__(self) -> int:
        return len(next(iter(self.x.values())))

    def take(self, index) -> Arrays:
        index = np.asarray(index, dtype=np.int64)
        y = ({k: v[index] for k, v in self.y.items()} if isinstance(self.y, dict)
             else self.y[index])
        return Arrays({k: v[index] for k, v in self.x.items()}, y,
                      None if self.strata is None else self.strata[index])


@dataclass
class Source:
    """What a loader returns: raw inputs, and either one pool (`all`, split by `plan`:
    the fractions of train, validation[, test]) or ready splits (a missing validation is
    a stratified `val_from_train` slice of train)."""

    task: str
    inputs: dict[str, Input]
    splits: dict[str, Arrays]
    classes: int | None
    class_names: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    plan: tuple = (0.8, 0.2)
    val_from_train: float = 0.1


# --------------------------------------------------------------------------- splitting


def _groups(strata: np.ndarray | None, n: int) -> list[np.ndarray]:
    if strata is None:
        return [np.arange(n)]
    return [np.flatnonzero(strata == c) for c in np.unique(strata)]


def _quotas(sizes: list[int], fraction: float, rng) -> list[int]:
    """How many of each class a part with `fraction` of the whole takes: the floors of
    the per-class shares, then one more for the largest remainders (seeded ties) until the
    part has round(total * fraction)."""
    shares = np.asarray(sizes, np.float64) * fraction
    quotas = np.floor(shares).astype(int)
    extra = int(round(sum(sizes) * fraction)) - int(quotas.sum())
    if extra > 0:
        order = np.lexsort((rng.random(len(sizes)), -(shares - quotas)))
        quotas[order[:extra]] += 1
    return quotas.tolist()


def stratified_split(strata: np.ndarray | None, n: int, fractions, seed: int):
    """Split range(n) into len(fractions) parts of the given fractions, each holding its
    fraction of every class (largest remainders decide the odd ones; the first part keeps
    at least one example of every class). Each part comes back in a seeded random order."""
    rng = np.random.default_rng(seed)
    groups = [rng.permutation(g) for g in _groups(strata, n)]
    sizes = [len(g) for g in groups]
    quotas = [_quotas(sizes, float(f), rng) for f in fractions[1:]]
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for c, group in enumerate(groups):
        counts = [q[c] for q in quotas]
        while sum(counts) >= len(group) and any(counts):
            counts[int(np.argmax(counts))] -= 1
        start = len(group) - sum(counts)
        parts[0].append(group[:start])
        for i, count in enumerate(counts, 1):
            parts[i].append(group[start:start + count])
            start += count
    return [rng.permutation(np.concatenate(p)) if p else np.zeros(0, np.int64) for p in parts]


def stratified_subsample(strata: np.ndarray | None, n: int, fraction: float, seed: int):
    """Indices of a seeded subsample of range(n) with `fraction` of every class (at least
    one example of each), in a seeded random order."""
    if fraction >= 1.0:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    keep = []
    for group in _groups(strata, n):
        k = max(1, int(round(len(group) * fraction))) if len(group) else 0
        keep.append(rng.permutation(group)[:k])
    return rng.permutation(np.concatenate(keep)) if keep else np.zeros(0, np.int64)


def split_source(src: Source, seed: int) -> dict[str, Arrays]:
    """Train / validation / test arrays of a source (test may be absent)."""
    splits = dict(src.splits)
    if "all" in splits:
        pool = splits.pop("all")
        names = SPLITS[:len(src.plan)]
        parts = stratified_split(pool.strata, len(pool), src.plan, seed)
        splits.update({name: pool.take(idx) for name, idx in zip(names, parts, strict=True)})
    if "validation" not in splits:
        pool = splits["train"]
        train, val = stratified_split(pool.strata, len(pool),
                                      (1 - src.val_from_train, src.val_from_train), seed)
        splits["train"], splits["validation"] = pool.take(train), pool.take(val)
    for name in ("train", "validation"):
        if len(splits[name]) == 0:
            raise DataError(f"the {name} split is empty: the data set has too few examples "
                            f"({len(splits['train'])} in train)")
    return splits


# --------------------------------------------------------------------------- shapes


def fmt_shape(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def target_shape(name: str, info: Input, want, template: str, spec: str) -> tuple:
    """The shape input `name` takes in the template (`want`), checked against the data:
    images fit any [H, W, 1|3] input (resized, channels adapted) or a flat input of their
    size; arrays fit their own shape or a flat one of their size."""
    native = tuple(info.shape)
    if want is None:
        return native
    want = tuple(want)
    size = int(np.prod(native))
    if info.kind == "image":
        if len(want) == 3 and (want[2] in (1, 3) or want[2] == native[2]):
            return want
        if len(want) == 1 and want[0] == size:
            return want
        hint = ("an image input is [height, width, channels] with 1 or 3 channels (images are "
                f"resized to it), or flat [{size}]")
    else:
        if want == native or (len(want) == 1 and want[0] == size):
            return want
        hint = f"array data needs a template input of the same shape {fmt_shape(native)}"
    what = "images" if info.kind == "image" else "arrays"
    raise DataError(f"template '{template}' input '{name}' has shape {fmt_shape(want)}, but "
                    f"the data '{spec}' gives {what} of shape {fmt_shape(native)}", hint=hint)


def _preprocessor(info: Input, target: tuple):
    """A TF function: raw examples (one, or a batch) -> float32 of the target shape."""
    native = tuple(info.shape)

    def prep(x):
        import tensorflow as tf

        x = tf.cast(x, tf.float32)
        if info.scale != 1.0:
            x = x / info.scale
        if info.kind == "image" and len(target) == 3:
            if native[:2] != target[:2]:
                x = tf.image.resize(x, target[:2], antialias=True)
            if native[2] == 1 and target[2] == 3:
                x = tf.image.grayscale_to_rgb(x)
            elif native[2] == 3 and target[2] == 1:
                x = tf.image.rgb_to_grayscale(x)
            return x
        if target != native:
            lead = tf.shape(x)[:tf.rank(x) - len(native)]
            x = tf.reshape(x, tf.concat([lead, tf.constant(target, tf.int32)], 0))
        return x

    return prep


# --------------------------------------------------------------------------- labels


def label_mode(loss, task: str) -> str | None:
    """How y is given for a loss: `sparse` (class ids), `onehot`, `binary` (one 0/1 float
    per example for two classes); None when the loss says nothing (not a loss name)."""
    if isinstance(loss, (list, tuple)):
        loss = loss[0] if loss else None
    if not isinstance(loss, str):
        return None
    name = LOSSES.get(loss, loss)
    if name.startswith("sparse_"):
        return "sparse"
    if name.startswith("binary_") or name in ("dice", "tversky"):
        return "binary"
    return "onehot"


# --------------------------------------------------------------------------- dataset


def _to_numpy(v):
    return {k: t.numpy() for k, t in v.items()} if isinstance(v, dict) else v.numpy()


class Dataset:
    """A loaded data set: train / validation / test as tf.data, shapes, classes."""

    def __init__(self, name: str, task: str, inputs: dict[str, tuple],
                 info: dict[str, Input], splits: dict[str, Arrays], classes: int | None,
                 class_names: list[str] | None = None, notes: list[str] | None = None,
                 seed: int = 0, mode: str = "sparse", fraction: float = 1.0):
        self.name = name
        self.task = task
        self.inputs = dict(inputs)
        self.classes = classes
        self.class_names = class_names
        self.notes = list(notes or [])
        self.seed = seed
        self.fraction = fraction
        self.mode = mode
        self._info = info
        self._splits = splits
        self._preps = {k: _preprocessor(info[k], inputs[k]) for k in inputs}
        self._base: dict[str, object] = {}

    # ---- sizes and description

    @property
    def sizes(self) -> dict[str, int]:
        return {k: len(v) for k, v in self._splits.items()}

    def describe(self) -> str:
        sizes = " / ".join(f"{k} {len(self._splits[k])}" for k in SPLITS if k in self._splits)
        shapes = ", ".join(f"{k} {fmt_shape(v)}" for k, v in self.inputs.items())
        classes = ("binary masks" if self.task == "segmentation" and self.classes is None
                   else f"{self.classes} classes")
        frac = f", fraction {self.fraction:g}" if self.fraction < 1 else ""
        return f"{self.name}: {self.task}, {sizes}{frac}; input {shapes}; {classes}"

    def __repr__(self) -> str:
        return f"<Dataset {self.describe()}>"

    # ---- labels

    def labels_for(self, loss) -> Dataset:
        """This data set with y in the form `loss` (a template or Keras loss name) wants:
        one-hot for categorical losses, class ids for sparse ones, a 0/1 float for binary
        ones. Detection targets are left as they are."""
        mode = label_mode(loss, self.task)
        if mode is None or mode == self.mode or self.task == "detection":
            return self
        other = copy.copy(self)
        other.mode = mode
        return other

    # ---- arrays and tf.data

    def arrays(self, split: str) -> Arrays | None:
        """The raw arrays of a split (uint8 images, class ids), or None (no such split)."""
        return self._splits.get(split)

    def _check_split(self, split: str) -> Arrays | None:
        if split not in SPLITS:
            raise DataError(f"unknown split '{split}'", hint="splits: " + ", ".join(SPLITS))
        return self._splits.get(split)

    def _x(self, x: dict):
        if len(self.inputs) == 1:
            return next(iter(x.values()))
        return x

    def _raw(self, split: str):
        """The raw examples as a cached tf.data.Dataset (made once per split)."""
        if split not in self._base:
            import tensorflow as tf

            arrays = self._splits[split]
            x = {k: arrays.x[k] for k in self.inputs}
            self._base[split] = tf.data.Dataset.from_tensor_slices((x, arrays.y)).cache()
        return self._base[split]

    def prepare(self, x, y):
        """Raw (x, y) -> what the model takes; works on one example or a batch."""
        x = self._x({k: self._preps[k](x[k]) for k in self.inputs})
        return x, self._prepare_y(y)

    def prepare_numpy(self, x: dict, y):
        """`prepare` with numpy alone (no TensorFlow): raw (x, y) of a batch -> numpy."""
        x = self._x({k: batches.prepare_x(x[k], self._info[k].kind, self._info[k].scale,
                                          tuple(self._info[k].shape), tuple(self.inputs[k]))
                     for k in self.inputs})
        return x, batches.prepare_y(y, self.task, self.mode, self.classes)

    def _prepare_y(self, y):
        import tensorflow as tf

        if self.task == "detection":
            return y
        if self.task == "segmentation":
            if self.classes is None:
                return tf.cast(y, tf.float32)
            if self.mode == "sparse":
                return tf.cast(y, tf.int32)
            return tf.one_hot(tf.cast(y[..., 0], tf.int32), self.classes)
        if self.mode == "sparse":
            return tf.cast(y, tf.int32)
        if self.mode == "binary" and self.classes == 2:
            return tf.cast(y, tf.float32)[..., None]
        return tf.one_hot(tf.cast(y, tf.int32), self.classes)

    def _unbatched(self, split: str):
        if self._check_split(split) is None:
            return None
        import tensorflow as tf

        return self._raw(split).map(self.prepare, num_parallel_calls=tf.data.AUTOTUNE,
                                    deterministic=True)

    @property
    def train(self):
        """Unbatched tf.data.Dataset of (x, y) as the model takes them."""
        return self._unbatched("train")

    @property
    def validation(self):
        return self._unbatched("validation")

    @property
    def test(self):
        return self._unbatched("test")

    def pipeline(self, split: str, batch_size: int, shuffle: bool | None = None):
        """cache -> shuffle (train by default; seeded, reshuffled every epoch) -> batch ->
        preprocess -> prefetch: tf.data on the TensorFlow backend, else the same as a
        `keras.utils.PyDataset` (`batches.py`)."""
        arrays = self._check_split(split)
        if arrays is None:
            raise DataError(f"the data '{self.name}' has no {split} split")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise DataError(f"batch size must be a positive integer, found {batch_size!r}")
        if shuffle is None:
            shuffle = split == "train"
        if not batches.uses_tf_data():
            return batches.array_batches(self, arrays, int(batch_size), shuffle)
        import tensorflow as tf

        ds = self._raw(split)
        if shuffle:
            ds = ds.shuffle(len(arrays), seed=self.seed, reshuffle_each_iteration=True)
        ds = ds.batch(int(batch_size))
        ds = ds.map(self.prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.prefetch(tf.data.AUTOTUNE)

    def numpy(self, split: str):
        """(x, y) of a whole split as the model takes them, as numpy arrays (or dicts)."""
        arrays = self._check_split(split)
        if arrays is None:
            return None
        x = {k: arrays.x[k] for k in self.inputs}
        if not batches.uses_tf_data():
            return self.prepare_numpy(x, arrays.y)
        x, y = self.prepare(x, arrays.y)
        return _to_numpy(x), _to_numpy(y)

    # ---- templates

    def adapt(self, template):
        """The template (a `pipeline.Template`) expanded again for this data: its inputs set
        to `inputs` and its `classes` param (when it has one) to `classes`."""
        params = {}
        if "classes" in template.params and self.classes is not None:
            params["classes"] = self.classes
        return template.reconfigure(params=params, inputs=self.inputs)
