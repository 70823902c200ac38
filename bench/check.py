"""`archc check FILE` wall and CPU time per bundled template, against an earlier commit.

    python bench/check.py [--runs N] [--against REF] [--bytecode] [--imports]
        [--output FILE.md] [FILE...]

Each run is a new process, `.venv/bin/archc check FILE` (the console script, as a user types
it), timed from outside: wall time (`time.perf_counter` around the process) and CPU time
(the child's user + system time). With `--against REF` the same command runs the code of
commit REF too (`git archive REF` into a temporary folder, put first on PYTHONPATH as
`archc`), alternating with the current code run by run, so that both see the same load of a
shared machine; the table gives both medians and their ratio. One untimed run of each comes
first (for a commit that still used Lark's cache, it builds the parser tables). Without
FILE: every bundled template and block library. `--imports` adds a table of what the imports
alone cost, each in a new process the same way: the interpreter, networkx (which `archc
check` cannot do without), lark and pydantic (which it no longer imports: lark only
generates `compiler/lalr.py`, and only `archc search` loads pydantic) and archc's command
line. `--bytecode` compiles both trees' modules first (`compileall`), as installing archc
with pip does; without it, a machine with `PYTHONDONTWRITEBYTECODE=1` (this workplace's)
compiles archc's modules from source on every run.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARCHC = ROOT / ".venv" / "bin" / "archc"


def bundled() -> list[Path]:
    folder = ROOT / "templates"
    return sorted([*folder.glob("*.arch"), *folder.glob("blocks/*.arch")])


def checkout(ref: str, into: Path) -> dict[str, str]:
    """The environment that runs commit `ref`'s archc: its compiler/ as `archc` on PYTHONPATH."""
    source = into / "src"
    source.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    (into / "path").mkdir()
    (into / "path" / "archc").symlink_to(source / "compiler")
    return {**os.environ, "PYTHONPATH": str(into / "path")}


IMPORTS = {
    "python -c pass": "pass",
    "import lark": "import lark",
    "from pydantic import BaseModel": "from pydantic import BaseModel",
    "import networkx": "import networkx",
    "lark and networkx": "import lark, networkx",
    "import archc.cli": "import archc.cli",
}


def timed(path: Path, env: dict[str, str] | None, command: list[str] | None = None
          ) -> tuple[float, float]:
    """Wall and CPU seconds of one `archc check path` (or of `command`)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command or [str(ARCHC), "check", str(path)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(path: Path, runs: int, variants: dict[str, dict | None]) -> dict[str, list]:
    """`runs` timings of each variant, alternating, after one untimed run of each."""
    times: dict[str, list] = {name: [] for name in variants}
    for env in variants.values():
        timed(path, env)
    for _ in range(runs):
        for name, env in variants.items():
            times[name].append(timed(path, env))
    return times


def row(path: Path, times: dict[str, list]) -> str:
    medians = {name: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t))
               for name, t in times.items()}
    cells = [f"{w * 1000:.0f} | {c * 1000:.0f}" for w, c in medians.values()]
    if len(medians) == 2:
        (bw, bc), (nw, nc) = medians.values()
        cells.append(f"{nw / bw:.2f} | {nc / bc:.2f}")
    return f"| {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} | " \
        + " | ".join(cells) + " |"


def header(names: list[str]) -> str:
    cols = [f"{n} wall ms | {n} CPU ms" for n in names]
    if len(names) == 2:
        cols.append("wall ratio | CPU ratio")
    head = "| file | " + " | ".join(cols) + " |"
    return head + "\n|---|" + "---:|" * (head.count("|") - 2)


def import_table(runs: int) -> str:
    python = str(ROOT / ".venv" / "bin" / "python")
    lines = ["| imports | wall ms | CPU ms |", "|---|---:|---:|"]
    for name, code in IMPORTS.items():
        times = [timed(ROOT, None, [python, "-c", code]) for _ in range(runs + 1)][1:]
        lines.append(f"| `{name}` | {statistics.median(w for w, _ in times) * 1000:.0f} | "
                     f"{statistics.median(c for _, c in times) * 1000:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", metavar="REF", help="a commit to compare with")
    parser.add_argument("--imports", action="store_true", help="also time the imports alone")
    parser.add_argument("--bytecode", action="store_true",
                        help="compile both trees' modules first, as `pip install` does")
    parser.add_argument("--output", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        variants: dict[str, dict | None] = {}
        if args.against:
            variants[args.against] = checkout(args.against, Path(tmp))
        variants["now"] = None
        if args.bytecode:
            for tree in (ROOT / "compiler", Path(tmp) / "src" / "compiler"):
                if tree.is_dir():
                    compileall.compile_dir(tree, quiet=1)
        lines = [header(list(variants))]
        for path in args.files or bundled():
            lines.append(row(path.resolve(), measure(path, args.runs, variants)))
            print(lines[-1], file=sys.stderr, flush=True)
    table = "\n".join(lines) + "\n"
    if args.imports:
        table += "\n" + import_table(args.runs)
    print(table, end="")
    if args.output:
        args.output.write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
