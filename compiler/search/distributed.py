"""A search's role (alone, chief, worker) -> Keras Tuner's own chief/worker mode: the chief
serves its oracle with Keras Tuner's `OracleServicer` over gRPC, and each worker's tuner asks
it for trials through Keras Tuner's `OracleClient` (`KERASTUNER_TUNER_ID`,
`KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT`, set here from `--chief`/`--worker`).

What archc adds to that engine, all of it on the chief unless said otherwise:

- **the oracle's decisions** stay in the chief's oracle: rejected candidates, the start
  (`candidates.py`, `start.py`), the extra trial a duplicate earns, and the tuners' own
  proposals (ASHA's promotions, evolution, Bayesian); `chief_hooks` also rewrites
  results.json and prints a line whenever a worker ends a trial;
- **lost workers**: each worker holds an operating-system lock (`lock.SearchLock`) on
  `DIR/workers/ID/search.lock` while it runs; a trial whose worker's lock is free (the
  process is gone, even after `kill -9`) goes back to Keras Tuner's retry queue, and another
  worker continues it from its last backed-up epoch (`serve`). A trial left when no worker
  remains is recorded as failed, with that reason;
- **a restarted chief** reloads its oracle as Keras Tuner does, except that a trial whose
  worker still runs stays that worker's (`keep_running_trials`), and a trial a worker ends
  twice (its call retried across the restart) is ended once;
- **workers wait for the chief**, at most `--connect-timeout` seconds, before they start
  (`wait_for_chief`) and on every call after (`PatientClient`), then stop with a message.

The results directory is shared by the chief and its workers (one host, or shared storage).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import SearchError
from .lock import SearchLock

CHIEF_ID = "chief"  # Keras Tuner takes a tuner id containing "chief" for the chief
WORKERS = "workers"  # DIR/workers/ID/search.lock: held by each running worker
CONNECT_TIMEOUT = 300.0  # seconds a worker waits for its chief, by default
ALL_TRIALS = 1_000_000  # GetBestTrials(n) lists every trial when n exceeds their number
POLL = 0.5  # seconds between the chief's looks at its workers
_ENV = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


@dataclass(frozen=True)
class Role:
    """How this process takes part in a search.

    Attributes:
        kind: "alone" (no chief), "chief" or "worker".
        host: the chief's address: the one it listens on (chief), or the one to reach
            (worker).
        port: the chief's port.
        worker_id: the worker's name (results.json's `worker`).
        connect_timeout: seconds a worker waits for the chief.
    """

    kind: str = "alone"
    host: str = "0.0.0.0"
    port: int = 0
    worker_id: str | None = None
    connect_timeout: float = CONNECT_TIMEOUT

    @property
    def tuner_id(self) -> str:
        return CHIEF_ID if self.kind == "chief" else self.worker_id or "tuner0"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


ALONE = Role()


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` -> (host, port).

    >>> parse_address("10.0.0.5:8000"), parse_address("[::1]:8000")
    (('10.0.0.5', 8000), ('[::1]', 8000))

    Raises:
        SearchError: no port, or not a number from 1 to 65535.
    """
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SearchError(f"expected HOST:PORT for --chief-address, found '{text}'",
                          hint="the chief's host and its --port, e.g. 10.0.0.5:8000")
    return host, int(port)


def check_worker_id(name: str) -> str:
    """A worker's name: a file name, without "chief" (Keras Tuner's mark of the chief).

    Raises:
        SearchError: otherwise.
    """
    if not name or "chief" in name or not all(c.isalnum() or c in "-_." for c in name) \
            or name.startswith("."):
        raise SearchError(f"expected a worker id of letters, digits, '-', '_' and '.', without "
                          f"'chief', found '{name}'")
    return name


# ---------------------------------------------------------------- Keras Tuner's switches


@contextlib.contextmanager
def environment(role: Role) -> Iterator[None]:
    """Keras Tuner's distribution variables for `role` while the block runs (none when
    alone, whatever the shell set), and the bound on a worker's calls to the chief."""
    saved = {name: os.environ.get(name) for name in _ENV}
    for name in _ENV:
        os.environ.pop(name, None)
    if role.kind != "alone":
        os.environ.update(KERASTUNER_TUNER_ID=role.tuner_id,
                          KERASTUNER_ORACLE_IP=role.host,
                          KERASTUNER_ORACLE_PORT=str(role.port))
    if role.kind == "worker":
        from keras_tuner.src.distribute import oracle_client

        # Keras Tuner waits up to an hour for the chief on each call (its TIMEOUT, read at
        # every call); a worker waits --connect-timeout.
        oracle_client.TIMEOUT = role.connect_timeout
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# ---------------------------------------------------------------- the worker's side


def wait_for_chief(role: Role) -> None:
    """Return once the chief at `role.address` answers.

    Raises:
        SearchError: it did not within `role.connect_timeout` seconds.
    """
    import grpc

    channel = grpc.insecure_channel(role.address)
    try:
        grpc.channel_ready_future(channel).result(timeout=role.connect_timeout)
    except grpc.FutureTimeoutError:
        raise SearchError(f"cannot reach the chief at {role.address}: no answer within "
                          f"{role.connect_timeout:g} s (--connect-timeout)",
                          hint="start `archc search ... --chief --port PORT` on that host "
                               "first, or check the address, the port and the firewall") \
            from None
    finally:
        channel.close()


def lost_chief(exc: BaseException, role: Role) -> SearchError | None:
    """The message for a worker whose chief stopped answering, or None for another error."""
    import grpc

    if role.kind != "worker" or not isinstance(exc, grpc.RpcError):
        return None
    code = exc.code() if callable(getattr(exc, "code", None)) else None
    return SearchError(f"lost the chief at {role.address}: "
                       f"{getattr(code, 'name', 'error')} after waiting up to "
                       f"{role.connect_timeout:g} s",
                       hint="rerun the chief's command to resume the search, then this one")


class PatientClient:
    """Keras Tuner's `OracleClient`, retrying a call that the chief dropped (it was
    restarted) until it answers again or `timeout` seconds have passed. Each call is one
    the restarted chief answers the same way (`chief_hooks`, `keep_running_trials`)."""

    def __init__(self, client, timeout: float):
        self._client = client
        self._timeout = timeout

    def __getattr__(self, name):
        value = getattr(self._client, name)
        if not callable(value):
            return value

        def call(*args, **kwargs):
            import grpc

            deadline = time.monotonic() + self._timeout
            while True:
                try:
                    return value(*args, **kwargs)
                except grpc.RpcError as exc:
                    if exc.code() != grpc.StatusCode.UNAVAILABLE \
                            or time.monotonic() > deadline:
                        raise
                    time.sleep(1)

        return call


@contextlib.contextmanager
def worker_lock(directory: Path, role: Role) -> Iterator[None]:
    """The lock a worker holds while it runs: the chief's sign that it is alive.

    Raises:
        SearchError: a worker of that id already runs on this directory.
    """
    folder = directory / WORKERS / role.tuner_id
    folder.mkdir(parents=True, exist_ok=True)
    lock = SearchLock(folder, note=lambda line: None)  # a stale lock is no news here
    try:
        lock.acquire()
    except SearchError as exc:
        raise SearchError(f"a worker named {role.tuner_id} already runs on {directory} "
                          f"({exc.message.partition(': ')[2]})",
                          hint="give each worker its own --worker-id") from None
    try:
        yield
    finally:
        lock.release()


def worker_alive(directory: Path, tuner_id: str) -> bool:
    """Whether the worker `tuner_id` still holds its lock (True when it has none here: a
    worker on storage the chief cannot see)."""
    path = directory / WORKERS / tuner_id / "search.lock"
    if not path.exists():
        return True
    with open(path, "a+", encoding="utf-8") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(file, fcntl.LOCK_UN)
    return False


# ---------------------------------------------------------------- the chief's side


def _synchronized(function):
    """`function(oracle, ...)` under the oracle's own lock (Keras Tuner's `synchronized`),
    which its gRPC calls take too."""
    from keras_tuner.src.engine.oracle import synchronized

    return synchronized(function)


def keep_running_trials(oracle, directory: Path) -> None:
    """After a chief's restart: Keras Tuner's reload queued every trial that was running for
    a retry. A trial that had ended (the chief saved its oracle before it forgot the trial
    was running) is not run again; one whose worker still runs goes back to that worker (it
    is still training it, and will end it)."""
    path = Path(oracle._get_oracle_fname())
    try:
        running = json.loads(path.read_text()).get("ongoing_trials", {})
    except (OSError, ValueError):
        return
    ended = set(oracle.end_order)
    oracle._retry_queue[:] = [t for t in oracle._retry_queue if t not in ended]
    for tuner_id, trial_id in running.items():
        if trial_id in oracle._retry_queue and worker_alive(directory, tuner_id):
            oracle._retry_queue.remove(trial_id)
            oracle.ongoing_trials[tuner_id] = oracle.trials[trial_id]
            oracle.tuner_ids.add(tuner_id)


def chief_hooks(tuner, results, log, max_repeats: int) -> None:
    """Make the chief's oracle write results.json when a trial starts or ends, print a line
    per ended trial, grant a trial that was a duplicate one more trial in its place (as the
    tuner does when alone), and end a trial once."""
    from . import progress

    oracle = tuner.oracle
    create, end = oracle.create_trial, oracle.end_trial
    repeats = [0]

    def create_trial(tuner_id):
        trial = create(tuner_id)
        if trial.status == "RUNNING":
            _locked(oracle, results.write, tuner)
        return trial

    def end_trial(trial):
        if trial.trial_id in oracle.end_order:  # ended before a restart of the chief: the
            _locked(oracle, _forget_running, trial.trial_id)  # worker's call was retried
            return
        end(trial)
        _locked(oracle, _after_end, trial.trial_id)

    def _forget_running(trial_id):
        for tuner_id, running in list(oracle.ongoing_trials.items()):
            if running.trial_id == trial_id:
                del oracle.ongoing_trials[tuner_id]

    def _after_end(trial_id):
        if trial_id in oracle._retry_queue:  # it was running when the chief restarted
            oracle._retry_queue.remove(trial_id)
        record = results.record(trial_id)
        repeats[0] = repeats[0] + 1 if record.get("duplicate_of") else 0
        if record.get("duplicate_of") and repeats[0] <= max_repeats:
            oracle.max_trials += 1
        written = results.write(tuner)
        worker = record.get("worker")
        log(progress.trial_line(written, trial_id) + (f" [{worker}]" if worker else ""))

    oracle.create_trial, oracle.end_trial = create_trial, end_trial


def _locked(oracle, function, *args):
    return _synchronized(lambda _oracle, *a: function(*a))(oracle, *args)


def serve(tuner, role: Role, directory: Path, log) -> None:
    """Serve the tuner's oracle to the workers (Keras Tuner's `OracleServicer`) until every
    trial is done and no worker is left; hand back the trials of workers that are gone.

    Raises:
        SearchError: the port cannot be listened on.
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer, exit_chief

    oracle = tuner.oracle
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(role.address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise SearchError(f"cannot listen on {role.address}: the port is in use or not "
                          "allowed", hint="give another --port")
    server.start()
    log(f"chief: serving the oracle on {role.address}; start workers with "
        f"`archc search ... --worker --chief-address HOST:{role.port}`")
    try:
        while not (servicer.stop_triggered and exit_chief(oracle)):
            time.sleep(POLL)
            _synchronized(_hand_back)(oracle, directory, log)
    finally:
        server.stop(grace=1)
    _synchronized(_fail_left_over)(oracle)


def _hand_back(oracle, directory: Path, log) -> None:
    """Give the trial of each worker that is gone back to Keras Tuner's retry queue, as
    `Oracle.reload` does with the trials that were running, and forget the worker."""
    changed = False
    for tuner_id in sorted(oracle.tuner_ids | set(oracle.ongoing_trials)):
        if worker_alive(directory, tuner_id):
            continue
        trial = oracle.ongoing_trials.pop(tuner_id, None)
        oracle.tuner_ids.discard(tuner_id)
        changed = True
        if trial is not None:
            oracle._retry_queue.append(trial.trial_id)
            log(f"chief: worker {tuner_id} is gone; trial {trial.trial_id} goes to the next "
                "worker that asks")
    if changed:
        oracle.save()


def _fail_left_over(oracle) -> None:
    """A trial still queued when no worker is left is recorded as failed, with why."""
    while oracle._retry_queue:
        trial = oracle.trials[oracle._retry_queue.pop()]
        trial.status = "FAILED"
        trial.message = ("its worker was lost (killed or cut off) and no worker was left to "
                         "run it again: rerun the chief and a worker to resume it")
        oracle.end_trial(trial)
