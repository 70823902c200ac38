"""Issue 11's benchmark: every tuner, with and without dead-trial stopping, over seeds, on
one budget; each search an `archc search` process, several at a time, within a deadline.

    python bench/smarter.py [--template bench/squeezenet_se_auto_28.arch]
        [--data fashion_mnist] [--fraction 0.2] [--trials 10] [--epochs 5]
        [--tuners random,bayesian,hyperband,asha,evolution] [--stop-early median,never]
        [--seeds 0,1,2] [--parallel 8] [--deadline SECONDS] [--dir /tmp/smarter]
        [--output FILE.md] [--json FILE.json] [-- EXTRA archc search ARGUMENTS]
    python bench/smarter.py --rows A.json B.json ... [--dir DIR] [--output FILE.md]

The second form runs nothing: it summarises again the runs of earlier `--json` outputs
(their run directories, return codes and wall times), for one table over several
invocations, or for columns added since.

Runs start in the order of the grid with the default stopping (`median`) first, so that a
deadline cuts the `never` runs first; a run still going at the deadline is stopped (SIGINT,
as Ctrl-C: its finished trials are kept) and marked unfinished in the table. The figures
come from each run's results.json:

* best: the trial with the best validation accuracy, its test accuracy (`archc search`
  evaluates the kept models on the test split) and its parameter count;
* learned: trained trials whose last validation accuracy is above 0.37 (issue 11's line
  between trials that trained and trials that did not);
* stopped: trials stopped early, by rule; epochs: epochs trained over all trials;
* duplicates: trials that were not trained because an earlier trial had the same
  architecture; rejected: candidates rejected before training (budgets, infeasible);
* hypervolume: of the front of (validation accuracy, params) over the run's trained trials,
  against the reference point (accuracy 0, `--hv-params` params), in accuracy x 100k params:
  the area that the run's trials dominate, larger is better;
* best val <= goal params: the best validation accuracy of a trial with at most
  `--goal-params` parameters (its test accuracy is known only when it was a kept model);
* best test <= goal params: the best test accuracy of a kept model with at most
  `--goal-params` parameters (the issue's goal: >= 0.89 with <= 130,000);
* wall: the run's wall time, in a machine shared with the other runs of the grid.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

from archc.search import pareto

TRAINED = ("COMPLETED", "STOPPED")
LEARNED = 0.37      # issue 11: the trials under this validation accuracy bought nothing
GRACE = 40          # seconds a run stopped at the deadline has to write its results


def grid(args) -> list[dict]:
    stops = args.stop_early.split(",")
    runs = []
    for stop, tuner, seed in itertools.product(stops, args.tuners.split(","),
                                               [int(s) for s in args.seeds.split(",")]):
        name = f"{tuner}-{stop}-s{seed}"
        runs.append({"name": name, "tuner": tuner, "stop": stop, "seed": seed,
                     "dir": str(Path(args.dir) / name)})
    return runs


def command(args, run: dict) -> list[str]:
    return [sys.executable, "-m", "archc", "search", args.template, "--data", args.data,
            "--fraction", str(args.fraction), "--trials", str(args.trials),
            "--epochs", str(args.epochs), "--tuner", run["tuner"], "--seed", str(run["seed"]),
            "--stop-early", run["stop"], "--dir", run["dir"], *args.extra]


def run_grid(args, runs: list[dict]) -> None:
    """Runs `runs`, `args.parallel` at a time, until all end or the deadline passes."""
    start = time.monotonic()
    waiting, going = list(runs), []
    while waiting or going:
        late = args.deadline and time.monotonic() - start > args.deadline
        while waiting and len(going) < args.parallel and not late:
            run = waiting.pop(0)
            Path(run["dir"]).mkdir(parents=True, exist_ok=True)
            log = open(Path(run["dir"]) / "search.log", "w")
            run["proc"] = subprocess.Popen(command(args, run), stdout=log,
                                           stderr=subprocess.STDOUT)
            run["started"] = time.monotonic()
            going.append(run)
        for run in [r for r in going if r["proc"].poll() is not None]:
            run["wall"] = time.monotonic() - run["started"]
            run["rc"] = run["proc"].returncode
            going.remove(run)
            print(f"{time.monotonic() - start:6.0f} s  {run['name']}: rc {run['rc']}, "
                  f"{run['wall']:.0f} s", flush=True)
        for run in going:
            if "interrupted" in run and time.monotonic() - run["interrupted"] > GRACE:
                run["proc"].kill()
        if late:
            for run in waiting:
                run["rc"], run["wall"] = None, 0.0
            waiting.clear()
            for run in going:
                if "interrupted" not in run:
                    run["proc"].send_signal(signal.SIGINT)
                    run["interrupted"] = time.monotonic()
        time.sleep(1)


def hypervolume(points: list[tuple[float, float]], ref_params: float) -> float:
    """The area that the (accuracy up, params down) points dominate up to (accuracy 0,
    ref_params), in accuracy x 100k params."""
    return pareto.hypervolume([(-acc, params) for acc, params in points],
                              (0.0, ref_params)) / 1e5


def summarise(run: dict, args) -> dict:
    path = Path(run["dir"]) / "results.json"
    row = {k: run.get(k) for k in ("name", "tuner", "stop", "seed", "dir", "rc", "wall")}
    if not path.exists():
        return {**row, "trials": 0}
    results = json.loads(path.read_text())
    trials = results["trials"]
    trained = [t for t in trials if t["status"] in TRAINED and t.get("score") is not None]
    best = max(trained, key=lambda t: t["score"], default=None)
    stopped: dict[str, int] = {}
    for t in trials:
        if t.get("stopped"):
            stopped[t["stopped"]] = stopped.get(t["stopped"], 0) + 1
    return {
        **row,
        "trials": len(trials),
        "trained": len(trained),
        "failed": sum(t["status"] == "FAILED" for t in trials),
        "learned": sum((t.get("metrics") or {}).get("val_accuracy", 0) > LEARNED
                       for t in trained),
        "stopped": stopped,
        "epochs": sum(t.get("epochs") or 0 for t in trained),
        "duplicates": sum(t.get("duplicate_of") is not None for t in trials),
        "rejected": results.get("rejected", 0),
        "best_val": best and best["score"],
        "best_test": best and (best.get("test") or {}).get("accuracy"),
        "best_params": best and best["params"],
        "hypervolume": hypervolume([(t["score"], t["params"]) for t in trained],
                                   args.hv_params),
        "best_val_under": max((t["score"] for t in trained if t["params"] <= args.goal_params),
                              default=None),
        "under_budget": max((t["test"]["accuracy"] for t in trained
                             if t["params"] <= args.goal_params and t.get("test")),
                            default=None),
    }


def earlier_runs(files: list[Path], default_dir: Path) -> list[dict]:
    """The runs of earlier `--json` outputs, in their order. A row written before rows named
    their directory is taken to be under `default_dir`; of rows for the same directory (a run
    skipped at a deadline, then run again) the last is kept, in the first one's place."""
    runs: dict[str, dict] = {}
    for file in files:
        for row in json.loads(file.read_text()):
            path = row.get("dir") or str(default_dir / row["name"])
            runs[path] = {**row, "dir": path}
    return list(runs.values())


def cell(v, fmt="{:.4f}") -> str:
    return "" if v is None else fmt.format(v)


def markdown(rows: list[dict], args) -> str:
    head = ("| run | trials (trained) | learned | stopped (rule: n) | epochs | duplicates "
            "| rejected | best val | its test | its params | best val <= goal params "
            "| best test <= goal params | hypervolume | wall s |")
    lines = [head, "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        stopped = ", ".join(f"{k}: {v}" for k, v in sorted((r.get("stopped") or {}).items()))
        status = "" if r.get("rc") == 0 else f" (unfinished, rc {r.get('rc')})"
        lines.append(
            f"| {r['name']}{status} | {r.get('trials', 0)} ({r.get('trained', 0)}) "
            f"| {r.get('learned', '')} | {stopped} | {r.get('epochs', '')} "
            f"| {r.get('duplicates', '')} | {r.get('rejected', '')} | {cell(r.get('best_val'))} "
            f"| {cell(r.get('best_test'))} | {cell(r.get('best_params'), '{:,}')} "
            f"| {cell(r.get('best_val_under'))} | {cell(r.get('under_budget'))} "
            f"| {cell(r.get('hypervolume'), '{:.3f}')} | {cell(r.get('wall'), '{:.0f}')} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", default="bench/squeezenet_se_auto_28.arch")
    parser.add_argument("--data", default="fashion_mnist")
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--tuners", default="random,bayesian,hyperband,asha,evolution")
    parser.add_argument("--stop-early", default="median,never")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--deadline", type=float, default=0,
                        help="seconds; runs not started by then are skipped (0: none)")
    parser.add_argument("--hv-params", type=float, default=600_000)
    parser.add_argument("--goal-params", type=int, default=130_000)
    parser.add_argument("--dir", default="/tmp/smarter")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--rows", type=Path, nargs="+",
                        help="summarise the runs of these earlier --json outputs; run nothing")
    parser.add_argument("extra", nargs="*", help="more `archc search` arguments, after --")
    args = parser.parse_args(argv)
    if args.rows:
        runs = earlier_runs(args.rows, Path(args.dir))
    else:
        runs = grid(args)
        run_grid(args, runs)
    rows = [summarise(r, args) for r in runs]
    import keras

    text = (f"Python {platform.python_version()}, Keras {keras.__version__} on "
            f"{keras.backend.backend()}, {os.cpu_count()} CPUs\n\n" + markdown(rows, args))
    print(text)
    if args.output:
        args.output.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
