"""A results directory -> a usable, locked results directory: `usable_directory` checks the
path before any work, `SearchLock` lets one `archc search` at a time use it.

The lock is the operating system's (`fcntl.flock` on `DIR/search.lock`): it goes with the
process that holds it, so a killed search never leaves a lock that blocks. The file records
the holder (pid, host, start time, command) for the message a second search prints; details
left in it by a holder that is gone mean a stale lock, taken over with a note.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from .errors import SearchError

LOCK = "search.lock"


def usable_directory(directory: str | Path) -> Path:
    """`directory`, created if missing, once it is known to be a writable folder.

    Raises:
        SearchError: it, or a folder above it, is a file; it cannot be created or written.
    """
    path = Path(directory)
    for above in [path, *path.parents]:
        if above.exists() and not above.is_dir():
            where = "is a file" if above == path else f"is under {above}, which is a file"
            raise SearchError(f"cannot use --dir {path}: it {where}",
                              hint="give a folder (it is created if missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SearchError(f"cannot create --dir {path}: {exc.strerror or exc}",
                          hint="give a folder you can write") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise SearchError(f"cannot write in --dir {path}: permission denied",
                          hint="give a folder you can write")
    return path


class SearchLock:
    """The lock of a results directory, held from `acquire` to `release` (or a `with`
    block); `note` receives the line about a stale lock taken over."""

    def __init__(self, directory: str | Path, note=print):
        self.path = Path(directory) / LOCK
        self.note = note
        self._file = None

    def __enter__(self) -> SearchLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> SearchLock:
        """Take the lock at once, or refuse.

        Raises:
            SearchError: another process holds it (the message names it).
        """
        file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_holder(file)
            file.close()
            raise SearchError(f"{self.path.parent} is in use by another archc search: "
                              f"{describe_holder(holder)}",
                              hint="wait for it to end or stop it, or give another --dir") \
                from None
        stale = _read_holder(file)
        if stale:
            self.note(f"note: took over the stale lock {self.path} of a search that is no "
                      f"longer running ({describe_holder(stale)})")
        _write_holder(file)
        self._file = file
        return self

    def release(self) -> None:
        """Clear the holder's details and unlock (closing the file unlocks)."""
        if self._file is not None:
            self._file.truncate(0)
            self._file.close()
            self._file = None


def holder() -> dict:
    """This process, as the lock file records it."""
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "command": " ".join(sys.argv)}


def describe_holder(details: dict | None) -> str:
    """The holder in a message.

    >>> describe_holder({"pid": 7, "host": "h", "started": "2024-01-01 10:00:00 UTC",
    ...                  "command": "archc search t --dir d"})
    "pid 7 on h, since 2024-01-01 10:00:00 UTC: 'archc search t --dir d'"
    >>> describe_holder(None)
    'its details are unknown'
    """
    if not details:
        return "its details are unknown"
    return (f"pid {details.get('pid', '?')} on {details.get('host', '?')}, since "
            f"{details.get('started', '?')}: {details.get('command', '?')!r}")


def _read_holder(file) -> dict | None:
    file.seek(0)
    try:
        details = json.loads(file.read() or "null")
    except ValueError:  # cut short by a kill while it was written
        return {"command": "unknown (the lock file is damaged)"}
    return details if isinstance(details, dict) else None


def _write_holder(file) -> None:
    file.seek(0)
    file.truncate(0)
    file.write(json.dumps(holder()))
    file.flush()
