"""Issue 13, the results directory of `archc search`: a lock, the recorded settings, damaged
checkpoints and a full disk, damaged files on a rerun, output paths checked first.

Each test makes the fault in its setup (a second search, another setting, a checkpoint cut
short, a write that raises ENOSPC, a file cut short) and asserts what archc does now. Fast: a
two-choice dense template on the 8x8 digits, 1-2 trials of 1-2 epochs; one base search is
copied for the reruns, which are refused before any training.
"""

from __future__ import annotations

import errno
import hashlib
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from archc.cli import main
from archc.search.lock import LOCK, SearchLock

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # keras_tuner's threading

TINY = """
template tiny
param classes = 10
input image [8, 8, 1]
graph {
  image
  -> flatten
  -> dense(choice(16, 32), activation=relu)
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


def search_args(template: str, directory: Path, *extra: str, trials: int = 1) -> list[str]:
    return ["search", template, "--dir", str(directory), "--trials", str(trials),
            "--epochs", "1", "--seed", "3", *extra]


@pytest.fixture(scope="module")
def base(tiny, tmp_path_factory) -> Path:
    """A finished search of one trial, copied by the tests that rerun on it."""
    directory = tmp_path_factory.mktemp("base") / "run"
    assert main(search_args(tiny, directory)) == 0
    return directory


def copy_of(base: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(base, tmp_path / "run"))


def snapshot(directory: Path) -> dict[str, str]:
    """Every file's hash, the lock file aside (a refused search leaves it as it was anyway)."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file() and p.name != LOCK}


def trials_of(directory: Path) -> list[dict]:
    return json.loads((directory / "results.json").read_text())["trials"]


# ---------------------------------------------------------------- 1. the lock


HOLD = """
import sys
from archc.search.lock import SearchLock
lock = SearchLock(sys.argv[1]).acquire()
print("held", flush=True)
sys.stdin.read()
"""


def test_a_second_search_on_a_locked_directory_is_refused_and_a_stale_lock_taken_over(
        tiny, tmp_path, capsys):
    directory = tmp_path / "run"
    directory.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(directory), "--marker"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        assert main(search_args(tiny, directory)) == 1
    finally:
        holder.kill()  # as by kill -9: the lock file keeps its details
        holder.wait()
    err = capsys.readouterr().err
    assert f"{directory} is in use by another archc search: pid {holder.pid} on " \
           f"{socket.gethostname()}, since " in err
    assert "--marker" in err and "Traceback" not in err
    assert not (directory / "results.json").exists() and not (directory / "kt").exists()
    notes: list[str] = []
    with SearchLock(directory, note=notes.append):  # the holder is gone: taken over
        assert json.loads((directory / LOCK).read_text())["command"] == " ".join(sys.argv)
    assert len(notes) == 1 and "stale lock" in notes[0] and f"pid {holder.pid}" in notes[0]
    assert (directory / LOCK).read_text() == ""  # released: the next search takes no note
    with SearchLock(directory, note=notes.append):
        pass
    assert len(notes) == 1


# ---------------------------------------------------------------- 2. the recorded settings


@pytest.mark.parametrize("change, listed", [
    (["--seed", "4"], ["--seed: 3 recorded, 4 given", "data content"]),
    (["--epochs", "2", "--patience", "2"], ["--epochs: 1 recorded, 2 given",
                                            "--patience: 5 recorded, 2 given"]),
    (["--fraction", "0.5", "--max-params", "900"], ["--fraction: 1.0 recorded, 0.5 given",
                                                    "--max-params: none recorded, 900 given"]),
    (["--objective", "val_loss", "--tuner", "grid"], ["--objective: val_accuracy:max recorded",
                                                      "--tuner: random recorded, grid given"]),
])
def test_a_rerun_with_other_settings_is_refused_with_each_difference(
        change, listed, tiny, base, tmp_path, capsys):
    directory = copy_of(base, tmp_path)
    before = snapshot(directory)
    assert main(search_args(tiny, directory, *change)) == 1
    err = capsys.readouterr().err
    assert f"error: {directory} holds another search" in err
    assert all(line in err for line in listed), err
    assert "--overwrite" in err and snapshot(directory) == before


def test_more_trials_need_extend(tiny, base, tmp_path, capsys):
    directory = copy_of(base, tmp_path)
    assert main(search_args(tiny, directory, trials=2)) == 1
    err = capsys.readouterr().err
    assert "--trials: 1 recorded, 2 given" in err and "give --extend to change --trials" in err
    assert len(trials_of(directory)) == 1
    assert main(search_args(tiny, directory, "--extend", trials=2)) == 0
    assert [t["status"] for t in trials_of(directory)] == ["COMPLETED", "COMPLETED"]
    assert json.loads((directory / "search.json").read_text())["trials"] == 2


def test_recorded_settings_protect_a_directory_without_results_json(base, tmp_path, capsys):
    directory = copy_of(base, tmp_path)
    (directory / "results.json").unlink()
    other = tmp_path / "tiny.arch"  # the same name, another space
    other.write_text(TINY.replace("choice(16, 32)", "choice(16, 64)"))
    assert main(search_args(str(other), directory)) == 1
    assert "template content (hash of its files):" in capsys.readouterr().err
    assert not (directory / "results.json").exists()
    (directory / "search.json").unlink()  # Keras Tuner's project alone: its settings unknown
    assert main(search_args(str(other), directory)) == 1
    assert "holds a Keras Tuner project (kt/) but no record of its settings" in \
        capsys.readouterr().err


def test_a_trial_directory_deleted_by_hand_is_refused(tiny, base, tmp_path, capsys):
    directory = copy_of(base, tmp_path)
    shutil.rmtree(directory / "kt" / "trial_0")
    before = snapshot(directory)
    assert main(search_args(tiny, directory, "--extend", trials=2)) == 1
    err = capsys.readouterr().err
    assert "lacks the Keras Tuner record of trial 0 (kt/trial_0/trial.json)" in err
    assert snapshot(directory) == before


# ---------------------------------------------------------------- 3. checkpoints, full disk


@pytest.mark.parametrize("finished, resumed, note", [
    (1, [0, 0, 1], "restarting from epoch 0"),  # no state before it: from scratch
    (2, [0, 1, 1, 2], "resuming from the state before it"),  # the epoch before it (*.bkp)
])
def test_an_unreadable_checkpoint_restarts_the_trial(finished, resumed, note, tiny, tmp_path,
                                                     monkeypatch, capsys):
    from archc.search import trials

    directory = tmp_path / "run"
    args = ["search", tiny, "--dir", str(directory), "--trials", "1", "--epochs",
            str(finished + 1), "--seed", "5"]
    log_epoch = trials.EpochLog.on_epoch_end

    def killed_after(self, epoch, logs=None):
        log_epoch(self, epoch, logs)
        if epoch + 1 == finished:
            raise KeyboardInterrupt

    monkeypatch.setattr(trials.EpochLog, "on_epoch_end", killed_after)
    assert main(args) == 130
    monkeypatch.undo()
    weights = directory / "checkpoints" / "trial_0" / "latest.weights.h5"
    whole = weights.read_bytes()
    weights.write_bytes(whole[:len(whole) // 3])  # cut short, as by a kill or a full disk
    capsys.readouterr()
    assert main(args) == 0  # Keras's BackupAndRestore fails the trial for good here
    [trial] = trials_of(directory)
    assert trial["status"] == "COMPLETED" and trial["epochs"] == finished + 1
    epochs = directory / "kt" / "trial_0" / "epochs.jsonl"
    assert [json.loads(line)["epoch"] for line in epochs.read_text().splitlines()] == resumed
    err = capsys.readouterr().err
    assert "note: trial 0: " in err and note in err


@pytest.mark.parametrize("where", ["checkpoint", "results"])
def test_a_full_disk_stops_the_search_cleanly(where, tiny, tmp_path, monkeypatch, capsys):
    import keras

    directory = tmp_path / "run"
    save_weights, write_text = keras.Model.save_weights, Path.write_text

    def full(path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    def weights_on_full_disk(self, path, *args, **kwargs):
        if "trial_0" in str(path):  # the first backup of the first epoch
            full(path)
        return save_weights(self, path, *args, **kwargs)

    def text_on_full_disk(self, *args, **kwargs):
        if self.name == ".tmp.results.csv":  # as the first trial begins
            full(self)
        return write_text(self, *args, **kwargs)

    if where == "checkpoint":
        monkeypatch.setattr(keras.Model, "save_weights", weights_on_full_disk)
    else:
        monkeypatch.setattr(Path, "write_text", text_on_full_disk)
    assert main(search_args(tiny, directory)) == 1
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert f"error: no space left on the device of {directory} (writing {directory}/" in err
    assert "rerun the same command to resume" in err and "Traceback" not in err
    assert not list(directory.rglob(".tmp.*"))  # nothing half-written
    for path in directory.rglob("*.json"):
        json.loads(path.read_text())
    trial = json.loads((directory / "kt" / "trial_0" / "trial.json").read_text())
    assert trial["status"] == "RUNNING"  # not failed: the disk is not the trial's fault
    assert main(search_args(tiny, directory)) == 0
    assert [t["status"] for t in trials_of(directory)] == ["COMPLETED"]


# ---------------------------------------------------------------- 4. damaged files


@pytest.mark.parametrize("name, damage", [
    ("results.json", lambda text: text[:len(text) // 2]),
    ("results.json", lambda text: ""),
    ("results.json", lambda text: "[]"),
    ("search.json", lambda text: text[:10]),
    ("kt/oracle.json", lambda text: text[:len(text) // 2]),
    ("kt/tuner0.json", lambda text: ""),
    ("kt/trial_0/trial.json", lambda text: text[:-3]),
    ("kt/trial_0/archc.json", lambda text: "{"),
], ids=["results-cut", "results-empty", "results-list", "search", "oracle", "tuner",
        "trial", "archc"])
def test_a_damaged_file_is_reported_with_its_path(name, damage, tiny, base, tmp_path, capsys):
    directory = copy_of(base, tmp_path)
    path = directory / name
    path.write_text(damage(path.read_text()))
    before = snapshot(directory)
    assert main(search_args(tiny, directory)) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: error: cannot resume the search: this file ")
    assert "--overwrite to start afresh" in err and "Traceback" not in err
    assert snapshot(directory) == before  # nothing overwritten
    if name == "results.json":  # the hint holds: results.json is rebuilt from kt/
        path.unlink()
        assert main(search_args(tiny, directory)) == 0
        assert [t["status"] for t in trials_of(directory)] == ["COMPLETED"]


# ---------------------------------------------------------------- 5. output paths


def test_a_dir_under_a_regular_file_is_refused_before_any_work(tiny, tmp_path, capsys):
    file = tmp_path / "file"
    file.write_text("not a folder")
    assert main(search_args(tiny, file / "run")) == 1
    assert f"error: cannot use --dir {file / 'run'}: it is under {file}, which is a file" in \
        capsys.readouterr().err
    assert main(search_args(tiny, file)) == 1
    assert f"cannot use --dir {file}: it is a file" in capsys.readouterr().err
    assert main(search_args(tiny, Path("/proc/archc-test/run"))) == 1
    assert "error: cannot create --dir /proc/archc-test/run: " in capsys.readouterr().err
    assert file.read_text() == "not a folder"


# ---------------------------------------------------------------- 6. docs


def test_docs_describe_the_lock_the_recorded_settings_and_a_full_disk():
    from archc.search.guard import EXTENDABLE

    docs = (ROOT / "docs" / "search.md").read_text()
    for words in ("search.lock", "search.json", "--extend", "no space left", "Damaged files"):
        assert words in docs
    assert all(f"`--{name}`" in docs.split("--extend")[1] for name in EXTENDABLE)
