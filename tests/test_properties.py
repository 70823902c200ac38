"""Property-based tests of the front end (hypothesis).

1. Random well-formed templates (`strategies.templates`) build and check: `build_graph`
   succeeds, `count_configurations` is a positive int (no larger than the product of the
   domains; equal to the brute-force enumeration on small spaces).
2. Mutation robustness: bundled templates and generated ones, damaged at random
   (`strategies.mutations`), go through `archc check` in-process: exit 0 or 1 (never 70,
   never an exception, never a hang), and every diagnostic is `PATH:LINE:COL: error: ...`
   with LINE:COL inside PATH (lines counted at '\\n', as the parser counts them), then that
   source line (or a '...' window of a long one; a line with control characters or
   invalid UTF-8 may be left out) and a caret under COL; or `PATH: error: ...` /
   `error: ...` alone for a problem of the whole file.

Each example has a deadline (hypothesis) and a hard alarm (a hang fails, it does not stall
the suite). The whole file runs in well under a minute on two cores when nothing fails;
shrinking a failure is capped at SHRINK_SECONDS a test.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import signal
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import Generated, mutations, templates

from archc import cli
from archc.diagnostics import ArchError, ArchErrors, render
from archc.graph import build_graph
from archc.space import count_configurations, enumerate_configurations

try:
    from archc.graph import templates_dir
except ImportError:  # pragma: no cover - moved out of graph.py
    from archc.imports import templates_dir

HANG_SECONDS = 15  # an example still running after this is a hang: fail it
ENUMERATE_UP_TO = 2_000  # cross-check the count by brute force on spaces this small

BUNDLED = sorted([*templates_dir().glob("*.arch"), *templates_dir().glob("blocks/*.arch")])
IMPORT = re.compile(r'^\s*import\s+"([^"]+)"', re.M)

GENERATED = settings(max_examples=50, deadline=3000, print_blob=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MUTATED = settings(max_examples=20, deadline=2000, print_blob=True,
                   suppress_health_check=[HealthCheck.too_slow])
MUTATED_GENERATED = settings(MUTATED, max_examples=50, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.data_too_large])


SHRINK_SECONDS = 15  # hypothesis's own cap is 300 s a test: too long for this suite


@pytest.fixture(autouse=True)
def _short_shrinking(monkeypatch):
    """Cap the time hypothesis spends shrinking a failure of these tests (a generated
    template costs ~0.1 s a run), so that a failing run stays a few minutes at most. The cap
    is a module global of hypothesis's engine, read when shrinking starts; if a release
    renames it, shrinking just takes its default time."""
    try:
        from hypothesis.internal.conjecture import engine
    except ImportError:  # pragma: no cover
        return
    if hasattr(engine, "MAX_SHRINKING_SECONDS"):
        monkeypatch.setattr(engine, "MAX_SHRINKING_SECONDS", SHRINK_SECONDS)


class Hang(BaseException):
    """Raised by the alarm; a BaseException so that the CLI's last-resort handler (`except
    Exception`) lets it by. `alarm` turns it into an AssertionError on its way out."""


@contextlib.contextmanager
def alarm(seconds: float):
    def fire(signum, frame):
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except Hang as exc:  # an ordinary failure from here on, so that hypothesis reports it
        raise AssertionError(f"a hang: {exc}") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_check(path: Path, seconds: float = HANG_SECONDS) -> tuple[int, str, str]:
    """`archc check PATH` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), alarm(seconds):
        try:
            rc = cli.main(["check", str(path)])
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any escape is the failure
            raise AssertionError(f"archc check raised {type(exc).__name__}: {exc}\n"
                                 f"stderr so far:\n{err.getvalue()}") from exc
    return rc, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------- diagnostics format

HEADER = re.compile(r"(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): error: (?P<msg>.*)")
FILE_HEADER = re.compile(r"(?P<path>[^:]+): error: (?P<msg>.*)")  # a file-level problem
CARET = re.compile(r"    (?P<pad>[ \t]*)\^~*")
ELLIPSIS = "..."


def file_line(path: str, row: int) -> tuple[str | None, bool]:
    """(line `row` of the file as the parser counts lines, split at '\\n' only, or None when
    there is no such line; whether a terminal shows it faithfully: UTF-8, no control
    characters -- the compiler may leave such a line out)."""
    raw = Path(path).read_bytes().split(b"\n")
    if not 1 <= row <= len(raw):
        return None, False
    data = raw[row - 1].rstrip(b"\r")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), False
    return text, all(c == "\t" or c.isprintable() for c in text)


def _shows(shown: str, text: str, col: int, caret_at: int) -> bool:
    """Whether `shown` is `text`, or a window of it ('...' where cut) with the caret at
    `caret_at` in `shown` on the same character as column `col` of `text`."""
    if shown == text:
        return caret_at == col - 1
    for pre in ("", ELLIPSIS):
        for post in ("", ELLIPSIS):
            if not (shown.startswith(pre) and shown.endswith(post)) or len(shown) < len(
                    pre) + len(post):
                continue
            middle = shown[len(pre): len(shown) - len(post)]
            offset = col - 1 - (caret_at - len(pre))  # where middle starts in text
            if 0 <= offset and text[offset: offset + len(middle)] == middle \
                    and (pre == "") == (offset == 0) \
                    and (post == "") == (offset + len(middle) == len(text)):
                return True
    return False


def check_diagnostics(stderr: str) -> None:
    """Every diagnostic: `PATH:LINE:COL: error: ...` with LINE:COL in PATH, then that source
    line (or a window of a long one) and a caret under COL; or `PATH: error: ...` /
    `error: ...` for a problem of the whole file. Hint lines may follow each."""
    lines = stderr.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    assert lines, "exit code 1 but no diagnostic on stderr"
    if len(lines) > 1 and re.fullmatch(r"\d+ errors", lines[-1]):
        lines.pop()
    i, seen = 0, 0
    while i < len(lines):
        line = lines[i]
        header = HEADER.fullmatch(line)
        file_header = FILE_HEADER.fullmatch(line)
        if header:
            seen += 1
            path, row, col = header["path"], int(header["line"]), int(header["col"])
            assert Path(path).is_file(), f"diagnostic names a file that is not there: {line!r}"
            text, printable = file_line(path, row)
            assert text is not None, f"{line!r}: no line {row} in {path}"
            assert 1 <= col <= len(text) + 1, f"{line!r}: column {col} outside {text!r}"
            i += 1
            shown = lines[i] if i < len(lines) else ""
            if not shown.startswith("    ") and not printable:
                pass  # an unprintable line may be left out
            else:
                assert shown.startswith("    "), (
                    f"{line!r}: expected the source line, found {shown!r}; line {row} of the "
                    f"file is {text!r}")
                caret = CARET.fullmatch(lines[i + 1]) if i + 1 < len(lines) else None
                assert caret, f"{line!r}: no caret line after the source line {shown!r}"
                assert _shows(shown[4:], text, col, len(caret["pad"])), (
                    f"{line!r}: the source line and caret shown,\n{shown}\n{lines[i + 1]}\n"
                    f"are not line {row} of the file at column {col}: {text!r}")
                i += 2
        elif file_header and Path(file_header["path"]).is_file() or line.startswith("error: "):
            seen += 1
            i += 1
        else:
            raise AssertionError(f"unexpected line on stderr: {line!r}\n--- stderr:\n{stderr}")
        while i < len(lines) and lines[i].startswith("hint: "):
            i += 1
    assert seen, "no diagnostic on stderr"


def check_robust(path: Path, seconds: float = HANG_SECONDS) -> None:
    rc, _, err = run_check(path, seconds)
    assert rc in (0, 1), f"archc check exited {rc}\n--- stderr:\n{err}"
    assert "Traceback" not in err
    if rc == 1:
        check_diagnostics(err)


# ---------------------------------------------------------------- 1. generated templates


def _diagnose(exc) -> str:
    errors = exc.errors if isinstance(exc, ArchErrors) else [exc]
    return "\n".join(render(e) for e in errors)


@GENERATED
@given(templates())
def test_generated_templates_check(generated: Generated):
    with tempfile.TemporaryDirectory() as tmp, alarm(HANG_SECONDS):
        path = generated.write(tmp)
        try:
            template = build_graph(path)
        except (ArchError, ArchErrors) as exc:
            raise AssertionError(f"a valid template was rejected:\n{_diagnose(exc)}") from None
        assert set(template.inputs) == set(generated.inputs)
        assert set(template.outputs) == set(generated.outputs)
        names = {h.name for h in template.hyperparameters}
        assert set(generated.named_hps) <= names

        count = count_configurations(template)
        assert isinstance(count, int) and not isinstance(count, bool), count
        assert count >= 1
        if not template.hyperparameters:
            assert count == 1
        bound = math.prod(len(h.domain()) for h in template.hyperparameters)
        assert count <= bound
        if bound <= ENUMERATE_UP_TO:
            assert count == sum(1 for _ in enumerate_configurations(template))


# ---------------------------------------------------------------- 2. mutations


def _imports(path: Path) -> list[str]:
    """The bundled files `path` imports, as paths relative to templates/."""
    found = []
    for rel in IMPORT.findall(path.read_text(encoding="utf-8")):
        if (path.parent / rel).is_file():
            found.append(str((path.parent / rel).relative_to(templates_dir())))
    return found


def _mutate_into(data, tmp: Path, files: dict[str, str], main: str) -> Path:
    """Write `files` (relative path -> text) under tmp, one of them mutated; main's path."""
    target = data.draw(st.sampled_from(sorted(files)), label="mutated file")
    for rel, text in files.items():
        dest = tmp / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if rel == target:
            dest.write_bytes(data.draw(mutations(text), label=f"mutated {rel}"))
        else:
            dest.write_text(text, encoding="utf-8")
    return tmp / main


@pytest.mark.parametrize("bundled", BUNDLED, ids=lambda p: str(p.relative_to(templates_dir())))
@MUTATED
@given(data=st.data())
def test_bundled_templates_survive_mutation(bundled: Path, data):
    rel = str(bundled.relative_to(templates_dir()))
    files = {rel: bundled.read_text(encoding="utf-8")}
    for imported in _imports(bundled):  # a mutated import shadows the bundled file
        files[imported] = (templates_dir() / imported).read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        check_robust(_mutate_into(data, Path(tmp), files, rel))


@MUTATED_GENERATED
@given(generated=templates(max_depth=2), data=st.data())
def test_generated_templates_survive_mutation(generated: Generated, data):
    files = {f"{generated.name}.arch": generated.source, **generated.files}
    with tempfile.TemporaryDirectory() as tmp:
        check_robust(_mutate_into(data, Path(tmp), files, f"{generated.name}.arch"))


def test_there_are_bundled_templates():
    assert any(p.parent == templates_dir() for p in BUNDLED)
    assert any(p.parent.name == "blocks" for p in BUNDLED)


# ---------------------------------------------------------------- 3. what the properties found

# Minimised inputs that broke one of the properties above when hypothesis found them; kept so
# that each is checked on every run (some are fixed, some are open compiler bugs).
HEAD = "template t\ninput image [8, 8, 3]\n"
LABELLED_BLOCK = "block b() {\n  t = relu\n  t -> tanh\n}\n"

FOUND_VALID = {
    "power": HEAD + "graph { image -> dense(2 ** 3) }\n",
    "optimizer_call": HEAD + "graph { image -> relu }\ntrain { optimizer = sgd(momentum=0.9) }\n",
    "label_at_chain_head": HEAD + "graph { image -> optional { relu as r } }\n",
    "label_in_alternative": HEAD + "graph { image -> choice { relu as r | none } }\n",
    "bare_alternative_label": HEAD + "graph { image -> choice c default relu { relu | none } }\n",
    "name_after_dots": HEAD + "param depth = 3\ngraph { image -> repeat 1..depth { relu } }\n",
    "explicit_label_after_auto_label": HEAD + LABELLED_BLOCK
    + "graph { image -> optional { b() } -> b() as b }\n",
    "merge_stage_label_after_auto_label": HEAD + "input aux [8, 8, 1]\n" + LABELLED_BLOCK
    + "graph { merge (image, aux) by add { conv2d(8, 1) -> optional { b() } -> b() } }\n",
}

FOUND_DAMAGED = {
    "bad_named_hp_as_optional": HEAD.encode()
    + b"hp f = bool(default=tlue)\ngraph { image -> optional f { relu } }\n",
    "bad_named_hp_as_repeat": HEAD.encode()
    + b"hp n = int(1, 3, default=9)\ngraph { image -> repeat n: 1..3 { relu } }\n",
    "lone_carriage_return": b"template t\ninput image [8, 8, 3]\rgraph { image -> foo }\n",
    "form_feed": b"template t\ninput image [8, 8, 3]\x0cgraph { image -> foo }\n",
    "form_feed_then_end_of_file": b"\x0ctemplate t\ninput image [8, 8, 3]\ngraph { image -> ",
    "next_line_character": b"template t\ninput image [8, 8, 3]\xc2\x85graph { image -> foo }\n",
    "invalid_utf8": b"template t\ninput image [8, 8, 3]\ngraph { image \xff-> relu }\n",
    "nul_byte": b"\0",
    "empty_file": b"",
    "long_repeat_range": HEAD.encode() + b"graph { image -> repeat 1..20000 { relu } }\n",
}


@pytest.mark.parametrize("name", sorted(FOUND_VALID))
def test_found_valid_template(name: str):
    with tempfile.TemporaryDirectory() as tmp, alarm(HANG_SECONDS):
        path = Path(tmp) / "t.arch"
        path.write_text(FOUND_VALID[name], encoding="utf-8")
        try:
            template = build_graph(path)
        except (ArchError, ArchErrors) as exc:
            raise AssertionError(f"a valid template was rejected:\n{_diagnose(exc)}") from None
        assert count_configurations(template) >= 1


@pytest.mark.parametrize("name", sorted(FOUND_DAMAGED))
def test_found_damaged_input(name: str):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.arch"
        path.write_bytes(FOUND_DAMAGED[name])
        check_robust(path, seconds=5)
