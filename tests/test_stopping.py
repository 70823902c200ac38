"""Hopeless trials stopped early (`--stop-early`), ASHA (`--tuner asha`), strict JSON.

The rules are fed scripted epoch logs; the ASHA oracle is driven with a scripted objective and
no training; three tiny searches on the 8x8 digits (a diverging, a stuck and a learning
trial, 1 to 4 epochs) check what results.json records.
"""

from __future__ import annotations

import json
import math

import keras_tuner as kt
import pytest
from test_search import TINY

from archc.search import Settings, search
from archc.search.oracles import AshaOracle
from archc.search.progress import Clock
from archc.search.report import build_report, format_report
from archc.search.stopping import Stopper, lineage

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # keras_tuner's threading



STUCK = {"loss": 2.3026, "accuracy": 0.1, "val_accuracy": 0.1}


# ---------------------------------------------------------------- the rules, on scripted logs


def feed(stopper: Stopper, logs: list[dict]):
    """The first verdict over the epochs' logs, or None."""
    for epoch, epoch_logs in enumerate(logs):
        verdict = stopper.after_epoch(epoch, epoch_logs)
        if verdict:
            return verdict
    return None


def test_a_non_finite_loss_is_diverged_at_once():
    verdict = feed(Stopper("chance", classes=10), [{"loss": 2.1, "val_accuracy": 0.3},
                                                    {"loss": math.nan, "val_accuracy": 0.1}])
    assert (verdict.rule, verdict.epoch) == ("diverged", 2) and "loss nan" in verdict.reason
    in_batch = Stopper("chance", classes=10).after_batch(0, {"loss": math.inf})
    assert (in_batch.rule, in_batch.epoch) == ("diverged", 1)
    never = Stopper("never", classes=10)
    assert feed(never, [STUCK, {"val_loss": math.inf}]).rule == "diverged" and not never.stops


def test_a_stuck_trial_stops_at_chance_after_two_epochs():
    stopper = Stopper("chance", classes=10)
    assert stopper.after_epoch(0, STUCK) is None  # one epoch: no loss to compare with
    verdict = stopper.after_epoch(1, {**STUCK, "loss": 2.3020})
    assert (verdict.rule, verdict.epoch) == ("chance", 2) and verdict.reason.startswith(
        "accuracy 0.100 at chance (1/10)")
    assert feed(Stopper("never", classes=10), [STUCK] * 5) is None


# A SqueezeNet on digits (archc search squeezenet_se_auto --data digits --seed 1, trial 0):
# at chance with a flat loss for 4 epochs, then the search's best (0.72 after 10 epochs).
LATE_START = [{"loss": loss, "accuracy": acc, "val_accuracy": val} for loss, acc, val in (
    (2.3031, 0.100, 0.100), (2.3027, 0.104, 0.106), (2.3023, 0.117, 0.100),
    (2.2972, 0.108, 0.170), (2.2420, 0.146, 0.209), (2.0753, 0.247, 0.387))]


def test_the_chance_rule_waits_for_half_the_epochs():
    assert feed(Stopper("chance", classes=10, max_epochs=10), LATE_START) is None
    assert feed(Stopper("chance", classes=10), LATE_START).epoch == 2  # without the wait
    verdict = feed(Stopper("chance", classes=10, max_epochs=10), [STUCK] * 10)
    assert (verdict.rule, verdict.epoch) == ("chance", 5)
    assert feed(Stopper("chance", classes=10, max_epochs=5), [STUCK] * 5).epoch == 3


def test_a_learning_trial_is_not_stopped():
    falling = [STUCK, {**STUCK, "loss": 2.2}, {**STUCK, "loss": 2.1}]  # at chance, but learning
    assert feed(Stopper("median", classes=10), falling) is None
    better = [STUCK, {**STUCK, "loss": 2.4, "val_accuracy": 0.3}]  # above chance
    assert feed(Stopper("median", classes=10), better) is None
    assert feed(Stopper("median", classes=None), [STUCK] * 4) is None  # not a classifier


PEERS = [{0: 0.5, 1: 0.7, 2: 0.8}, {0: 0.4, 1: 0.6}, {0: 0.6, 1: 0.8, 2: 0.9}]


def median_stopper(mode="median", peers=PEERS) -> Stopper:
    return Stopper(mode, classes=10, objective="val_accuracy", direction="max", peers=peers)


def test_the_median_rule_after_its_warm_up():
    logs = [{"loss": 1.0, "val_accuracy": 0.45}, {"loss": 0.9, "val_accuracy": 0.65}]
    # after epoch 1, below the median (0.7) of the three peers' best so far (0.7, 0.6, 0.8)
    verdict = feed(median_stopper(), logs)
    assert (verdict.rule, verdict.epoch) == ("median", 2)
    assert "below the median 0.7 of 3 finished trials" in verdict.reason
    assert median_stopper().after_epoch(0, {"loss": 1.0, "val_accuracy": 0.1}) is None  # warm-up
    assert feed(median_stopper(peers=PEERS[:2]), logs) is None      # two peers: too few
    assert feed(median_stopper(mode="chance"), logs) is None        # the level below
    assert feed(median_stopper(), [logs[0], {**logs[1], "val_accuracy": 0.72}]) is None
    # at epoch 2 only two peers reached it: no verdict
    assert median_stopper().after_epoch(2, {"loss": 0.8, "val_accuracy": 0.2}) is None


def test_a_median_still_at_chance_stops_nobody():
    at_chance = [{0: 0.1003, 1: 0.1031}, {0: 0.1031, 1: 0.1031}, {0: 0.1003, 1: 0.1058}]
    logs = [{"loss": 2.3031, "val_accuracy": 0.1003}, {"loss": 2.3027, "val_accuracy": 0.1003}]
    def stopper(peers):
        return Stopper("median", classes=10, objective="val_accuracy", peers=peers, max_epochs=10)

    assert feed(stopper(at_chance), logs) is None
    assert feed(stopper([{e: v + 0.5 for e, v in p.items()} for p in at_chance]),
                logs).rule == "median"


def test_a_loss_objective_stops_trials_above_the_median():
    peers = [{0: 1.0, 1: 0.8}, {0: 1.1, 1: 0.9}, {0: 0.9, 1: 0.7}]
    stopper = Stopper("median", objective="val_loss", direction="min", peers=peers)
    assert feed(stopper, [{"loss": 1.0, "val_loss": 1.2}, {"loss": 0.95, "val_loss": 0.85}])


def test_a_continued_trial_reads_the_epochs_of_the_trials_before_it():
    logs = {"0": {0: {"loss": 3.0}}, "3": {1: {"loss": 2.0}}, "5": {2: {"loss": 1.0}}}
    assert lineage("5", {"5": "3", "3": "0"}, logs.get) == {0: {"loss": 3.0}, 1: {"loss": 2.0},
                                                           2: {"loss": 1.0}}


# ---------------------------------------------------------------- searches


def strict(path) -> object:
    """The JSON in `path`, read by a parser that rejects NaN and the infinities."""
    def refuse(name):
        raise ValueError(f"{path}: bare {name}")

    return json.loads(path.read_text(), parse_constant=refuse)


def variant(tiny_path: str, tmp_path, name: str, train: str) -> str:
    text = TINY.replace("template tiny", f"template {name}").replace(
        "optimizer = adam\n  learning_rate = choice(1e-2, 1e-3)", train)
    path = tmp_path / f"{name}.arch"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("objective, level, trained", [
    ("val_accuracy", "median", 1), ("val_loss", "chance", 1), ("val_accuracy", "never", 3)])
def test_a_diverging_trial_is_recorded_diverged_and_never_best(objective, level, trained, tiny,
                                                               digits, tmp_path):
    template = variant(tiny, tmp_path, "diverge", "optimizer = sgd\n  learning_rate = 1e12")
    lines: list[str] = []
    results = search(template, "digits", tmp_path / "run", Settings(
        trials=1, epochs=3, seed=1, objective=objective, stop_early=level), dataset=digits,
        log=lines.append)
    [row] = results["trials"]
    assert row["status"] == "DIVERGED" and row["stopped"] == "diverged"
    assert row["stopped_epoch"] == 1 and row["epochs"] == trained  # never: to its last epoch
    assert row["reason"].startswith("loss nan in epoch 1")
    assert row["score"] is None and row["model"] is None and row["test"] is None
    assert not list((tmp_path / "run" / "models").iterdir())
    assert "trial 0 diverged: loss nan in epoch 1" in lines[-2]
    assert "0 completed, 0 stopped early, 1 diverged" in lines[-1]
    run = tmp_path / "run"
    for path in [run / "results.json", *run.glob("kt/trial_*/*.json")]:
        strict(path)
    epochs = (run / "kt" / "trial_0" / "epochs.jsonl").read_text().splitlines()
    assert len(epochs) == trained
    for line in epochs:
        assert json.loads(line, parse_constant=pytest.fail)["loss"] is None
    assert "diverged,1" in (run / "results.csv").read_text()
    report = build_report(run)
    assert report["leaderboard"] == [] and report["stopped"][0]["stopped"] == "diverged"
    assert "trials stopped early:\n  0  diverged in epoch 1: loss nan" in format_report(report)


def stuck(tiny_path: str, tmp_path) -> str:
    """Zero weights in the last layer (every class equally likely), and a learning rate too
    small to move them."""
    path = variant(tiny_path, tmp_path, "stuck", "optimizer = sgd\n  learning_rate = 1e-12")
    source = open(path).read().replace(
        "dense(classes, activation=softmax)",
        "dense(classes, activation=softmax, kernel_initializer=zeros)")
    open(path, "w").write(source)
    return path


def test_a_stuck_trial_is_stopped_at_chance(tiny, digits, tmp_path):
    results = search(stuck(tiny, tmp_path), "digits", tmp_path / "stuck", Settings(
        trials=1, epochs=4, seed=1, stop_early="chance"), dataset=digits, log=lambda _: None)
    [row] = results["trials"]
    assert (row["status"], row["stopped"], row["stopped_epoch"], row["epochs"]) == (
        "STOPPED", "chance", 2, 2)
    assert row["score"] is not None and "at chance (1/10)" in row["reason"]
    assert "chance,2" in (tmp_path / "stuck" / "results.csv").read_text()


def test_a_learning_trial_trains_to_its_last_epoch_and_shows_each(tiny, digits, tmp_path):
    lines: list[str] = []
    learning = search(tiny, "digits", tmp_path, Settings(trials=1, epochs=3, seed=1),
                      dataset=digits, log=lines.append)
    [row] = learning["trials"]
    assert (row["status"], row["stopped"], row["epochs"]) == ("COMPLETED", None, 3)
    # one line per epoch while the trial trains, then the trial's line
    assert [line.split(":")[0] for line in lines[1:4]] == [
        f"  trial 0 epoch {k}/3" for k in (1, 2, 3)]
    assert "search ETA" in lines[1] and lines[4].startswith("[1/1] trial 0: val_accuracy")


def test_a_stopped_trial_stays_stopped_when_the_search_resumes(tiny, digits, tmp_path):
    template = stuck(tiny, tmp_path)
    run = tmp_path / "run"
    settings = dict(trials=1, epochs=4, seed=1, stop_early="chance")
    first = search(template, "digits", run, Settings(**settings), dataset=digits,
                   log=lambda _: None)["trials"][0]
    epochs = (run / "kt" / "trial_0" / "epochs.jsonl").read_text()
    # As if killed between the verdict and the trial's end: Keras Tuner retries the trial.
    oracle = json.loads((run / "kt" / "oracle.json").read_text())
    oracle.update(ongoing_trials={"tuner0": "0"}, end_order=[])
    (run / "kt" / "oracle.json").write_text(json.dumps(oracle))
    trial = json.loads((run / "kt" / "trial_0" / "trial.json").read_text())
    (run / "kt" / "trial_0" / "trial.json").write_text(json.dumps({**trial, "status": "RUNNING"}))
    again = search(template, "digits", run, Settings(**settings), dataset=digits,
                   log=lambda _: None)["trials"][0]
    assert (run / "kt" / "trial_0" / "epochs.jsonl").read_text() == epochs  # no more training
    keys = ("status", "stopped", "stopped_epoch", "epochs", "score", "reason")
    assert {k: again[k] for k in keys} == {k: first[k] for k in keys}


def test_the_cli_takes_a_stopping_level_and_refuses_others(capsys):
    from archc.cli import build_parser, main

    args = build_parser().parse_args(["search", "tiny", "--dir", "d", "--stop-early", "never"])
    assert args.stop_early == "never"
    assert build_parser().parse_args(["search", "tiny", "--dir", "d"]).stop_early == "median"
    with pytest.raises(SystemExit) as exit_:
        main(["search", "tiny", "--dir", "d", "--stop-early", "sometimes"])
    assert exit_.value.code == 2 and "invalid choice: 'sometimes'" in capsys.readouterr().err


def test_the_eta_is_the_epochs_left_at_the_search_pace():
    times = iter([0.0, 0.0, 20.0, 20.0, 30.0])
    clock = Clock(now=lambda: next(times))
    clock.trial_begins()
    clock.epoch_ends()
    clock.epoch_ends()
    # 10 s an epoch; 3 epochs left in this trial, and 2 trials of 5 epochs (none ended yet)
    assert clock.eta(3, 2, 5) == 10.0 * (3 + 2 * 5)
    clock.trial_ends()  # a trial ended after 2 epochs: the trials left count 2 epochs each
    clock.trial_begins()
    clock.epoch_ends()
    assert clock.eta(0, 2, 5) == 10.0 * (0 + 2 * 2)


# ---------------------------------------------------------------- ASHA


def scripted(trial) -> float:
    """The objective of a trial: its configuration's quality, better with more epochs."""
    values = trial.hyperparameters.values
    return values["x"] / 100 + values["tuner/epochs"] / 1000


def asha(directory, max_trials: int) -> AshaOracle:
    hps = kt.HyperParameters()
    hps.Int("x", 0, 99)
    oracle = AshaOracle(kt.Objective("score", "max"), max_trials=max_trials, max_epochs=9,
                        min_epochs=1, factor=3, hyperparameters=hps, seed=3)
    oracle._set_project_dir(str(directory), "p")
    if (directory / "p" / "oracle.json").exists():
        oracle.reload()
    return oracle


def run_asha(oracle: AshaOracle, stop_after: int | None = None) -> list[tuple]:
    """Run trials to the end (or leave trial `stop_after` running, as a kill would); each as
    (id, x, rung, the trial it continues, initial epoch, epochs)."""
    while True:
        trial = oracle.create_trial("tuner0")
        if trial.status == "STOPPED":
            break
        if trial.trial_id == stop_after:
            break
        oracle.update_trial(trial.trial_id, {"score": scripted(trial)})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    return [(t, v["x"], v["tuner/rung"], v.get("tuner/trial_id"), v["tuner/initial_epoch"],
             v["tuner/epochs"]) for t in oracle.start_order
            for v in [oracle.trials[t].hyperparameters.values]]


def reference_promotions(trials: list[tuple]) -> dict[str, str]:
    """ASHA by hand: when trial k starts, the best configuration of the highest rung (but the
    last) among the top third of that rung's finished trials, not promoted yet, goes up."""
    expected = {}
    for k, (tid, *_rest) in enumerate(trials):
        before = trials[:k]
        promoted = {t[3] for t in before}
        for rung in (1, 0):
            done = sorted((t for t in before if t[2] == rung), key=lambda t: -t[1])
            top = [t[0] for t in done[:len(done) // 3] if t[0] not in promoted]
            if top:
                expected[tid] = top[0]
                break
    return expected


def test_asha_promotes_the_top_third_of_each_rung(tmp_path):
    oracle = asha(tmp_path, 20)
    assert oracle.rungs == [1, 3, 9]
    trials = run_asha(oracle)
    assert len(trials) == 20
    promotions = {t[0]: t[3] for t in trials if t[3] is not None}
    assert promotions == reference_promotions(trials)
    by_id = {t[0]: t for t in trials}
    # the first three trials start at rung 0; the fourth continues the best of them
    assert [t[2] for t in trials[:3]] == [0, 0, 0]
    best = max(trials[:3], key=lambda t: t[1])
    assert trials[3][1:] == (best[1], 1, best[0], 1, 3)
    for tid, parent in promotions.items():
        child, source = by_id[tid], by_id[parent]
        assert child[1] == source[1] and child[2] == source[2] + 1  # same configuration, up
        assert child[4] == oracle.rungs[source[2]] and child[5] == oracle.rungs[child[2]]
    assert any(t[2] == 2 for t in trials)  # some configuration reached the last rung
    assert len({t[1] for t in trials if t[2] == 0}) == sum(t[2] == 0 for t in trials)


def test_asha_resumes_where_a_killed_search_stopped(tmp_path):
    whole = run_asha(asha(tmp_path / "a", 16))
    left = asha(tmp_path / "b", 16)
    run_asha(left, stop_after="09")  # trial 09 started, never ended
    assert run_asha(asha(tmp_path / "b", 16)) == whole
    state = asha(tmp_path / "b", 16).get_state()
    assert (state["max_epochs"], state["min_epochs"], state["factor"]) == (9, 1, 3)


def test_asha_search_continues_the_best_trial_from_its_checkpoint(tiny, digits, tmp_path):
    results = search(tiny, "digits", tmp_path, Settings(
        tuner="asha", trials=4, epochs=2, seed=2, stop_early="never"), dataset=digits,
        log=lambda _: None)
    rows = results["trials"]
    done = [r for r in rows[:3] if r["status"] == "COMPLETED"]
    assert all(r["epochs"] == 1 for r in done) and len(done) == 3
    best = max(done, key=lambda r: r["score"])
    assert rows[3]["continues"] == best["trial_id"] and rows[3]["epochs"] == 2
    assert rows[3]["choices"] == best["choices"] and rows[3]["status"] == "COMPLETED"
