"""`mnist_boxes[:N]`: the generated MNIST-with-boxes detection set (the paper's Fig. 26,
600 training and 100 test canvases), from `archc.data.mnist_boxes`.

Train canvases draw their digits from 4 in 5 of scikit-learn's digits, validation and test
canvases from the rest (so they show digits training never does), each with its own seed.
y is, for a template with an SSD head (outputs `classes` and `boxes` and an `ssd_decode`
node), the SSD training targets of its anchors (`archc.ssd.targets`): `{"classes": (A,)
int32, "boxes": (A, 5)}`. Without such a template, y is the ground truth padded to the
largest number of digits on a canvas: `{"boxes": (M, 4) [ymin, xmin, ymax, xmax]
normalised, zero-padded, "labels": (M,) int32, -1-padded}`.
"""

from __future__ import annotations

import numpy as np

from .. import ssd
from .context import Context
from .dataset import Arrays, Input, Source
from .errors import DataError
from .mnist_boxes import make_mnist_boxes

TRAIN, TEST = 600, 100
CANVAS = (96, 96)
CLASSES = 10
SEED_STRIDE = 1_000_003


def parse_count(arg: str | None) -> int:
    if not arg:
        return TRAIN
    try:
        n = int(arg)
    except ValueError:
        n = 0
    if n < 1:
        raise DataError(f"mnist_boxes takes a number of training images, found '{arg}'",
                        hint="for example mnist_boxes:600")
    return n


def pad(boxes: list, labels: list, count: int) -> dict[str, np.ndarray]:
    """Ground truth of n canvases padded to `count` boxes each."""
    n = len(boxes)
    out_boxes = np.zeros((n, count, 4), np.float32)
    out_labels = np.full((n, count), -1, np.int32)
    for i, (b, lab) in enumerate(zip(boxes, labels, strict=True)):
        out_boxes[i, :len(b)] = b
        out_labels[i, :len(lab)] = lab
    return {"boxes": out_boxes, "labels": out_labels}


def unpad(y: dict[str, np.ndarray]) -> tuple[list, list]:
    """Padded ground truth -> per-canvas lists of boxes (k, 4) and labels (k,)."""
    keep = y["labels"] >= 0
    return ([b[k] for b, k in zip(y["boxes"], keep, strict=True)],
            [lab[k] for lab, k in zip(y["labels"], keep, strict=True)])


def ssd_anchors(template, notes: list[str]):
    """The anchors of a template's SSD head, or None (no template, no SSD head)."""
    if template is None or not {"classes", "boxes"} <= set(template.outputs):
        return None
    try:
        return ssd.anchors_for(template)
    except Exception as e:  # noqa: BLE001 - a template without ssd_decode, ...
        notes.append(f"mnist_boxes: no SSD anchors for template '{template.name}' ({e}): "
                     "y is the padded ground truth")
        return None


def load_mnist_boxes(arg: str | None, ctx: Context, template=None) -> Source:
    """`N` (default 600) training canvases, and N/6 (100) validation and test ones."""
    n_train = parse_count(arg)
    n_test = TEST if n_train == TRAIN else max(1, n_train // 6)
    name, shape = ctx.single()
    ctx.image_size(name, shape)
    seed = ctx.seed
    made = {
        "train": make_mnist_boxes(n_train, CANVAS, seed=seed, split="train"),
        "validation": make_mnist_boxes(n_test, CANVAS, seed=seed + 2 * SEED_STRIDE,
                                       split="test"),
        "test": make_mnist_boxes(n_test, CANVAS, seed=seed + SEED_STRIDE, split="test"),
    }
    count = max(1, max(len(lab) for _, _, labels in made.values() for lab in labels))
    anchors = ssd_anchors(template, ctx.notes)
    splits = {}
    for split, (images, boxes, labels) in made.items():
        if anchors is not None:
            y = ssd.targets(boxes, labels, anchors)
        else:
            y = pad(boxes, labels, count)
        first = np.asarray([lab[0] if len(lab) else -1 for lab in labels], np.int32)
        splits[split] = Arrays({name: images}, y, first)
    return Source("detection", {name: Input("image", tuple(CANVAS) + (1,), 1.0)}, splits,
                  classes=CLASSES, class_names=[str(i) for i in range(CLASSES)])
