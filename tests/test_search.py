"""`archc search`: template + data -> Keras Tuner search -> results directory.

Fast: a tiny dense template on sklearn's 8x8 digits, 3 trials of 1 epoch; the oracles are
also driven without training (a tuner whose trials score from the values), which checks
duplicate-skipping over the whole space in about a second.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pytest

import archc
from archc.cli import main
from archc.identity import survey
from archc.resolve import active_values
from archc.search import SearchError, Settings, search
from archc.search.oracles import BayesianOracle, EvolutionOracle
from archc.search.report import ranked
from archc.search.tuners import TUNERS
from archc.space import count_configurations, declare_space, from_kt, to_kt

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # keras_tuner's threading

# 60 configurations; `skip` and `dense/units` are active only with `extra`, and a skip
# around a layer of another width is infeasible (a shape mismatch).
TINY = """
template tiny
param classes = 10
input image [8, 8, 1]
graph {
  image
  -> flatten
  -> repeat layers: 1..2 { dense(choice(16, 32), activation=relu) }
  -> optional extra { residual? skip { dense(choice(16, 32, default=16), activation=relu) } }
  -> dense(classes, activation=softmax)
}
train {
  optimizer = adam
  learning_rate = choice(1e-2, 1e-3)
  batch_size = 64
  loss = categorical_crossentropy
  metrics = [accuracy]
}
"""

# The defaults are infeasible: a skip around a wider layer.
SKEWED = TINY.replace("template tiny", "template skewed").replace(
    "optional extra", "optional extra default true").replace(
    "residual? skip {", "residual? skip default true {").replace(
    "choice(16, 32, default=16)", "choice(16, 32, default=32)")


def run(template, directory, dataset=None, **settings):
    lines: list[str] = []
    results = search(template, "digits", directory, Settings(**settings), dataset=dataset,
                     log=lines.append)
    return results, lines


def read(directory: Path) -> tuple[dict, list[dict]]:
    results = json.loads((directory / "results.json").read_text())
    with open(directory / "results.csv", newline="") as f:
        return results, list(csv.DictReader(f))


# ---------------------------------------------------------------- every tuner


def test_every_tuner_is_documented_and_offered_by_the_cli():
    docs = (ROOT / "docs" / "search.md").read_text()
    tuners = docs.split("## Tuners")[1].split("\n## ")[0]
    documented = [line.split("`")[1] for line in tuners.splitlines() if line.startswith("| `")]
    assert documented == list(TUNERS)
    from archc.cli import build_parser

    search_parser = build_parser()._subparsers._group_actions[0].choices["search"]
    option = next(a for a in search_parser._actions if a.dest == "tuner")
    assert list(option.choices) == list(TUNERS)


@pytest.mark.parametrize("tuner", list(TUNERS))
def test_each_tuner_writes_results(tuner, tiny, digits, tmp_path, capsys):
    _, lines = run(tiny, tmp_path, digits, tuner=tuner, trials=3, epochs=1, seed=1)
    results, rows = read(tmp_path)
    assert results["tuner"] == tuner and results["template"] == "tiny"
    assert results["objective"] == {"name": "val_accuracy", "direction": "max"}
    assert [t["trial_id"] for t in results["trials"]] == ["0", "1", "2"]
    for trial in results["trials"]:
        assert trial["status"] in ("COMPLETED", "INVALID")
        assert "layers" in trial["choices"] and "learning_rate" in trial["choices"]
        if trial["status"] == "COMPLETED":
            assert trial["params"] > 0 and trial["bytes"] == 4 * trial["params"]
            assert set(trial["metrics"]) >= {"accuracy", "loss", "val_accuracy", "val_loss"}
            assert trial["score"] == trial["metrics"]["val_accuracy"] and trial["epochs"] == 1
        else:
            assert trial["reason"].startswith("shape mismatch")
    assert sum(t["status"] == "COMPLETED" for t in results["trials"]) >= 1
    assert len(rows) == 3 and {"trial_id", "params", "val_accuracy", "layers"} <= set(rows[0])
    # one line per trial (after its epochs' lines) between the banner and the summary;
    # nothing else on stdout
    trial_lines = [line for line in lines if not line.startswith("  trial ")]
    assert len(trial_lines) == 5 and all(line.startswith(f"[{k + 1}/3] trial {k}")
                                         for k, line in enumerate(trial_lines[1:4]))
    assert all(" epoch 1/1: loss " in line for line in lines if line.startswith("  trial "))
    assert capsys.readouterr().out == ""


def custom_gradients() -> set:
    from tensorflow.python.framework import ops

    return {n for n in ops._gradient_registry._registry if n.startswith("CustomGradient-")}


def test_results_directory_holds_kt_project_models_and_logs(tiny, digits, tmp_path):
    before = custom_gradients()
    results, _ = run(tiny, tmp_path, digits, trials=3, epochs=1, seed=2, keep=2)
    # Keras's optimizer leaves a traced graph per trial in TensorFlow's gradient registry:
    # the search unregisters them, so memory does not grow with the number of trials.
    assert custom_gradients() <= before
    done = [t for t in results["trials"] if t["status"] == "COMPLETED"]
    kept = sorted((t for t in done if t["model"]), key=lambda t: -t["score"])
    assert len(kept) == min(2, len(done)) and len(list((tmp_path / "models").iterdir())) == 2
    assert all(t["score"] <= kept[-1]["score"] for t in done if not t["model"])
    assert all(t["model"] == f"models/trial_{t['trial_id']}.keras" for t in kept)
    model = keras.saving.load_model(tmp_path / kept[0]["model"])
    assert model.count_params() == kept[0]["params"]
    # The kept models, and they alone, are evaluated on the test split once the search ends.
    assert all((t["test"] is None) == (t["model"] is None) for t in results["trials"])
    test = model.evaluate(digits.pipeline("test", 64), verbose=0, return_dict=True)
    assert kept[0]["test"] == pytest.approx(test, rel=1e-4)
    _, rows = read(tmp_path)
    assert [float(r["test_accuracy"]) for r in rows if r["test_accuracy"]] == [
        t["test"]["accuracy"] for t in results["trials"] if t["test"]]
    for t in done:  # TensorBoard, through Keras Tuner (which adds the HParams data)
        assert any((tmp_path / "logs" / t["trial_id"]).rglob("events.out.tfevents*"))
    oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("val_accuracy", "max"))
    reloaded = kt.Tuner(oracle=oracle, hypermodel=lambda hp: None, directory=str(tmp_path),
                        project_name="kt", overwrite=False)
    assert sorted(reloaded.oracle.trials) == ["0", "1", "2"]
    assert main(["report", str(tmp_path), "--json"]) == 0  # `archc report` reads it


def test_same_seed_same_choices(tiny, digits, tmp_path):
    # Bayesian optimisation's third trial depends on the first two scores: the seed fixes
    # the weights and the batches too.
    first, _ = run(tiny, tmp_path / "a", digits, tuner="bayesian", trials=3, epochs=1, seed=7)
    second, _ = run(tiny, tmp_path / "b", digits, tuner="bayesian", trials=3, epochs=1, seed=7)
    assert [t["choices"] for t in first["trials"]] == [t["choices"] for t in second["trials"]]


def test_a_cost_objective_is_minimised(tiny, digits, tmp_path):
    results, _ = run(tiny, tmp_path, digits, tuner="grid", trials=2, epochs=1,
                     objective="params")
    assert results["objective"] == {"name": "params", "direction": "min"}
    assert [t["score"] for t in results["trials"]] == [t["params"] for t in results["trials"]]
    assert "val_accuracy" in results["trials"][0]["metrics"]


# ---------------------------------------------------------------- rejected candidates


def test_over_budget_candidates_are_rejected_and_not_counted(tiny, digits, tmp_path):
    results, lines = run(tiny, tmp_path, digits, tuner="random", trials=3, epochs=1, seed=0,
                         max_params=2_000)
    assert [t["status"] for t in results["trials"]] == ["COMPLETED"] * 3  # 3 trained
    assert all(t["params"] <= 2_000 for t in results["trials"])
    assert results["rejected"] > 0
    rejected = (tmp_path / "rejected.jsonl").read_text().splitlines()
    assert len(rejected) == results["rejected"]
    assert json.loads(rejected[0])["reason"].startswith("over budget: ")
    assert "breaks --max-params (params <= 2,000)" in json.loads(rejected[0])["reason"]
    assert f"{results['rejected']} candidates rejected before training" in lines[-1]


def test_a_budget_that_excludes_the_whole_space_is_a_clear_error(tiny, digits, tmp_path):
    with pytest.raises(SearchError, match="every candidate was rejected; the last: over "
                                          "budget: .* breaks --max-flops"):
        run(tiny, tmp_path, digits, tuner="random", trials=3, epochs=1, max_flops=10)


def test_infeasible_candidates_are_rejected_before_they_become_trials(tmp_path, digits):
    path = tmp_path / "skewed.arch"
    path.write_text(SKEWED)
    results, _ = run(str(path), tmp_path / "out", digits, tuner="grid", trials=3, epochs=1)
    assert [t["status"] for t in results["trials"]] == ["COMPLETED"] * 3
    assert results["rejected"] >= 1
    template = archc.load(path)
    for t in results["trials"]:
        template.resolve(t["choices"])  # feasible: raises nothing


# Nine configurations, five architectures: a + b dense layers of 16.
EQUIVALENT = """
template equivalent
input image [8, 8, 1]
graph {
  image -> flatten
  -> repeat a: 0..2 { dense(16, activation=relu) }
  -> repeat b: 0..2 { dense(16, activation=relu) }
  -> dense(10, activation=softmax)
}
train { optimizer = adam; batch_size = 64; loss = categorical_crossentropy; metrics = [accuracy] }
"""


def test_no_architecture_is_trained_twice(tmp_path, digits):
    path = tmp_path / "equivalent.arch"
    path.write_text(EQUIVALENT)
    results, _ = run(str(path), tmp_path / "out", digits, tuner="grid", trials=9, epochs=1)
    rows = results["trials"]
    trained = [t for t in rows if t["status"] == "COMPLETED"]
    assert len(rows) == 9 and len(trained) == survey(archc.load(path)).distinct == 5
    assert len({t["identity"] for t in trained}) == 5
    by_id = {t["trial_id"]: t for t in rows}
    for t in rows:
        if t["status"] == "DUPLICATE":
            original = by_id[t["duplicate_of"]]
            assert original["status"] == "COMPLETED" and original["identity"] == t["identity"]
            assert t["score"] == original["score"] and t["epochs"] == 0
            assert t["choices"]["a"] + t["choices"]["b"] == (original["choices"]["a"]
                                                             + original["choices"]["b"])
    with open(tmp_path / "out" / "results.csv", newline="") as f:
        assert {r["duplicate_of"] for r in csv.DictReader(f)} - {""}
    assert {t["trial_id"] for t in ranked(results)} == {t["trial_id"] for t in trained}


def test_a_directory_of_another_search_is_refused(tiny, digits, tmp_path):
    (tmp_path / "results.json").write_text(json.dumps(
        {"template": "tiny", "tuner": "grid",
         "objective": {"name": "val_accuracy", "direction": "max"}}))
    with pytest.raises(SearchError, match="holds another search"):
        run(tiny, tmp_path, digits, tuner="random", trials=1, epochs=1)


def test_a_stock_keras_tuner_starts_without_building_a_model(tmp_path, monkeypatch):
    # Keras Tuner's start-up builds (one per unseen conditional scope) find nothing new in a
    # template's space: the hypermodel declares it whole and builds no model for them; an
    # infeasible default (SKEWED's) then cannot stop the tuner before its first trial.
    import archc.hypermodel

    path = tmp_path / "skewed.arch"
    path.write_text(SKEWED)
    template = archc.load(str(path))
    built = []
    monkeypatch.setattr(archc.hypermodel, "lower", built.append)
    tuner = kt.RandomSearch(template.hypermodel(), objective="val_accuracy", max_trials=2,
                            directory=str(tmp_path), project_name="kt")
    assert built == []
    space = {hp.name for hp in tuner.oracle.get_space().space}
    assert space == {h.name for h in template.hyperparameters}


def test_a_stock_keras_tuner_records_infeasible_candidates_as_failed(tiny, digits, tmp_path):
    # Keras Tuner's own RandomSearch on the template's hypermodel: a skip around a layer of
    # another width cannot be built; the trial fails with the reason, the search goes on.
    x, y = digits.numpy("train")
    tuner = kt.RandomSearch(archc.load(tiny).hypermodel(), objective="val_accuracy",
                            max_trials=5, seed=3, directory=str(tmp_path), project_name="kt",
                            max_consecutive_failed_trials=12)
    tuner.search(x[:64], y[:64], validation_data=(x[:32], y[:32]), epochs=1, verbose=0)
    trials = list(tuner.oracle.trials.values())
    failed = [t for t in trials if t.status == "FAILED"]
    assert failed and len(failed) < len(trials)
    assert all("shape mismatch" in t.message for t in failed)
    assert all(t.hyperparameters.values["extra"] and t.hyperparameters.values["skip"]
               for t in failed)


# ---------------------------------------------------------------- no waste


class ScoreFromValues(kt.Tuner):
    """Trials without training: the score is a function of the active values; the space is
    declared the way `archc search` declares it."""

    def __init__(self, template, **kwargs):
        self.template = template
        super().__init__(hypermodel=template.hypermodel(), **kwargs)

    def _populate_initial_space(self):
        hp = self.oracle.get_space()
        declare_space(self.template, hp)
        self.oracle.update_space(hp)

    def run_trial(self, trial, *args, **kwargs):
        declare_space(self.template, trial.hyperparameters)
        key = str(sorted(trial.hyperparameters.values.items()))
        return {"score": random.Random(key).random()}


def drive(oracle, template, directory) -> list[tuple]:
    tuner = ScoreFromValues(template, oracle=oracle, directory=str(directory), project_name="p")
    tuner.search(verbose=0)
    trials = [oracle.trials[t] for t in oracle.start_order]
    return [tuple(sorted(t.hyperparameters.values.items())) for t in trials]


SCORE = kt.Objective("score", "max")


@pytest.mark.parametrize("make", [
    lambda: kt.oracles.RandomSearchOracle(SCORE, max_trials=100, seed=1),
    lambda: kt.oracles.GridSearchOracle(SCORE, max_trials=100),
    lambda: EvolutionOracle(SCORE, max_trials=100, population_size=6, sample_size=3, seed=1),
], ids=["random", "grid", "evolution"])
def test_no_two_trials_share_their_active_values(make, tiny, tmp_path):
    template = archc.load(tiny)
    tried = drive(make(), template, tmp_path)
    assert len(tried) == len(set(tried)) > 40  # until the space is (nearly) exhausted
    assert len(tried) <= count_configurations(template) == 60


def test_grid_enumerates_exactly_the_active_configurations(tiny, tmp_path):
    template = archc.load(tiny)
    tried = drive(kt.oracles.GridSearchOracle(SCORE, max_trials=100), template, tmp_path)
    assert len(set(tried)) == len(tried) == count_configurations(template)


@pytest.mark.parametrize("kernel", ["matern", "rbf"])
def test_quick_gaussian_process_predicts_what_scikit_learn_predicts(kernel):
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF

    from archc.search.oracles import QuickPredictGPR

    # Keras Tuner's regressor (a Matern kernel, whose point posterior archc computes itself);
    # another kernel goes to scikit-learn's predict.
    params = BayesianOracle(SCORE, max_trials=3, seed=1).gpr.get_params(deep=False)
    if kernel == "rbf":
        params["kernel"] = RBF()
    rng = np.random.default_rng(0)
    x, y = rng.random((12, 35)), rng.random(12)
    quick = QuickPredictGPR(**params).fit(x, y)
    plain = GaussianProcessRegressor(**params).fit(x, y)
    assert (quick._point is None) == (kernel == "rbf")
    for point in [*rng.random((20, 1, 35)), x[:1], rng.random((5, 35))]:
        mean, std = quick.predict(point, return_std=True)
        want_mean, want_std = plain.predict(point, return_std=True)
        np.testing.assert_allclose(mean, want_mean, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(std, want_std, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(quick.predict(point), want_mean, rtol=1e-9, atol=1e-12)


def test_bayesian_oracle_never_proposes_a_configuration_twice(tiny, tmp_path):
    # Keras Tuner's own BayesianOptimizationOracle repeats its optimum here (5 distinct of 8).
    template = archc.load(tiny)
    oracle = BayesianOracle(SCORE, max_trials=5, num_initial_points=2, alpha=1e-3, beta=2.6,
                            seed=1)
    tried = drive(oracle, template, tmp_path)
    assert len(tried) == len(set(tried)) == 5


def test_squeezenet_se_auto_trials_have_distinct_active_choices(tmp_path):
    results, _ = run("squeezenet_se_auto", tmp_path, trials=3, epochs=1, fraction=0.05, seed=1)
    choices = [json.dumps(t["choices"], sort_keys=True) for t in results["trials"]]
    assert len(choices) == len(set(choices)) == 3
    assert all(t["status"] == "COMPLETED" for t in results["trials"])
    assert results["template"] == "squeezenet_se_auto" and results["settings"]["fraction"] == 0.05


# ---------------------------------------------------------------- evolution


def active(template, values: dict) -> dict:
    """The active part of `values` completed with defaults, as Keras Tuner holds it."""
    return to_kt(template, active_values(template, from_kt(template, values)))


def test_evolution_mutates_one_active_choice_of_the_best_of_its_sample(tmp_path):
    template = archc.load("squeezenet_se_auto")  # a large space: a child is never a repeat
    oracle = EvolutionOracle(SCORE, max_trials=30, population_size=5, sample_size=5, seed=3,
                             elite=False)
    drive(oracle, template, tmp_path)
    trials = [oracle.trials[t] for t in oracle.start_order]
    for k in range(5, len(trials)):
        parent = max(trials[k - 5:k], key=lambda t: t.score).hyperparameters.values  # S = P
        child = trials[k].hyperparameters.values
        assert child == active(template, child)  # children drawn, inactive values dropped
        assert sum(n in child and parent[n] != child[n] for n in parent) == 1


def one_mutation_apart(parent: dict, child: dict) -> bool:
    return sum(n in child and parent[n] != child[n] for n in parent) == 1


@pytest.mark.parametrize("elite", [True, False])
def test_evolution_keeps_the_best_trial_as_a_parent_after_aging_evicts_it(elite, tmp_path):
    # A population of 2 (a 10-trial search's): aging alone evicts the best trial after two
    # children, and every later child then descends from the two most recent trials.
    template = archc.load("squeezenet_se_auto")
    oracle = EvolutionOracle(SCORE, max_trials=24, population_size=2, sample_size=2, seed=7,
                             elite=elite)
    drive(oracle, template, tmp_path)
    trials = [oracle.trials[t] for t in oracle.start_order]
    from_evicted_best = 0
    for k in range(2, len(trials)):
        child = trials[k].hyperparameters.values
        best = max(trials[:k], key=lambda t: t.score)
        members = trials[k - 2:k] + ([best] if elite else [])
        assert any(one_mutation_apart(m.hyperparameters.values, child) for m in members)
        recent = [m.hyperparameters.values for m in trials[k - 2:k]]
        if best not in trials[k - 2:k] and not any(one_mutation_apart(v, child) for v in recent):
            from_evicted_best += 1
    assert (from_evicted_best > 0) == elite


def test_evolution_is_seeded_and_resumes_where_it_stopped(tiny, tmp_path):
    template = archc.load(tiny)

    def evolve(directory, trials):
        oracle = EvolutionOracle(SCORE, max_trials=trials, population_size=4, sample_size=2,
                                 seed=5)
        return drive(oracle, template, directory)

    whole = evolve(tmp_path / "a", 12)
    assert evolve(tmp_path / "b", 12) == whole
    evolve(tmp_path / "c", 7)
    assert evolve(tmp_path / "c", 12) == whole  # reloaded from the project, then continued


# ---------------------------------------------------------------- resume


def archc_search(*args: str) -> list[str]:
    return [sys.executable, "-m", "archc", "search", *args]


def test_a_killed_search_resumes_without_losing_or_repeating_trials(tiny, tmp_path):
    out = tmp_path / "run"
    command = archc_search(tiny, "--dir", str(out), "--trials", "3", "--epochs", "2",
                           "--seed", "4")
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    first = None
    while first is None and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
        try:
            rows = json.loads((out / "results.json").read_text())["trials"]
        except (OSError, ValueError):
            continue
        first = next((r for r in rows if r["status"] == "COMPLETED"), None)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    assert first is not None, "the first trial did not finish"
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "; resuming after 1 trial\n" in done.stdout
    results = json.loads((out / "results.json").read_text())
    assert [t["trial_id"] for t in results["trials"]] == ["0", "1", "2"]
    assert all(t["status"] == "COMPLETED" for t in results["trials"])
    assert len({json.dumps(t["choices"], sort_keys=True) for t in results["trials"]}) == 3
    # The first trial's record is kept as it was; the search's end adds the kept models'
    # test metrics.
    assert first["test"] is None and results["trials"][0].pop("test")["accuracy"] > 0
    assert results["trials"][0] == {k: v for k, v in first.items() if k != "test"}
    assert not any((out / "checkpoints").iterdir())  # the backups of finished trials are gone
    again = subprocess.run([*command, "--overwrite", "--trials", "1", "--epochs", "1"],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert len(json.loads((out / "results.json").read_text())["trials"]) == 1
