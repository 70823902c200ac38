"""The packaged and well-known data sets: scikit-learn's digits (embedded, the default),
Fashion-MNIST from its IDX files, CIFAR-10 through keras.datasets."""

from __future__ import annotations

import os
import pickle
import socket
import tarfile
from pathlib import Path

import numpy as np

from .context import Context
from .dataset import Arrays, Input, Source
from .errors import DataError
from .idx import read_idx

# --------------------------------------------------------------------------- digits


def load_digits(arg: str | None, ctx: Context) -> Source:
    """scikit-learn's 1,797 8x8 handwritten digits (values 0..16), 10 classes, split
    60/20/20 train/validation/test, stratified."""
    if arg:
        raise DataError(f"the data spec 'digits' takes no argument, found 'digits:{arg}'")
    name, shape = ctx.single()
    ctx.image_size(name, shape)
    try:
        from sklearn.datasets import load_digits as sk_digits
    except ImportError:
        raise DataError("the 'digits' data needs scikit-learn",
                        hint="pip install scikit-learn") from None
    bunch = sk_digits()
    x = bunch.images.astype(np.uint8)[..., None]            # (1797, 8, 8, 1), 0..16
    y = bunch.target.astype(np.int32)
    return Source("classification", {name: Input("image", x.shape[1:], 16.0)},
                  {"all": Arrays({name: x}, y, y)}, classes=10,
                  class_names=[str(i) for i in range(10)], plan=(0.6, 0.2, 0.2))


# --------------------------------------------------------------------------- Fashion-MNIST

FASHION_DIRS = ("/usr/share/datasets/fashion-mnist", "~/.keras/datasets/fashion-mnist")
FASHION_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]


def fashion_dirs(arg: str | None) -> list[Path]:
    if arg:
        return [Path(arg).expanduser()]
    dirs = [Path(d).expanduser() for d in FASHION_DIRS]
    home = os.environ.get("KERAS_HOME")
    if home:
        dirs.insert(1, Path(home).expanduser() / "datasets" / "fashion-mnist")
    return dirs


def _idx_file(directory: Path, base: str) -> Path | None:
    for name in (base, base + ".gz", base.replace("-idx", ".idx")):
        if (directory / name).is_file():
            return directory / name
    return None


def load_fashion_mnist(arg: str | None, ctx: Context) -> Source:
    """Fashion-MNIST: 60,000 + 10,000 28x28 gray images, 10 classes, from the IDX files
    (plain or gzip) in DIR, else /usr/share/datasets/fashion-mnist, else
    ~/.keras/datasets/fashion-mnist. Validation is a stratified 10 % of train; test is t10k."""
    name, shape = ctx.single()
    ctx.image_size(name, shape)
    tried = fashion_dirs(arg)
    for directory in tried:
        files = {k: _idx_file(directory, v) for k, v in FASHION_FILES.items()}
        if all(files.values()):
            break
        if arg and directory.is_dir():
            missing = [FASHION_FILES[k] + "(.gz)" for k, v in files.items() if v is None]
            raise DataError(f"'{directory}' lacks the Fashion-MNIST file(s) "
                            f"{', '.join(missing)}")
    else:
        raise DataError("Fashion-MNIST not found: no IDX files in "
                        + ", ".join(f"'{d}'" for d in tried),
                        hint="apt-get install dataset-fashion-mnist (puts them in "
                             "/usr/share/datasets/fashion-mnist), or give the folder: "
                             "fashion_mnist:DIR")
    arrays = {k: read_idx(p) for k, p in files.items()}
    splits = {}
    for split in ("train", "test"):
        x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"Fashion-MNIST {split} files do not match: images "
                            f"{list(x.shape)}, labels {list(y.shape)}",
                            hint="images are [N, rows, cols], labels [N]")
        y = y.astype(np.int32)
        splits[split] = Arrays({name: x.astype(np.uint8)[..., None]}, y, y)
    classes = int(max(splits["train"].y.max(), splits["test"].y.max())) + 1
    rows, cols = splits["train"].x[name].shape[1:3]
    if splits["test"].x[name].shape[1:3] != (rows, cols):
        raise DataError("Fashion-MNIST train and test images differ in size")
    return Source("classification", {name: Input("image", (rows, cols, 1), 255.0)}, splits,
                  classes=classes, class_names=FASHION_CLASSES if classes == 10 else None,
                  val_from_train=0.1)


# --------------------------------------------------------------------------- CIFAR-10

CIFAR_ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR_DIR = "cifar-10-batches-py"
CIFAR_ARCHIVES = ("cifar-10-python.tar.gz", "cifar-10-batches-py.tar.gz")
KERAS_CACHE = "cifar-10-batches-py-target"   # keras.datasets.cifar10's own cache name
CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck"]
DOWNLOAD_TIMEOUT = 60


def keras_dirs() -> list[Path]:
    """The folders keras.datasets caches in: $KERAS_HOME/datasets or ~/.keras/datasets
    (and /tmp/.keras/datasets, where Keras goes when home is not writable)."""
    homes = [os.environ.get("KERAS_HOME")]
    try:
        from keras.src.backend import config

        homes.append(config.keras_home())
    except Exception:  # noqa: BLE001 - keras missing or moved: the usual places
        pass
    homes += ["~/.keras", "/tmp/.keras"]
    out = []
    for home in homes:
        if home:
            d = Path(home).expanduser() / "datasets"
            if d not in out:
                out.append(d)
    return out


class _NumpyUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches: dicts, lists, numpy arrays; no other globals."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray",
               "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype"),
               ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
               ("_codecs", "encode")}   # bytes in a protocol-2 pickle written by Python 3

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")


def read_cifar_batch(fileobj, name: str) -> tuple[np.ndarray, np.ndarray, list | None]:
    """(images (N, 32, 32, 3) uint8, labels (N,) int32, label names or None) of one
    pickled CIFAR batch (or batches.meta: empty arrays and the names)."""
    try:
        d = _NumpyUnpickler(fileobj, encoding="bytes").load()
    except Exception as e:  # noqa: BLE001 - any unpickling fault is a corrupt file
        raise DataError(f"corrupt CIFAR-10 batch '{name}': {e}") from None
    if not isinstance(d, dict):
        raise DataError(f"corrupt CIFAR-10 batch '{name}': not a dict")
    d = {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}
    if "label_names" in d:
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in d["label_names"]]
        return np.zeros((0, 32, 32, 3), np.uint8), np.zeros(0, np.int32), names
    try:
        data = np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(d["labels"], dtype=np.int32)
    except (KeyError, ValueError) as e:
        raise DataError(f"corrupt CIFAR-10 batch '{name}': {e}") from None
    if len(labels) != len(data):
        raise DataError(f"corrupt CIFAR-10 batch '{name}': {len(data)} images, "
                        f"{len(labels)} labels")
    return data.transpose(0, 2, 3, 1), labels, None


def _read_cifar(path: Path):
    """((x_train, y_train), (x_test, y_test), names) of an extracted folder or an archive."""
    members = {}
    if path.is_dir():
        folder = path / CIFAR_DIR if (path / CIFAR_DIR).is_dir() else path
        for base in CIFAR_BATCHES + ["test_batch", "batches.meta"]:
            if (folder / base).is_file():
                with open(folder / base, "rb") as f:
                    members[base] = read_cifar_batch(f, str(folder / base))
    else:
        try:
            with tarfile.open(path) as tar:
                for m in tar.getmembers():
                    base = Path(m.name).name
                    if m.isfile() and base in CIFAR_BATCHES + ["test_batch", "batches.meta"]:
                        members[base] = read_cifar_batch(tar.extractfile(m), f"{path}:{m.name}")
        except (tarfile.TarError, OSError, EOFError) as e:
            raise DataError(f"cannot read the CIFAR-10 archive '{path}': {e}") from None
    missing = [b for b in CIFAR_BATCHES + ["test_batch"] if b not in members]
    if missing:
        raise DataError(f"'{path}' is not a CIFAR-10 copy: it lacks {', '.join(missing)}",
                        hint=f"expected {CIFAR_DIR}/data_batch_1..5 and test_batch")
    train = [members[b] for b in CIFAR_BATCHES]
    x_train = np.concatenate([b[0] for b in train])
    y_train = np.concatenate([b[1] for b in train])
    names = members["batches.meta"][2] if "batches.meta" in members else None
    return (x_train, y_train), members["test_batch"][:2], names


def find_cifar(arg: str | None) -> tuple[str, Path | None]:
    """Where CIFAR-10 is: ("path", P) for a folder or archive to read, ("keras", None) for
    keras.datasets.cifar10.load_data() (its own cache, or a download)."""
    if arg:
        path = Path(arg).expanduser()
        if not path.exists():
            raise DataError(f"CIFAR-10 path '{path}' does not exist",
                            hint=f"give {CIFAR_ARCHIVES[0]} or its extracted {CIFAR_DIR} folder")
        return "path", path
    for d in keras_dirs():
        if (d / f"{KERAS_CACHE}_archive").is_file():
            return "keras", None
        for candidate in (d / KERAS_CACHE / CIFAR_DIR, d / CIFAR_DIR):
            if candidate.is_dir():
                return "path", candidate
        for archive in CIFAR_ARCHIVES:
            if (d / archive).is_file():
                return "path", d / archive
    return "keras", None


def _keras_cifar10():
    """keras.datasets.cifar10.load_data(), its failures (no network) as a DataError."""
    from keras.datasets import cifar10

    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:
        (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    except Exception as e:  # noqa: BLE001 - URL errors, hash mismatches, bad archives
        places = " or ".join(f"'{keras_dirs()[0] / n}'" for n in (CIFAR_ARCHIVES[0], CIFAR_DIR))
        raise DataError(f"cannot load CIFAR-10: keras.datasets.cifar10 could not download "
                        f"{CIFAR_ORIGIN} ({str(e).strip() or type(e).__name__})",
                        hint=f"without network, place the archive or its extracted folder "
                             f"at {places}, or give its path: cifar10:PATH") from None
    finally:
        socket.setdefaulttimeout(old)
    return ((x_train, y_train.reshape(-1).astype(np.int32)),
            (x_test, y_test.reshape(-1).astype(np.int32)), None)


def load_cifar10(arg: str | None, ctx: Context) -> Source:
    """CIFAR-10: 50,000 + 10,000 32x32 RGB images, 10 classes. From a local copy -- the
    archive cifar-10-python.tar.gz or its extracted cifar-10-batches-py folder in
    $KERAS_HOME/datasets (~/.keras/datasets), or the path given as cifar10:PATH -- else
    through keras.datasets.cifar10.load_data() (Keras's cache, or a download). Validation
    is a stratified 10 % of train; test is test_batch."""
    name, shape = ctx.single()
    ctx.image_size(name, shape)
    how, path = find_cifar(arg)
    (x_train, y_train), (x_test, y_test), names = (
        _read_cifar(path) if how == "path" else _keras_cifar10())
    classes = int(max(y_train.max(initial=0), y_test.max(initial=0))) + 1
    splits = {"train": Arrays({name: x_train}, y_train, y_train)}
    if len(x_test):
        splits["test"] = Arrays({name: x_test}, y_test, y_test)
    return Source("classification", {name: Input("image", (32, 32, 3), 255.0)}, splits,
                  classes=classes, class_names=names or (CIFAR_CLASSES if classes == 10 else None),
                  val_from_train=0.1)
