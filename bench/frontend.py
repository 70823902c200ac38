"""Front-end timings: parse, graph, space -- per bundled template and on big generated ones.

    python bench/frontend.py [--runs N] [--sizes 100,1000,10000] [--output FILE.md]

Stages, each timed in-process as CPU time (`time.process_time`), the median of N runs after one
warm-up run:

* parse  -- `archc.parse.parse(text)`: text -> AST (the file already read);
* graph  -- `archc.graph.build_graph(path)`: read, parse, imports, block expansion, checks
            (parse included, so graph >= parse);
* count  -- `archc.space.count_configurations(template)` on the built template;
* kt     -- `archc.space.declare_space(template)` into a fresh `keras_tuner.HyperParameters`
            (skipped when keras_tuner is not installed; its import is not timed).

Generated templates (written to a temporary directory), at about 100, 1,000 and 10,000 lines:

* chain  -- one long repeat-free chain, one layer per line: conv2d / batch_norm / relu /
            dropout in turn, every fourth layer with an anonymous choice (filters or rate),
            a third of them with `as` labels; the shape of a plain CNN written out layer by
            layer (the graph grows with the lines, 1 layer and ~0.25 hp a line);
* blocks -- many small blocks (8 lines each: conv, batch norm, an optional SE gate with a
            choice of ratio, a residual? around a conv pair) and a graph that calls each
            block once in one chain with per-call filters; the shape of a big hand-written
            template library (per block: 9 layers, 3 hps).

A last table times build_graph on a three-line template `repeat 1..N { relu }` (N layers, one
int hp with N values), N = 250 .. 2000: the cost of one long repeat range.

The table gives milliseconds, microseconds per line, and for the generated sizes the ratio of
each size's time to the previous one (10x the lines: a ratio near 10 is linear growth). For the
generated templates, parse and graph are timed a second time with Python's cyclic garbage
collector off ("gc off"): the difference is the collector's share, which grows with the heap.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

from archc.graph import build_graph
from archc.parse import parse
from archc.space import count_configurations, declare_space

try:
    from archc.graph import templates_dir
except ImportError:  # moved with the graph split
    from archc.imports import templates_dir

HAVE_KT = importlib.util.find_spec("keras_tuner") is not None


# ---------------------------------------------------------------- generators


def chain_template(lines: int) -> str:
    """A template of about `lines` lines: one chain, one layer a line."""
    head = ["template big_chain", "input image [32, 32, 3]", "param classes = 10",
            "graph {", "  image"]
    tail = ["  -> global_avg_pool2d -> dense(classes) -> softmax", "}",
            "train { optimizer = choice(adam, sgd); learning_rate = choice(1e-3, 1e-4) }"]
    body = []
    for k in range(max(lines - len(head) - len(tail), 1)):
        label = f" as layer{k}" if k % 3 == 0 else ""
        if k % 4 == 0:
            filters = "choice(16, 32, 64)" if k % 8 == 0 else str(16 + 16 * (k % 3))
            body.append(f"  -> conv2d({filters}, 3, padding=same){label}")
        elif k % 4 == 1:
            body.append(f"  -> batch_norm(momentum=0.9){label}")
        elif k % 4 == 2:
            body.append(f"  -> relu{label}")
        else:
            rate = "choice(0.0, 0.1, 0.2)" if k % 8 == 3 else "0.1"
            body.append(f"  -> dropout({rate}){label}")
    return "\n".join(head + body + tail) + "\n"


BLOCK = """block unit{k}(filters, ratio = choice(4, 8)) {{
  x = conv2d(filters, 3, padding=same) -> batch_norm
  y = x -> optional se{k} {{ multiply(in, in -> global_avg_pool2d(keepdims=true)
    -> dense(in.channels // ratio, activation=relu) -> dense(in.channels, activation=sigmoid)) }}
  y -> residual? skip{k} {{ conv2d(in.channels, 3, padding=same, activation=relu)
         -> conv2d(in.channels, 1, padding=same) }}
}}
"""


def blocks_template(lines: int) -> str:
    """A template of about `lines` lines: n blocks of 8 lines, each called once."""
    n = max((lines - 10) // 9, 1)  # 8 lines a block + 1 line for its call
    parts = ["template big_blocks", "input image [16, 16, 3]", "param classes = 10"]
    parts += [BLOCK.format(k=k) for k in range(n)]
    parts += ["graph {", "  image -> conv2d(16, 3, padding=same)"]
    parts += [f"  -> unit{k}({16 + 8 * (k % 4)}) as call{k}" for k in range(n)]
    parts += ["  -> global_avg_pool2d -> dense(classes) -> softmax", "}"]
    return "\n".join(parts) + "\n"


GENERATORS = {"chain": chain_template, "blocks": blocks_template}


def repeat_template(n: int) -> str:
    """Three lines whose graph has n layers: one `repeat 1..n` (an int hp with n values)."""
    return ("template big_repeat\ninput image [8, 8, 3]\n"
            f"graph {{ image -> repeat 1..{n} {{ relu }} }}\n")


# ---------------------------------------------------------------- timing


def median_ms(fn, runs: int, collector: bool = True) -> float:
    """Median CPU time of `fn()` in ms (process time: steadier than wall time on a shared
    machine); `collector=False` runs it with Python's cyclic garbage collector off."""
    fn()  # warm-up
    times = []
    for _ in range(runs):
        gc.collect()
        if not collector:
            gc.disable()
        t0 = time.process_time()
        try:
            fn()
        finally:
            times.append(time.process_time() - t0)
            gc.enable()
    return statistics.median(times) * 1e3


def measure(path: Path, runs: int, without_gc: bool = False) -> dict:
    text = path.read_text(encoding="utf-8")
    row = {"lines": text.count("\n") + (not text.endswith("\n"))}
    row["parse"] = median_ms(lambda: parse(text, str(path)), runs)
    row["graph"] = median_ms(lambda: build_graph(path), runs)
    if without_gc:
        row["parse, gc off"] = median_ms(lambda: parse(text, str(path)), runs, collector=False)
        row["graph, gc off"] = median_ms(lambda: build_graph(path), runs, collector=False)
    template = build_graph(path)
    row["layers"] = sum(1 for _, d in template.graph.nodes(data=True) if d.get("kind") == "op")
    row["hps"] = len(template.hyperparameters)
    row["count"] = median_ms(lambda: count_configurations(template), runs)
    row["kt"] = median_ms(lambda: declare_space(template), runs) if HAVE_KT else None
    return row


def _ms(v) -> str:
    return "-" if v is None else f"{v:,.1f}" if v >= 1 else f"{v:.2f}"


def _us_per_line(v, lines) -> str:
    return "-" if v is None else f"{v * 1e3 / lines:,.0f}"


STAGES = ("parse", "graph", "count", "kt")


def bundled_table(runs: int) -> list[str]:
    paths = sorted(templates_dir().glob("*.arch")) + sorted(templates_dir().glob("blocks/*.arch"))
    out = ["| template | lines | layers | hps | parse ms | graph ms | count ms | kt ms |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for p in paths:
        r = measure(p, runs)
        name = str(p.relative_to(templates_dir()))
        out.append(f"| {name} | {r['lines']} | {r['layers']} | {r['hps']} | "
                   + " | ".join(_ms(r[s]) for s in STAGES) + " |")
        print(out[-1], file=sys.stderr)
    return out


def generated_table(sizes: list[int], runs: int) -> list[str]:
    out = ["| generator | lines | layers | hps | stage | ms | us/line | ratio to previous size |",
           "|---|---:|---:|---:|---|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        for kind, make in GENERATORS.items():
            previous = None
            for size in sizes:
                path = Path(tmp) / f"{kind}_{size}.arch"
                path.write_text(make(size), encoding="utf-8")
                r = measure(path, runs if size < 10_000 else max(1, runs // 2), without_gc=True)
                for stage in STAGES + ("parse, gc off", "graph, gc off"):
                    v = r[stage]
                    ratio = "-"
                    if previous is not None and v is not None and previous[stage]:
                        more = r["lines"] / previous["lines"]
                        ratio = f"{v / previous[stage]:.1f} (lines x{more:.1f})"
                    out.append(f"| {kind} | {r['lines']:,} | {r['layers']:,} | {r['hps']:,} | "
                               f"{stage} | {_ms(v)} | {_us_per_line(v, r['lines'])} | {ratio} |")
                    print(out[-1], file=sys.stderr)
                previous = r
    return out


def repeat_table(counts: list[int], runs: int) -> list[str]:
    out = ["| repeat 1..N | layers | graph ms | us/layer | ratio to previous N |",
           "|---:|---:|---:|---:|---:|"]
    previous = None
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            path = Path(tmp) / f"repeat_{n}.arch"
            path.write_text(repeat_template(n), encoding="utf-8")
            ms = median_ms(lambda path=path: build_graph(path), runs)
            ratio = "-" if previous is None else f"{ms / previous[1]:.1f} (N x{n / previous[0]:g})"
            out.append(f"| {n:,} | {n:,} | {_ms(ms)} | {ms * 1e3 / n:,.0f} | {ratio} |")
            print(out[-1], file=sys.stderr)
            previous = (n, ms)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--sizes", default="100,1000,10000", help="generated template lines")
    parser.add_argument("--output", type=Path, help="also write the Markdown here")
    parser.add_argument("--repeats", default="125,250,500,1000",
                        help="N of the `repeat 1..N` rows (empty: none)")
    parser.add_argument("--skip-bundled", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if HAVE_KT:
        import keras_tuner  # noqa: F401 - imported before the timings: its import is not timed
    report = [f"# Front-end timings (median of {args.runs} runs after a warm-up, in ms)", ""]
    if not args.skip_bundled:
        report += ["## Bundled templates", ""] + bundled_table(args.runs) + [""]
    report += ["## Generated templates", ""] + generated_table(sizes, args.runs) + [""]
    if args.repeats:
        counts = [int(s) for s in args.repeats.split(",")]
        report += ["## One repeat range", ""] + repeat_table(counts, min(args.runs, 3)) + [""]
    if not HAVE_KT:
        report.append("keras_tuner is not installed: the kt column is empty.")
    text = "\n".join(report)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
