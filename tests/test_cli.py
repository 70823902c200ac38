"""Black-box tests of the `archc` command: exit codes, where output goes, no tracebacks, no Keras.

Every test runs `python -m archc ...` in a subprocess from the repository root.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from archc.graph import templates_dir

ROOT = Path(__file__).resolve().parent.parent

VALID = """\
template tiny
param classes = 10
input image [32, 32, 3]
hp width = choice(16, 32)
graph {
  image -> conv2d(width, 3, padding=same, activation=relu) -> max_pool2d(2)
  -> optional extra { conv2d(width, 3, padding=same) }
  -> global_avg_pool2d -> dense(classes, activation=softmax)
}
"""

INVALID = """\
template broken
input image [32, 32, 3]
graph {
  image -> conv2d(16, 3) -> maxpool2d(2)
}
"""


def archc(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run archc; whatever happens, it must not print a Python traceback."""
    result = subprocess.run([sys.executable, "-m", "archc", *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in result.stdout + result.stderr
    return result


@pytest.fixture
def valid(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.arch"
    path.write_text(VALID, encoding="utf-8")
    return path


@pytest.fixture
def invalid(tmp_path: Path) -> Path:
    path = tmp_path / "broken.arch"
    path.write_text(INVALID, encoding="utf-8")
    return path


def bundled_templates() -> list[str]:
    return sorted(p.stem for p in templates_dir().glob("*.arch"))


# ---------------------------------------------------------------- exit codes and output


def test_valid_file_exits_0_with_one_summary_line(valid: Path):
    result = archc("check", str(valid))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{valid}: ok")
    assert "tiny" in lines[0]


def test_invalid_file_exits_1_with_position_source_and_caret(invalid: Path):
    result = archc("check", str(invalid))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{invalid}:4:29: error: ")
    assert "maxpool2d" in lines[0]
    assert lines[1] == "      image -> conv2d(16, 3) -> maxpool2d(2)"
    assert lines[2] == "    " + " " * 28 + "^~~~~~~~~"
    assert lines[3] == "hint: did you mean 'max_pool2d'?"


@pytest.mark.parametrize("argv", [
    pytest.param([], id="no-subcommand"),
    pytest.param(["frobnicate"], id="unknown-subcommand"),
    pytest.param(["check"], id="check-without-file"),
    pytest.param(["check", "--bogus", "VALID"], id="unknown-option"),
    pytest.param(["check", "--set", "classes", "VALID"], id="set-without-equals"),
    pytest.param(["check", "--set", "=10", "VALID"], id="set-without-name"),
    pytest.param(["dot", "VALID", "--format", "gif"], id="dot-unknown-format"),
])
def test_usage_errors_exit_2(argv: list[str], valid: Path):
    result = archc(*(str(valid) if a == "VALID" else a for a in argv))
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "error" in result.stderr


def test_set_of_a_known_param_is_accepted(valid: Path):
    assert archc("check", "--set", "classes=3", str(valid)).returncode == 0


def test_set_of_an_unknown_param_is_a_template_error(valid: Path):
    result = archc("check", "--set", "clases=3", str(valid))
    assert result.returncode == 1
    assert "clases" in result.stderr
    assert "classes" in result.stderr


def test_missing_path_exits_1(tmp_path: Path):
    missing = tmp_path / "nowhere.arch"
    result = archc("check", str(missing))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "no such file" in result.stderr
    assert str(missing) in result.stderr


def test_directory_exits_1(tmp_path: Path):
    result = archc("check", str(tmp_path))
    assert result.returncode == 1
    assert "directory" in result.stderr


def test_empty_file_exits_1(tmp_path: Path):
    empty = tmp_path / "empty.arch"
    empty.write_bytes(b"")
    result = archc("check", str(empty))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"{empty}: error: ")  # a fault of the whole file
    assert "empty" in result.stderr


# ---------------------------------------------------------------- several files, names, JSON


def test_check_reports_every_file(valid: Path, invalid: Path, tmp_path: Path):
    other = tmp_path / "other.arch"
    other.write_text(VALID.replace("template tiny", "template other"), encoding="utf-8")
    result = archc("check", str(valid), str(invalid), str(other))
    assert result.returncode == 1
    summaries = result.stdout.splitlines()
    assert [line.split(": ok")[0] for line in summaries] == [str(valid), str(other)]
    assert result.stderr.startswith(f"{invalid}:4:29: error: ")


def test_check_of_only_valid_files_exits_0(valid: Path, tmp_path: Path):
    other = tmp_path / "other.arch"
    other.write_text(VALID, encoding="utf-8")
    result = archc("check", str(valid), str(other))
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 2


def test_some_template_is_bundled():
    assert bundled_templates(), f"no templates in {templates_dir()}"


@pytest.mark.parametrize("name", bundled_templates())
def test_bundled_template_by_name(name: str):
    result = archc("check", name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{name}: ok")


def test_json_is_one_object(valid: Path, invalid: Path):
    result = archc("check", "--json", str(valid), str(invalid))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert isinstance(report, dict)
    files = report["files"]
    assert [f["file"] for f in files] == [str(valid), str(invalid)]
    assert [f["ok"] for f in files] == [True, False]
    error = files[1]["errors"][0]
    assert (error["line"], error["column"]) == (4, 29)
    assert error["hint"] == "did you mean 'max_pool2d'?"


def test_json_of_a_valid_file(valid: Path):
    result = archc("check", "--json", str(valid))
    assert result.returncode == 0
    (entry,) = json.loads(result.stdout)["files"]
    assert entry["ok"] is True
    assert entry["template"] == "tiny"


# ---------------------------------------------------------------- no TensorFlow, no Keras

NO_KERAS = textwrap.dedent("""\
    import runpy, sys
    sys.argv = ["archc", *sys.argv[1:]]
    try:
        runpy.run_module("archc", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    heavy = sorted(m for m in sys.modules
                   if m.split(".")[0] in ("tensorflow", "keras", "keras_tuner"))
    sys.stderr.write(f"EXIT={code} HEAVY={heavy}\\n")
""")


@pytest.mark.parametrize("command", ["check", "space", "dot"])
def test_command_does_not_import_tensorflow_or_keras(command: str, valid: Path):
    result = subprocess.run([sys.executable, "-c", NO_KERAS, command, str(valid)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == "EXIT=0 HEAVY=[]"


# ---------------------------------------------------------------- huge input


@pytest.mark.parametrize("layout", ["one-line", "many-lines"])
def test_ten_megabyte_file_gets_one_line_error(layout: str, tmp_path: Path):
    big = tmp_path / "big.arch"
    if layout == "one-line":
        big.write_text("# " + "x" * (10 * 1024 * 1024) + "\n", encoding="utf-8")
    else:
        line = "# a generated comment line, repeated to pass ten megabytes\n"
        big.write_text(line * (10 * 1024 * 1024 // len(line) + 1), encoding="utf-8")
    result = archc("check", str(big), timeout=30)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if not line.startswith("hint: ")]
    assert len(lines) == 1, result.stderr[:500]
    assert lines[0].startswith(str(big))
    assert "too large" in lines[0]
    assert len(result.stderr) < 500


@pytest.mark.parametrize(("option", "value"), [
    ("--trials", "0"), ("--epochs", "0"), ("--fraction", "1.5"), ("--fraction", "0"),
    ("--keep", "-1"), ("--patience", "-1"), ("--seed", "-3"), ("--max-params", "0"),
])
def test_a_search_option_out_of_range_is_a_usage_error_naming_it(option, value, valid: Path,
                                                                 tmp_path: Path):
    result = archc("search", str(valid), "--dir", str(tmp_path / "run"), option, value)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"archc: error: {option}: "), result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_search_settings_from_python_are_validated():
    from pydantic import ValidationError

    from archc.search import Settings

    assert Settings(trials=10, fraction=0.2).fraction == 0.2
    with pytest.raises(ValidationError, match="stop_early"):
        Settings(stop_early="sometimes")
    with pytest.raises(ValidationError, match="trails"):
        Settings(trails=10)  # a misspelt option is refused, not ignored
