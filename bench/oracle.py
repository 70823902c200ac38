"""Bayesian oracle time, without training: scikit-learn's Gaussian-process predict against
archc's quick one (`archc.search.oracles.QuickPredictGPR`), on the same trials.

    python bench/oracle.py [--template squeezenet_se_auto] [--trials 20] [--seed 2]

Each variant runs in its own process: a `BayesianOracle` with the paper's settings proposes
`--trials` configurations of the template's space, and each is scored by a fixed hash of its
values (no training), so both variants see the same scores as long as they propose the same
configurations. Prints the oracle's seconds per trial and a digest of the proposals: equal
digests mean the same proposals.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import zlib


def run_one(template: str, trials: int, seed: int, quick: bool) -> dict:
    import keras_tuner as kt

    import archc
    from archc.search import oracles
    from archc.space import declare_space

    if not quick:  # Keras Tuner's own regressor
        oracles.BayesianOracle._make_gpr = kt.oracles.BayesianOptimizationOracle._make_gpr
    hp = kt.HyperParameters()
    declare_space(archc.load(template), hp)
    oracle = oracles.BayesianOracle(objective=kt.Objective("score", "max"), max_trials=trials,
                                    num_initial_points=2, alpha=0.001, beta=2.6, seed=seed)
    directory = tempfile.mkdtemp()
    try:
        oracle._set_project_dir(directory, "oracle")
        oracle.update_space(hp)
        oracle.verbose = 0
        seconds, proposals = [], []
        for _ in range(trials):
            start = time.perf_counter()
            trial = oracle.create_trial("bench")
            seconds.append(time.perf_counter() - start)
            values = json.dumps(trial.hyperparameters.values, sort_keys=True)
            proposals.append(values)
            oracle.update_trial(trial.trial_id, {"score": zlib.crc32(values.encode()) % 1000})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return {"seconds": seconds, "digest": zlib.crc32("\n".join(proposals).encode())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", default="squeezenet_se_auto")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--one", choices=("quick", "sklearn"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.template, args.trials, args.seed, args.one == "quick")))
        return 0
    rows = {}
    for variant in ("sklearn", "quick"):
        out = subprocess.run([sys.executable, __file__, "--one", variant, "--template",
                              args.template, "--trials", str(args.trials), "--seed",
                              str(args.seed)], stdout=subprocess.PIPE, text=True, check=True)
        rows[variant] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{args.template}, {args.trials} trials, seed {args.seed}\n")
    print("| predict | oracle s (all trials) | s a trial after the 2 random ones | proposals |")
    print("|---|---:|---:|---|")
    for variant, row in rows.items():
        later = row["seconds"][2:]
        print(f"| {variant} | {sum(row['seconds']):.1f} | {sum(later) / max(1, len(later)):.2f} "
              f"| digest {row['digest']} |")
    same = rows["sklearn"]["digest"] == rows["quick"]["digest"]
    print(f"\nsame proposals: {'yes' if same else 'NO'}; time ratio sklearn / quick: "
          f"{sum(rows['sklearn']['seconds']) / sum(rows['quick']['seconds']):.1f}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
