"""Multi-objective search: the Pareto front, non-dominated sorting, crowding distance and the
hypervolume on hand-made points (and against brute force on a grid); the scalarisation that
Keras Tuner's single-objective oracles optimise; evolution's NSGA-II selection; an end-to-end
search with two objectives whose results mark the front and whose report shows it; and
`archc search --set/--input`.

Fast: the searches are a tiny dense template on sklearn's 8x8 digits, 1 epoch, 1-3 trials.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import random
from pathlib import Path

import keras_tuner as kt
import pytest
from test_search import ScoreFromValues

import archc
from archc.cli import main
from archc.search import SearchError, Settings, search
from archc.search.objectives import COST_WEIGHT, Scalarised, scored, watched
from archc.search.oracles import EvolutionOracle
from archc.search.pareto import (
    crowding_distance,
    dominates,
    front,
    hypervolume,
    non_dominated_sort,
    ranking,
)
from archc.search.report import (
    build_report,
    common_reference,
    format_report,
    trial_architecture,
)
from archc.space import declare_space

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # keras_tuner's threading

TINY = """
template tiny
param classes = 10
param width = 16
input image [8, 8, 1]
graph {
  image
  -> flatten
  -> repeat layers: 1..2 { dense(choice(16, 32), activation=relu) }
  -> dense(width, activation=relu)
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

TWO = ["val_accuracy:max", "params:min"]


# ---------------------------------------------------------------- the front


def test_front_2d_keeps_ties_and_duplicates_and_drops_the_dominated():
    points = [(1, 5), (2, 2), (3, 3), (2, 2), (5, 1), (5, 2), (1, 5), (0, 9)]
    # (3, 3) and (5, 2) are dominated; both copies of (2, 2) and of (1, 5) stay.
    assert front(points) == [0, 1, 3, 4, 6, 7]


def test_front_3d():
    points = [(1, 1, 9), (1, 9, 1), (9, 1, 1), (2, 2, 2), (3, 3, 3), (1, 1, 9), (2, 2, 9)]
    assert front(points) == [0, 1, 2, 3, 5]


def test_dominance_needs_one_strictly_better_objective():
    assert dominates((1, 2, 3), (1, 2, 4))
    assert not dominates((1, 2, 3), (1, 2, 3))
    assert not dominates((0, 5), (1, 4))


def test_non_dominated_sort_and_crowding():
    points = [(1, 6), (2, 4), (4, 2), (6, 1), (3, 5), (5, 3), (6, 6), (2, 4)]
    assert non_dominated_sort(points) == [[0, 1, 2, 3, 7], [4, 5], [6]]
    # The extremes are infinitely far; (2, 4) and (4, 2) between their neighbours:
    # (4-1)/5 + (6-2)/5 = 1.4 each.
    assert crowding_distance([(1, 6), (2, 4), (4, 2), (6, 1)]) == pytest.approx(
        [math.inf, 1.4, 1.4, math.inf])
    ranks = ranking(points)
    assert [r[0] for r in ranks] == [0, 0, 0, 0, 1, 1, 2, 0]
    assert ranks[0] < ranks[1]  # the same front: the extreme (less crowded) first


# ---------------------------------------------------------------- the hypervolume


def test_hypervolume_2d_by_hand():
    # The staircase under (1, 5), (2, 2), (5, 1) up to (6, 6): 1x1 + 4x3 + 5x1.
    assert hypervolume([(1, 5), (2, 2), (5, 1)], (6, 6)) == 18.0
    # Duplicates, dominated points and points beyond the reference change nothing.
    assert hypervolume([(1, 5), (2, 2), (5, 1), (2, 2), (3, 3), (7, 0), (0, 6)], (6, 6)) == 18.0
    assert hypervolume([], (1, 1)) == 0.0
    assert hypervolume([(6, 1)], (6, 6)) == 0.0  # on the reference: no volume


def test_hypervolume_3d_by_hand():
    # Two boxes 2x2x1 and 1x1x3 from the origin to (2, 2, 3), overlapping in 1x1x1.
    assert hypervolume([(0, 0, 2), (1, 1, 0)], (2, 2, 3)) == 4.0 + 3.0 - 1.0
    assert hypervolume([(0, 0, 2), (1, 1, 0), (1, 1, 0), (1, 1, 2)], (2, 2, 3)) == 6.0


def _grid_volume(points, reference) -> int:
    """Brute force: the unit cells of the integer grid whose corner some point dominates
    (weakly) and that lie below the reference."""
    cells = itertools.product(*(range(r) for r in reference))
    return sum(any(all(p <= c for p, c in zip(q, cell, strict=True)) for q in points)
               for cell in cells)


@pytest.mark.parametrize("dims", [2, 3])
def test_hypervolume_equals_brute_force_on_random_integer_points(dims):
    rng = random.Random(dims)
    reference = (7,) * dims
    for _ in range(30):
        points = [tuple(rng.randrange(8) for _ in range(dims)) for _ in range(rng.randrange(9))]
        assert hypervolume(points, reference) == _grid_volume(points, reference)


# ---------------------------------------------------------------- the scalarisation


def test_scalarisation_sums_the_objectives_with_costs_in_decades():
    s = Scalarised([kt.Objective("val_accuracy", "max"), kt.Objective("params", "min"),
                    kt.Objective("val_loss", "min")])
    logs = {"val_accuracy": 0.9, "params": 10_000, "val_loss": 0.3}
    assert s.get_value(logs) == pytest.approx(-0.9 + COST_WEIGHT * 4 + 0.3)
    assert s.direction == "min" and s.name == "multi_objective"
    # An epoch's logs have no costs: epochs compare on the metrics.
    assert s.has_value({"val_accuracy": 0.9, "val_loss": 0.3})
    assert s.get_value({"val_accuracy": 0.9, "val_loss": 0.3}) == pytest.approx(-0.6)
    assert scored(logs, s)["multi_objective"] == pytest.approx(s.get_value(logs))
    assert watched(s).name == "val_accuracy"
    assert watched(kt.Objective("params", "min")) is None


def test_a_smaller_model_wins_a_tie_in_accuracy():
    s = Scalarised([kt.Objective("val_accuracy", "max"), kt.Objective("params", "min")])
    small = s.get_value({"val_accuracy": 0.8, "params": 10_000})
    large = s.get_value({"val_accuracy": 0.8, "params": 100_000})
    assert s.better_than(small, large)
    # Ten times the size is worth COST_WEIGHT of accuracy.
    assert s.get_value({"val_accuracy": 0.8 + COST_WEIGHT, "params": 100_000}) == \
        pytest.approx(small)


# ---------------------------------------------------------------- evolution


class TwoScores(ScoreFromValues):
    """Trials without training: two scores, functions of the active values."""

    def run_trial(self, trial, *args, **kwargs):
        declare_space(self.template, trial.hyperparameters)
        rng = random.Random(str(sorted(trial.hyperparameters.values.items())))
        metrics = {"a": rng.random(), "b": rng.random()}
        return {**metrics, "multi_objective": self.oracle.objective.get_value(metrics)}


def test_evolution_selects_by_non_dominated_sorting(tmp_path):
    template = archc.load("squeezenet_se_auto")  # a large space: a child is never a repeat
    objective = Scalarised([kt.Objective("a", "max"), kt.Objective("b", "min")])
    oracle = EvolutionOracle(objective, max_trials=16, population_size=4, sample_size=4, seed=2)
    TwoScores(template, oracle=oracle, directory=str(tmp_path), project_name="p").search(
        verbose=0)
    trials = [oracle.trials[t] for t in oracle.start_order]
    point = {t.trial_id: (-t.metrics.get_best_value("a"), t.metrics.get_best_value("b"))
             for t in trials}
    for k in range(4, len(trials)):
        done = [t.trial_id for t in trials[:k]]
        order = ranking([point[t] for t in done])
        survivors = sorted(range(k), key=lambda i: (order[i], i))[:4]  # NSGA-II's selection
        population = [done[i] for i in sorted(survivors)]
        within = ranking([point[t] for t in population])
        parent = population[min(range(4), key=lambda i: (within[i], int(population[i])))]
        before = trials[int(parent)].hyperparameters.values
        child = trials[k].hyperparameters.values
        assert sum(n in child and before[n] != child[n] for n in before) == 1
        # The parent is on the population's first front.
        assert not any(dominates(point[t], point[parent]) for t in population)


# ---------------------------------------------------------------- a search, end to end


def test_a_two_objective_search_marks_and_reports_its_front(tiny, digits, tmp_path, capsys):
    lines: list[str] = []

    def evolve(trials: int, **more):
        return search(tiny, "digits", tmp_path, Settings(tuner="evolution", trials=trials,
                                                         epochs=1, seed=0, objective=TWO, **more),
                      dataset=digits, log=lines.append)

    first = evolve(2)
    results = evolve(3, extend=True)  # resumed: the oracle reloads, the first trials stay
    assert results["trials"][:2] == [{**t, "pareto": results["trials"][i]["pareto"]}
                                     for i, t in enumerate(first["trials"])]
    assert results["objectives"] == [{"name": "val_accuracy", "direction": "max"},
                                     {"name": "params", "direction": "min"}]
    assert results["objective"] == {"name": "multi_objective", "direction": "min"}
    done = [t for t in results["trials"] if t["status"] == "COMPLETED"]
    assert len(done) == 3
    for t in done:
        assert t["score"] == pytest.approx(-t["metrics"]["val_accuracy"]
                                           + COST_WEIGHT * math.log10(t["params"]))
    points = {t["trial_id"]: (-t["metrics"]["val_accuracy"], t["params"]) for t in done}
    for t in done:  # marked exactly when no other trial dominates it
        beaten = any(dominates(p, points[t["trial_id"]]) for p in points.values())
        assert t["pareto"] is not beaten
    members = [t["trial_id"] for t in done if t["pareto"]]
    assert members
    assert any(line.startswith("[1/2] trial 0: val_accuracy ") and "multi_objective" in line
               and ", on the front, " in line for line in lines)  # the first is on the front
    with open(tmp_path / "results.csv", newline="") as f:
        assert [r["trial_id"] for r in csv.DictReader(f) if r["pareto"] == "true"] == members

    report = build_report(tmp_path, size="params")
    assert report["pareto"] == members
    reference = report["hypervolume"]["reference"]
    assert reference == {"val_accuracy": min(-p[0] for p in points.values()),
                         "params": max(p[1] for p in points.values())}
    expected = hypervolume([points[m] for m in members],
                           (-reference["val_accuracy"], reference["params"]))
    assert report["hypervolume"]["value"] == pytest.approx(expected)
    text = format_report(report)
    assert "Pareto front (max val_accuracy, min params)" in text
    assert all(f"\n  {m} (val_accuracy " in text for m in members)
    assert "hypervolume " in text and "reference point" in text
    assert main(["report", str(tmp_path), "--plot", str(tmp_path / "front.png")]) == 0
    assert (tmp_path / "front.png").stat().st_size > 10_000

    # A resume with other objectives is refused like any other setting.
    with pytest.raises(SearchError, match="--objective: val_accuracy:max,params:min recorded"):
        search(tiny, "digits", tmp_path, Settings(tuner="evolution", trials=3, epochs=1,
                                                  seed=0, objective="val_accuracy"),
               dataset=digits, log=lambda line: None)


def test_an_objective_given_twice_is_refused(tiny, digits, tmp_path):
    with pytest.raises(SearchError, match="given twice"):
        search(tiny, "digits", tmp_path, Settings(trials=1, epochs=1,
                                                  objective=["params", "params:min"]),
               dataset=digits, log=lambda line: None)


@pytest.mark.filterwarnings("ignore:Early stopping conditioned on metric")
def test_an_objective_the_trials_do_not_log_is_a_clear_error(tiny, digits, tmp_path, capsys):
    with pytest.raises(SearchError, match="--objective val_auc: expected a metric the trials "
                                          r"log \(accuracy, loss, val_accuracy, val_loss\)"):
        search(tiny, "digits", tmp_path, Settings(trials=1, epochs=1,
                                                  objective=["val_auc", "params"]),
               dataset=digits, log=lambda line: None)


# ---------------------------------------------------------------- --set and --input


def test_search_set_and_input_fix_the_template_and_are_recorded(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["search", tiny, "--dir", str(out), "--trials", "1", "--epochs", "1", "--seed", "0",
            "--set", "width=8", "--input", "image=6,6,1"]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["params"]["width"] == 8 and results["inputs"] == {"image": [6, 6, 1]}
    recorded = json.loads((out / "search.json").read_text())
    assert recorded["params"] == {"width": 8} and recorded["inputs"] == {"image": [6, 6, 1]}
    row = results["trials"][0]
    expected = archc.load(tiny, {"width": 8}, {"image": (6, 6, 1)}).cost(row["choices"])
    assert row["params"] == expected["params"]
    # report and freeze rebuild the same architecture from the directory.
    assert trial_architecture(out, "0").params == row["params"]
    assert main(["freeze", str(out), "0", "-o", str(tmp_path / "chosen.arch")]) == 0
    assert archc.load(str(tmp_path / "chosen.arch")).cost()["params"] == row["params"]
    capsys.readouterr()
    # A resume with another --set (or none) is refused, naming it.
    assert main([*argv[:-4], "--set", "width=4", "--input", "image=6,6,1"]) == 1
    assert "--set: width=8 recorded, width=4 given" in capsys.readouterr().err
    assert main(argv[:-4]) == 1
    err = capsys.readouterr().err
    assert "--set: width=8 recorded, none given" in err
    assert "--input: image=6,6,1 recorded, none given" in err


def test_search_set_of_a_hyperparameter_is_refused(tiny, tmp_path, capsys):
    argv = ["search", tiny, "--dir", str(tmp_path), "--trials", "1", "--epochs", "1",
            "--set", "layers=2"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "expected a param of the template (classes, width), found 'layers'" in err
    assert not (Path(tmp_path) / "results.json").exists()


def _hand_made(directory: Path, points: list[tuple[float, int]]) -> None:
    """A results directory of a two-objective search with these (val_accuracy, params)."""
    rows = [{"trial_id": str(i), "status": "COMPLETED", "choices": {}, "params": params,
             "bytes": 4 * params, "metrics": {"val_accuracy": acc}, "score": -acc}
            for i, (acc, params) in enumerate(points)]
    directory.mkdir()
    (directory / "results.json").write_text(json.dumps({
        "template": "nowhere", "objective": {"name": "multi_objective", "direction": "min"},
        "objectives": [{"name": "val_accuracy", "direction": "max"},
                       {"name": "params", "direction": "min"}], "trials": rows}))


def test_reports_of_several_searches_share_one_reference_point(tmp_path):
    _hand_made(tmp_path / "a", [(0.8, 100), (0.9, 300), (0.7, 400), (0.9, 300)])
    _hand_made(tmp_path / "b", [(0.5, 50), (0.85, 200)])
    alone = build_report(tmp_path / "a")
    assert alone["pareto"] == ["0", "1", "3"]  # a tie: both equal trials are on the front
    assert alone["hypervolume"] == {"reference": {"val_accuracy": 0.7, "params": 400},
                                    "value": pytest.approx(0.1 * 200 + 0.2 * 100)}  # staircase
    a, b = common_reference([build_report(tmp_path / "a"), build_report(tmp_path / "b")])
    reference = {"val_accuracy": 0.5, "params": 400}
    assert a["hypervolume"]["reference"] == b["hypervolume"]["reference"] == reference
    assert a["hypervolume"]["value"] == pytest.approx(0.3 * 200 + 0.4 * 100)
    assert b["hypervolume"]["value"] == pytest.approx(0.35 * 200)
    assert "Pareto front (max val_accuracy, min params): 3 trials" in format_report(alone)
