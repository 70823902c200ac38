"""Face landmarks with MediaPipe Face Mesh: an image folder -> landmark arrays and depth maps.

`archc landmarks IMAGES --out OUT` runs Face Mesh (468 points; the paper's Fig. 16) over every
image under IMAGES and writes, for each image with a face, at its relative path:

- `OUT/landmarks/<class>/<name>.npy` -- a (468, 3) float32 array: x and y normalised to the
  image's width and height, z the depth with the head's centre as origin, on the scale of x
  (smaller is nearer the camera);
- `OUT/depth/<class>/<name>.png` -- the depth map (the paper's Fig. 17b): z interpolated
  linearly over the triangulated landmarks, nearer brighter, 0 off the face;
- `OUT/image/<class>/<name>.<ext>` -- the image itself.

So `--data folder:OUT/landmarks` trains `mlp_auto`, and `--data pairs:OUT` trains the
two-input templates (`image` and `depth`: `squeezenet_se1_auto`, `squeezenet_sem_auto`).
An image without a face, or one OpenCV cannot read, is reported and skipped. Images already
done are skipped, so a rerun after a stop goes on where it stopped.

MediaPipe 0.10.21 ships the Face Mesh model inside its wheel; later releases do not.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataError
from .folders import IMAGE_EXTS, cv2, read_image

POINTS = 468
DEPTH_SIZE = 256   # the longer side of a depth map, in pixels


@dataclass
class Summary:
    """What a run did, path by path (relative to the image folder)."""

    faces: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)      # done by an earlier run
    no_face: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def line(self) -> str:
        total = len(self.faces) + len(self.skipped) + len(self.no_face) + len(self.unreadable)
        return (f"{total} images: {len(self.faces)} faces found, {len(self.skipped)} already "
                f"done, {len(self.no_face)} without a face, {len(self.unreadable)} unreadable")


def face_mesh():
    """A MediaPipe Face Mesh for unrelated still images, one face each."""
    try:
        from mediapipe.python.solutions import face_mesh as mp_face_mesh
    except ImportError:
        raise DataError("face landmarks need MediaPipe",
                        hint="pip install mediapipe==0.10.21 (it ships the Face Mesh model)"
                        ) from None
    return mp_face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                 refine_landmarks=False, min_detection_confidence=0.5)


def face_landmarks(rgb: np.ndarray, mesh) -> np.ndarray | None:
    """The (468, 3) landmarks of the face in an RGB uint8 image, or None if it has none."""
    found = mesh.process(np.ascontiguousarray(rgb)).multi_face_landmarks
    if not found:
        return None
    return np.array([(p.x, p.y, p.z) for p in found[0].landmark[:POINTS]], dtype=np.float32)


def depth_map(landmarks: np.ndarray, height: int, width: int) -> np.ndarray:
    """A (height, width) uint8 depth image: z interpolated linearly over the Delaunay
    triangles of the landmarks' (x, y), scaled so the nearest point is 255 and the farthest
    1; 0 outside the face."""
    from scipy.interpolate import griddata

    xy = landmarks[:, :2] * np.array([width, height], dtype=np.float32)
    z = landmarks[:, 2]
    gy, gx = np.mgrid[0:height, 0:width]
    grid = griddata(xy, z, (gx + 0.5, gy + 0.5), method="linear", fill_value=np.nan)
    near, far = float(z.min()), float(z.max())
    scaled = 1 + 254 * (far - grid) / max(far - near, 1e-9)
    return np.where(np.isnan(grid), 0, np.clip(np.rint(scaled), 1, 255)).astype(np.uint8)


def depth_shape(height: int, width: int, longest: int = DEPTH_SIZE) -> tuple[int, int]:
    """The image's aspect ratio with its longer side `longest` (never enlarged)."""
    scale = min(1.0, longest / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def images_under(root: Path, skip: Path | None = None) -> list[Path]:
    """Every image file under `root` (sub-folders included, hidden ones not), sorted; none
    under `skip` (the output folder, when it lies inside `root`)."""
    skip = skip.resolve() if skip is not None else None
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS
                  and not any(part.startswith(".") for part in p.relative_to(root).parts)
                  and not (skip is not None and p.resolve().is_relative_to(skip)))


def extract(images: str | Path, out: str | Path, depth_size: int = DEPTH_SIZE,
            overwrite: bool = False, log: Callable[[str], None] = print) -> Summary:
    """Landmarks, depth maps and image copies for every image under `images` (see the module
    docstring); one `log` line per image without a face or unreadable.

    Raises:
        DataError: `images` is not a folder of images, or no image in it has a face.
    """
    root, out = Path(images).expanduser(), Path(out).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder '{root}' does not exist or is not a directory")
    files = images_under(root, skip=out)
    if not files:
        raise DataError(f"no images under '{root}'",
                        hint="extensions read: " + ", ".join(sorted(IMAGE_EXTS)))
    if depth_size < 1:
        raise DataError(f"the depth map size must be a positive number, found {depth_size}")
    summary = Summary()
    with _native_logs_muted(), face_mesh() as mesh:
        for path in files:
            _one(path, root, out, mesh, depth_size, overwrite, summary, log)
    if not summary.faces and not summary.skipped:
        raise DataError(f"no face found in the {len(files)} images under '{root}'",
                        hint="Face Mesh needs a frontal or near-frontal face")
    return summary


@contextlib.contextmanager
def _native_logs_muted():
    """Send file descriptor 2 to /dev/null: MediaPipe's C++ graph logs its set-up (TensorFlow
    Lite delegates, calculator notes) there, a dozen lines a run, through absl before any
    Python setting can reach it. Whatever else goes to stderr meanwhile is lost too, so the
    run reports through `log`; an exception still propagates (and prints) after it."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real descriptor 2 (an embedded interpreter)
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _one(path: Path, root: Path, out: Path, mesh, depth_size: int, overwrite: bool,
         summary: Summary, log) -> None:
    rel = path.relative_to(root)
    targets = (out / "landmarks" / rel.with_suffix(".npy"), out / "depth" / rel.with_suffix(".png"),
               out / "image" / rel)
    if not overwrite and all(t.exists() for t in targets):
        summary.skipped.append(str(rel))
        return
    rgb = read_image(path, channels=3)
    if rgb is None:
        summary.unreadable.append(str(rel))
        log(f"unreadable (OpenCV cannot read it): {path}")
        return
    if rgb.dtype != np.uint8:  # 16-bit or float images come as float32 in [0, 1]
        rgb = np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)
    points = face_landmarks(rgb, mesh)
    if points is None:
        summary.no_face.append(str(rel))
        log(f"no face: {path}")
        return
    depth = depth_map(points, *depth_shape(*rgb.shape[:2], depth_size))
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
    np.save(targets[0], points)
    if not cv2().imwrite(str(targets[1]), depth):
        raise DataError(f"cannot write the depth map {targets[1]}")
    shutil.copyfile(path, targets[2])
    summary.faces.append(str(rel))
