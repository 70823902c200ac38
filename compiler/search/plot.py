"""Reports of one or more searches -> the objective against model size, with the Pareto front
(the paper's Fig. 18), as a PNG, SVG or PDF file. The one module that imports matplotlib; the
CLI imports it only for `archc report --plot`.
"""

from __future__ import annotations

import math
from pathlib import Path

from .errors import ReportError
from .report import joint_front

MARKERS = "osD^vP*X"
SIZE_LABELS = {"bytes": "bytes", "params": "parameters", "flops": "FLOPs"}


def _view(report: dict) -> dict:
    """A search with several objectives, as the plot draws it: its first metric against its
    first cost (else the report's size), its own front ringed."""
    axes = [tuple(a) for a in report.get("axes") or ()]
    if len(report.get("objectives") or ()) < 2:
        return report
    metric = next(((a, w) for a, w in axes if a not in SIZE_LABELS), axes[0])
    size = next((a for a, _ in axes if a in SIZE_LABELS), report["size"])
    points = [{**p, "score": p["values"][metric[0]],
               size: p["values"].get(size, p.get(size))} for p in report["points"]
              if p.get("values")]
    return {**report, "points": points, "size": size, "own_front": True,
            "objective": {"name": metric[0], "direction": metric[1]}}


def _front(reports: list[dict], size: str) -> list:
    """The front to draw: a search's own front of several objectives, by size; else the
    front of objective against size over all the reports."""
    if len(reports) == 1 and reports[0].get("own_front"):
        r = reports[0]
        members = [p for p in r["points"] if p["trial_id"] in set(r["pareto"])]
        return [(r, p) for p in sorted(members, key=lambda p: p[size])]
    return joint_front(reports)


def plot(reports: list[dict], path: str | Path) -> None:
    """The objective against model size (log scale) of every scored trial, one series per
    results directory, with the Pareto front drawn and labelled (the paper's Fig. 18).

    Raises:
        ReportError: matplotlib is missing, or cannot write that file type.
    """
    try:
        from matplotlib.backend_bases import FigureCanvasBase
        from matplotlib.figure import Figure
    except ImportError:
        raise ReportError("--plot needs matplotlib", hint="pip install matplotlib") from None
    _check_type(Path(path), FigureCanvasBase.get_supported_filetypes())
    reports = [_view(r) for r in reports]
    fig = Figure(figsize=(8, 5.2), layout="constrained")
    ax = fig.subplots()
    size, obj = reports[0]["size"], reports[0]["objective"]
    several = len(reports) > 1
    for i, (r, label) in enumerate(zip(reports, _run_labels(reports), strict=True)):
        _scatter(ax, r, size, i, label if several else "trials")
    labels = _draw_front(ax, reports, size, several)
    ax.set_xscale("log")
    ax.margins(x=0.08, y=0.12)
    _size_ticks(ax, "B" if size == "bytes" else "")
    ax.set_xlabel(f"model size ({SIZE_LABELS.get(size, size)}, log scale)")
    ax.set_ylabel(f"{obj['name']} ({'higher' if obj['direction'] == 'max' else 'lower'} "
                  "is better)")
    ax.set_title(_plot_title(reports), fontsize=11)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    _fit_labels(ax, labels, obj["direction"] == "max")
    _save(fig, Path(path))


def _size_ticks(ax, unit: str) -> None:
    """Sizes as `200 kB`, `1 MB`; in a range under two decades the 2s and 5s named too."""
    from matplotlib.ticker import EngFormatter, LogLocator, NullFormatter

    ax.xaxis.set_major_formatter(EngFormatter(unit=unit))
    low, high = ax.get_xlim()
    if high / low < 100:
        subs = (2.0, 3.0, 5.0, 7.0) if high / low < 10 else (2.0, 5.0)
        ax.xaxis.set_minor_locator(LogLocator(subs=subs))
        ax.xaxis.set_minor_formatter(EngFormatter(unit=unit))
    else:
        ax.xaxis.set_minor_formatter(NullFormatter())


def _scatter(ax, r: dict, size: str, i: int, label: str) -> None:
    points = [p for p in r["points"] if p[size]]
    ax.scatter([p[size] for p in points], [p["score"] for p in points], s=28,
               marker=MARKERS[i % len(MARKERS)], color=f"C{i}", alpha=0.55,
               label=f"{label} ({len(points)})", zorder=2)


def _draw_front(ax, reports: list[dict], size: str, several: bool) -> list:
    """The front as a staircase, its trials ringed; returns their labels."""
    front = _front(reports, size)
    if not front:
        return []
    up = reports[0]["objective"]["direction"] == "max"
    xs = [p[size] for _, p in front]
    ys = [p["score"] for _, p in front]
    ax.plot(xs, ys, drawstyle="steps-post", color="crimson", lw=1.4, marker="o", ms=10,
            mfc="none", mew=1.6, zorder=4, label=f"Pareto front ({len(front)})")
    texts = []
    for r, p in front:
        name = p["trial_id"] if several else f"trial {p['trial_id']}"
        # Left of a point on the front and better, no trial lies: the label hides nothing.
        texts.append(ax.annotate(f"{name}: {p['score']:.3f}", (p[size], p["score"]),
                                 xytext=(-6, 6 if up else -6), textcoords="offset points",
                                 ha="right", va="bottom" if up else "top", fontsize=8, zorder=5,
                                 color=f"C{reports.index(r)}" if several else "crimson",
                                 bbox={"boxstyle": "round,pad=0.15", "fc": "white",
                                       "ec": "none", "alpha": 0.8}))
    return texts


def _fit_labels(ax, texts: list, up: bool) -> None:
    """Move labels that overlap an earlier one past it (up, or down when lower is better),
    and widen the axes (left; top or bottom) until every label is inside them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not texts:
        return
    canvas = FigureCanvasAgg(ax.figure)
    for _ in range(4):
        canvas.draw()  # lays the figure out, so that the boxes are where they will be saved
        renderer = canvas.get_renderer()
        boxes = _unstack(texts, renderer, ax.figure.dpi, up)
        frame = ax.get_window_extent(renderer)
        left = frame.x0 - min(b.x0 for b in boxes)
        beyond = (max(b.y1 for b in boxes) - frame.y1 if up
                  else frame.y0 - min(b.y0 for b in boxes))
        if left <= 0 and beyond <= 0:
            return
        _widen(ax, frame, left, beyond, up)


def _unstack(texts: list, renderer, dpi: float, up: bool) -> list:
    boxes = []
    for text in texts:
        text.xyann = (-6, 6 if up else -6)
        box = text.get_window_extent(renderer)
        for other in boxes:
            if box.overlaps(other):
                pixels = other.y1 - box.y0 + 2 if up else other.y0 - box.y1 - 2
                text.xyann = (text.xyann[0], text.xyann[1] + pixels * 72 / dpi)
                box = text.get_window_extent(renderer)
        boxes.append(box)
    return boxes


def _widen(ax, frame, left_px: float, beyond_px: float, up: bool) -> None:
    """Stretch the log x axis to the left, and the y axis up or down, by that many pixels
    (and a little more: stretching shrinks the scale)."""
    if left_px > 0:
        low, high = ax.get_xlim()
        decades = math.log10(high / low)
        ax.set_xlim(low / 10 ** (1.3 * (left_px + 6) * decades / frame.width), high)
    if beyond_px > 0:
        low, high = ax.get_ylim()
        extra = 1.3 * (beyond_px + 6) * (high - low) / frame.height
        ax.set_ylim(low, high + extra) if up else ax.set_ylim(low - extra, high)


def _run_labels(reports: list[dict]) -> list[str]:
    """Per run, what tells it from the others: tuner, template, data, else the directory."""
    keys = [k for k in ("tuner", "template", "data")
            if len({str(r.get(k)) for r in reports}) > 1]
    labels = [" ".join(str(r.get(k)) for k in keys) for r in reports]
    if len(set(labels)) < len(labels):
        labels = [str(r["dir"]) for r in reports]
    return labels


def _plot_title(reports: list[dict]) -> str:
    r = reports[0]
    if len(reports) > 1:
        return f"{r['objective']['name']} against model size: {len(reports)} searches"
    data = f" on {r['data']}" if r.get("data") else ""
    tuner = f", {r['tuner']} search" if r.get("tuner") else ""
    return f"{r.get('template') or Path(r['dir']).name}{data}{tuner}: {len(r['points'])} trials"


def _check_type(path: Path, formats: dict) -> None:
    if path.suffix.lstrip(".").lower() not in formats:
        raise ReportError(f"--plot cannot write '{path.suffix or path.name}' files",
                          hint="give a file ending in .png, .svg or .pdf")


def _save(fig, path: Path) -> None:
    try:
        fig.savefig(path, dpi=150)
    except OSError as exc:
        raise ReportError(f"cannot write {path}: {exc.strerror or exc}") from None


