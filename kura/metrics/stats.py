"""CloudWatch statistics of one period's datapoints.

An `Agg` is what is known of the datapoints of a period: SampleCount, Sum, Minimum and Maximum exactly,
and their distribution — exact (value → count) while the one-second data is kept, a sketch (sketch.py,
about 1 % relative error) once rolled up. The basic statistics come from the four numbers; the extended
ones (pNN, tm, wm, tc, ts, pr, iqm — the forms CloudWatch accepts) from the distribution.
Values published as statistic sets carry no distribution, unless they are one value repeated (Min ==
Max), as on CloudWatch; extended statistics are answered from the values that have one.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from kura.metrics import sketch

BASIC = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")


@dataclass(slots=True)
class Agg:
    count: float = 0.0
    total: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")
    exact: dict[float, float] | None = field(default_factory=dict)  # None: folded into `rough`
    rough: sketch.Sketch | None = None  # the sketch, once any part came from a rollup

    def add(self, count: float, total: float, low: float, high: float) -> None:
        self.count += count
        self.total += total
        self.low = min(self.low, low)
        self.high = max(self.high, high)

    def add_values(self, values: list[tuple[float, float]]) -> None:
        if self.exact is not None:
            for value, count in values:
                self.exact[value] = self.exact.get(value, 0.0) + count
        else:
            assert self.rough is not None
            sketch.merge_into(self.rough, sketch.of(values))

    def add_sketch(self, other: sketch.Sketch) -> None:
        """Fold in a rollup's sketch (taken over, not copied: the caller does not use it again)."""
        if self.rough is None:
            self.rough = sketch.merge_into(other, sketch.of(self.exact.items())) if self.exact else other
            self.exact = None
            return
        sketch.merge_into(self.rough, other)

    def percentile(self, p: float) -> float | None:
        if self.rough is None:
            dist = self.distribution()
            return percentile(dist, p) if dist else None
        keys = sorted(self.rough)  # only the bucket found is turned back into a value
        rank, seen = p / 100.0 * sum(self.rough.values()), 0.0
        for k in keys:
            seen += self.rough[k]
            if seen >= rank - 1e-9:
                return min(max(sketch.representative(k), self.low), self.high)
        return min(max(sketch.representative(keys[-1]), self.low), self.high) if keys else None

    def distribution(self) -> list[tuple[float, float]]:
        """(value, count) in value order; sketch representatives are kept within [Minimum, Maximum]."""
        if self.exact is not None:
            return sorted(self.exact.items())
        return [(min(max(v, self.low), self.high), c) for v, c in sketch.distribution(self.rough or {})]

    @property
    def approximate(self) -> bool:
        return self.exact is None


@dataclass(frozen=True, slots=True)
class Extended:
    kind: str  # p, tm, wm, tc, ts, pr
    low: float | None
    high: float | None
    percent: bool  # bounds are percentiles (else values)


_SHORT = re.compile(r"^(p|tm|wm|tc|ts)(\d{1,3}(?:\.\d{1,10})?)$", re.IGNORECASE)
_RANGE = re.compile(r"^(tm|wm|tc|ts|pr)\(([^:()]*):([^:()]*)\)$", re.IGNORECASE)
_BOUND = re.compile(r"^(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(%?)$")


@functools.lru_cache(maxsize=256)
def parse(stat: str) -> Extended | None:
    """The extended statistic `stat` names, or None when it is not one."""
    text = stat.strip()
    if text.lower() == "iqm":
        return Extended("tm", 25.0, 75.0, True)
    if m := _SHORT.match(text):
        number = float(m.group(2))
        if number > 100:
            return None
        kind = m.group(1).lower()
        return Extended(kind, None if kind == "p" else 0.0, number, True)
    if m := _RANGE.match(text):
        bounds = [m.group(2).strip(), m.group(3).strip()]
        parsed = [_BOUND.match(b) if b else None for b in bounds]
        if any(b and p is None for b, p in zip(bounds, parsed, strict=True)) or not any(bounds):
            return None
        marks = {p.group(2) for p in parsed if p is not None}
        if len(marks) != 1 or (m.group(1).lower() == "pr" and "%" in marks):
            return None
        low, high = (float(p.group(1)) if p else None for p in parsed)
        percent = "%" in marks
        if percent and any(v is not None and not 0 <= v <= 100 for v in (low, high)):
            return None
        return Extended(m.group(1).lower(), low, high, percent)
    return None


def valid(stat: str) -> bool:
    return stat in BASIC or parse(stat) is not None


def value(agg: Agg, stat: str) -> float | None:
    """The statistic `stat` of the datapoints, or None when it cannot be answered."""
    if agg.count <= 0:
        return None
    if stat == "SampleCount":
        return agg.count
    if stat == "Sum":
        return agg.total
    if stat == "Average":
        return agg.total / agg.count
    if stat == "Minimum":
        return agg.low
    if stat == "Maximum":
        return agg.high
    ext = parse(stat)
    if ext is None:
        return None
    if ext.kind == "p":
        return agg.percentile(ext.high if ext.high is not None else 100.0)
    dist = agg.distribution()
    if not dist:
        return None
    return extended(dist, ext)


def percentile(dist: list[tuple[float, float]], p: float) -> float:
    """Nearest rank: the smallest value with at least p % of the datapoints at or below it."""
    total = sum(c for _, c in dist)
    rank = p / 100.0 * total
    seen = 0.0
    for v, c in dist:
        seen += c
        if seen >= rank - 1e-9:
            return v
    return dist[-1][0]


def _window(dist: list[tuple[float, float]], ext: Extended) -> list[tuple[float, float]]:
    """The part of the distribution between the bounds: by rank for percentages (fractional counts at
    the edges), by value for absolute bounds (lower exclusive, upper inclusive)."""
    if not ext.percent:
        lo = float("-inf") if ext.low is None else ext.low
        hi = float("inf") if ext.high is None else ext.high
        return [(v, c) for v, c in dist if lo < v <= hi]
    total = sum(c for _, c in dist)
    lo_rank, hi_rank = (ext.low or 0.0) / 100 * total, (100.0 if ext.high is None else ext.high) / 100 * total
    out, seen = [], 0.0
    for v, c in dist:
        take = min(seen + c, hi_rank) - max(seen, lo_rank)
        if take > 0:
            out.append((v, take))
        seen += c
    return out


def extended(dist: list[tuple[float, float]], ext: Extended) -> float | None:
    if ext.kind == "p":
        return percentile(dist, ext.high if ext.high is not None else 100.0)
    if ext.kind == "pr":
        total = sum(c for _, c in dist)
        return 100.0 * sum(c for _, c in _window(dist, ext)) / total if total else None
    if ext.kind == "wm":
        return _winsorized(dist, ext)
    window = _window(dist, ext)
    count = sum(c for _, c in window)
    if ext.kind == "tc":
        return count
    total = sum(v * c for v, c in window)
    if ext.kind == "ts":
        return total
    return total / count if count else None  # tm


def _winsorized(dist: list[tuple[float, float]], ext: Extended) -> float | None:
    if ext.percent:
        lo = percentile(dist, ext.low or 0.0) if ext.low else dist[0][0]
        hi = percentile(dist, ext.high) if ext.high is not None else dist[-1][0]
    else:
        lo = dist[0][0] if ext.low is None else ext.low
        hi = dist[-1][0] if ext.high is None else ext.high
    total = sum(c for _, c in dist)
    return sum(min(max(v, lo), hi) * c for v, c in dist) / total if total else None
