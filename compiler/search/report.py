"""A search's results directory -> its report: the leaderboard, the chosen micro-architectures
of the top trials (the paper's Tables 3, 4, 13 and 16), the Pareto front of objective against
model size (drawn by `plot.py`, the paper's Fig. 18), and the drawing of one trial.

Reads results.json through `results.load_results`. Never imports TensorFlow, Keras or
matplotlib.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import networkx as nx

from .. import pipeline
from ..diagnostics import ArchError, ArchErrors, clip, did_you_mean
from ..draw import architecture_to_dot, quote, template_highlight_dot
from ..hyper import holds
from ..resolve import active_values
from ..text import plural
from .errors import ReportError
from .pareto import front, hypervolume, minimised
from .results import (
    ResultsFile,
    TrialRow,
    load_results,
    load_template,
    objective,
    objectives,
    score,
    spell,
    template_ref,
    tested_metric,
    value,
)

INACTIVE = "-"
SIZES = ("bytes", "params")


# ---------------------------------------------------------------- reading


def ranked(results: ResultsFile) -> list[TrialRow]:
    """The trials that have a score, best first (ties: the smaller model, then the trial id)."""
    name, direction = objective(results)
    sign = -1.0 if direction == "max" else 1.0
    scored = [t for t in results["trials"]
              if score(t, name) is not None and not t.get("duplicate_of")]  # trained once
    return sorted(scored, key=lambda t: (sign * score(t, name), _size(t, "params") or 0,
                                         str(t.get("trial_id"))))


def find_trial(results: ResultsFile, trial_id: str) -> TrialRow:
    """The trial of that id (`7` finds `07`).

    Raises:
        ReportError: no such trial (with a did-you-mean hint).
    """
    ids = [str(t.get("trial_id")) for t in results["trials"]]
    for tid, trial in zip(ids, results["trials"], strict=True):
        if tid == trial_id or (tid.isdigit() and trial_id.isdigit() and int(tid) == int(trial_id)):
            return trial
    hint = did_you_mean(trial_id, ids) or (f"the trials are {_id_list(ids)}" if ids else
                                           "the search has not recorded a trial yet")
    raise ReportError(f"no trial '{trial_id}' in these results", hint=hint)


def _id_list(ids: list[str]) -> str:
    return ", ".join(ids) if len(ids) <= 12 else ", ".join(ids[:10]) + f", ... {ids[-1]}"


def trial_choices(trial: TrialRow) -> dict:
    """The trial's active choices.

    Raises:
        ReportError: the trial recorded none.
    """
    choices = trial.get("choices")
    if not isinstance(choices, dict):
        status = trial.get("status") or "unknown status"
        raise ReportError(f"trial {trial.get('trial_id')} ({status}) has no recorded choices",
                          hint=trial.get("reason") or None)
    return choices


def _size(trial: TrialRow, key: str) -> int | None:
    value = trial.get(key)
    return value if isinstance(value, (int, float)) and value > 0 else None


# ---------------------------------------------------------------- the template


def _template_or_none(results: ResultsFile, directory: str | Path):
    try:
        source = pipeline.read(recorded_template(results, directory))
        return load_template(results, directory, source=source)
    except (ArchError, ArchErrors, ReportError):
        return None


def recorded_template(results: ResultsFile, directory: str | Path) -> str:
    """`template_ref`, where it names an `.arch` file or a bundled template: a results
    directory is data, and never makes archc read (and quote) any other file.

    Raises:
        ReportError: it names something else.
    """
    ref = template_ref(results, directory)
    path = Path(ref)
    bundled = pipeline.find(ref)
    if path.parent == Path(".") and path.suffix == "" and bundled.is_file() \
            and bundled.resolve().is_relative_to(pipeline.templates_dir().resolve()):
        return ref
    resolved = path.resolve()
    if resolved.suffix != ".arch" or not resolved.is_file():
        raise ReportError(f"{Path(directory) / 'results.json'} names '{clip(ref, 80)}' as its "
                          "template, which is neither an .arch file nor a bundled template",
                          hint="give the template: archc dot FILE --trial DIR ID")
    return ref


def block_summary(template, choices: dict) -> dict:
    """The blocks a configuration uses: how many of each innermost block whose number the
    choices decide, and after which instance of another block each one that an `optional`
    inserts sits, e.g. `{"blocks": {"fire": 4, "se": 2}, "at": {"se": ["fire1", "fire3"]}}`
    (instances numbered from 1 in the order the network runs through them)."""
    chosen = active_values(template, choices)
    clusters = template.clusters
    leaves = _leaf_blocks(clusters)
    varies = {clusters[c]["block"] for c in leaves if clusters[c]["condition"]}
    counts: dict[str, int] = {}
    at: dict[str, list[str]] = {}
    host = None
    for cid in _block_instances(template.graph, clusters, leaves, chosen, holds):
        block = clusters[cid]["block"]
        counts[block] = counts.get(block, 0) + 1
        if not _inserted(clusters, cid):
            host = f"{block}{counts[block]}"
        elif host is not None:
            at.setdefault(block, []).append(host)
    return {"blocks": {b: n for b, n in counts.items() if b in varies},
            "at": {b: hosts for b, hosts in at.items() if b in varies}}


def _leaf_blocks(clusters: dict) -> set[str]:
    blocks = {cid for cid, info in clusters.items() if info["kind"] == "block"}
    inner = set()
    for cid in blocks:
        parent = clusters[cid]["parent"]
        while parent is not None:
            inner.add(parent)
            parent = clusters[parent]["parent"]
    return blocks - inner


def _block_instances(g, clusters: dict, leaves: set, chosen: dict, holds) -> list[str]:
    """The live leaf block clusters in the order the network runs through them."""
    live = g.subgraph(n for n, d in g.nodes(data=True) if holds(d["condition"], chosen))
    index = {n: i for i, n in enumerate(g.nodes)}
    seen: list[str] = []
    for node in nx.lexicographical_topological_sort(live, key=index.get):
        cid = _nearest_block(clusters, g.nodes[node].get("cluster"))
        if cid in leaves and cid not in seen and holds(clusters[cid]["condition"], chosen):
            seen.append(cid)
    return seen


def _nearest_block(clusters: dict, cid: str | None) -> str | None:
    while cid is not None and clusters[cid]["kind"] != "block":
        cid = clusters[cid]["parent"]
    return cid


def _inserted(clusters: dict, cid: str) -> bool:
    """Whether the block sits inside an `optional` within its enclosing block."""
    parent = clusters[cid]["parent"]
    while parent is not None and clusters[parent]["kind"] != "block":
        if clusters[parent]["kind"] == "optional":
            return True
        parent = clusters[parent]["parent"]
    return False


# ---------------------------------------------------------------- the report


def pareto(trials: list[dict], name: str, direction: str, size: str) -> list[dict]:
    """The trials no other trial beats on both the objective and the model size, smallest
    first. A trial without a score or a size is not on it, nor a duplicate (its original
    is)."""
    sign = -1.0 if direction == "max" else 1.0
    points = [t for t in trials
              if score(t, name) is not None and _size(t, size) and not t.get("duplicate_of")]
    points.sort(key=lambda t: (_size(t, size), sign * score(t, name), str(t.get("trial_id"))))
    front, best = [], math.inf
    for t in points:
        if sign * score(t, name) < best:
            front.append(t)
            best = sign * score(t, name)
    return front


def front_axes(results: ResultsFile, size: str) -> list[tuple[str, str]]:
    """The objectives of the report's Pareto front, (name, direction) each: those of a search
    with several, else its objective and the model size."""
    given = objectives(results)
    return given if len(given) > 1 else [objective(results), (size, "min")]


def axis_values(trial: TrialRow, axes: list[tuple[str, str]], name: str) -> dict | None:
    """{axis: the trial's value} (`name`: the search's objective, read as `score` reads it);
    None if it lacks one."""
    values = {}
    for axis, _ in axes:
        found = score(trial, axis) if axis == name else (
            _size(trial, axis) if axis in SIZES else value(trial, axis))
        if found is None:
            return None
        values[axis] = float(found)
    return values


def multi_front(points: list[dict], axes: list[tuple[str, str]]) -> list[dict]:
    """The points (with their `values`) on the Pareto front of `axes`, in trial order; equal
    points are all on it."""
    coords = [tuple(minimised(p["values"][a], way) for a, way in axes) for p in points]
    return sorted((points[i] for i in front(coords)), key=lambda p: _trial_order(p["trial_id"]))


def _trial_order(trial_id: str) -> tuple:
    return (0, int(trial_id), "") if trial_id.isdigit() else (1, 0, trial_id)


def nadir(points: list[dict], axes: list[tuple[str, str]]) -> dict | None:
    """The hypervolume's reference point: each axis's worst value among the points."""
    if not points:
        return None
    worst = {}
    for a, way in axes:
        values = [p["values"][a] for p in points]
        worst[a] = min(values) if way == "max" else max(values)
    return worst


def front_volume(points: list[dict], axes: list[tuple[str, str]],
                 reference: dict | None) -> float | None:
    """The hypervolume that the points dominate up to `reference` (in the axes' units)."""
    if reference is None:
        return None
    ref = tuple(minimised(reference[a], way) for a, way in axes)
    return hypervolume([tuple(minimised(p["values"][a], way) for a, way in axes)
                        for p in points], ref)


def common_reference(reports: list[dict]) -> list[dict]:
    """Several reports of searches with the same front axes: each one's hypervolume again,
    with the reference point of all of their points (so that they compare)."""
    axes = reports[0]["axes"]
    if len(reports) < 2 or any(r["axes"] != axes for r in reports):
        return reports
    everything = [p for r in reports for p in r["points"] if p.get("values")]
    reference = nadir(everything, [tuple(a) for a in axes])
    for r in reports:
        front_points = [p for p in r["points"] if p["trial_id"] in set(r["pareto"])]
        r["hypervolume"] = {"value": front_volume(front_points, [tuple(a) for a in axes],
                                                  reference), "reference": reference}
    return reports


def build_report(directory: str | Path, top: int = 5, size: str = "bytes") -> dict:
    """The report of one results directory, as `archc report --json` prints it.

    Args:
        directory: the search's `--dir`.
        top: how many of the best trials to list.
        size: the model size the Pareto front minimises, 'bytes' or 'params'.
    Returns:
        `{"objective", "leaderboard", "pareto", "choices", ...}`.
    Raises:
        ReportError: the directory holds no readable results.
    """
    results = load_results(directory)
    name, direction = objective(results)
    best = ranked(results)
    leaders = best[:top]
    template = _template_or_none(results, directory)
    axes = front_axes(results, size)
    points = [{"trial_id": str(t["trial_id"]), "score": score(t, name),
               "params": _size(t, "params"), "bytes": _size(t, "bytes"),
               "values": axis_values(t, axes, name)} for t in best]
    valued = [p for p in points if p["values"] is not None]
    on_front = multi_front(valued, axes) if len(objectives(results)) > 1 else \
        pareto(best, name, direction, size)
    members = [str(t["trial_id"]) for t in on_front]
    reference = nadir(valued, axes)
    report = {
        "dir": str(directory), "template": results.get("template"), "data": results.get("data"),
        "tuner": results.get("tuner"), "seed": results.get("seed"),
        "objective": {"name": name, "direction": direction}, "size": size,
        "objectives": [{"name": n, "direction": d} for n, d in objectives(results)],
        "axes": [list(a) for a in axes],
        "counts": _counts(results["trials"]),
        "leaderboard": [_entry(i, t, name) for i, t in enumerate(leaders, 1)],
        "pareto": members,
        "hypervolume": {"value": front_volume([p for p in valued if p["trial_id"] in members],
                                              axes, reference), "reference": reference},
        "choices": {str(t["trial_id"]): t.get("choices") or {} for t in leaders},
        "order": _hp_order(results, template, leaders),
        "failed": [{"trial_id": str(t.get("trial_id")), "status": t.get("status"),
                    "reason": t.get("reason")} for t in results["trials"]
                   if t.get("status") in ("FAILED", "INVALID")],
        "stopped": [{k: t.get(k) for k in ("trial_id", "status", "stopped", "stopped_epoch",
                                           "reason")} for t in results["trials"]
                    if t.get("stopped")],
        "points": points,
    }
    if template is not None:
        report["defaults"] = _defaults(template)
        report["blocks"] = {tid: _blocks_or_none(template, c)
                            for tid, c in report["choices"].items()}
        report["default_blocks"] = _blocks_or_none(template, report["defaults"])
    return report


def _counts(trials: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in trials:
        status = str(t.get("status") or "UNKNOWN")
        counts[status] = counts.get(status, 0) + 1
    return counts


def _entry(rank: int, trial: TrialRow, name: str) -> dict:
    keys = ("status", "params", "bytes", "flops", "epochs", "seconds", "metrics", "test",
            "model")
    return {"rank": rank, "trial_id": str(trial["trial_id"]), "score": score(trial, name),
            **{k: trial.get(k) for k in keys}}


def _hp_order(results: ResultsFile, template, trials: list[dict]) -> list[str]:
    """Hyperparameter names in the template's order (else results.json's), then any others."""
    names = [h.name for h in template.hyperparameters] if template is not None else []
    names += list(results.get("defaults") or {})
    for t in trials:
        names += list(t.get("choices") or {})
    return list(dict.fromkeys(names))


def _defaults(template) -> dict:
    return active_values(template)


def _blocks_or_none(template, choices: dict) -> dict | None:
    try:
        return block_summary(template, choices)
    except (ArchError, ArchErrors, KeyError):
        return None


# ---------------------------------------------------------------- text


def format_report(report: dict) -> str:
    """The report as text: a header, the leaderboard, the table of choices, the front."""
    parts = [_header(report), _leaderboard(report)]
    if report["leaderboard"]:
        parts += [_choice_table(report), _front_line(report)]
    if report.get("stopped"):
        parts.append(_stopped(report["stopped"]))
    if report["failed"]:
        parts.append(_failures(report["failed"]))
    return "\n\n".join(parts)


def _header(r: dict) -> str:
    obj = r["objective"]
    tuner = f"{r['tuner']} search" if r.get("tuner") else "search"
    seed = f" (seed {r['seed']})" if r.get("seed") is not None else ""
    data = f" on {r['data']}" if r.get("data") else ""
    counts = ", ".join(f"{n} {s.lower()}" for s, n in r["counts"].items()) or "no trials"
    return (f"{r['dir']}: {r.get('template') or 'template ?'}{data}, {tuner}{seed}\n"
            f"objective {obj['name']} ({obj['direction']}); trials: {counts}")


def _leaderboard(r: dict) -> str:
    name = r["objective"]["name"]
    if not r["leaderboard"]:
        return "leaderboard: no trial has a score yet"
    tested = tested_metric(name)
    shown = any(tested in (e.get("test") or {}) for e in r["leaderboard"])
    head = ["rank", "trial", name, *([f"test {tested}"] if shown else []), "params", "bytes",
            "epochs", "seconds"]
    rows = [[str(e["rank"]), e["trial_id"], _num(e["score"]),
             *([_num((e.get("test") or {}).get(tested))] if shown else []), _int(e["params"]),
             _int(e["bytes"]), _int(e["epochs"]), _secs(e["seconds"])] for e in r["leaderboard"]]
    title = f"leaderboard: the top {len(rows)} of {len(r['points'])} scored trials by {name}"
    if shown:
        title += " (test: the kept models on the test split)"
    return title + "\n" + _table([head, *rows], right=range(2, len(head)))


def _choice_table(r: dict) -> str:
    leaders = r["leaderboard"]
    ids = [e["trial_id"] for e in leaders]
    columns = [r["choices"][tid] for tid in ids]
    defaults = r.get("defaults")
    head = ["", *[f"r{e['rank']}" for e in leaders]] + (["default"] if defaults else [])
    rows = [head, ["trial", *ids] + ([""] if defaults else []),
            [r["objective"]["name"], *[_num(e["score"]) for e in leaders]]
            + ([""] if defaults else [])]
    rows += _block_rows(r, ids, defaults is not None)
    hidden = 0
    for label, name in _labelled(r["order"]):
        if name is None:
            rows.append([label] + [""] * (len(head) - 1))
            continue
        cells = [_cell(c.get(name, None)) for c in columns]
        if all(c == INACTIVE for c in cells):
            hidden += 1
            continue
        rows.append([label, *cells] + ([_cell(defaults.get(name))] if defaults else []))
    rows = _drop_empty_headers(rows, 3)
    note = f"; {hidden} hyperparameters inactive in all of them left out" if hidden else ""
    return (f"the choices of the top {len(ids)} ({INACTIVE} = inactive{note})\n"
            + _table(rows))


def _block_rows(r: dict, ids: list[str], with_default: bool) -> list[list[str]]:
    """Rows of derived facts: `fire blocks 4`, `se at fire1,fire3`."""
    blocks = r.get("blocks") or {}
    summaries = [blocks.get(tid) for tid in ids]
    if with_default:
        summaries.append(r.get("default_blocks"))
    if not any(summaries):
        return []
    summaries = [s or {"blocks": {}, "at": {}} for s in summaries]
    names = list(dict.fromkeys(b for s in summaries for b in s["blocks"]))
    inserted = list(dict.fromkeys(b for s in summaries for b in s["at"]))
    rows = [[f"{b} blocks", *[str(s["blocks"].get(b, 0)) for s in summaries]] for b in names]
    rows += [[f"{b} at", *[_compact(s["at"].get(b, [])) for s in summaries]] for b in inserted]
    return rows


def _compact(places: list[str]) -> str:
    """`fire1,fire2,fire3,fire5` -> `fire1-3,5` (a block's instances, numbered runs joined).

    >>> _compact(["fire1", "fire2", "fire3", "fire5", "se1"])
    'fire1-3,5 se1'
    """
    by_block: dict[str, list[int]] = {}
    for place in places:
        block, number = re.fullmatch(r"(.*?)(\d+)", place).groups()
        by_block.setdefault(block, []).append(int(number))
    return " ".join(block + ",".join(_runs(numbers)) for block, numbers in by_block.items()) \
        or INACTIVE


def _runs(numbers: list[int]) -> list[str]:
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return [f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(map(str, r)) for r in runs]


def _labelled(order: list[str]):
    """(label, hp name) per row, nested under the hyperparameter whose name prefixes it, one
    header row (name None) per sub-path, e.g. `group1`, `  rep0`, `    first/use_se`."""
    names = set(order)
    indent: dict[str, int] = {}
    headers: set[str] = set()
    for name in order:
        parent = _parent_hp(name, names)
        if parent is None:
            indent[name] = 0
            yield name, name
            continue
        depth = indent[parent] + 2
        head, _, tail = name[len(parent) + 1:].partition("/")
        if tail:
            if (parent, head) not in headers:
                headers.add((parent, head))
                yield " " * depth + head, None
            depth += 2
        indent[name] = depth
        yield " " * depth + (tail or head), name


def _parent_hp(name: str, names: set[str]) -> str | None:
    parts = name.split("/")
    for i in range(len(parts) - 1, 0, -1):
        prefix = "/".join(parts[:i])
        if prefix in names:
            return prefix
    return None


def _drop_empty_headers(rows: list[list[str]], start: int) -> list[list[str]]:
    """Header rows (no cells) that head no deeper row are dropped."""
    out = rows[:start]
    for i, row in enumerate(rows[start:], start):
        nxt = rows[i + 1] if i + 1 < len(rows) else None
        if any(row[1:]) or (nxt is not None and _depth(nxt[0]) > _depth(row[0])):
            out.append(row)
    return out


def _depth(label: str) -> int:
    return len(label) - len(label.lstrip(" "))


def _front_line(r: dict) -> str:
    if len(r.get("objectives") or ()) > 1:
        return _multi_front_line(r)
    obj = r["objective"]
    better = "max" if obj["direction"] == "max" else "min"
    by_id = {p["trial_id"]: p for p in r["points"]}
    items = [f"{tid} ({_num(by_id[tid]['score'])}, {_int(by_id[tid][r['size']])} {r['size']})"
             for tid in r["pareto"]]
    return (f"Pareto front ({better} {obj['name']}, min {r['size']}), smallest first:\n  "
            + ("\n  ".join(items) if items else "no trial has both a score and a size")
            + _volume_line(r))


def _multi_front_line(r: dict) -> str:
    """The front of a search with several objectives: one line a member, its values."""
    axes = [tuple(a) for a in r["axes"]]
    by_id = {p["trial_id"]: p for p in r["points"]}
    items = [f"{tid} (" + ", ".join(f"{a} {_value(by_id[tid]['values'][a], a)}"
                                    for a, _ in axes) + ")" for tid in r["pareto"]]
    head = ", ".join(f"{way} {a}" for a, way in axes)
    return (f"Pareto front ({head}): {plural(len(items), 'trial')}\n  "
            + ("\n  ".join(items) if items else "no trial has a value of every objective")
            + _volume_line(r))


def _volume_line(r: dict) -> str:
    """`hypervolume 12.3 (reference: the worst of each: ...)`."""
    volume = r.get("hypervolume") or {}
    if volume.get("value") is None:
        return ""
    ref = ", ".join(f"{a} {_value(v, a)}" for a, v in volume["reference"].items())
    return (f"\nhypervolume {volume['value']:.6g} (reference point: the worst value of each "
            f"objective among the scored trials: {ref})")


def _value(v: float, axis: str) -> str:
    return _int(v) if axis in ("params", "bytes", "flops") else _num(v)


def _failures(failed: list[dict]) -> str:
    lines = [f"  {f['trial_id']}  {f['status']}"
             + (f": {_one_line(f['reason'])}" if f.get("reason") else "") for f in failed]
    return "trials without a result:\n" + "\n".join(lines)


def _stopped(stopped: list[dict]) -> str:
    lines = [f"  {s['trial_id']}  {s['stopped']} in epoch {s['stopped_epoch']}"
             + (f": {_one_line(s['reason'])}" if s.get("reason") else "") for s in stopped]
    return "trials stopped early:\n" + "\n".join(lines)


def _one_line(text: str, width: int = 100) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 3] + "..."


def _table(rows: list[list[str]], right=()) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = set(right)
    lines = []
    for row in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _cell(value) -> str:
    """A choice in the table: `-` when inactive, a long float shortened."""
    if value is None:
        return INACTIVE
    if isinstance(value, float) and len(repr(value)) > 8:
        return f"{value:.6g}"
    return spell(value)


def _num(value) -> str:
    return INACTIVE if value is None else f"{value:.4f}"


def _int(value) -> str:
    return INACTIVE if not isinstance(value, (int, float)) else f"{int(value):,}"


def _secs(value) -> str:
    return INACTIVE if not isinstance(value, (int, float)) else f"{value:.1f}"


def to_json(reports: list[dict]) -> dict:
    """What `--json` prints: the one report's object; for several directories, their objects
    and the Pareto front over all of them."""
    def public(r):
        return {k: v for k, v in r.items() if k not in ("order", "points")}

    if len(reports) == 1:
        return public(reports[0])
    return {"runs": [public(r) for r in reports],
            "pareto": [{"dir": r["dir"], "trial_id": p["trial_id"]}
                       for r, p in joint_front(reports)]}


def joint_front(reports: list[dict]) -> list[tuple[dict, dict]]:
    """The Pareto front over several runs' trials (one objective, the first run's)."""
    obj = reports[0]["objective"]
    size = reports[0]["size"]
    tagged = [dict(p, _run=i) for i, r in enumerate(reports) for p in r["points"]]
    front = pareto(tagged, obj["name"], obj["direction"], size)
    return [(reports[p["_run"]], p) for p in front]


# ---------------------------------------------------------------- one trial drawn


def trial_dot(directory: str | Path, trial_id: str, template: str | None = None,
              settings: dict | None = None) -> str:
    """DOT text of one trial: its architecture (`architecture_to_dot`), or, when `template`
    is given, that template with the trial's path highlighted (`template_highlight_dot`).

    Args:
        directory: the search's results directory.
        trial_id: the trial's id as results.json has it (`7` finds `07`).
        template: a template path or name to highlight the trial's path on.
        settings: values for the template's params (`--set`), e.g. `{"classes": 3}`.
    Raises:
        ReportError: no results, no such trial, a trial without choices, or a setting that
            is a hyperparameter (the trial fixes those).
        ArchError: the template cannot be loaded or does not take the trial's choices.
    """
    results = load_results(directory)
    trial = find_trial(results, trial_id)
    choices = trial_choices(trial)
    source = pipeline.read(template or recorded_template(results, directory))
    params = _params_only(source, settings or {})
    loaded = load_template(results, directory, template, params, source)
    title = _trial_title(results, directory, trial)
    if template is not None:
        _warn_other_template(loaded, results)
        return _retitle(template_highlight_dot(loaded, active_values(loaded, choices)), title)
    arch = loaded.resolve(choices)
    _warn_other_size(arch, trial)
    return _retitle(architecture_to_dot(arch), title)


def trial_architecture(directory: str | Path, trial_id: str):
    """The architecture of trial `trial_id` of the search in `directory` (its template with
    the recorded params and inputs, resolved at the trial's choices).

    Raises:
        ReportError: no results, no such trial, or a trial without choices.
    """
    results = load_results(directory)
    choices = trial_choices(find_trial(results, trial_id))
    return load_template(results, directory).resolve(choices)


def _params_only(source, settings: dict) -> dict:
    params, hp_values = pipeline.split(pipeline.param_names(source), settings)
    if hp_values:
        raise ReportError(f"--set {next(iter(hp_values))}=...: the trial fixes its "
                          "hyperparameters", hint="with --trial, --set gives template params only")
    return params


def _trial_title(results: ResultsFile, directory, trial: TrialRow) -> str:
    name = objective(results)[0]
    value = score(trial, name)
    shown = f": {name} {value:.4f}" if value is not None else f" ({trial.get('status')})"
    return f"trial {trial['trial_id']} of {directory}{shown}"


def _retitle(text: str, line: str) -> str:
    """Put `line` first in the drawing's title."""
    return text.replace('\n  label="', '\n  label="' + quote(line)[1:-1] + "\\l", 1)


def _warn_other_template(template, results: ResultsFile) -> None:
    if results.get("template") and template.name != results["template"]:
        print(f"warning: the trial comes from a search of {results['template']}; drawing its "
              f"choices on {template.name}", file=sys.stderr)


def _warn_other_size(arch, trial: TrialRow) -> None:
    drawn, recorded = arch.cost()["params"], trial.get("params")
    if isinstance(recorded, int) and recorded != drawn:
        print(f"warning: this drawing has {drawn:,} parameters, the trial had {recorded:,}: "
              "the search set params or input shapes that results.json does not record; "
              "give them with --set", file=sys.stderr)
