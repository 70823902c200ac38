"""Batches for Keras backends other than TensorFlow: a split's raw arrays -> a
`keras.utils.PyDataset` of prepared batches, with no TensorFlow imported.

Under `KERAS_BACKEND=jax` or `torch` a machine often has no TensorFlow at all (a GPU image
with JAX or PyTorch), so tf.data is not there to feed `fit`. These batches do what the
tf.data pipeline of `dataset.Dataset` does -- shuffle (seeded, again every epoch), batch,
then scale, resize, convert gray <-> RGB or flatten each batch, and give labels in the form
the loss wants -- with numpy, and with `keras.ops` for resizing. Examples stay raw until
their batch is made, as in the tf.data pipeline.
"""

from __future__ import annotations

import math

import numpy as np

# ITU-R 601 luma weights, those of `tf.image.rgb_to_grayscale`.
LUMA = np.array([0.2989, 0.5870, 0.1140], dtype=np.float32)


def uses_tf_data() -> bool:
    """Whether `fit` is fed tf.data (the TensorFlow backend) or `ArrayBatches` (any other)."""
    import keras

    return keras.backend.backend() == "tensorflow"


def prepare_x(x: np.ndarray, kind: str, scale: float, native: tuple, target: tuple):
    """Raw examples (a batch) -> float32 of the target shape, as `dataset._preprocessor`."""
    x = np.asarray(x, dtype=np.float32)
    if scale != 1.0:
        x = x / np.float32(scale)
    if kind == "image" and len(target) == 3:
        if tuple(native[:2]) != tuple(target[:2]):
            x = _resize(x, tuple(target[:2]))
        if native[2] == 1 and target[2] == 3:
            x = np.repeat(x, 3, axis=-1)
        elif native[2] == 3 and target[2] == 1:
            x = (x @ LUMA)[..., None]
        return x
    if tuple(target) != tuple(native):
        lead = x.shape[:x.ndim - len(native)]
        x = x.reshape(lead + tuple(target))
    return x


def _resize(x: np.ndarray, size: tuple) -> np.ndarray:
    import keras

    resized = keras.ops.image.resize(x, size, interpolation="bilinear", antialias=True)
    return np.asarray(keras.ops.convert_to_numpy(resized), dtype=np.float32)


def prepare_y(y, task: str, mode: str, classes: int | None):
    """Raw labels (a batch) -> what the loss wants, as `Dataset._prepare_y`."""
    if task == "detection":
        return y
    if task == "segmentation":
        if classes is None:
            return np.asarray(y, dtype=np.float32)
        if mode == "sparse":
            return np.asarray(y, dtype=np.int32)
        return _one_hot(np.asarray(y)[..., 0], classes)
    if mode == "sparse":
        return np.asarray(y, dtype=np.int32)
    if mode == "binary" and classes == 2:
        return np.asarray(y, dtype=np.float32)[..., None]
    return _one_hot(y, classes)


def _one_hot(y, classes: int) -> np.ndarray:
    return np.eye(classes, dtype=np.float32)[np.asarray(y, dtype=np.int64)]


def _take(v, index):
    return {k: a[index] for k, a in v.items()} if isinstance(v, dict) else v[index]


def array_batches(dataset, arrays, batch_size: int, shuffle: bool):
    """A `keras.utils.PyDataset` over `arrays` (made here: keras is imported lazily)."""
    import keras

    class ArrayBatches(keras.utils.PyDataset):
        """The prepared batches of one split; shuffled again at the end of every epoch."""

        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(dataset.seed)
            self.order = self._order()

        def _order(self) -> np.ndarray:
            index = np.arange(len(arrays))
            return self.rng.permutation(index) if shuffle else index

        def __len__(self) -> int:
            return math.ceil(len(arrays) / batch_size)

        def __getitem__(self, i: int):
            index = self.order[i * batch_size:(i + 1) * batch_size]
            x = {k: arrays.x[k][index] for k in dataset.inputs}
            return dataset.prepare_numpy(x, _take(arrays.y, index))

        def on_epoch_end(self):
            self.order = self._order()

    return ArrayBatches()
