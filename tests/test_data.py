"""archc.data: every adapter on small files made here (IDX, a CIFAR archive, image folders,
pairs, masks, boxes), splits, stratified fractions, seeded pipelines, clear errors."""

from __future__ import annotations

import gzip
import io
import pickle
import re
import tarfile
import urllib.error
from pathlib import Path

import cv2
import numpy as np
import pytest

import archc
from archc.data import DataError, DataWarning, load_data
from archc.data.idx import read_idx, write_idx
from archc.diagnostics import render


@pytest.fixture(scope="module")
def squeeze():
    return archc.load("squeezenet_se_auto")


def counts(labels, classes):
    return np.bincount(np.asarray(labels), minlength=classes)


def batches(ds, split, batch_size, **kw):
    return [(x.numpy() if not isinstance(x, dict) else {k: v.numpy() for k, v in x.items()},
             y.numpy()) for x, y in ds.pipeline(split, batch_size, **kw)]


# --------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_idx_round_trip(tmp_path, name, dtype):
    array = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    if dtype == "uint8":
        array = np.arange(30, dtype=np.uint8).reshape(2, 3, 5)
    path = write_idx(tmp_path / name, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == (2, 3, 5)
    np.testing.assert_array_equal(back, array)


def test_idx_bytes_are_the_mnist_layout(tmp_path):
    write_idx(tmp_path / "l", np.array([1, 2, 3], np.uint8))
    assert (tmp_path / "l").read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3])


@pytest.mark.parametrize("raw, message", [
    (b"\x00\x00\x08", "not an IDX file"),
    (b"PK\x03\x04rest", "not an IDX file (magic number 504b0304)"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "not an IDX file"),
    (bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3]), "has 15 bytes, its header [2, 2]"),
    (bytes([0, 0, 8, 3, 0, 0]), "is truncated"),
])
def test_idx_corrupt(tmp_path, raw, message):
    (tmp_path / "bad").write_bytes(raw)
    with pytest.raises(DataError, match=re.escape(message)):
        read_idx(tmp_path / "bad")


def test_idx_corrupt_gzip_and_missing(tmp_path):
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01" * 10)[:20])
    with pytest.raises(DataError, match="corrupt gzip file"):
        read_idx(tmp_path / "bad.gz")
    with pytest.raises(DataError, match="cannot read IDX file"):
        read_idx(tmp_path / "nope")


# --------------------------------------------------------------------------- Fashion-MNIST


def make_fashion(directory: Path, n_train=100, n_test=20, gz=True, size=28):
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        images[:, 0, 0] = labels          # the label is readable from the first pixel
        write_idx(directory / f"{prefix}-images-idx3-ubyte{ext}", images)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte{ext}", labels)
    return directory


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_from_idx(tmp_path, squeeze, gz):
    d = make_fashion(tmp_path / "fm", gz=gz)
    ds = load_data(f"fashion_mnist:{d}")
    assert ds.task == "classification" and ds.classes == 10
    assert ds.sizes == {"train": 90, "validation": 10, "test": 20}
    assert ds.inputs == {"image": (28, 28, 1)}
    assert ds.class_names[0] == "T-shirt/top"
    assert list(counts(ds.arrays("validation").y, 10)) == [1] * 10     # stratified 10 %
    x, y = ds.numpy("test")
    assert x.shape == (20, 28, 28, 1) and x.dtype == np.float32 and 0 <= x.min() <= x.max() <= 1
    np.testing.assert_array_equal(np.round(x[:, 0, 0, 0] * 255), y)   # images keep labels
    fitted = load_data(f"fashion_mnist:{d}", template=squeeze)
    assert fitted.inputs == {"image": (32, 32, 3)}
    x, y = next(iter(fitted.pipeline("train", 8)))
    assert x.shape == (8, 32, 32, 3) and y.shape == (8, 10)              # one-hot: the loss


def test_fashion_mnist_missing(tmp_path, monkeypatch):
    from archc.data import builtin

    monkeypatch.setattr(builtin, "FASHION_DIRS", (str(tmp_path / "a"), str(tmp_path / "b")))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    with pytest.raises(DataError) as e:
        load_data("fashion_mnist")
    assert str(tmp_path / "a") in e.value.message and str(tmp_path / "b") in e.value.message
    assert "apt-get install dataset-fashion-mnist" in e.value.hint
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    make_fashion(tmp_path / "kh" / "datasets" / "fashion-mnist", n_train=20, n_test=10)
    assert load_data("fashion_mnist").sizes["test"] == 10                # $KERAS_HOME
    (tmp_path / "partial").mkdir()
    write_idx(tmp_path / "partial" / "train-images-idx3-ubyte", np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(DataError, match="lacks the Fashion-MNIST file"):
        load_data(f"fashion_mnist:{tmp_path / 'partial'}")


def test_fashion_mnist_corrupt(tmp_path):
    d = make_fashion(tmp_path / "fm", gz=False)
    (d / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09abc")
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte' has 11 bytes"):
        load_data(f"fashion_mnist:{d}")


# --------------------------------------------------------------------------- CIFAR-10


def cifar_batch(n, offset, rng):
    labels = [(offset + i) % 10 for i in range(n)]
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    data[:, 0] = labels                   # red channel of pixel (0, 0) is the label
    return pickle.dumps({b"batch_label": b"x", b"labels": labels, b"data": data,
                         b"filenames": [b"f"] * n}, protocol=2)


def make_cifar(target: Path, archive=True, per_batch=4, n_test=10):
    """A CIFAR-10 copy in the real layout: cifar-10-batches-py/{data_batch_1..5,
    test_batch,batches.meta}, as a tar.gz or a folder."""
    rng = np.random.default_rng(1)
    files = {f"data_batch_{i}": cifar_batch(per_batch, per_batch * (i - 1), rng)
             for i in range(1, 6)}
    files["test_batch"] = cifar_batch(n_test, 3, rng)
    files["batches.meta"] = pickle.dumps({b"label_names": [f"c{i}".encode() for i in range(10)],
                                          b"num_vis": 3072}, protocol=2)
    target.parent.mkdir(parents=True, exist_ok=True)
    if archive:
        with tarfile.open(target, "w:gz") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    else:
        (target / "cifar-10-batches-py").mkdir(parents=True)
        for name, data in files.items():
            (target / "cifar-10-batches-py" / name).write_bytes(data)
    return target


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    from archc.data import builtin

    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(builtin, "keras_dirs", lambda: [home / "datasets"])
    return home


def check_cifar(ds, n_train=20, n_test=10):
    assert ds.classes == 10 and ds.class_names == [f"c{i}" for i in range(10)]
    assert ds.sizes["train"] + ds.sizes["validation"] == n_train
    assert ds.sizes["test"] == n_test and ds.inputs == {"image": (32, 32, 3)}
    x, y = ds.numpy("train")
    np.testing.assert_array_equal(np.round(x[:, 0, 0, 0] * 255), y)


def test_cifar10_archive_in_keras_home(keras_home):
    make_cifar(keras_home / "datasets" / "cifar-10-python.tar.gz")
    check_cifar(load_data("cifar10"))


def test_cifar10_extracted_folder_and_path(keras_home, tmp_path):
    make_cifar(keras_home / "datasets", archive=False)
    check_cifar(load_data("cifar10"))
    archive = make_cifar(tmp_path / "elsewhere" / "c.tar.gz")
    check_cifar(load_data(f"cifar10:{archive}"))


def test_cifar10_download_impossible(keras_home, monkeypatch):
    from keras.src.backend import config
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(config, "_KERAS_DIR", str(keras_home))
    monkeypatch.setattr(file_utils, "urlretrieve", offline)
    with pytest.raises(DataError) as e:
        load_data("cifar10")
    assert "cannot load CIFAR-10" in e.value.message and "cifar-10-python.tar.gz" in e.value.hint
    assert "cifar10:PATH" in render(e.value)


def test_cifar10_through_keras_loader(keras_home, monkeypatch):
    from keras.datasets import cifar10

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (30, 32, 32, 3), dtype=np.uint8)
    y = (np.arange(30) % 10).reshape(-1, 1).astype(np.uint8)
    monkeypatch.setattr(cifar10, "load_data", lambda: ((x[:20], y[:20]), (x[20:], y[20:])))
    ds = load_data("cifar10")
    assert ds.sizes == {"train": 18, "validation": 2, "test": 10}
    assert ds.class_names[0] == "airplane"


def test_cifar10_corrupt(keras_home):
    path = keras_home / "datasets" / "cifar-10-python.tar.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a tar")
    with pytest.raises(DataError, match="cannot read the CIFAR-10 archive"):
        load_data("cifar10")


# --------------------------------------------------------------------------- folder:DIR


def write_png(path: Path, image: np.ndarray):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)


def make_folder(root: Path, per_class=(5, 10, 15), size=(20, 24)):
    rng = np.random.default_rng(2)
    for c, n in enumerate(per_class):
        for i in range(n):
            h, w = size if i % 2 else (size[0] + 6, size[1] - 4)     # mixed sizes
            if i % 3 == 0:
                img = np.full((h, w), 40 * c, np.uint8)                # gray
            else:
                img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                img[..., :] = (10 * c, 20, 255)                         # BGR: red-ish in RGB
            write_png(root / f"class{c}" / f"img{i:02d}.png", img)
    return root


def test_folder(tmp_path, squeeze):
    root = make_folder(tmp_path / "imgs")
    (root / "class1" / "broken.png").write_bytes(b"\x89PNG nonsense")
    (root / "class1" / "notes.txt").write_text("ignored")
    with pytest.warns(DataWarning, match="skipped 1 unreadable images"):
        ds = load_data(f"folder:{root}", template=squeeze)
    assert ds.class_names == ["class0", "class1", "class2"] and ds.classes == 3
    assert ds.sizes == {"train": 24, "validation": 6}                    # 80/20, no test
    assert list(counts(ds.arrays("validation").y, 3)) == [1, 2, 3]       # stratified
    assert ds.test is None and ds.inputs == {"image": (32, 32, 3)}
    x, y = ds.numpy("train")
    assert x.shape == (24, 32, 32, 3)
    color = x[np.argmax(x[:, 5, 5, 0] - x[:, 5, 5, 2])]
    assert color[5, 5, 0] == pytest.approx(1.0) and color[5, 5, 2] < 0.1    # BGR -> RGB
    assert any("unreadable" in n for n in ds.notes)


def test_folder_without_template_keeps_first_size(tmp_path):
    root = make_folder(tmp_path / "imgs", per_class=(3, 3))
    ds = load_data(f"folder:{root}")
    assert ds.inputs == {"image": (26, 20, 3)}     # the first image's size, RGB as some are


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_data(f"folder:{tmp_path / 'nope'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images in"):
        load_data(f"folder:{tmp_path / 'empty'}")
    write_png(tmp_path / "loose" / "a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(DataError) as e:
        load_data(f"folder:{tmp_path / 'loose'}")
    assert "one sub-folder per class" in e.value.hint
    (tmp_path / "bad" / "c").mkdir(parents=True)
    (tmp_path / "bad" / "c" / "x.jpg").write_bytes(b"nope")
    with pytest.warns(DataWarning), pytest.raises(DataError, match="none of the 1 files"):
        load_data(f"folder:{tmp_path / 'bad'}")
    with pytest.raises(DataError, match="needs an argument: folder:DIR"):
        load_data("folder")
    with pytest.raises(DataError, match="has no test split"):
        load_data(f"folder:{make_folder(tmp_path / 'ok', (2, 2))}").pipeline("test", 4)


# --------------------------------------------------------------------------- pairs:DIR


def make_pairs(root: Path, second="depth", n=(6, 4), drop=("a", 0)):
    rng = np.random.default_rng(3)
    for c, count in zip("ab", n, strict=True):
        for i in range(count):
            write_png(root / "image" / c / f"p{i}.png",
                      rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
            if (c, i) == drop:
                continue
            if second == "depth":
                write_png(root / "depth" / c / f"p{i}.png", np.full((40, 40), 10 * i, np.uint8))
            else:
                (root / "landmarks" / c).mkdir(parents=True, exist_ok=True)
                np.save(root / "landmarks" / c / f"p{i}.npy", rng.random((468, 3)))
    return root


def test_pairs_image_and_depth(tmp_path):
    template = archc.load("squeezenet_se1_auto")
    root = make_pairs(tmp_path / "pairs")
    with pytest.warns(DataWarning, match="dropped 1 examples missing in some input: a/p0"):
        ds = load_data(f"pairs:{root}", template=template)
    assert ds.inputs == {"image": (32, 32, 3), "depth": (32, 32, 1)}
    assert ds.sizes["train"] + ds.sizes["validation"] == 9 and ds.classes == 2
    (x, y), = batches(ds, "validation", 16)
    assert set(x) == {"image", "depth"}
    assert x["image"].shape[1:] == (32, 32, 3) and x["depth"].shape[1:] == (32, 32, 1)
    assert y.shape == (len(y), 2)


def test_pairs_image_and_landmarks(tmp_path):
    root = make_pairs(tmp_path / "pairs", second="landmarks", drop=None)
    ds = load_data(f"pairs:{root}")
    assert ds.inputs == {"image": (40, 40, 3), "landmarks": (468, 3)}
    x, _ = ds.numpy("train")
    assert x["landmarks"].dtype == np.float32 and x["landmarks"].shape[1:] == (468, 3)
    mlp = archc.load("mlp_auto")
    one = load_data(f"pairs:{root}", template=mlp)                # only the template's input
    assert one.inputs == {"landmarks": (468, 3)}
    x, y = next(iter(one.pipeline("train", 4)))
    assert x.shape == (4, 468, 3) and y.shape == (4, 2)


def test_pairs_errors(tmp_path):
    root = make_pairs(tmp_path / "pairs")
    template = archc.load("squeezenet_se1_auto")
    (root / "depth").rename(root / "depths")
    with pytest.raises(DataError) as e:
        load_data(f"pairs:{root}", template=template)
    assert "no folder for the template input(s) depth" in e.value.message
    assert e.value.hint == "did you mean 'depths'?"


# --------------------------------------------------------------------------- segmentation


def make_segmentation(root: Path, n=10, levels=(0, 255)):
    rng = np.random.default_rng(4)
    for i in range(n):
        write_png(root / "images" / f"s{i}.png", rng.integers(0, 256, (24, 24, 3), np.uint8))
        mask = np.full((24, 24), levels[0], np.uint8)
        mask[4:12, 4:12] = levels[1]
        if len(levels) > 2:
            mask[14:20, 14:20] = levels[2]
        write_png(root / "masks" / f"s{i}_mask.png", mask)
    write_png(root / "images" / "orphan.png", np.zeros((24, 24, 3), np.uint8))
    return root


def test_segmentation_binary(tmp_path):
    template = archc.load("unet_auto", inputs={"image": (32, 32, 3)})
    root = make_segmentation(tmp_path / "seg")
    with pytest.warns(DataWarning, match="without their pair: orphan"):
        ds = load_data(f"segmentation:{root}", template=template)
    assert ds.task == "segmentation" and ds.classes is None
    assert ds.sizes == {"train": 8, "validation": 2}
    x, y = ds.numpy("train")
    assert x.shape == (8, 32, 32, 3) and y.shape == (8, 32, 32, 1) and y.dtype == np.float32
    assert set(np.unique(y)) == {0.0, 1.0}
    assert y[0, 8, 8, 0] == 1.0 and y[0, 30, 30, 0] == 0.0                 # nearest resize


@pytest.mark.filterwarnings("ignore::archc.data.DataWarning")
def test_segmentation_class_ids(tmp_path):
    ds = load_data(f"segmentation:{make_segmentation(tmp_path / 'seg', levels=(0, 1, 2))}")
    assert ds.classes == 3 and ds.inputs == {"image": (24, 24, 3)}
    _, y = ds.numpy("validation")
    assert y.shape[1:] == (24, 24, 1) and set(np.unique(y)) == {0, 1, 2}
    _, y = ds.labels_for("categorical_crossentropy").numpy("validation")
    assert y.shape[1:] == (24, 24, 3)
    with pytest.raises(DataError, match="mask directory"):
        (tmp_path / "seg" / "masks").rename(tmp_path / "seg" / "labels")
        load_data(f"segmentation:{tmp_path / 'seg'}")


# --------------------------------------------------------------------------- detection


def test_mnist_boxes_padded():
    ds = load_data("mnist_boxes:24")
    assert ds.task == "detection" and ds.classes == 10
    assert ds.sizes == {"train": 24, "validation": 4, "test": 4}
    x, y = next(iter(ds.pipeline("train", 8)))
    assert x.shape == (8, 96, 96, 1)
    boxes, labels = y["boxes"].numpy(), y["labels"].numpy()
    assert boxes.shape[:2] == labels.shape and boxes.shape[2] == 4
    real = labels >= 0
    assert real[:, 0].all() and ((labels[real] >= 0) & (labels[real] < 10)).all()
    assert (boxes[real][:, 2] > boxes[real][:, 0]).all() and (boxes[~real] == 0).all()
    assert load_data("mnist_boxes").sizes == {"train": 600, "validation": 100, "test": 100}


def test_mnist_boxes_ssd_targets():
    template = archc.load("mobilenetv2_ssd_auto")
    ds = load_data("mnist_boxes:12", template=template)
    (_, h_w_c), = ds.inputs.items()
    x, y = next(iter(ds.pipeline("train", 4)))
    assert tuple(x.shape[1:]) == tuple(h_w_c)
    if "classes" in y:      # the template's SSD head gives anchors: archc.ssd.targets
        assert y["classes"].shape[1] == y["boxes"].shape[1] and y["boxes"].shape[2] == 5
        assert (y["classes"].numpy() > 0).any()
    else:
        assert set(y) == {"boxes", "labels"}


def test_mnist_boxes_bad_count():
    with pytest.raises(DataError, match="number of training images"):
        load_data("mnist_boxes:many")


# --------------------------------------------------------------------------- digits, fractions


def test_digits_default(squeeze):
    ds = load_data("digits")
    assert ds.sizes == {"train": 1079, "validation": 359, "test": 359}
    assert ds.inputs == {"image": (8, 8, 1)} and ds.classes == 10
    x, y = ds.numpy("test")
    assert x.max() == 1.0 and x.min() == 0.0 and y.dtype == np.int32
    fitted = load_data("digits", template=squeeze)
    assert "input image [32, 32, 3]" in fitted.describe()
    ids = fitted.labels_for("sparse_categorical_crossentropy")
    assert next(iter(ids.train))[1].shape == ()
    assert next(iter(fitted.train))[1].shape == (10,)


@pytest.mark.parametrize("fraction", [0.1, 0.4])
def test_fraction_is_stratified(fraction):
    full, part = load_data("digits"), load_data("digits", fraction=fraction)
    for split in ("train", "validation"):
        whole = counts(full.arrays(split).y, 10)
        kept = counts(part.arrays(split).y, 10)
        np.testing.assert_array_equal(kept, np.maximum(1, np.round(whole * fraction)))
    assert part.sizes["test"] == full.sizes["test"]                  # test is never cut
    assert f"fraction {fraction:g}" in part.describe()


def test_pipelines_are_seeded():
    def order(seed, epochs=2):
        ds = load_data("digits", seed=seed, fraction=0.2)
        pipe = ds.pipeline("train", 50)
        return [np.concatenate([y.numpy() for _, y in pipe]) for _ in range(epochs)]

    a, b, c = order(0), order(0), order(1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], a[1])                             # reshuffled per epoch
    assert not np.array_equal(a[0], c[0])
    ds = load_data("digits", fraction=0.2)
    v1, v2 = (np.concatenate([y for _, y in batches(ds, "validation", 32)]) for _ in "ab")
    np.testing.assert_array_equal(v1, v2)                             # validation: in order
    np.testing.assert_array_equal(v1, ds.arrays("validation").y)
    sizes = [len(y) for _, y in batches(ds, "validation", 32)]
    assert sizes[:-1] == [32] * (len(sizes) - 1) and sum(sizes) == ds.sizes["validation"]


# --------------------------------------------------------------------------- errors


def test_unknown_spec_and_bad_arguments():
    with pytest.raises(DataError) as e:
        load_data("cifar100")
    assert e.value.message == "unknown data spec 'cifar100'"
    assert e.value.hint == "did you mean 'cifar10'?"
    assert "hint: did you mean 'cifar10'?" in render(e.value)
    with pytest.raises(DataError) as e:
        load_data("imagenet")
    assert "folder:DIR" in e.value.hint
    with pytest.raises(DataError, match="takes no argument"):
        load_data("digits:3")
    for fraction in (0, 1.5, -0.1):
        with pytest.raises(DataError, match=r"fraction must be in \(0, 1\]"):
            load_data("digits", fraction=fraction)
    ds = load_data("digits")
    with pytest.raises(DataError, match="unknown split 'nope'"):
        ds.pipeline("nope", 4)
    with pytest.raises(DataError, match="batch size must be a positive integer"):
        ds.pipeline("train", 0)


def test_template_that_cannot_take_the_data():
    with pytest.raises(DataError) as e:
        load_data("digits", template=archc.load("mlp_auto"))
    assert e.value.message == ("template 'mlp_auto' input 'landmarks' has shape [468, 3], but "
                               "the data 'digits' gives images")
    with pytest.raises(DataError) as e:
        load_data("digits", template="squeezenet_se1_auto")
    assert "takes 2 inputs (image [32, 32, 3], depth [32, 32, 1])" in e.value.message
    assert "pairs:DIR" in e.value.hint
    flat = archc.data.target_shape("x", archc.data.Input("image", (8, 8, 1)), (64,), "t", "d")
    assert flat == (64,)
    with pytest.raises(DataError, match=r"input 'x' has shape \[65\], but the data 'd' gives "
                                        r"images of shape \[8, 8, 1\]"):
        archc.data.target_shape("x", archc.data.Input("image", (8, 8, 1)), (65,), "t", "d")


@pytest.mark.parametrize("name", sorted(archc.data.SPECS))
def test_every_data_spec_is_complete(name):
    """A data adapter is one row of `SPECS`: its loader exists and takes what the row says,
    its usage starts with its name, and the package docstring and docs/search.md list it."""
    import inspect

    from archc.data import load

    spec = archc.data.SPECS[name]
    assert spec.arg in load.ARG_KINDS
    assert spec.usage.split("[")[0].split(":")[0] == name
    parameters = inspect.signature(spec.loader_function()).parameters
    assert len(parameters) == 2 + spec.takes_template
    assert f"`{spec.usage}" in archc.data.__doc__
    docs = (Path(__file__).parent.parent / "docs" / "search.md").read_text(encoding="utf-8")
    assert f"`{spec.usage}`" in docs
