"""`archc report` and `archc dot --trial`: results.json -> leaderboard, table of choices,
Pareto front, plot, and one trial's drawing.

The results directories are written here the way `archc search` writes them, with real
choices and costs of squeezenet_se_auto (shape inference only: no Keras).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import archc
from archc.cli import main
from archc.diagnostics import ArchError
from archc.draw import architecture_to_dot, template_highlight_dot
from archc.resolve import active_values
from archc.search import ReportError
from archc.search.report import (
    block_summary,
    build_report,
    find_trial,
    format_report,
    pareto,
    ranked,
    to_json,
    trial_dot,
)
from archc.space import default_values, sample

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = "squeezenet_se_auto"
SCORES = [0.62, 0.91, 0.75, None, 0.91, 0.40]   # trial 03 failed


@pytest.fixture(scope="module")
def template():
    return archc.load(TEMPLATE)


def configurations(template, n: int) -> list:
    """n distinct valid architectures of the template, from sample seeds 0, 1, ..."""
    out, seen, seed = [], set(), 0
    while len(out) < n:
        try:
            arch = template.resolve(sample(template, seed))
        except ArchError:
            arch = None
        seed += 1
        key = json.dumps(arch.choices, sort_keys=True) if arch else None
        if arch and key not in seen:
            seen.add(key)
            out.append(arch)
    return out


def trial(tid: str, arch, score, seconds: float = 3.5) -> dict:
    cost = arch.cost()
    done = score is not None
    return {"trial_id": tid, "status": "COMPLETED" if done else "FAILED",
            "choices": arch.choices, "params": cost["params"], "bytes": cost["bytes"],
            "flops": cost["flops"],
            "metrics": {"val_accuracy": score, "accuracy": score + 0.03, "loss": 0.4,
                        "val_loss": 0.5} if done else {},
            "score": score, "epochs": 2 if done else 0, "seconds": seconds,
            "model": f"models/trial_{tid}.keras" if done else None,
            "reason": None if done else "ResourceExhaustedError: OOM when allocating"}


def write_results(directory: Path, template, scores=SCORES, tuner="random", **extra) -> dict:
    archs = configurations(template, len(scores))
    results = {
        "template": TEMPLATE, "template_path": template.path, "data": "digits", "tuner": tuner,
        "objective": {"name": "val_accuracy", "direction": "max"}, "seed": 1,
        "settings": {"trials": len(scores), "epochs": 2, "patience": 5, "fraction": 1.0,
                     "max_params": None},
        "defaults": default_values(template),
        "trials": [trial(f"{i:02d}", arch, score)
                   for i, (arch, score) in enumerate(zip(archs, scores, strict=True))],
        **extra,
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    return results


@pytest.fixture
def run(tmp_path: Path, template) -> tuple[Path, dict]:
    directory = tmp_path / "search"
    return directory, write_results(directory, template)


def archc_cmd(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m archc ARGS` in a subprocess; it must not print a traceback."""
    result = subprocess.run([sys.executable, "-m", "archc", *map(str, args)], cwd=ROOT,
                            capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in result.stdout + result.stderr
    return result


@pytest.fixture
def cli(capsys):
    """`archc ARGS` in this process (faster): a CompletedProcess-like result."""
    def run_main(*args) -> subprocess.CompletedProcess:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:       # argparse's usage errors
            code = exc.code
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return subprocess.CompletedProcess(args, code, out, err)

    return run_main


# ---------------------------------------------------------------- ranking and the front


def test_ranked_best_first_ties_to_the_smaller_model(run):
    _, results = run
    order = [t["trial_id"] for t in ranked(results)]
    assert "03" not in order                       # failed: no score
    assert order[2:] == ["02", "00", "05"]
    tied = sorted(["01", "04"], key=lambda tid: find_trial(results, tid)["params"])
    assert order[:2] == tied


def test_score_falls_back_to_the_metric(run):
    _, results = run
    results["trials"][0]["score"] = None
    results["trials"][0]["metrics"]["val_accuracy"] = 0.99
    assert ranked(results)[0]["trial_id"] == "00"


def _t(tid, score, size):
    return {"trial_id": tid, "score": score, "bytes": size}


def test_pareto_maximises_the_objective_and_minimises_the_size():
    trials = [_t("a", 0.5, 100), _t("b", 0.4, 200), _t("c", 0.7, 300), _t("d", 0.7, 400),
              _t("e", 0.9, 1000), _t("f", None, 50), _t("g", 0.95, None)]
    assert [t["trial_id"] for t in pareto(trials, "x", "max", "bytes")] == ["a", "c", "e"]


def test_pareto_for_a_loss_minimises_both():
    trials = [_t("a", 0.5, 100), _t("b", 0.4, 200), _t("c", 0.6, 300), _t("d", 0.1, 900)]
    assert [t["trial_id"] for t in pareto(trials, "val_loss", "min", "bytes")] == ["a", "b", "d"]


def test_find_trial_by_number_and_did_you_mean(run):
    _, results = run
    assert find_trial(results, "4")["trial_id"] == "04"
    with pytest.raises(ReportError) as exc:
        find_trial(results, "0x5")
    assert exc.value.hint == "did you mean '05'?"


# ---------------------------------------------------------------- the table of choices


def test_block_summary_counts_fire_modules_and_places_se_blocks(template):
    choices = {"group1": 2, "group2": 0, "group1/rep0/second/use_se": True,
               "group1/rep1/first/use_se": True}
    assert block_summary(template, choices) == {
        "blocks": {"fire": 4, "se": 2}, "at": {"se": ["fire2", "fire3"]}}
    assert block_summary(template, {}) == {"blocks": {"fire": 4}, "at": {}}


def test_report_object(run):
    directory, results = run
    report = to_json([build_report(directory, top=3)])
    assert report["objective"] == {"name": "val_accuracy", "direction": "max"}
    assert [e["rank"] for e in report["leaderboard"]] == [1, 2, 3]
    assert [e["trial_id"] for e in report["leaderboard"]] == [t["trial_id"]
                                                               for t in ranked(results)[:3]]
    first = report["leaderboard"][0]
    assert first["params"] > 0 and first["bytes"] == 4 * first["params"]
    assert first["epochs"] == 2 and first["seconds"] == 3.5
    assert set(report["choices"]) == {e["trial_id"] for e in report["leaderboard"]}
    for tid, choices in report["choices"].items():
        assert choices == find_trial(results, tid)["choices"]
    scored = [t for t in results["trials"] if t["score"] is not None]
    assert report["pareto"] == [t["trial_id"] for t in pareto(scored, "val_accuracy", "max",
                                                               "bytes")]
    assert report["pareto"][-1] in ("01", "04")     # the best is always on the front
    assert report["counts"] == {"COMPLETED": 5, "FAILED": 1}
    assert report["failed"][0]["trial_id"] == "03"


def test_choice_table_rows_nest_under_their_group(run, template):
    directory, results = run
    text = format_report(build_report(directory, top=5))
    table = text.split("the choices of the top 5")[1].split("\n\n")[0].splitlines()
    labels = [re.match(r" *\S+(?: \S+)*", line).group() for line in table[2:]]
    assert labels[:2] == ["trial", "val_accuracy"]
    assert "group1" in labels and "  rep0" in labels and "    first/use_se" in labels
    assert labels.index("group1") < labels.index("  rep0") < labels.index("    bypass")
    assert "pool1" in labels and "optimizer" in labels and "fire blocks" in labels
    header = table[1].split()
    assert header == ["r1", "r2", "r3", "r4", "r5", "default"]


def test_inactive_choices_are_dashes_and_all_inactive_rows_are_left_out(run, template):
    directory, results = run
    report = build_report(directory, top=5)
    text = format_report(report)
    ids = [e["trial_id"] for e in report["leaderboard"]]
    lines = text.splitlines()
    row = next(line for line in lines if line.strip().startswith("first/se_skip"))
    shown = row.split()[1:1 + len(ids)]
    first_se_skip = "group1/rep0/first/se_skip"
    for tid, cell in zip(ids, shown, strict=True):
        value = report["choices"][tid].get(first_se_skip)
        assert cell == ("-" if value is None else str(value).lower())
    active = {name for tid in ids for name in report["choices"][tid]}
    every = {h.name for h in template.hyperparameters}
    if every - active:
        assert f"{len(every - active)} hyperparameters inactive in all of them left out" in text


def test_default_column_holds_the_active_defaults(run, template):
    directory, _ = run
    report = build_report(directory)
    assert report["defaults"] == active_values(template)
    text = format_report(report)
    optimizer = next(line for line in text.splitlines() if line.startswith("optimizer"))
    assert optimizer.split()[-1] == template.hp("optimizer").default


def test_report_without_the_template_still_reports(tmp_path, template):
    directory = tmp_path / "moved"
    write_results(directory, template, template_path="/nowhere/x.arch")
    results = json.loads((directory / "results.json").read_text())
    results["template"] = "a_template_that_is_gone"
    (directory / "results.json").write_text(json.dumps(results))
    report = build_report(directory, top=2)
    assert "defaults" not in report and len(report["leaderboard"]) == 2
    text = format_report(report)
    assert "default" not in text.split("the choices")[1].splitlines()[1]


def test_a_search_with_no_finished_trial(tmp_path, template):
    directory = tmp_path / "young"
    write_results(directory, template, scores=[None])
    report = build_report(directory)
    assert report["leaderboard"] == [] and report["pareto"] == []
    assert "no trial has a score yet" in format_report(report)


# ---------------------------------------------------------------- the command


def test_report_json_command(run):
    directory, results = run
    result = archc_cmd("report", directory, "--json", "--top", "2")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) >= {"objective", "leaderboard", "pareto", "choices"}
    assert len(report["leaderboard"]) == 2
    assert list(report["choices"]) == [e["trial_id"] for e in report["leaderboard"]]


def test_report_text_command(run, cli):
    directory, _ = run
    result = cli("report", directory)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"{directory}: {TEMPLATE} on digits, random search (seed 1)")
    assert "leaderboard: the top 5 of 5 scored trials by val_accuracy" in out
    assert "Pareto front (max val_accuracy, min bytes)" in out
    assert "03  FAILED: ResourceExhaustedError" in out


def test_leaderboard_shows_the_test_accuracy_of_tested_models(tmp_path, template, cli):
    directory = tmp_path / "tested"
    results = write_results(directory, template)
    best = ranked(results)[0]
    best["test"] = {"accuracy": 0.8125, "loss": 0.6}
    (directory / "results.json").write_text(json.dumps(results), encoding="utf-8")
    out = cli("report", directory).stdout
    assert "(test: the kept models on the test split)" in out
    rows = out.split("leaderboard:")[1].split("\n\n")[0].splitlines()
    assert rows[1].split()[:4] == ["rank", "trial", "val_accuracy", "test"]
    assert rows[2].split()[3] == "0.8125" and rows[3].split()[3] == "-"
    assert build_report(directory)["leaderboard"][0]["test"] == best["test"]
    write_results(tmp_path / "untested", template)
    plain = cli("report", tmp_path / "untested").stdout.split("leaderboard:")[1]
    assert "test" not in plain.split("the choices")[0]


def test_report_plot(run, tmp_path, cli):
    directory, _ = run
    png = tmp_path / "front.png"
    result = cli("report", directory, "--plot", png, "--size", "params")
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000


def test_report_of_several_searches(tmp_path, template, cli):
    dirs = [tmp_path / tuner for tuner in ("random", "hyperband")]
    for d, tuner in zip(dirs, ("random", "hyperband"), strict=True):
        write_results(d, template, tuner=tuner)
    png = tmp_path / "all.png"
    result = cli("report", *dirs, "--json", "--plot", png)
    assert result.returncode == 0, result.stderr
    both = json.loads(result.stdout)
    assert [r["tuner"] for r in both["runs"]] == ["random", "hyperband"]
    assert {p["dir"] for p in both["pareto"]} <= {str(d) for d in dirs}
    assert png.is_file()


NO_KERAS = """
import sys
from archc.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in
               ("tensorflow", "keras", "keras_tuner", "matplotlib"))
sys.stderr.write(f"EXIT={code} HEAVY={heavy}\\n")
"""


def test_report_imports_neither_keras_nor_matplotlib(run):
    directory, _ = run
    result = subprocess.run([sys.executable, "-c", NO_KERAS, "report", str(directory)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stderr.splitlines()[-1] == "EXIT=0 HEAVY=[]"


@pytest.mark.parametrize("case, message", [
    ("missing-dir", "no such results directory"),
    ("no-results", "has no results.json"),
    ("bad-json", "cannot read"),
    ("not-results", "is not a search's results"),
])
def test_report_errors_exit_1(tmp_path, case, message, cli):
    directory = tmp_path / "d"
    if case != "missing-dir":
        directory.mkdir()
    if case == "bad-json":
        (directory / "results.json").write_text("{not json")
    if case == "not-results":
        (directory / "results.json").write_text("[1, 2]")
    result = cli("report", directory)
    assert result.returncode == 1
    assert result.stdout == ""
    assert message in result.stderr


@pytest.mark.parametrize("argv", [
    ["report", "DIR", "--top", "0"],
    ["report"],
    ["dot"],
    ["dot", "--trial", "DIR"],
    ["dot", "--trial", "DIR", "01", "--sample", "3"],
])
def test_usage_errors_exit_2(run, argv, cli):
    directory, _ = run
    result = cli(*(str(directory) if a == "DIR" else a for a in argv))
    assert result.returncode == 2, result.stderr
    assert "error" in result.stderr


def test_unsupported_plot_type_exits_1(run, tmp_path, cli):
    directory, _ = run
    result = cli("report", directory, "--plot", tmp_path / "front.xyz")
    assert result.returncode == 1
    assert "--plot cannot write '.xyz' files" in result.stderr


# ---------------------------------------------------------------- dot --trial


def _body(dot_text: str) -> list[str]:
    """The DOT text without its title line."""
    return [line for line in dot_text.splitlines() if not line.startswith("  label=")]


def test_dot_trial_draws_its_architecture(run, template, cli):
    directory, results = run
    result = cli("dot", "--trial", directory, "2")
    assert result.returncode == 0, result.stderr
    choices = find_trial(results, "02")["choices"]
    assert _body(result.stdout) == _body(architecture_to_dot(template.resolve(choices)))
    title = next(line for line in result.stdout.splitlines() if line.startswith("  label="))
    assert title.startswith(f'  label="trial 02 of {directory}: val_accuracy 0.7500\\l')
    assert result.stderr == ""


def test_dot_template_trial_highlights_its_path(run, template, cli):
    directory, results = run
    result = cli("dot", TEMPLATE, "--trial", directory, "00")
    assert result.returncode == 0, result.stderr
    choices = find_trial(results, "00")["choices"]
    expected = template_highlight_dot(template, choices)
    assert _body(result.stdout) == _body(expected)
    assert "trial 00 of" in result.stdout and result.stdout != to_dot_of(template)


def to_dot_of(template) -> str:
    from archc.draw import to_dot

    return to_dot(template)


def test_dot_trial_uses_the_recorded_params(tmp_path, template):
    directory = tmp_path / "three"
    three = archc.load(TEMPLATE, params={"classes": 3})
    results = write_results(directory, three, params={"classes": 3})
    text = trial_dot(directory, "01")
    params = results["trials"][1]["params"]
    assert f"{params:,} parameters" in text


def test_dot_trial_warns_when_the_drawing_differs_from_the_trial(tmp_path, template, cli):
    directory = tmp_path / "unrecorded"
    write_results(directory, archc.load(TEMPLATE, params={"classes": 3}))
    result = cli("dot", "--trial", directory, "01")
    assert result.returncode == 0
    assert "warning: this drawing has" in result.stderr
    fixed = cli("dot", "--trial", directory, "01", "--set", "classes=3")
    assert fixed.returncode == 0 and fixed.stderr == ""


@pytest.mark.parametrize("args, message", [
    (["dot", "--trial", "DIR", "42"], "no trial '42' in these results"),
    (["dot", "--trial", "DIR", "0x5"], "did you mean '05'?"),
    (["dot", "--trial", "DIR", "01", "--set", "group1=2"], "the trial fixes its hyperparameters"),
    (["dot", "--trial", "NOWHERE", "01"], "no such results directory"),
    (["dot", "--trial", "DIR", "03"], "trial 03 (FAILED) has no recorded choices"),
])
def test_dot_trial_errors_exit_1(run, tmp_path, args, message, cli):
    directory, results = run
    del results["trials"][3]["choices"]
    (directory / "results.json").write_text(json.dumps(results))
    swap = {"DIR": str(directory), "NOWHERE": str(tmp_path / "nowhere")}
    result = cli(*(swap.get(a, a) for a in args))
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert message in result.stderr


@pytest.mark.parametrize("module", ["report", "results", "progress", "tuners"])
def test_doctests(module):
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module(f"archc.search.{module}")).failed == 0
