"""Test-wide settings and fixtures. Under CI (CI=true) hypothesis draws the same examples every
run, so a red CI is a reproducible failure, not a lucky draw; on a developer's machine it
explores afresh each run, and what it finds is pinned in tests/test_properties.py."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="module")
def tiny(request, tmp_path_factory) -> str:
    """The path of the test module's own small template, its `TINY` text written to a file."""
    path = tmp_path_factory.mktemp("templates") / "tiny.arch"
    path.write_text(request.module.TINY, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def digits(tiny):
    """scikit-learn's digits, shaped for the module's `tiny` template."""
    import archc
    from archc.data import load_data

    return load_data("digits", template=archc.load(tiny))
