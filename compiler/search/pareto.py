"""Points of several objectives, all to be minimised -> their Pareto front, the fronts of
non-dominated sorting with crowding distances (NSGA-II, Deb et al. 2002), and the hypervolume
that a front dominates up to a reference point.

A point is a tuple of floats, every coordinate to be minimised (a maximised objective enters
negated: `minimised`). Pure Python: the report, the results and the evolution oracle share it.

    >>> front([(1, 5), (2, 2), (3, 3), (2, 2), (5, 1)])
    [0, 1, 3, 4]
    >>> hypervolume([(1, 5), (2, 2), (5, 1)], (6, 6))
    18.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = Sequence[float]


def minimised(value: float, direction: str) -> float:
    """An objective's value as a coordinate to minimise: a maximised one negated."""
    return -value if direction == "max" else value


def dominates(a: Point, b: Point) -> bool:
    """`a` is no worse than `b` in every objective and better in one.

    >>> dominates((1, 2), (1, 3)), dominates((1, 2), (1, 2)), dominates((1, 3), (2, 2))
    (True, False, False)
    """
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True))


def front(points: Sequence[Point]) -> list[int]:
    """The indices of the points no other point dominates, in their order. Equal points are
    all on the front (neither dominates the other)."""
    return [i for i, p in enumerate(points)
            if not any(dominates(q, p) for j, q in enumerate(points) if j != i)]


def non_dominated_sort(points: Sequence[Point]) -> list[list[int]]:
    """The fronts of non-dominated sorting: the first front, then the front of what remains
    without it, and so on; indices in their order within each front.

    >>> non_dominated_sort([(1, 5), (2, 2), (3, 3), (4, 4), (5, 1)])
    [[0, 1, 4], [2], [3]]
    """
    left = list(range(len(points)))
    fronts = []
    while left:
        first = [left[i] for i in front([points[j] for j in left])]
        fronts.append(first)
        left = [i for i in left if i not in set(first)]
    return fronts


def crowding_distance(points: Sequence[Point]) -> list[float]:
    """Each point's crowding distance within its front (NSGA-II): per objective, the gap
    between its two neighbours over the front's range, summed; the extremes of any objective
    are infinitely far (they are always kept).

    >>> crowding_distance([(1, 4), (2, 2), (4, 1)])
    [inf, 2.0, inf]
    """
    n = len(points)
    distance = [0.0] * n
    if n <= 2:
        return [math.inf] * n
    for k in range(len(points[0])):
        order = sorted(range(n), key=lambda i: points[i][k])
        low, high = points[order[0]][k], points[order[-1]][k]
        distance[order[0]] = distance[order[-1]] = math.inf
        if high == low:
            continue
        for before, i, after in zip(order, order[1:], order[2:], strict=False):
            distance[i] += (points[after][k] - points[before][k]) / (high - low)
    return distance


def ranking(points: Sequence[Point]) -> list[tuple[int, float]]:
    """Each point's (front number from 0, minus its crowding distance): sorting by it puts
    the points NSGA-II prefers first (a better front, then a less crowded place)."""
    out: list[tuple[int, float]] = [(0, 0.0)] * len(points)
    for rank, members in enumerate(non_dominated_sort(points)):
        crowding = crowding_distance([points[i] for i in members])
        for i, d in zip(members, crowding, strict=True):
            out[i] = (rank, -d)
    return out


def hypervolume(points: Sequence[Point], reference: Point) -> float:
    """The volume of the space that the points dominate and that dominates `reference`
    (exact, by slicing along the last objective: fine for the few hundred points of a
    search). Points not better than the reference in every objective add nothing.

    >>> hypervolume([(1, 1, 1)], (2, 3, 4))
    6.0
    """
    inside = sorted({tuple(p) for p in points
                     if all(x < r for x, r in zip(p, reference, strict=True))})
    if not inside:
        return 0.0
    if len(reference) == 1:
        return float(reference[0] - min(p[0] for p in inside))
    inside.sort(key=lambda p: p[-1])
    volume = 0.0
    for i, p in enumerate(inside):
        top = inside[i + 1][-1] if i + 1 < len(inside) else reference[-1]
        if top > p[-1]:
            volume += (top - p[-1]) * hypervolume([q[:-1] for q in inside[:i + 1]],
                                                  reference[:-1])
    return float(volume)
