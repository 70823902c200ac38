"""A running trial's backups -> a trial that resumes from its last good state: Keras's
`BackupAndRestore`, with each file written whole or not at all, and a backup that cannot be
read (cut short by a kill or a full disk) passed over for the one before it, or for a fresh
start, instead of failing the trial.

Imports Keras at module level: only the search imports this module.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import keras

from .storage import temp_path


class SafeBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore(double_checkpoint=True)`: `latest.weights.h5` and
    `training_metadata.json`, and the state before them as `previous.weights.h5` and
    `previous_training_metadata.json`.

    Each save writes a temporary file in the same folder and renames it over the old one, so
    a backup is never half-written. On resume the latest state is read, else the one before
    it, else the trial starts from epoch 0 with its initial weights; a note on stderr says
    which (a callback is deep-copied by Keras Tuner, so it holds no logger).
    """

    def __init__(self, backup_dir, label: str = "the trial"):
        super().__init__(backup_dir, double_checkpoint=True)
        self.label = label
        # Not Keras's `*.bkp` names: `load_weights` picks the format by the suffix, so a
        # `.bkp` file cannot be read where it lies.
        self._prev_weights_path = os.path.join(backup_dir, "previous.weights.h5")
        self._prev_training_metadata_path = os.path.join(backup_dir,
                                                         "previous_training_metadata.json")

    def on_train_begin(self, logs=None):
        states = [(self._weights_path, self._training_metadata_path),
                  (self._prev_weights_path, self._prev_training_metadata_path)]
        states = [s for s in states if any(os.path.exists(p) for p in s)]  # else: a new trial
        if not states:
            return
        _build_optimizer(self.model)
        initial = [v.numpy() for v in _variables(self.model)]
        for weights, metadata in states:
            try:
                self._restore(weights, metadata)
                if weights != self._weights_path:
                    self._note(f"{self._weights_path} is unreadable: resuming from the state "
                               f"before it ({weights})")
                return
            except Exception as exc:  # noqa: BLE001 - any unreadable backup is passed over
                reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        for variable, value in zip(_variables(self.model), initial, strict=True):
            variable.assign(value)  # undo a load that failed half-way
        self.model._initial_epoch = 0
        self._note(f"the backup in {self.backup_dir} is unreadable ({reason}): restarting "
                   "from epoch 0")

    def _restore(self, weights: str, metadata: str) -> None:
        """Keras's `_load_model`, from the given pair of files."""
        epoch = int(json.loads(Path(metadata).read_text())["epoch"])  # both are saved
        self.model.load_weights(weights)
        self.model._initial_epoch = epoch

    def _save_model(self):
        """Keras's save, both files written beside their names first; then the state before
        becomes `previous*` and the new one takes its place, each by a rename. A kill between the
        renames leaves a state without its metadata, which `on_train_begin` passes over."""
        os.makedirs(self.backup_dir, exist_ok=True)
        pairs = ((self._weights_path, self._prev_weights_path),
                 (self._training_metadata_path, self._prev_training_metadata_path))
        tmps = [temp_path(Path(current)) for current, _ in pairs]
        try:
            self.model.save_weights(tmps[0], overwrite=True)
            tmps[1].write_text(json.dumps({"epoch": self._current_epoch,
                                           "batch": self._last_batch_seen}))
            for current, previous in pairs:
                if os.path.exists(current):
                    os.replace(current, previous)
            for tmp, (current, _) in zip(tmps, pairs, strict=True):
                os.replace(tmp, current)
        except BaseException:
            for tmp in tmps:
                tmp.unlink(missing_ok=True)
            raise

    def _note(self, text: str) -> None:
        print(f"note: {self.label}: {text}", file=sys.stderr, flush=True)


def _build_optimizer(model) -> None:
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


def _variables(model) -> list:
    optimizer = model.optimizer.variables if model.optimizer is not None else []
    return [*model.variables, *optimizer]

