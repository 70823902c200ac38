"""A trial's epoch logs -> whether it is hopeless, and why: `Stopper` holds the rules,
`StopHopeless` is the Keras callback that applies them during `fit` and writes the verdict
into the trial's record (`kt/trial_ID/archc.json`), where a resumed search finds it again.

The rules, by `--stop-early` level (each level includes the ones before it):

    never   a non-finite loss is recorded as diverged, but training is not cut short
    chance  + a non-finite loss stops the trial at once (diverged); accuracy at chance
              (at most chance + 10 % of the way from chance to 1, chance = 1 / classes)
              after 2 or more epochs and half the trial's epochs, with a training loss less
              than 1 % below its best earlier epoch, stops it (chance). The half: a
              SqueezeNet on digits sat at chance for 4 of 10 epochs, loss flat to 0.2 %,
              and then became the search's best (0.72)
    median  + from its 2nd epoch on, a trial whose best objective so far is worse than the
              median of the finished trials' best at the same epoch stops (median), once
              3 finished trials reached that epoch (Golovin et al. 2017, Google Vizier),
              unless that median is an accuracy still at chance

    >>> stopper = Stopper("median", classes=10)
    >>> stopper.after_epoch(0, {"loss": 2.30, "val_accuracy": 0.1}) is None
    True
    >>> stopper.after_epoch(1, {"loss": 2.30, "val_accuracy": 0.1}).rule
    'chance'
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass

import keras

from .results import update_record

MODES = ("never", "chance", "median")
CHANCE_EPOCHS = 2     # epochs before the chance rule may fire: it compares two losses
CHANCE_FRACTION = 0.5  # ... and not before this part of the trial's epochs (late starters)
CHANCE_MARGIN = 0.1   # "at chance": within 10 % of the way from chance to a perfect score
LOSS_FALL = 0.01      # "falling": at least 1 % below the best earlier epoch's loss
MEDIAN_EPOCHS = 2     # epochs before the median rule may fire
MEDIAN_TRIALS = 3     # finished trials that reached the epoch, before the median rule fires
ACCURACIES = ("accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
              "binary_accuracy")


@dataclass(frozen=True)
class Verdict:
    """Why a trial stopped: `rule` (diverged, chance, median), `epoch` (1-based: the epoch
    in which it stopped) and a sentence."""

    rule: str
    epoch: int
    reason: str

    def record(self) -> dict:
        return asdict(self)


class Stopper:
    """The stopping rules over one trial's epochs (plain data: Keras Tuner deep-copies the
    callbacks of a trial).

    Args:
        mode: a level of `MODES`.
        classes: the number of classes of a classifier (None: no chance rule).
        objective, direction: the search's objective and "max" or "min" (objective None:
            no median rule, e.g. for a cost objective).
        peers: each finished trial's objective by epoch ({epoch: value}).
        max_epochs: the epochs a trial may train (the chance rule waits for half of them).
        history: the trial's earlier epochs ({epoch: logs}): those before an interruption,
            and those of the trial it continues.
    """

    def __init__(self, mode: str = "median", classes: int | None = None,
                 objective: str | None = None, direction: str = "max",
                 peers: list[dict[int, float]] = (), history: dict[int, dict] | None = None,
                 max_epochs: int | None = None):
        if mode not in MODES:
            raise ValueError(f"expected a stopping mode among {', '.join(MODES)}, found '{mode}'")
        self.mode = mode
        self.chance = 1 / classes if classes and classes > 1 else None
        self.objective = objective
        self.sign = 1 if direction == "max" else -1
        self.peers = list(peers)
        self.chance_epochs = max(CHANCE_EPOCHS, math.ceil(CHANCE_FRACTION * (max_epochs or 0)))
        self.epochs: dict[int, dict] = dict(history or {})
        self.verdict: Verdict | None = None

    @property
    def stops(self) -> bool:
        """Whether a verdict cuts training short (any mode but never)."""
        return self.mode != "never"

    def after_batch(self, epoch: int, logs: dict) -> Verdict | None:
        """A non-finite loss in the middle of an epoch: diverged."""
        if self.verdict is None:
            self.verdict = _diverged(epoch, logs)
        return self.verdict

    def after_epoch(self, epoch: int, logs: dict) -> Verdict | None:
        """The verdict once `epoch` (0-based) ended with `logs`, or None to go on."""
        self.epochs = {e: v for e, v in self.epochs.items() if e < epoch}
        self.epochs[epoch] = dict(logs)
        if self.verdict is None:
            self.verdict = _diverged(epoch, logs)
        if self.verdict is None and self.mode != "never":
            self.verdict = self._at_chance(epoch)
        if self.verdict is None and self.mode == "median":
            self.verdict = self._below_median(epoch)
        return self.verdict

    def _at_chance(self, epoch: int) -> Verdict | None:
        logs = self.epochs[epoch]
        accuracy = [_finite(logs.get(p + n)) for n in ACCURACIES for p in ("", "val_")]
        accuracy = [a for a in accuracy if a is not None]
        losses = [_finite(self.epochs[e].get("loss")) for e in sorted(self.epochs)]
        if self.chance is None or not accuracy or len(self.epochs) < self.chance_epochs \
                or None in losses:
            return None
        ceiling = self.chance + CHANCE_MARGIN * (1 - self.chance)
        if max(accuracy) > ceiling or losses[-1] < (1 - LOSS_FALL) * min(losses[:-1]):
            return None
        return Verdict("chance", epoch + 1, f"accuracy {max(accuracy):.3f} at chance "
                       f"(1/{round(1 / self.chance)}) after {epoch + 1} epochs, loss "
                       f"{losses[-1]:.4g} not falling")

    def _below_median(self, epoch: int) -> Verdict | None:
        mine = best_until(self._curve(self.epochs), epoch, self.sign)
        others = [best_until(p, epoch, self.sign) for p in self.peers if epoch in p]
        others = [o for o in others if o is not None]
        if (self.objective is None or mine is None or epoch + 1 < MEDIAN_EPOCHS
                or len(others) < MEDIAN_TRIALS):
            return None
        median = statistics.median(others)
        if self.sign * mine >= self.sign * median or self._at_chance_level(median):
            return None
        return Verdict("median", epoch + 1, f"best {self.objective} {mine:.4g} after "
                       f"{epoch + 1} epochs, below the median {median:.4g} of "
                       f"{len(others)} finished trials at that epoch")

    def _at_chance_level(self, value: float) -> bool:
        """An accuracy objective whose median is itself at chance says nothing yet: below it
        is noise (0.1003 against 0.1031), and late starters are among those trials."""
        if self.chance is None or self.sign < 0 or "accuracy" not in (self.objective or ""):
            return False
        return value <= self.chance + CHANCE_MARGIN * (1 - self.chance)

    def _curve(self, epochs: dict[int, dict]) -> dict[int, float]:
        return curve(epochs, self.objective) if self.objective else {}


def _diverged(epoch: int, logs: dict) -> Verdict | None:
    for name, value in logs.items():
        if name.endswith("loss") and _finite(value) is None and value is not None:
            return Verdict("diverged", epoch + 1, f"{name} {value} in epoch {epoch + 1}")
    return None


def _finite(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def curve(epochs: dict[int, dict], name: str) -> dict[int, float]:
    """{epoch: the metric `name`} over the epochs whose logs hold a finite value of it."""
    out = {e: _finite(logs.get(name)) for e, logs in epochs.items()}
    return {e: v for e, v in out.items() if v is not None}


def best_until(values: dict[int, float], epoch: int, sign: int) -> float | None:
    """The best value (the largest when `sign` is 1) of the epochs up to `epoch`.

    >>> best_until({0: 0.5, 1: 0.7, 2: 0.9}, 1, 1), best_until({0: 0.5}, 3, -1)
    (0.7, 0.5)
    """
    seen = [v for e, v in values.items() if e <= epoch]
    return max(seen, key=lambda v: sign * v) if seen else None


def lineage(trial_id: str, parent_of: dict[str, str | None],
            read: Callable[[str], dict[int, dict]]) -> dict[int, dict]:
    """A trial's epoch logs, after those of the trials it continues (Hyperband, ASHA).

    >>> logs = {"0": {0: {"loss": 2.0}}, "1": {1: {"loss": 1.0}}}
    >>> lineage("1", {"1": "0"}, logs.get)
    {0: {'loss': 2.0}, 1: {'loss': 1.0}}
    """
    chain: list[str] = []
    while trial_id is not None and trial_id not in chain:
        chain.append(trial_id)
        trial_id = parent_of.get(trial_id)
    out: dict[int, dict] = {}
    for tid in reversed(chain):
        out.update(read(tid) or {})
    return out


class StopHopeless(keras.callbacks.Callback):
    """Applies a `Stopper` during `fit`: a verdict is written into the trial's record (under
    `stop`) and, unless the mode is never, stops training (`model.stop_training`)."""

    def __init__(self, stopper: Stopper, record_path):
        super().__init__()
        self.stopper = stopper
        self.record_path = str(record_path)
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.stopper.verdict is None and self.stopper.stops:
            self._act(self.stopper.after_batch(self._epoch, logs or {}))

    def on_epoch_end(self, epoch, logs=None):
        had = self.stopper.verdict
        verdict = self.stopper.after_epoch(epoch, logs or {})
        if verdict is not None and had is None:
            self._act(verdict)

    def _act(self, verdict: Verdict | None) -> None:
        if verdict is None:
            return
        update_record(self.record_path, stop=verdict.record())
        if self.stopper.stops:
            self.model.stop_training = True
