"""`archc search ... --workers N` -> a chief and N workers of the same search, started as
processes of this host on 127.0.0.1 and a free port, their lines shown as one view (each
prefixed with its process's name), until the search ends.

Ctrl-C stops them all: each gets one SIGINT (they run in sessions of their own, so the
terminal's goes to this process alone) and ends as an interrupted search does; a process
still running after `GRACE` seconds is killed. The processes die with this one even if it is
killed (Linux's parent-death signal), so none is left behind.

Imports neither TensorFlow nor Keras Tuner: the processes do.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
import sys
import threading
import time

GRACE = 15.0  # seconds a process has to end after it is told to
_DROPPED = {"--workers": 1, "--overwrite": 0, "--extend": 0}  # options a worker does not take


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def without(argv: list[str], options: dict[str, int]) -> list[str]:
    """`argv` without `options` (name -> the number of values it takes), in either spelling.

    >>> without(["t.arch", "--workers", "2", "--overwrite", "--workers=3", "--dir", "d"],
    ...         {"--workers": 1, "--overwrite": 0})
    ['t.arch', '--dir', 'd']
    """
    out, skip = [], 0
    for arg in argv:
        name = arg.partition("=")[0]
        if skip:
            skip -= 1
        elif name in options:
            skip = 0 if "=" in arg else options[name]
        else:
            out.append(arg)
    return out


def commands(argv: list[str], workers: int, port: int) -> dict[str, list[str]]:
    """The chief's and each worker's `archc search` command line, by process name."""
    base = [sys.executable, "-m", "archc", "search"]
    chief = [*base, *without(argv, {"--workers": 1}), "--chief", "--bind", "127.0.0.1",
             "--port", str(port)]
    out = {"chief": chief}
    for i in range(workers):
        out[f"worker{i}"] = [*base, *without(argv, _DROPPED), "--worker", "--chief-address",
                             f"127.0.0.1:{port}", "--worker-id", f"worker{i}"]
    return out


def _die_with_parent() -> None:
    """In the child, before it runs: SIGTERM when the parent dies (Linux's
    PR_SET_PDEATHSIG), so that no process outlives a launcher killed with -9."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def _start(name: str, command: list[str], log) -> tuple[subprocess.Popen, threading.Thread]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, text=True, bufsize=1,
                               start_new_session=True, preexec_fn=_die_with_parent)

    def relay():
        for line in process.stdout:
            log(f"{name:>8} | {line.rstrip()}")

    thread = threading.Thread(target=relay, daemon=True)
    thread.start()
    return process, thread


def launch(argv: list[str], workers: int, log=print) -> int:
    """Run the search of `argv` (an `archc search` command line without the program) as a
    chief and `workers` workers; return the chief's exit status (1 when every worker ended
    before the search did, 130 on Ctrl-C)."""
    port = free_port()
    log(f"launch: a chief and {workers} workers on 127.0.0.1:{port}")
    started = {name: _start(name, command, log)
               for name, command in commands(argv, workers, port).items()}
    processes = {name: process for name, (process, _) in started.items()}
    try:
        status = _wait(processes, log)
    except KeyboardInterrupt:
        log("launch: interrupted: stopping the chief and the workers")
        status = 130
    finally:
        stop(processes)
        for _, thread in started.values():
            thread.join(timeout=5)
    return status


def _wait(processes: dict[str, subprocess.Popen], log) -> int:
    """Wait for the chief; report each worker that ends on its own before it."""
    chief = processes["chief"]
    failed: set[str] = set()
    while chief.poll() is None:
        ended = {name: p.returncode for name, p in processes.items()
                 if name != "chief" and p.poll() is not None}
        for name in sorted(set(ended) - failed):
            if ended[name] != 0:  # a worker that ends well was told the search is over
                failed.add(name)
                log(f"launch: {name} ended with status {_spell(ended[name])}")
        if failed and len(ended) == len(processes) - 1:
            log("launch: no worker is left to end the search: rerun the same command to "
                "resume it")
            return 1
        time.sleep(0.2)
    _wait_for_workers(processes)
    return chief.returncode


def _wait_for_workers(processes: dict[str, subprocess.Popen]) -> None:
    """Once the chief ended, the workers end on their own (the chief said there is no trial
    left), or are stopped by `stop`."""
    deadline = time.monotonic() + GRACE
    while time.monotonic() < deadline and any(p.poll() is None for p in processes.values()):
        time.sleep(0.2)


def stop(processes: dict[str, subprocess.Popen]) -> None:
    """SIGINT to each process still running, then SIGKILL after `GRACE` seconds."""
    running = [p for p in processes.values() if p.poll() is None]
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + GRACE
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _spell(status: int) -> str:
    return f"{status} (signal {-status})" if status < 0 else str(status)
