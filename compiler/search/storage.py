"""Writes into a results directory that a kill or a full disk cannot leave half done: a file is
written beside its final name and renamed over it (`write_atomic`, `replace_with`), Keras
Tuner's own JSON files included (`atomic_keras_tuner_json`); a full disk (`disk_full`)
becomes `DiskFull`, a `SearchError` that says what to do.

Never imports TensorFlow or Keras; Keras Tuner only inside `atomic_keras_tuner_json`.

    >>> disk_full(OSError(28, "No space left on device"))
    True
    >>> disk_full(ValueError("bad value"))
    False
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import SearchError

TMP_PREFIX = ".tmp."  # a file being written; the rename makes it whole


class DiskFull(SearchError):
    """The disk of the results directory is full: the search stopped, nothing half-written."""


def temp_path(path: Path) -> Path:
    """Where `path` is written before the rename: the same directory (a rename within one
    file system is atomic) and the same suffix (Keras picks the format by it)."""
    return path.with_name(f"{TMP_PREFIX}{path.name}")


def replace_with(path: str | Path, write: Callable[[Path], object]) -> None:
    """Call `write(tmp)` and rename `tmp` over `path`; on any failure `path` keeps its old
    content and `tmp` is removed."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, content: str) -> None:
    """Write `content` to `path` (creating its folder) through `replace_with`."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    replace_with(path, lambda tmp: tmp.write_text(content, encoding="utf-8"))


def disk_full(exc: BaseException | None) -> bool:
    """Whether `exc`, or an exception it was raised from, says the disk is full (an OSError
    with ENOSPC, or h5py's text for it)."""
    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(e) or "errno = 28" in str(e):
            return True
    return False


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc` and the exceptions it was raised from or during."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def disk_full_error(directory: Path, exc: BaseException) -> DiskFull:
    """The message for a search stopped by a full disk."""
    where = next((e.filename for e in _chain(exc) if getattr(e, "filename", None)), None)
    return DiskFull(f"no space left on the device of {directory}"
                    + (f" (writing {where})" if where else "")
                    + ": the search stopped; every file it wrote is whole",
                    hint="free some space, then rerun the same command to resume")


@contextlib.contextmanager
def atomic_keras_tuner_json() -> Iterator[None]:
    """Keras Tuner writes `oracle.json`, `tuner0.json` and each `trial.json` in place
    (`keras_tuner.src.utils.save_json`), so a kill or a full disk mid-write leaves them cut
    short and the project cannot be reloaded. Within this block they are written through
    `write_atomic`."""
    from keras_tuner.src import utils

    original = utils.save_json

    def save_json(path, obj):
        text = json.dumps(obj)
        write_atomic(path, text)
        return text

    utils.save_json = save_json
    try:
        yield
    finally:
        utils.save_json = original
