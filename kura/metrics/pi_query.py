"""DB load from the Performance Insights samples: per period, per dimension key, over a time range.

The load of a second is the number of active sessions sampled in it (0 for a sampled second without
any); a period's load is the average over the seconds sampled in it (`db.load.avg`, "average active
sessions"), with the per-second maximum, minimum and sum. Periods in which nothing was sampled (the
instance or Kura was down) have no value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kura.metrics.pi_store import PiStore, Where

STATISTICS = ("avg", "min", "max", "sum")
Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Cell:
    """One key in one period: session-seconds, the busiest and quietest second with sessions, and how
    many seconds had sessions."""

    total: float = 0.0
    high: float = 0.0
    low: float = 0.0
    busy: int = 0

    def value(self, statistic: str, covered: int) -> float:
        if statistic == "avg":
            return self.total / covered if covered else 0.0
        if statistic == "max":
            return self.high
        if statistic == "min":
            return self.low if self.busy >= covered else 0.0
        return self.total


@dataclass(frozen=True, slots=True)
class Load:
    covered: dict[int, int]  # bucket (ts // period) → seconds sampled in it
    cells: dict[Key, dict[int, Cell]]  # key (values of the grouping columns) → bucket → cell

    def points(self, key: Key, statistic: str) -> list[tuple[int, float]]:
        """(bucket, value) for every bucket with samples, oldest first."""
        mine = self.cells.get(key, {})
        return [(b, mine.get(b, Cell()).value(statistic, n)) for b, n in sorted(self.covered.items()) if n]


def coverage(runs: Sequence[tuple[int, int]], start: int, end: int, period: int) -> dict[int, int]:
    """Seconds sampled per bucket of [start, end), from the sampled runs (inclusive bounds)."""
    out: dict[int, int] = {}
    for first, last in runs:
        low, high = max(first, start), min(last, end - 1)
        for bucket in range(low // period, high // period + 1) if low <= high else ():
            seconds = min(high, (bucket + 1) * period - 1) - max(low, bucket * period) + 1
            out[bucket] = out.get(bucket, 0) + seconds
    return out


def load(store: PiStore, name: str, start: int, end: int, period: int, columns: Sequence[str],
         where: Where, keys: Sequence[Key] | None = None) -> Load:
    """The per-period load of [start, end) by `columns` (none: the whole load), only of `keys` if given."""
    covered = coverage(store.runs(name, start, end), start, end, period)
    cells: dict[Key, dict[int, Cell]] = {}
    wanted = set(keys) if keys is not None else None
    for row in store.buckets(name, start, end, period, columns, where):
        bucket, key, (total, high, low, busy) = int(row[0]), tuple(row[1:-4]), row[-4:]
        if wanted is None or key in wanted:
            cells.setdefault(key, {})[bucket] = Cell(float(total), float(high), float(low), int(busy))
    return Load(covered, cells)


def seconds_covered(store: PiStore, name: str, start: int, end: int) -> int:
    return sum(coverage(store.runs(name, start, end), start, end, max(1, end - start)).values())


def top(store: PiStore, name: str, start: int, end: int, columns: Sequence[str], where: Where,
        limit: int) -> list[tuple[Key, float]]:
    """The `limit` keys with the most session-seconds in [start, end), busiest first."""
    rows = [(tuple(r[:-1]), float(r[-1] or 0)) for r in store.totals(name, start, end, columns, where)]
    rows.sort(key=lambda kv: (-kv[1], kv[0]))
    return rows[:limit]
