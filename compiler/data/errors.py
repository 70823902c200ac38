"""The data layer's diagnostics: `DataError` for faults the user can fix (a bad spec, a
missing directory, a corrupt file, a template that cannot take the data), `DataWarning`
for examples that were skipped."""

from __future__ import annotations

import warnings

from ..diagnostics import ArchError


class DataError(ArchError):
    """A data spec, file or directory that cannot be used; rendered like any ArchError."""


class DataWarning(UserWarning):
    """Examples were skipped or dropped while loading (unreadable, unmatched)."""


def warn(notes: list[str], message: str) -> None:
    """Record `message` in a dataset's notes and emit it as a DataWarning."""
    notes.append(message)
    warnings.warn(message, DataWarning, stacklevel=3)
