"""Data from folders, read with OpenCV: `folder:DIR` (one sub-folder a class), `pairs:DIR`
(several inputs per example, DIR/<input>/<class>/<name>.*, matched by name) and
`segmentation:DIR` (DIR/images and DIR/masks, matched by name)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..diagnostics import did_you_mean
from .context import Context
from .dataset import Arrays, Input, Source
from .errors import DataError, warn

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm",
              ".pbm", ".pnm", ".jp2", ".exr", ".hdr"}
ARRAY_EXTS = {".npy"}
SHOWN = 3   # example paths shown in a note


def cv2():
    try:
        import cv2 as module
    except ImportError:
        raise DataError("reading images needs OpenCV (cv2)",
                        hint="pip install opencv-contrib-python (mediapipe brings it)") from None
    return module


# --------------------------------------------------------------------------- files


def _check_dir(path: Path, what: str) -> Path:
    if not path.exists():
        raise DataError(f"{what} '{path}' does not exist")
    if not path.is_dir():
        raise DataError(f"{what} '{path}' is not a directory")
    return path


def _subdirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in IMAGE_EXTS | ARRAY_EXTS)


def _kind(files: list[Path], where: str) -> str:
    kinds = {"array" if p.suffix.lower() in ARRAY_EXTS else "image" for p in files}
    if len(kinds) > 1:
        raise DataError(f"'{where}' mixes images and .npy arrays",
                        hint="one input holds images or arrays, not both")
    return kinds.pop() if kinds else "image"


def _shown(paths) -> str:
    paths = list(paths)
    more = f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else ""
    return ", ".join(str(p) for p in paths[:SHOWN]) + more


# --------------------------------------------------------------------------- reading


def read_image(path: Path, size: tuple | None = None, channels: int | None = None,
               nearest: bool = False) -> np.ndarray | None:
    """An image as (H, W, C) -- RGB, gray or as stored -- uint8, or float32 in [0, 1] for
    other depths; resized to `size` (height, width) and converted to `channels` (1 or 3)
    when given. None when OpenCV cannot read it, or when its header claims more than
    MAX_IMAGE_PIXELS (checked before it is decoded)."""
    cv = cv2()
    if header_pixels(path) > MAX_IMAGE_PIXELS:
        return None
    try:
        img = cv.imread(str(path), cv.IMREAD_UNCHANGED)
    except cv.error:  # OpenCV's own limits, asserted instead of returned
        return None
    if img is None or img.size == 0:
        return None
    if img.ndim == 3 and img.shape[2] == 4:
        img = cv.cvtColor(img, cv.COLOR_BGRA2RGB)
    elif img.ndim == 3 and img.shape[2] == 3:
        img = cv.cvtColor(img, cv.COLOR_BGR2RGB)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    elif img.ndim != 2:
        return None
    if img.dtype != np.uint8:
        top = np.iinfo(img.dtype).max if img.dtype.kind in "ui" else 1.0
        img = np.clip(img.astype(np.float32) / top, 0.0, 1.0)
    if size is not None and img.shape[:2] != tuple(size):
        h, w = size
        shrink = h * w < img.shape[0] * img.shape[1]
        mode = cv.INTER_NEAREST if nearest else (cv.INTER_AREA if shrink else cv.INTER_LINEAR)
        img = cv.resize(img, (w, h), interpolation=mode)
    if img.ndim == 2:
        img = img[..., None]
    if channels == 3 and img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif channels == 1 and img.shape[2] == 3:
        img = cv.cvtColor(img, cv.COLOR_RGB2GRAY)[..., None]
    return img


MAX_IMAGE_PIXELS = 2**26  # 64 megapixels: a larger image is skipped (docs/search.md, folder:)


def header_pixels(path: Path) -> int:
    """Width x height as a PNG's header claims it (0 for other files, or a short one): an
    image can be refused before a decoder allocates what it claims."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except OSError:
        return 0
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return 0
    return int.from_bytes(head[16:20], "big") * int.from_bytes(head[20:24], "big")


def _stack_images(images: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """One array of images of one size: channels raised to the most any has; uint8 kept
    (scale 255) unless some are deeper (all float32 in [0, 1], scale 1)."""
    channels = max(im.shape[2] for im in images)
    images = [np.repeat(im, channels, axis=2) if im.shape[2] != channels else im
              for im in images]
    if all(im.dtype == np.uint8 for im in images):
        return np.stack(images), 255.0
    images = [im.astype(np.float32) / 255.0 if im.dtype == np.uint8 else im for im in images]
    return np.stack(images).astype(np.float32), 1.0


class Reader:
    """Reads the files of one input at one size; the first file fixes the size when the
    template does not, and every file must then match it."""

    def __init__(self, name: str, kind: str, size: tuple | None, channels: int | None):
        self.name, self.kind, self.size, self.channels = name, kind, size, channels
        self.shape = None    # arrays: the first array's shape
        self.bad: list[Path] = []
        self.mismatched: list[Path] = []

    def read(self, path: Path):
        if self.kind == "array":
            try:
                arr = np.load(path, allow_pickle=False)
            except (OSError, ValueError, EOFError):
                self.bad.append(path)
                return None
            if self.shape is None:
                self.shape = arr.shape
            if arr.shape != self.shape or arr.dtype.kind not in "uif":
                self.mismatched.append(path)
                return None
            return arr.astype(np.float32)
        img = read_image(path, self.size, self.channels)
        if img is None:
            self.bad.append(path)
            return None
        if self.size is None:
            self.size = img.shape[:2]
        return img

    def stack(self, items: list) -> tuple[np.ndarray, Input]:
        if self.kind == "array":
            arr = np.stack(items)
            return arr, Input("array", arr.shape[1:], 1.0)
        arr, scale = _stack_images(items)
        return arr, Input("image", arr.shape[1:], scale)

    def report(self, notes: list[str], spec: str) -> None:
        what = "arrays" if self.kind == "array" else "images"
        if self.bad:
            warn(notes, f"{spec}: skipped {len(self.bad)} unreadable {what}: "
                        f"{_shown(self.bad)}")
        if self.mismatched:
            warn(notes, f"{spec}: skipped {len(self.mismatched)} arrays whose shape is not "
                        f"{list(self.shape)}: {_shown(self.mismatched)}")


# --------------------------------------------------------------------------- folder:DIR


def _class_dirs(root: Path, spec: str, notes: list[str]) -> list[Path]:
    classes = [d for d in _subdirs(root) if _files(d)]
    empty = [d.name for d in _subdirs(root) if d not in classes]
    if empty:
        warn(notes, f"{spec}: class folders without files ignored: {_shown(empty)}")
    if not classes:
        loose = _files(root)
        hint = ("the images lie directly in the folder: put them in one sub-folder per class"
                if loose else f"expected {root}/<class>/<image>, one sub-folder per class")
        raise DataError(f"no images in '{root}' for '{spec}'", hint=hint)
    return classes


def load_folder(arg: str | None, ctx: Context) -> Source:
    """An image folder with one sub-folder per class (sorted names -> class ids 0, 1, ...),
    resized to the template's input, split 80/20 train/validation, stratified. Sub-folders
    of .npy files give array examples (e.g. landmarks)."""
    if not arg:
        raise DataError("the data spec 'folder' needs a directory: folder:DIR")
    name, shape = ctx.single()
    root = _check_dir(Path(arg).expanduser(), "data directory")
    classes = _class_dirs(root, ctx.spec, ctx.notes)
    files = [(c, p) for c, d in enumerate(classes) for p in _files(d)]
    kind = _kind([p for _, p in files], str(root))
    size, channels = ctx.image_size(name, shape) if kind == "image" else (None, None)
    reader = Reader(name, kind, size, channels)
    items, labels = [], []
    for label, path in files:
        item = reader.read(path)
        if item is not None:
            items.append(item)
            labels.append(label)
    reader.report(ctx.notes, ctx.spec)
    if not items:
        raise DataError(f"none of the {len(files)} files in '{root}' could be read")
    y, names = _relabel(np.asarray(labels, np.int32), [d.name for d in classes], ctx)
    if len(names) < 2:
        raise DataError(f"'{root}' holds one class ({names[0]}): classification needs two or "
                        "more", hint=f"expected {root}/<class>/<image>, one sub-folder per class")
    x, info = reader.stack(items)
    return Source("classification", {name: info}, {"all": Arrays({name: x}, y, y)},
                  classes=len(names), class_names=names, plan=(0.8, 0.2))


def _relabel(y: np.ndarray, names: list[str], ctx: Context):
    """Drop classes left without examples (every file unreadable), keeping ids dense."""
    present = np.unique(y)
    if len(present) == len(names):
        return y, names
    dropped = [names[i] for i in range(len(names)) if i not in set(present.tolist())]
    warn(ctx.notes, f"{ctx.spec}: classes without readable examples dropped: "
                    f"{', '.join(dropped)}")
    remap = {int(old): new for new, old in enumerate(present)}
    return np.asarray([remap[int(v)] for v in y], np.int32), [names[i] for i in present]


# --------------------------------------------------------------------------- pairs:DIR


def load_pairs(arg: str | None, ctx: Context) -> Source:
    """Several inputs per example: DIR/<input>/<class>/<name>.<ext> for each input (the
    template's input names; without a template, every sub-folder), an example being the
    files of one class and name (stem) across the inputs -- an image and a depth map, or an
    image and a landmarks .npy. Examples missing (or unreadable) in some input are
    reported and dropped. Split 80/20 train/validation, stratified."""
    if not arg:
        raise DataError("the data spec 'pairs' needs a directory: pairs:DIR")
    root = _check_dir(Path(arg).expanduser(), "data directory")
    found = {d.name: d for d in _subdirs(root)}
    if ctx.want is not None:
        wanted = dict(ctx.want)
        missing = [k for k in wanted if k not in found]
        if missing:
            hint = did_you_mean(missing[0], found) or (
                f"expected one folder per template input: {', '.join(wanted)}")
            raise DataError(f"'{root}' has no folder for the template input(s) "
                            f"{', '.join(missing)} (found: {', '.join(found) or 'none'})",
                            hint=hint)
    else:
        wanted = {k: None for k, d in found.items() if any(_files(c) for c in _subdirs(d))}
        if not wanted:
            raise DataError(f"no inputs in '{root}' for '{ctx.spec}'",
                            hint=f"expected {root}/<input>/<class>/<name>.<ext>")
    # (class, stem) -> path, per input
    index: dict[str, dict[tuple, Path]] = {}
    class_names: set[str] = set()
    for inp in wanted:
        entries = {}
        for cdir in _subdirs(found[inp]):
            for p in _files(cdir):
                entries.setdefault((cdir.name, p.stem), p)
                class_names.add(cdir.name)
        if not entries:
            raise DataError(f"no files in '{found[inp]}'",
                            hint=f"expected {found[inp]}/<class>/<name>.<ext>")
        index[inp] = entries
    keys = set.intersection(*(set(e) for e in index.values()))
    unmatched = sorted(set.union(*(set(e) for e in index.values())) - keys)
    if unmatched:
        examples = [f"{c}/{s}" for c, s in unmatched]
        warn(ctx.notes, f"{ctx.spec}: dropped {len(unmatched)} examples missing in some "
                        f"input: {_shown(examples)}")
    if not keys:
        raise DataError(f"no example of '{root}' is in every input ({', '.join(wanted)})",
                        hint="files of one example share their name (stem) and class folder")
    keys = sorted(keys)
    readers = {}
    for inp, shape in wanted.items():
        kind = _kind([index[inp][k] for k in keys], str(found[inp]))
        size, channels = ctx.image_size(inp, shape) if kind == "image" else (None, None)
        readers[inp] = Reader(inp, kind, size, channels)
    items: dict[str, list] = {inp: [] for inp in wanted}
    labels, bad = [], []
    names = sorted(class_names)
    for key in keys:
        read = {inp: readers[inp].read(index[inp][key]) for inp in wanted}
        if any(v is None for v in read.values()):
            bad.append(f"{key[0]}/{key[1]}")
            continue
        for inp, v in read.items():
            items[inp].append(v)
        labels.append(names.index(key[0]))
    for reader in readers.values():
        reader.report(ctx.notes, ctx.spec)
    if bad:
        warn(ctx.notes, f"{ctx.spec}: dropped {len(bad)} examples with an unreadable file: "
                        f"{_shown(bad)}")
    if not labels:
        raise DataError(f"no complete example could be read from '{root}'")
    y, names = _relabel(np.asarray(labels, np.int32), names, ctx)
    x, info = {}, {}
    for inp in wanted:
        x[inp], info[inp] = readers[inp].stack(items[inp])
    return Source("classification", info, {"all": Arrays(x, y, y)}, classes=len(names),
                  class_names=names, plan=(0.8, 0.2))


# --------------------------------------------------------------------------- segmentation:DIR

MAX_MASK_CLASSES = 32


def _mask_stem(path: Path) -> str:
    stem = path.stem
    for suffix in ("_mask", "-mask", ".mask"):
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def binarise_masks(masks: np.ndarray) -> tuple[np.ndarray, int | None, str | None]:
    """(masks as uint8 ids, classes or None for binary, a note or None). Two values (0/1,
    0/255, ...) -> {0, 1}; a few small values 0..k-1 -> class ids; anything else (JPEG
    noise, grey levels) -> {0, 1} at half the largest value."""
    values = np.unique(masks)
    top = values.max() if len(values) else 0
    if len(values) <= 2:
        return (masks == top).astype(np.uint8) if top > 0 else masks.astype(np.uint8), None, None
    if top < MAX_MASK_CLASSES and masks.dtype.kind in "ui" and np.all(values == values.astype(int)):
        return masks.astype(np.uint8), int(top) + 1, None
    note = (f"masks have {len(values)} grey levels: binarised at {float(top) / 2:g} "
            "(values above -> 1)")
    return (masks > top / 2).astype(np.uint8), None, note


def load_segmentation(arg: str | None, ctx: Context) -> Source:
    """Images in DIR/images and masks in DIR/masks, matched by name (a mask may end in
    `_mask`); masks resized with nearest neighbours to the images' size and binarised to
    {0, 1} (or class ids 0..k-1), y of shape (H, W, 1). Split 80/20 train/validation."""
    if not arg:
        raise DataError("the data spec 'segmentation' needs a directory: segmentation:DIR")
    name, shape = ctx.single()
    size, channels = ctx.image_size(name, shape)
    root = _check_dir(Path(arg).expanduser(), "data directory")
    img_dir = _check_dir(root / "images", "image directory")
    mask_dir = _check_dir(root / "masks", "mask directory")
    images = {p.stem: p for p in _files(img_dir) if p.suffix.lower() in IMAGE_EXTS}
    masks = {_mask_stem(p): p for p in _files(mask_dir) if p.suffix.lower() in IMAGE_EXTS}
    if not images:
        raise DataError(f"no images in '{img_dir}'")
    stems = sorted(set(images) & set(masks))
    unmatched = sorted(set(images) ^ set(masks))
    if unmatched:
        warn(ctx.notes, f"{ctx.spec}: dropped {len(unmatched)} images or masks without their "
                        f"pair: {_shown(unmatched)}")
    if not stems:
        raise DataError(f"no image in '{img_dir}' has a mask of the same name in '{mask_dir}'")
    reader = Reader(name, "image", size, channels)
    xs, ys, bad = [], [], []
    for stem in stems:
        img = reader.read(images[stem])
        if img is None:
            continue
        mask = read_image(masks[stem], img.shape[:2], nearest=True)
        if mask is None:
            bad.append(masks[stem])
            continue
        if mask.shape[2] > 1:
            mask = mask.max(axis=2, keepdims=True)
        xs.append(img)
        ys.append(mask)
    reader.report(ctx.notes, ctx.spec)
    if bad:
        warn(ctx.notes, f"{ctx.spec}: skipped {len(bad)} unreadable masks: {_shown(bad)}")
    if not xs:
        raise DataError(f"no image and mask pair in '{root}' could be read")
    x, info = reader.stack(xs)
    y = np.stack([m if m.dtype == np.uint8 else (m * 255).round().astype(np.uint8)
                  for m in ys])
    y, classes, note = binarise_masks(y)
    if note:
        ctx.notes.append(f"{ctx.spec}: {note}")
    return Source("segmentation", {name: info}, {"all": Arrays({name: x}, y, None)},
                  classes=classes, plan=(0.8, 0.2))
