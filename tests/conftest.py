"""Test-wide settings. Under CI (CI=true) hypothesis draws the same examples every run, so a
red CI is a reproducible failure, not a lucky draw; on a developer's machine it explores
afresh each run, and what it finds is pinned in tests/test_properties.py."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
