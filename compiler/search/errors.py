"""The search layer's diagnostics: `SearchError` for a search that cannot start or go on,
`ReportError` for a results directory that cannot be read; rendered like any ArchError."""

from __future__ import annotations

from ..diagnostics import ArchError


class SearchError(ArchError):
    """A search that cannot start or go on (a directory of another search, repeated crashes)."""


class ReportError(ArchError):
    """A results directory that cannot be read, or a trial that is not in it."""
