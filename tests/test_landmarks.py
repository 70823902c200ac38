"""`archc landmarks`: MediaPipe Face Mesh over an image folder -> landmark arrays, depth maps,
and the data specs that train on them (`folder:OUT/landmarks`, `pairs:OUT`).

The face is scikit-image's `astronaut()` (a real photograph); its variants (mirrored, cropped,
scaled) give each class several faces. A flat gray image has no face.
"""

from __future__ import annotations

import platform
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skimage_data

import archc
from archc.cli import main
from archc.data import load_data
from archc.data.landmarks import depth_map, depth_shape

if platform.machine() != "x86_64":  # pyproject installs MediaPipe 0.10.21 on x86_64 only
    pytest.importorskip("mediapipe")

NOSE_TIP, LEFT_CHEEK_EDGE, RIGHT_CHEEK_EDGE = 1, 234, 454   # Face Mesh landmark ids


def faces() -> dict[str, np.ndarray]:
    """Variants of the astronaut photograph (RGB), each with the face whole."""
    img = skimage_data.astronaut()
    return {
        "whole": img,
        "mirrored": img[:, ::-1],
        "crop": img[20:300, 100:380],
        "small": cv2.resize(img, (320, 320), interpolation=cv2.INTER_AREA),
    }


def write(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faces")
    variants = faces()
    for cls, names in {"calm": ["whole", "crop"], "smile": ["mirrored", "small"]}.items():
        for name in names:
            write(root / cls / f"{name}.png", variants[name])
    write(root / "calm" / "wall.png", np.full((200, 200, 3), 128, np.uint8))
    (root / "smile" / "broken.png").write_bytes(b"not an image")
    return root


@pytest.fixture(scope="module")
def extracted(images, tmp_path_factory):
    out = tmp_path_factory.mktemp("marks")
    code, text = run_cli("landmarks", images, "--out", out)
    return out, code, text


def run_cli(*args) -> tuple[int, str]:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main([str(a) for a in args])
    return code, buffer.getvalue()


def test_every_face_gets_landmarks_a_depth_map_and_its_image(extracted):
    out, code, text = extracted
    assert code == 0
    marks = sorted(p.relative_to(out / "landmarks").as_posix()
                   for p in (out / "landmarks").rglob("*.npy"))
    assert marks == ["calm/crop.npy", "calm/whole.npy", "smile/mirrored.npy", "smile/small.npy"]
    for rel in marks:
        stem = Path(rel).with_suffix("")
        assert (out / "depth" / f"{stem}.png").is_file()
        assert (out / "image" / f"{stem}.png").is_file()
    assert "4 faces found" in text and "1 without a face" in text and "1 unreadable" in text


def test_images_without_a_face_are_reported_and_skipped(extracted, images):
    out, _, text = extracted
    assert f"no face: {images / 'calm' / 'wall.png'}" in text
    assert f"unreadable (OpenCV cannot read it): {images / 'smile' / 'broken.png'}" in text
    assert not list(out.rglob("wall.*")) and not list(out.rglob("broken.*"))


def test_landmarks_lie_on_the_face_and_follow_the_image(extracted):
    out, _, _ = extracted
    whole = np.load(out / "landmarks" / "calm" / "whole.npy")
    assert whole.shape == (468, 3) and whole.dtype == np.float32
    # The astronaut's face spans about x 0.35..0.53, y 0.14..0.34 of the photograph.
    x, y = whole[:, 0], whole[:, 1]
    assert 0.30 < x.min() and x.max() < 0.60 and 0.08 < y.min() and y.max() < 0.40
    # The nose tip is the point nearest the camera (smallest z), up to a few landmarks.
    assert whole[NOSE_TIP, 2] <= np.sort(whole[:, 2])[5]
    # Mirroring the image mirrors x (the mesh's ids swap sides, so compare the sets).
    mirrored = np.load(out / "landmarks" / "smile" / "mirrored.npy")
    assert abs((1 - mirrored[:, 0]).mean() - x.mean()) < 0.01
    assert abs(mirrored[:, 1].mean() - y.mean()) < 0.01
    # Scaling the image keeps normalised coordinates.
    small = np.load(out / "landmarks" / "smile" / "small.npy")
    assert np.abs(small[:, :2] - whole[:, :2]).mean() < 0.01


def test_depth_map_is_nearer_brighter_and_dark_off_the_face(extracted):
    out, _, _ = extracted
    whole = np.load(out / "landmarks" / "calm" / "whole.npy")
    depth = cv2.imread(str(out / "depth" / "calm" / "whole.png"), cv2.IMREAD_UNCHANGED)
    assert depth.shape == (256, 256) and depth.dtype == np.uint8   # 512x512 -> 256x256

    def at(i):
        return int(depth[int(whole[i, 1] * 256), int(whole[i, 0] * 256)])

    assert at(NOSE_TIP) > 200 and at(NOSE_TIP) > at(LEFT_CHEEK_EDGE)
    assert at(NOSE_TIP) > at(RIGHT_CHEEK_EDGE)
    assert depth[0, 0] == 0 and depth[-1, -1] == 0           # off the face
    face = depth > 0
    assert 0.01 < face.mean() < 0.1


def test_depth_map_interpolates_between_landmarks():
    # Three points: a triangle whose z falls from left to right.
    marks = np.array([[0.1, 0.1, 0.0], [0.1, 0.9, 0.0], [0.9, 0.5, 1.0]], np.float32)
    depth = depth_map(marks, 50, 50)
    row = depth[25, 6:44]
    assert row[0] > 240 and row[-1] < 40 and np.all(np.diff(row.astype(int)) <= 0)
    assert depth[2, 45] == 0
    assert depth_shape(1500, 2000) == (192, 256) and depth_shape(100, 50) == (100, 50)


def test_a_rerun_skips_what_is_done_and_overwrite_redoes_it(extracted, images):
    out, _, _ = extracted
    code, text = run_cli("landmarks", images, "--out", out)
    assert code == 0 and "0 faces found, 4 already done" in text
    code, text = run_cli("landmarks", images, "--out", out, "--overwrite")
    assert code == 0 and "4 faces found, 0 already done" in text


def test_an_output_folder_inside_the_image_folder_is_not_read_as_images(images, tmp_path):
    inside = tmp_path / "faces"
    for path in images.rglob("*"):
        if path.is_file() and "whole" in path.name:
            (inside / path.relative_to(images)).parent.mkdir(parents=True, exist_ok=True)
            (inside / path.relative_to(images)).write_bytes(path.read_bytes())
    for _ in range(2):
        code, text = run_cli("landmarks", inside, "--out", inside / "marks")
        assert code == 0 and text.startswith("1 images:")
    assert sorted(p.name for p in (inside / "marks").rglob("*.*")) == [
        "whole.npy", "whole.png", "whole.png"]


def test_the_outputs_train_mlp_auto_and_the_two_input_templates(extracted):
    out, _, _ = extracted
    marks = load_data(f"folder:{out / 'landmarks'}", template=archc.load("mlp_auto"))
    assert marks.inputs == {"landmarks": (468, 3)} and marks.classes == 2
    x, y = marks.numpy("train")
    assert x.shape[1:] == (468, 3) and sorted(set(y.argmax(-1) if y.ndim > 1 else y)) == [0, 1]
    pairs = load_data(f"pairs:{out}", template=archc.load("squeezenet_se1_auto"))
    assert set(pairs.inputs) == {"image", "depth"} and pairs.classes == 2
    assert sum(pairs.sizes.values()) == 4
    (x, _), = [pairs.numpy("train")]
    assert x["image"].shape[1:] == (32, 32, 3) and x["depth"].shape[1:] == (32, 32, 1)


def test_bad_folders_are_clear_errors(tmp_path, capsys):
    assert main(["landmarks", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 1
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["landmarks", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 1
    assert "no images under" in capsys.readouterr().err
    write(tmp_path / "noface" / "wall.png", np.zeros((64, 64, 3), np.uint8))
    assert main(["landmarks", str(tmp_path / "noface"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "no face found in the 1 images" in err and "Traceback" not in err
