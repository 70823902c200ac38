"""MNIST-detection: handwritten digits placed on a blank canvas, with their boxes (the
paper's object-detection data, Fig. 26: 600 training and 100 test images).

The digits are scikit-learn's bundled `load_digits` (1,797 8x8 digits, no download), each
upscaled bilinearly to a random size and pasted at a random place where it does not overlap
the digits already there by much. Boxes are `[ymin, xmin, ymax, xmax]`, normalised to [0, 1]
by the canvas size (pixel edges: a digit on rows 10..25 has ymin 10/H and ymax 26/H), the
tight box of the digit's ink; labels are the digits 0..9. Everything is a function of the
seed.

    >>> images, boxes, labels = make_mnist_boxes(4, seed=0)
    >>> images.shape, images.dtype.name
    ((4, 96, 96, 1), 'float32')
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

INK = 0.05  # pixels fainter than this (bilinear fringes) are cleared, so boxes are tight
SPLITS = ("train", "test")


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.images / 16.0).astype(np.float32), data.target.astype(np.int32)


def source_digits(split: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 8x8 digits in [0, 1] and their labels: all of them, or a fixed disjoint part for
    `split` "train" (4 in 5 of them) or "test" (every 5th), so test canvases show digits
    the training canvases never do."""
    images, labels = _digits()
    if split is None:
        return images, labels
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, found {split!r}")
    keep = (np.arange(len(labels)) % 5 == 0) == (split == "test")
    return images[keep], labels[keep]


def resize_bilinear(patch: np.ndarray, height: int, width: int) -> np.ndarray:
    """`patch` (h, w) resized to (height, width), bilinear with half-pixel centres."""
    h, w = patch.shape

    def coords(out: int, size: int):
        x = np.clip((np.arange(out) + 0.5) * size / out - 0.5, 0, size - 1)
        lo = np.floor(x).astype(int)
        hi = np.minimum(lo + 1, size - 1)
        return lo, hi, (x - lo).astype(np.float32)

    y0, y1, fy = coords(height, h)
    x0, x1, fx = coords(width, w)
    rows = patch[y0] * (1 - fy)[:, None] + patch[y1] * fy[:, None]
    return rows[:, x0] * (1 - fx)[None, :] + rows[:, x1] * fx[None, :]


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of corner boxes a (n, 4) and b (m, 4) -> (n, m)."""
    a, b = np.asarray(a, np.float64)[:, None, :], np.asarray(b, np.float64)[None, :, :]
    inter_h = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    inter_w = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = inter_h * inter_w
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-12)


def make_mnist_boxes(
    n: int,
    canvas: tuple[int, int] = (96, 96),
    digits_per_image: tuple[int, int] = (1, 3),
    seed: int = 0,
    *,
    digit_size: tuple[int, int] = (16, 28),
    max_overlap: float = 0.1,
    split: str | None = None,
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """`n` canvases with 1..3 digits each.

    Args:
        n: number of images.
        canvas: (H, W) in pixels.
        digits_per_image: inclusive range of the number of digits per image.
        seed: everything is a function of it.
        digit_size: inclusive range of a digit's side in pixels (clipped to the canvas).
        max_overlap: largest IoU a new digit's square may have with one already placed; a
            digit that finds no such place in 100 tries is left out (never the first).
        split: draw the digits from `source_digits(split)` ("train", "test" or all).
    Returns:
        images float32 (n, H, W, 1) in [0, 1]; boxes: n arrays (k, 4) float32
        `[ymin, xmin, ymax, xmax]` normalised; labels: n arrays (k,) int32 (the digit).
    """
    height, width = canvas
    low, high = digits_per_image
    smallest, largest = min(digit_size[0], height, width), min(digit_size[1], height, width)
    if n < 0 or not 1 <= low <= high or smallest < 2:
        raise ValueError("need n >= 0, 1 <= digits_per_image[0] <= digits_per_image[1] and a "
                         "canvas of at least 2 pixels")
    digits, targets = source_digits(split)
    rng = np.random.default_rng(seed)
    images = np.zeros((n, height, width, 1), np.float32)
    all_boxes, all_labels = [], []
    for i in range(n):
        squares, boxes, labels = [], [], []
        for _ in range(rng.integers(low, high + 1)):
            pick = rng.integers(len(digits))
            size = int(rng.integers(smallest, largest + 1))
            for _try in range(100):
                top = int(rng.integers(0, height - size + 1))
                left = int(rng.integers(0, width - size + 1))
                square = np.array([[top, left, top + size, left + size]], np.float64)
                if not squares or iou(square, np.array(squares)).max() <= max_overlap:
                    break
            else:
                continue
            patch = resize_bilinear(digits[pick], size, size)
            patch = np.where(patch < INK, 0.0, np.clip(patch, 0.0, 1.0)).astype(np.float32)
            rows = np.flatnonzero(patch.any(axis=1))
            cols = np.flatnonzero(patch.any(axis=0))
            if rows.size == 0:
                continue
            region = images[i, top:top + size, left:left + size, 0]
            np.maximum(region, patch, out=region)
            squares.append(square[0])
            boxes.append([(top + rows[0]) / height, (left + cols[0]) / width,
                          (top + rows[-1] + 1) / height, (left + cols[-1] + 1) / width])
            labels.append(int(targets[pick]))
        all_boxes.append(np.asarray(boxes, np.float32).reshape(-1, 4))
        all_labels.append(np.asarray(labels, np.int32))
    return images, all_boxes, all_labels


def make_splits(train: int = 600, test: int = 100, canvas: tuple[int, int] = (96, 96),
                seed: int = 0, **kwargs) -> dict[str, tuple]:
    """The paper's split: {"train": make_mnist_boxes(600, ...), "test": (100 images)}, drawn
    from disjoint source digits and different seeds."""
    return {
        "train": make_mnist_boxes(train, canvas, seed=seed, split="train", **kwargs),
        "test": make_mnist_boxes(test, canvas, seed=seed + 1_000_003, split="test", **kwargs),
    }
