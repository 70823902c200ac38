"""`archc fmt`: every bundled file is formatted; formatting is idempotent and keeps the meaning
(the same AST, the same `archc space --json` description and `archc check` summary, the same
default architecture) of the bundled templates and of generated ones, from scrambled layouts."""

from __future__ import annotations

import io
import json
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from strategies import Generated, mutations, templates

from archc import cli, fmt, pipeline
from archc.diagnostics import ArchError, SyntaxError_
from archc.fmt import FormatError, format_source, is_formatted
from archc.identity import identity
from archc.imports import templates_dir
from archc.parse import decode, parse, tokens
from archc.space import describe

BUNDLED = sorted([*templates_dir().glob("*.arch"), *templates_dir().glob("blocks/*.arch")])
TEMPLATES = [p for p in BUNDLED if p.parent == templates_dir()]
BAD = sorted((Path(__file__).parent / "bad").glob("*.arch"))
ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted([*(ROOT / "examples").rglob("*.arch"), *(ROOT / "bench").rglob("*.arch")])


def scramble(text: str, seed: int) -> str:
    """The same tokens and comments laid out at random: breaks, blank lines and spaces."""
    rng = random.Random(seed)
    out = []
    for tok in tokens(text):
        out.append(str(tok))
        gaps = ["\n" + " " * rng.randrange(9)] * 2 + ["\n\n\n", "\n\t"]
        if tok.type != "COMMENT":
            gaps += [" ", "   ", "\t"] * 3
        out.append(rng.choice(gaps))
    return "".join(out)


def meaning(path: Path) -> str:
    """What the compiler makes of a template: its space, its summary, its default network."""
    template = pipeline.load(path)
    facts = {"space": describe(template), "check": pipeline.check_summary(template)}
    if not template.is_library:
        facts["identity"] = identity(pipeline.choose(template, {}))
    return json.dumps(facts, sort_keys=True, default=str)


@pytest.mark.parametrize("path", BUNDLED + SHIPPED, ids=lambda p: "/".join(p.parts[-2:]))
def test_shipped_file_is_formatted(path: Path):
    """Every template, block library, example and bench space is in the canonical layout."""
    assert is_formatted(path.read_text(encoding="utf-8"), str(path)), \
        f"run: archc fmt {path}"


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.relative_to(templates_dir()).as_posix())
def test_scrambled_bundled_file_formats_to_the_same_ast(path: Path):
    text = path.read_text(encoding="utf-8")
    for seed in range(3):
        scrambled = scramble(text, seed)
        result = format_source(scrambled)
        assert format_source(result) == result, "not idempotent"
        assert parse(result).declarations == parse(text).declarations
        assert [t for t in tokens(result) if t.type == "COMMENT"] == \
            [t for t in tokens(text) if t.type == "COMMENT"]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_formatting_keeps_space_summary_and_network(path: Path, tmp_path: Path):
    copy = tmp_path / path.name  # its imports are found among the bundled templates
    copy.write_text(format_source(scramble(path.read_text(encoding="utf-8"), 7)))
    assert meaning(copy) == meaning(path)


def _write_formatted(generated: Generated, directory: str) -> Path:
    files = {rel: format_source(scramble(text, 1)) for rel, text in generated.files.items()}
    source = format_source(scramble(generated.source, 2))
    return Generated(source, files, name=generated.name).write(directory)


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(templates(max_depth=2))
def test_generated_templates_keep_their_meaning(generated: Generated):
    with tempfile.TemporaryDirectory() as before, tempfile.TemporaryDirectory() as after:
        formatted = _write_formatted(generated, after)
        text = formatted.read_text()
        assert format_source(text) == text, "not idempotent"
        assert parse(text).declarations == parse(generated.source).declarations
        assert meaning(formatted) == meaning(generated.write(before))


def format_or_refuse(data: bytes) -> None:
    """Any input is formatted (idempotently, to the same tokens) or refused with a located
    error; nothing else escapes."""
    try:
        text = decode(data, "in.arch")
        result = format_source(text, "in.arch")
    except ArchError as exc:
        assert exc.pos is not None and exc.pos.file == "in.arch"
        return
    assert format_source(result) == result
    assert [str(t) for t in tokens(result)] == [str(t).rstrip() for t in tokens(text)]


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_templates_are_formatted_or_refused(path: Path):
    format_or_refuse(path.read_bytes())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations((templates_dir() / "squeezenet_se_auto.arch").read_text(encoding="utf-8")))
def test_damaged_templates_are_formatted_or_refused(data: bytes):
    format_or_refuse(data)


# ---------------------------------------------------------------- the layout


@pytest.mark.parametrize(("source", "expected"), [
    ("graph{image->conv2d( 8,3,padding = same )->relu}",
     "graph { image -> conv2d(8, 3, padding=same) -> relu }\n"),
    ("param  x=-1 ;hp w = choice( 8 ,16 )\n\n\n\ninput image[4, 4,3]",
     "param x = -1; hp w = choice(8, 16)\n\ninput image [4, 4, 3]\n"),
    ("graph\n{\n\n image   # the input\n   -> flatten  # flat\n\n}\n\n",
     "graph {\n  image       # the input\n  -> flatten  # flat\n}\n"),
    ("graph { x = image\n-> if a > 1 { relu }\nelse { tanh }\n -> dense(n[0] ** 2)\n}",
     "graph {\n  x = image\n    -> if a > 1 { relu } else { tanh }\n    -> dense(n[0] ** 2)\n}\n"),
    ("graph { concat(image -> relu,\nimage -> tanh) -> repeat r: 1..3 {\nrelu }}",
     "graph {\n  concat(image -> relu,\n         image -> tanh) -> repeat r: 1..3 {\n"
     "    relu\n  }\n}\n"),
    ("graph { image -> choice c {\na: relu\n| b: tanh }\n# last\n}",
     "graph {\n  image -> choice c {\n    a: relu\n    | b: tanh\n  }\n  # last\n}\n"),
    ("block b(f,\nk = 3) {\nconv2d(f, k)}", "block b(f,\n        k=3) {\n  conv2d(f, k)\n}\n"),
    ("train {}", "train {}\n"),
    ("  \n# only a comment   \n\n", "# only a comment\n"),
    ("", ""),
])
def test_layout(source: str, expected: str):
    assert format_source(source) == expected
    assert format_source(expected) == expected


def test_syntax_error_is_located():
    with pytest.raises(SyntaxError_) as info:
        format_source("graph {\n  image -> \n}\n", "broken.arch")
    assert (info.value.pos.file, info.value.pos.line) == ("broken.arch", 3)


def test_a_layout_that_would_change_the_tokens_is_refused(monkeypatch):
    monkeypatch.setattr(fmt, "_gap", lambda *_: "")  # `hp w` would become `hpw`
    with pytest.raises(FormatError):
        format_source("hp w = choice(8, 16)\ngraph { image -> dense(w) }\n")


# ---------------------------------------------------------------- the command


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    path = tmp_path / "messy.arch"
    path.write_text("input image [4,4,3]\ngraph{image->flatten->dense(2)}\n")
    return path


def test_fmt_check_lists_the_file_and_fails(messy: Path, capsys):
    before = messy.read_text()
    assert cli.main(["fmt", "--check", str(messy)]) == 1
    assert f"would reformat {messy}" in capsys.readouterr().err
    assert messy.read_text() == before


def test_fmt_diff_prints_a_unified_diff(messy: Path, capsys):
    assert cli.main(["fmt", "--diff", str(messy)]) == 0
    out = capsys.readouterr().out
    assert "-graph{image->flatten->dense(2)}" in out
    assert "+graph { image -> flatten -> dense(2) }" in out
    assert "+input image [4, 4, 3]" in out


def test_fmt_rewrites_then_check_passes(messy: Path, capsys):
    assert cli.main(["fmt", str(messy)]) == 0
    assert messy.read_text() == "input image [4, 4, 3]\ngraph { image -> flatten -> dense(2) }\n"
    assert cli.main(["fmt", "--check", str(messy)]) == 0
    assert "reformatted" in capsys.readouterr().err


def test_fmt_reports_a_syntax_error_and_goes_on(messy: Path, tmp_path: Path, capsys):
    broken = tmp_path / "broken.arch"
    broken.write_text("graph {\n  image -> \n}\n")
    assert cli.main(["fmt", str(broken), str(messy)]) == 1
    err = capsys.readouterr().err
    assert f"{broken}:3:1: error:" in err and "Traceback" not in err
    assert messy.read_text().startswith("input image [4, 4, 3]")



def test_fmt_stdin_to_stdout(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"graph{image->relu}")))
    assert cli.main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == "graph { image -> relu }\n"


def test_fmt_an_unwritable_file_is_a_clear_error(messy: Path, monkeypatch, capsys):
    def refuse(*_, **__):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "write_text", refuse)
    assert cli.main(["fmt", str(messy)]) == 2
    assert f"cannot write {messy}: Permission denied" in capsys.readouterr().err


def test_fmt_a_missing_file_says_it_takes_paths(tmp_path: Path, capsys):
    assert cli.main(["fmt", str(tmp_path / "squeezenet")]) == 1
    err = capsys.readouterr().err
    assert "no such file" in err and "takes .arch file paths" in err
