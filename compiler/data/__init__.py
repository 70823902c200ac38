"""Data for training and searching templates: `load_data(spec)` -> `Dataset`.

    >>> from archc.data import load_data
    >>> ds = load_data("digits")
    >>> ds.sizes
    {'train': 1079, 'validation': 359, 'test': 359}

Specs (`--data SPEC`):

- `digits` -- scikit-learn's 8x8 digits, embedded (no download), split 60/20/20;
- `fashion_mnist[:DIR]` -- Fashion-MNIST's IDX files (DIR, /usr/share/datasets/fashion-mnist
  from `apt-get install dataset-fashion-mnist`, or ~/.keras/datasets/fashion-mnist);
- `cifar10[:PATH]` -- CIFAR-10 through keras.datasets (or a local archive / folder);
- `folder:DIR` -- one sub-folder per class, images read with OpenCV, split 80/20;
- `pairs:DIR` -- several inputs per example, DIR/<input>/<class>/<name>.*, matched by name;
- `segmentation:DIR` -- DIR/images and DIR/masks, matched by name, split 80/20;
- `mnist_boxes[:N]` -- the generated MNIST-with-boxes detection set (600 / 100 / 100).

`archc.data.landmarks` makes landmark arrays and depth maps from face photographs with
MediaPipe Face Mesh (`archc landmarks`), for `folder:` and `pairs:`.

With a template, every input takes the template's shape (images resized, gray <-> RGB,
flattened for a flat input) and y the form its loss wants; a template that cannot take the
data is a DataError. TensorFlow is imported only when tf.data pipelines are made.
"""

from __future__ import annotations

from .dataset import SPLITS, Arrays, Dataset, Input, Source, label_mode, target_shape
from .errors import DataError, DataWarning
from .load import SPECS, load_data, parse_spec

__all__ = ["SPECS", "SPLITS", "Arrays", "DataError", "DataWarning", "Dataset", "Input",
           "Source", "label_mode", "load_data", "parse_spec", "target_shape"]
