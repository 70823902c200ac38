"""Issue 12, a distributed search on Keras Tuner's chief/worker mode, on 127.0.0.1: a chief and
two workers run each trial once and say which worker ran it; workers started before their
chief wait for it; a worker killed with -9 during its first trial loses nothing; a chief
killed and restarted resumes, its worker waiting for it (one whose chief stays away stops
with a message); duplicates are granted their extra trial by the chief; a worker without a
chief gives up with a message; Ctrl-C on `--workers` leaves no process. The chief's
bookkeeping (lost workers, a restart) is also tested in-process, on a Keras Tuner oracle.

Each process imports TensorFlow, so these are the costliest tests of the search: a
two-choice dense template on the 8x8 digits, trials of 1 epoch, every wait bounded (a hung
search fails the test). The kill, restart, lost-chief, duplicate and Ctrl-C tests are `slow`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archc.cli import main
from archc.search.distributed import (
    WORKERS,
    _fail_left_over,
    _hand_back,
    keep_running_trials,
    worker_alive,
)
from archc.search.launch import free_port
from archc.search.lock import SearchLock

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # keras_tuner's threading
LIMIT = 300  # seconds any one search may take here before the test fails

TINY = """
template tiny
param classes = 10
input image [8, 8, 1]
graph {
  image
  -> flatten
  -> dense(choice(8, 16, 32, 64), activation=relu)
  -> dense(classes, activation=softmax)
}
train {
  optimizer = adam
  learning_rate = choice(1e-2, 3e-3, 1e-3)
  batch_size = 64
  loss = categorical_crossentropy
  metrics = [accuracy]
}
"""


def search(template: str, directory: Path, trials: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "archc", "search", template, "--dir", str(directory),
            "--trials", str(trials), "--epochs", "1", "--seed", "1", *extra]


def chief(template: str, directory: Path, trials: int, port: int) -> list[str]:
    return search(template, directory, trials, "--chief", "--bind", "127.0.0.1", "--port",
                  str(port))


def worker(template: str, directory: Path, trials: int, port: int, name: str,
           timeout: int = 120) -> list[str]:
    return search(template, directory, trials, "--worker", "--chief-address",
                  f"127.0.0.1:{port}", "--worker-id", name, "--connect-timeout", str(timeout))


def start(command: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)


def rows(directory: Path) -> list[dict]:
    try:
        return json.loads((directory / "results.json").read_text())["trials"]
    except (OSError, ValueError, KeyError):  # not written yet
        return []


def wait_until(condition, what: str, limit: float = LIMIT):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    pytest.fail(f"waited {limit} s for {what}")


def finish(processes: list[subprocess.Popen]) -> list[int]:
    """Each process's exit status; one still running after LIMIT seconds fails the test."""
    try:
        return [p.wait(timeout=LIMIT) for p in processes]
    finally:
        for p in processes:
            p.kill()
            p.wait()


def assert_each_trial_once(directory: Path, trials: int, workers: set[str]) -> list[dict]:
    found = rows(directory)
    assert [r["trial_id"] for r in found] == [str(i) for i in range(trials)]
    assert all(r["status"] == "COMPLETED" and r["worker"] in workers for r in found), found
    for r in found:  # the worker named is the one whose record the trial has
        record = json.loads((directory / "kt" / f"trial_{r['trial_id']}" / "archc.json")
                            .read_text())
        assert record["worker"] == r["worker"]
    return found


# ---------------------------------------------------------------- fast


def test_a_chief_and_two_workers_run_each_trial_once(tiny, tmp_path):
    out = tmp_path / "run"
    done = subprocess.run([*search(tiny, out, 6), "--workers", "2"], cwd=ROOT,
                          capture_output=True, text=True, timeout=LIMIT)
    assert done.returncode == 0, done.stdout + done.stderr
    found = assert_each_trial_once(out, 6, {"worker0", "worker1"})
    lines = done.stdout.splitlines()
    assert any(line.startswith("   chief | done: 6 trials (6 completed") for line in lines)
    for r in found:  # one view: each trial's line from its worker, and the chief's
        assert any(line.startswith(f"{r['worker']:>8} |   trial {r['trial_id']} epoch 1/1")
                   for line in lines)
        assert any(line.startswith("   chief | [") and f"] trial {r['trial_id']}: " in line
                   and line.endswith(f"[{r['worker']}]") for line in lines)
    assert any(r["test"] for r in found)  # the chief tested the kept models
    locks = list((out / "workers").glob("*/search.lock"))
    assert len(locks) == 2 and all(p.read_text() == "" for p in locks)  # released


def test_a_worker_that_cannot_reach_its_chief_says_so_in_bounded_time(tiny, tmp_path, capsys):
    port = free_port()  # nothing listens there
    began = time.monotonic()
    status = main(["search", tiny, "--dir", str(tmp_path / "run"), "--worker",
                   "--chief-address", f"127.0.0.1:{port}", "--connect-timeout", "1"])
    assert status == 1 and time.monotonic() - began < 60
    err = capsys.readouterr().err
    assert f"error: cannot reach the chief at 127.0.0.1:{port}: no answer within 1 s " \
           "(--connect-timeout)" in err
    assert "Traceback" not in err and not (tmp_path / "run" / "kt").exists()


@pytest.mark.parametrize("args, message", [
    (["--worker"], "--worker needs --chief-address HOST:PORT"),
    (["--chief-address", "h:1"], "--chief-address goes with --worker"),
    (["--chief", "--worker", "--chief-address", "h:1"], "--chief and --worker exclude"),
    (["--workers", "0"], "--workers takes a positive number"),
    (["--worker", "--chief-address", "h:1", "--overwrite"], "the chief's options"),
    (["--worker", "--chief-address", "nohost"], "expected HOST:PORT for --chief-address"),
    (["--worker", "--chief-address", "h:1", "--worker-id", "chief1"], "without 'chief'"),
])
def test_distributed_options_are_checked(args, message, tiny, tmp_path, capsys):
    assert main(["search", tiny, "--dir", str(tmp_path / "run"), *args]) in (1, 2)
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "run" / "kt").exists()


def test_mirrored_strategy_trains_a_trial(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["search", tiny, "--dir", str(out), "--trials", "1", "--epochs", "1",
                 "--strategy", "mirrored"]) == 0
    assert [r["status"] for r in rows(out)] == ["COMPLETED"]


# ---------------------------------------------------------------- the chief's bookkeeping


def oracle_in(directory: Path, trials: int = 4):
    """A Keras Tuner oracle with a four-value space, saving into `directory/kt`."""
    import keras_tuner as kt

    oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("score", "max"),
                                           max_trials=trials, seed=1)
    oracle._set_project_dir(str(directory), "kt")
    oracle.hyperparameters.Choice("x", [1, 2, 3, 4])
    oracle.verbose = 0
    return oracle


def lock_of(directory: Path, worker: str) -> SearchLock:
    """The lock a worker of that name holds while it runs."""
    (directory / WORKERS / worker).mkdir(parents=True, exist_ok=True)
    return SearchLock(directory / WORKERS / worker)


def test_the_trial_of_a_worker_that_is_gone_goes_to_the_next_worker(tmp_path):
    oracle = oracle_in(tmp_path)
    gone, alive = oracle.create_trial("w0"), oracle.create_trial("w1")
    with lock_of(tmp_path, "w0"):
        pass  # w0 held its lock and is gone (as after kill -9: the lock is free)
    lines: list[str] = []
    with lock_of(tmp_path, "w1"):  # w1 runs
        assert worker_alive(tmp_path, "w1") and not worker_alive(tmp_path, "w0")
        _hand_back(oracle, tmp_path, lines.append)
        assert list(oracle.ongoing_trials) == ["w1"] and oracle.tuner_ids == {"w1"}
        again = oracle.create_trial("w2")
    assert again.trial_id == gone.trial_id != alive.trial_id and again.status == "RUNNING"
    assert lines == [f"chief: worker w0 is gone; trial {gone.trial_id} goes to the next worker "
                     "that asks"]
    assert worker_alive(tmp_path, "w9")  # no lock here: a worker on other storage


def test_a_trial_no_worker_is_left_to_run_is_failed_with_the_reason(tmp_path):
    oracle = oracle_in(tmp_path)
    trial = oracle.create_trial("w0")
    oracle.ongoing_trials.clear()
    oracle._retry_queue.append(trial.trial_id)
    _fail_left_over(oracle)
    assert oracle.trials[trial.trial_id].status == "FAILED"
    assert "its worker was lost" in oracle.trials[trial.trial_id].message
    assert not oracle._retry_queue and oracle.end_order == [trial.trial_id]


def test_a_restarted_chief_keeps_the_trials_of_running_workers(tmp_path):
    first = oracle_in(tmp_path)
    ended, running = first.create_trial("w0"), first.create_trial("w1")
    ended.status = "COMPLETED"
    first.update_trial(ended.trial_id, {"score": 0.5})
    first.end_trial(ended)
    first.ongoing_trials["w0"] = ended  # as saved before Keras Tuner forgot it was running
    first.save()
    second = oracle_in(tmp_path)
    second.reload()  # Keras Tuner queues both for a retry
    assert sorted(second._retry_queue) == sorted([ended.trial_id, running.trial_id])
    with lock_of(tmp_path, "w1"):
        keep_running_trials(second, tmp_path)
    assert second._retry_queue == []  # neither runs again:
    assert second.ongoing_trials["w1"].trial_id == running.trial_id  # w1 still trains it
    assert "w0" not in second.ongoing_trials  # it had ended


# ---------------------------------------------------------------- slow: faults


@pytest.mark.slow
def test_a_worker_killed_in_its_first_trial_loses_nothing(tiny, tmp_path):
    out, port = tmp_path / "run", free_port()
    victim = start(worker(tiny, out, 6, port, "w0"), tmp_path / "w0.log")
    helper = start(worker(tiny, out, 6, port, "w1"), tmp_path / "w1.log")
    time.sleep(2)  # the workers start first, and wait for the chief
    processes = [start(chief(tiny, out, 6, port), tmp_path / "chief.log"), helper]

    def first_trial_of_w0():  # the record appears when the trial begins, before it trains
        for path in out.glob("kt/trial_*/archc.json"):
            try:
                record = json.loads(path.read_text())
            except ValueError:
                continue
            if record.get("worker") == "w0" and "seconds" not in record:
                return path.parent.name.removeprefix("trial_")
        return None

    try:
        killed = wait_until(first_trial_of_w0, "w0's first trial")
        os.kill(victim.pid, signal.SIGKILL)
    finally:
        victim.kill()
        victim.wait()
    assert finish(processes) == [0, 0]
    found = assert_each_trial_once(out, 6, {"w0", "w1"})
    assert next(r for r in found if r["trial_id"] == killed)["worker"] == "w1"  # run again
    log = (tmp_path / "chief.log").read_text()
    assert f"chief: worker w0 is gone; trial {killed} goes to the next worker" in log
    assert "done: 6 trials (6 completed" in log


@pytest.mark.slow
def test_a_restarted_chief_resumes_and_its_worker_waits_for_it(tiny, tmp_path):
    out, port = tmp_path / "run", free_port()
    first = start(chief(tiny, out, 4, port), tmp_path / "chief1.log")
    helper = start(worker(tiny, out, 4, port, "w0"), tmp_path / "w0.log")
    try:
        wait_until(lambda: any(r["status"] == "COMPLETED" for r in rows(out)),
                   "the first trial")
        first.kill()  # kill -9
        first.wait()
        second = start(chief(tiny, out, 4, port), tmp_path / "chief2.log")
        assert finish([second, helper]) == [0, 0]
    finally:
        for p in (first, helper):
            p.kill()
            p.wait()
    assert_each_trial_once(out, 4, {"w0"})
    log = (tmp_path / "chief2.log").read_text()
    assert "; resuming after 1 trial" in log or "; resuming after 2 trials" in log
    assert "done: 4 trials (4 completed" in log


@pytest.mark.slow
def test_a_worker_that_loses_its_chief_stops_with_a_message(tiny, tmp_path):
    out, port = tmp_path / "run", free_port()
    boss = start(chief(tiny, out, 20, port), tmp_path / "chief.log")
    helper = start(worker(tiny, out, 20, port, "w0", timeout=3), tmp_path / "w0.log")
    try:
        wait_until(lambda: any(r["status"] == "COMPLETED" for r in rows(out)),
                   "the first trial")
        boss.kill()
        assert helper.wait(timeout=120) == 1
    finally:
        for p in (boss, helper):
            p.kill()
            p.wait()
    log = (tmp_path / "w0.log").read_text()
    assert f"error: lost the chief at 127.0.0.1:{port}: " in log and "Traceback" not in log
    assert "hint: rerun the chief's command to resume the search, then this one" in log


EQUIVALENT = """
template equivalent
input image [8, 8, 1]
graph {
  image
  -> flatten
  -> repeat a: 0..2 { dense(16, activation=relu) }
  -> repeat b: 0..2 { dense(16, activation=relu) }
  -> dense(10, activation=softmax)
}
train { optimizer = adam; batch_size = 64; loss = categorical_crossentropy; metrics = [accuracy] }
"""


@pytest.mark.slow
def test_duplicates_are_not_trained_and_the_chief_grants_their_trials(tmp_path):
    template = tmp_path / "equivalent.arch"
    template.write_text(EQUIVALENT)  # 9 configurations, 5 architectures (a + b layers)
    out = tmp_path / "run"
    done = subprocess.run([*search(str(template), out, 5), "--tuner", "grid", "--workers",
                           "2"], cwd=ROOT, capture_output=True, text=True, timeout=LIMIT)
    assert done.returncode == 0, done.stdout + done.stderr
    found = rows(out)
    duplicates = [r for r in found if r["status"] == "DUPLICATE"]
    by_id = {r["trial_id"]: r for r in found}
    assert duplicates and len(found) == 5 + len(duplicates) == 9  # one trial more for each
    for r in duplicates:
        original = by_id[r["duplicate_of"]]
        assert original["status"] == "COMPLETED" and original["identity"] == r["identity"]
        assert r["epochs"] == 0 and r["worker"] in ("worker0", "worker1")


@pytest.mark.slow
def test_ctrl_c_stops_the_chief_and_the_workers(tiny, tmp_path):
    out = tmp_path / "run"
    launcher = subprocess.Popen([*search(tiny, out, 50), "--workers", "1"], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: any(r["status"] == "COMPLETED" for r in rows(out)),
                   "the first trial")
        pids = [json.loads(p.read_text())["pid"]
                for p in [out / "search.lock", out / "workers" / "worker0" / "search.lock"]]
        launcher.send_signal(signal.SIGINT)
        output, _ = launcher.communicate(timeout=120)
    finally:
        launcher.kill()
        launcher.wait()
    assert launcher.returncode == 130, output
    assert "launch: interrupted: stopping the chief and the workers" in output
    for pid in pids:  # no process is left behind
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
