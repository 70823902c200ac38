"""Search benchmark: random, Hyperband and Bayesian on one template and data, same budget.

    python bench/search.py [--template squeezenet_se_auto] [--data fashion_mnist]
                           [--tuners random,hyperband,bayesian] [--trials 20] [--epochs 5]
                           [--fraction 0.1] [--seed 1] [--dir /tmp/archc-bench]
                           [--set NAME=VALUE ...] [--input NAME=H,W,C ...]
                           [--objective NAME[:min|max] ...] [--control] [--output FILE.md]

`--set`, `--input` and `--objective` are `archc search`'s (repeatable; several objectives
make a Pareto search, and each run then reports its front's size and hypervolume).

Each tuner runs `archc.search.search` in a fresh Python process (so that its peak memory is
its own), after the data is loaded once in that process (timed apart). In the process:

* `keras.Model.fit` and `keras.Model.evaluate` are wrapped to add up the wall time spent
  inside them; the rest of the search's wall time is what archc and Keras Tuner add (the
  oracle, building and compiling each model, checkpoints, results files, the kept models);
* `keras.callbacks.CallbackList.on_epoch_end` is timed too: the callbacks' share of `fit`
  (Keras Tuner's best-epoch checkpoint, archc's `BackupAndRestore` and epoch log, early
  stopping, TensorBoard);
* after every finished trial (the search's one progress line) the process's resident memory
  (`VmRSS`) and its peak so far (`VmHWM`) are read from /proc/self/status.

`--control` adds one more run of the first tuner with archc's per-trial clean-up of
TensorFlow's gradient registry switched off (`archc.search.trials._forget_gradients`): the memory
growth that clean-up prevents, measured in the same session.

The best trial's test accuracy is the one `archc search` itself records: when a search ends,
it evaluates each kept model (`--keep`, 3 by default) on the data's test split.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

PROGRESS = re.compile(r"^\[(\d+)/\d+\] trial ")


def memory_mib() -> dict[str, float]:
    """The process's resident memory and its peak so far, in MiB (Linux /proc)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


class Stopwatch:
    """Adds up the wall time of the calls to a method, except those made while `inside` is
    running (Keras's `fit` calls `evaluate` for the validation data)."""

    def __init__(self, owner, name: str, inside: Stopwatch | None = None):
        self.seconds = 0.0
        self.calls = 0
        self.running = False
        original = getattr(owner, name)
        watch = self

        def timed(*args, **kwargs):
            if watch.running or (inside is not None and inside.running):
                return original(*args, **kwargs)
            watch.running = True
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                watch.running = False
                watch.seconds += time.perf_counter() - start
                watch.calls += 1

        setattr(owner, name, timed)


def run_one(args) -> dict:
    """One search in this process; the measurements as a dict."""
    started = time.perf_counter()
    import keras

    import archc
    import archc.search.trials as trials_module
    from archc.cli import parse_assignments, parse_inputs
    from archc.data import load_data
    from archc.search import Settings, search
    from archc.search.report import build_report

    imported = time.perf_counter()
    if args.no_cleanup:
        trials_module._forget_gradients = lambda known: None
    fit = Stopwatch(keras.Model, "fit")
    evaluate = Stopwatch(keras.Model, "evaluate", inside=fit)
    epoch_end = Stopwatch(keras.callbacks.CallbackList, "on_epoch_end")
    params, inputs = parse_assignments(args.set), parse_inputs(args.input)
    dataset = load_data(args.data, fraction=args.fraction, seed=args.seed,
                        template=archc.load(args.template, params, inputs))
    loaded = time.perf_counter()
    per_trial: list[dict] = []
    search_start = time.perf_counter()

    def log(line: str) -> None:
        if PROGRESS.match(line):
            per_trial.append({"trial": int(PROGRESS.match(line).group(1)),
                              "seconds": round(time.perf_counter() - search_start, 2),
                              "fit_seconds": round(fit.seconds, 2), **memory_mib()})
        print(line, file=sys.stderr, flush=True)

    settings = Settings(tuner=args.tuner, trials=args.trials, epochs=args.epochs,
                        patience=args.patience, seed=args.seed, fraction=args.fraction,
                        stop_early=args.stop_early, overwrite=True, params=params,
                        inputs=inputs, objective=args.objective)
    results = search(args.template, args.data, args.dir, settings, dataset=dataset, log=log)
    wall = time.perf_counter() - search_start
    done = [r for r in results["trials"] if r["status"] in ("COMPLETED", "STOPPED")]
    sign = 1 if results["objective"]["direction"] == "max" else -1
    best = max(done, key=lambda r: sign * r["score"]) if done else None
    front = build_report(args.dir, size="params")
    return {
        "tuner": args.tuner, "cleanup": not args.no_cleanup,
        "import_seconds": round(imported - started, 2), "data_seconds": round(loaded - imported, 2),
        "data": dataset.describe(),
        "search_seconds": round(wall, 2), "fit_seconds": round(fit.seconds, 2),
        "fit_calls": fit.calls, "epoch_end_seconds": round(epoch_end.seconds, 2),
        "epoch_ends": epoch_end.calls, "evaluate_seconds": round(evaluate.seconds, 2),
        "evaluate_calls": evaluate.calls,
        "trials": len(results["trials"]), "completed": len(done),
        "stop_early": args.stop_early,
        "stopped": {rule: sum(r.get("stopped") == rule for r in results["trials"])
                    for rule in ("diverged", "chance", "median")},
        "epochs_trained": sum(r["epochs"] or 0 for r in results["trials"]),
        "distinct_choices": len({json.dumps(r["choices"], sort_keys=True) for r in done}),
        "best": None if best is None else {
            "trial_id": best["trial_id"], "val_accuracy": best["metrics"].get("val_accuracy"),
            "test_accuracy": (best["test"] or {}).get("accuracy"), "params": best["params"],
            "bytes": best["bytes"], "epochs": best["epochs"], "choices": best["choices"]},
        "per_trial": per_trial,
        "objectives": results["objectives"], "pareto": front["pareto"],
        "hypervolume": front["hypervolume"],
    }


# ---------------------------------------------------------------- the parent: runs, table


def run_all(args) -> list[dict]:
    runs = [(t, False) for t in args.tuners.split(",")]
    if args.control:
        runs.append((runs[0][0], True))
    out = []
    for tuner, no_cleanup in runs:
        directory = Path(args.dir) / (tuner + ("-no-cleanup" if no_cleanup else ""))
        command = [sys.executable, __file__, "--one", "--tuner", tuner, "--dir", str(directory),
                   "--template", args.template, "--data", args.data,
                   "--trials", str(args.trials), "--epochs", str(args.epochs),
                   "--patience", str(args.patience), "--fraction", str(args.fraction),
                   "--seed", str(args.seed), "--stop-early", args.stop_early,
                   *_repeated(args), *(["--no-cleanup"] if no_cleanup else [])]
        print("$", " ".join(command[1:]), file=sys.stderr, flush=True)
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        out.append({**json.loads(done.stdout.strip().splitlines()[-1]), "dir": str(directory)})
    return _shared_reference(out)


def _shared_reference(runs: list[dict]) -> list[dict]:
    """Each run's hypervolume again, with one reference point for all (their volumes then
    compare): `archc report`'s for several directories."""
    from archc.search.report import build_report, common_reference

    reports = common_reference([build_report(r["dir"], size="params") for r in runs])
    return [{**r, "hypervolume": rep["hypervolume"]} for r, rep in zip(runs, reports,
                                                                       strict=True)]


def _repeated(args) -> list[str]:
    """The repeatable `archc search` options, passed on to each run."""
    out = []
    for option in ("set", "input", "objective"):
        for value in getattr(args, option) or ():
            out += [f"--{option}", value]
    return out


def at_trial(run: dict, n: int) -> dict | None:
    return next((p for p in run["per_trial"] if p["trial"] == n), None)


def growth_per_trial(run: dict, key: str = "VmRSS", first: int = 2) -> float | None:
    """Least-squares slope of `key` (MiB) over the trials from `first` on."""
    points = [(p["trial"], p[key]) for p in run["per_trial"] if p["trial"] >= first]
    if len(points) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def markdown(runs: list[dict], args, command: str) -> str:
    n = args.trials
    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}; data: "
        f"{runs[0]['data']}.",
        "",
        f"Budget per tuner: {n} trials, at most {args.epochs} epochs each (Hyperband: "
        f"max_epochs {args.epochs}, factor 3), early-stopping patience {args.patience}, "
        f"{args.fraction:g} of the training data, seed {args.seed}"
        f"{_options_note(args)}.",
        "",
        "| tuner | trials (completed / distinct) | epochs trained | best val acc | its test acc "
        "| its params | search wall s | in fit s | test eval s | rest s | rest share |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        b = r["best"] or {}
        rest = r["search_seconds"] - r["fit_seconds"] - r["evaluate_seconds"]
        lines.append(
            f"| {_name(r)} | {r['trials']} ({r['completed']} / {r['distinct_choices']}) "
            f"| {r['epochs_trained']} | {_f(b.get('val_accuracy'))} "
            f"| {_f(b.get('test_accuracy'))} | {_n(b.get('params'))} | {r['search_seconds']:.0f} "
            f"| {r['fit_seconds']:.0f} | {r['evaluate_seconds']:.1f} ({r['evaluate_calls']} models)"
            f" | {rest:.1f} | {100 * rest / r['search_seconds']:.1f} % |")
    lines += _front_lines(runs)
    lines += ["", "Inside `fit`, the epoch-end callbacks (checkpoints, epoch log, early stopping, "
              "TensorBoard):", ""]
    for r in runs:
        lines.append(f"- {_name(r)}: {r['epoch_end_seconds']:.1f} s over {r['epoch_ends']} "
                     f"epochs ({r['epoch_end_seconds'] / max(1, r['epoch_ends']):.2f} s an epoch,"
                     f" {100 * r['epoch_end_seconds'] / r['search_seconds']:.1f} % of the search)")
    lines += [
        "",
        f"Memory (MiB, read after the trial's progress line): resident (`VmRSS`) and peak so far "
        f"(`VmHWM`) after trial 2 and trial {n}, and the least-squares growth of resident "
        f"memory per trial from trial 2 on.",
        "",
        f"| tuner | RSS @2 | RSS @{n} | peak @2 | peak @{n} | RSS growth / trial |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        a, z = at_trial(r, 2) or {}, at_trial(r, n) or {}
        slope = growth_per_trial(r)
        lines.append(f"| {_name(r)} | {_f(a.get('VmRSS'), 0)} | {_f(z.get('VmRSS'), 0)} "
                     f"| {_f(a.get('VmHWM'), 0)} | {_f(z.get('VmHWM'), 0)} "
                     f"| {_f(slope, 2)} |")
    lines += ["", "Best trial's choices:", ""]
    for r in runs:
        if r["best"] and r["cleanup"]:
            lines.append(f"- {r['tuner']} (trial {r['best']['trial_id']}): "
                         f"`{json.dumps(r['best']['choices'])}`")
    return "\n".join(lines) + "\n"


def _options_note(args) -> str:
    repeated = _repeated(args)
    return ("; " + " ".join(f"`{a} {b}`" for a, b in zip(repeated[::2], repeated[1::2],
                                                            strict=True))) if repeated else ""


def _front_lines(runs: list[dict]) -> list[str]:
    """Each run's Pareto front (size) and hypervolume, for a search of several objectives."""
    if not any(len(r.get("objectives") or ()) > 1 for r in runs):
        return []
    lines = ["", "The Pareto front of the objectives, and its hypervolume (the reference "
             "point: the worst value of each objective among all the runs' scored trials):", "",
             "| tuner | front (trials) | hypervolume | reference |", "|---|---|---:|---|"]
    for r in runs:
        volume = r.get("hypervolume") or {}
        ref = ", ".join(f"{k} {v:.6g}" for k, v in (volume.get("reference") or {}).items())
        lines.append(f"| {_name(r)} | {', '.join(r['pareto'])} "
                     f"| {_f(volume.get('value'), 6)} | {ref} |")
    return lines


def _name(run: dict) -> str:
    return run["tuner"] + ("" if run["cleanup"] else " (no clean-up)")


def _f(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _n(value) -> str:
    return "-" if value is None else f"{value:,}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", default="squeezenet_se_auto")
    parser.add_argument("--data", default="fashion_mnist")
    parser.add_argument("--tuners", default="random,hyperband,bayesian")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--stop-early", default="median", choices=("never", "chance", "median"))
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", default="/tmp/archc-bench", help="the searches' directories")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE",
                        help="a template param, as for archc search (repeatable)")
    parser.add_argument("--input", action="append", metavar="NAME=H,W,C",
                        help="an input's shape, as for archc search (repeatable)")
    parser.add_argument("--objective", action="append", metavar="NAME[:min|max]",
                        help="as for archc search; repeat it for a Pareto search")
    parser.add_argument("--control", action="store_true",
                        help="one more run of the first tuner without the gradient clean-up")
    parser.add_argument("--output", type=Path, help="also write the Markdown here")
    parser.add_argument("--json", type=Path, help="also write the raw measurements here")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tuner", help=argparse.SUPPRESS)
    parser.add_argument("--no-cleanup", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args)))
        return 0
    command = "python bench/search.py " + " ".join(argv if argv is not None else sys.argv[1:])
    runs = run_all(args)
    text = markdown(runs, args, command.strip())
    print(text)
    if args.output:
        args.output.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
