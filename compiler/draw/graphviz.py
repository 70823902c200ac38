"""DOT text -> SVG, PNG or PDF bytes, by running Graphviz's `dot` program."""

from __future__ import annotations

import shutil
import subprocess

from ..diagnostics import ArchError

FORMATS = ("svg", "png", "pdf")
DOT_TIMEOUT_S = 300
HINT_INSTALL = "apt-get install graphviz, or use --format dot"


class ToolMissing(ArchError):
    """An external program that archc runs (Graphviz's `dot`) is not installed."""


class ToolFailed(ArchError):
    """An external program ran and failed; the message carries what it printed."""


def render_format(dot_text: str, fmt: str) -> bytes:
    """Run Graphviz's `dot` on DOT text.

    Args:
        dot_text: DOT text, as `to_dot` makes it.
        fmt: 'svg', 'png' or 'pdf'.
    Returns:
        The rendered file's bytes.
    Raises:
        ArchError: an unknown format.
        ToolMissing: `dot` is not on the PATH.
        ToolFailed: `dot` failed; the message holds what it printed.
    """
    if fmt not in FORMATS:
        raise ArchError(f"expected a format of {', '.join(FORMATS)}, found '{fmt}'",
                        hint="or use --format dot for the DOT text itself")
    exe = shutil.which("dot")
    if exe is None:
        raise ToolMissing("Graphviz 'dot' is not installed", hint=HINT_INSTALL)
    return _run_dot(exe, dot_text, fmt)


def _run_dot(exe: str, dot_text: str, fmt: str) -> bytes:
    try:
        proc = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode("utf-8"),
                              capture_output=True, timeout=DOT_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"Graphviz 'dot' did not finish within {DOT_TIMEOUT_S} s",
                         hint="use --format dot and render it elsewhere") from None
    except OSError as exc:
        raise ToolFailed(f"cannot run Graphviz 'dot' ({exe}): {exc.strerror or exc}",
                         hint=HINT_INSTALL) from None
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace").strip() or "no message"
        raise ToolFailed(f"Graphviz 'dot' failed (exit {proc.returncode}): {stderr}")
    return proc.stdout
