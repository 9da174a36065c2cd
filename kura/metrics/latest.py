"""The newest value of every measured series in this process, for /metrics (Prometheus): what the
series store's `put`/`put_measured` record (the collectors' measurements, not PutMetricData's), plus
the collector's own counters. A series not measured for a minute (its resource gone or stopped) is
dropped."""

from __future__ import annotations

import threading
from dataclasses import dataclass

STALE = 60.0

Key = tuple[str, str, tuple[tuple[str, str], ...], str]  # (namespace, name, sorted dimensions, region)
Measured = tuple[Key, str, float]  # (key, unit, value)


@dataclass(frozen=True, slots=True)
class Value:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    region: str
    value: float
    unit: str
    ts: float


_values: dict[Key, tuple[float, str, float]] = {}  # key → (value, unit, ts)
_counters: dict[str, float] = {}
_lock = threading.Lock()
_swept = [0.0]


def record(ts: float, values: list[Measured]) -> None:
    with _lock:
        for key, unit, value in values:
            _values[key] = (value, unit, ts)
        if ts - _swept[0] >= 10:  # drop the stale now and then, not every second
            _swept[0] = ts
            for key in [k for k, v in _values.items() if v[2] < ts - STALE]:
                del _values[key]


def set_counters(counters: dict[str, float]) -> None:
    with _lock:
        _counters.update(counters)


def snapshot() -> tuple[list[Value], dict[str, float]]:
    with _lock:
        newest = max((v[2] for v in _values.values()), default=0.0)
        found = [Value(k[0], k[1], k[2], k[3], v[0], v[1], v[2]) for k, v in _values.items()
                 if v[2] >= newest - STALE]
        return sorted(found, key=lambda v: (v.namespace, v.name, v.dimensions, v.region)), dict(_counters)


def clear() -> None:
    with _lock:
        _values.clear()
        _counters.clear()
        _swept[0] = 0.0
