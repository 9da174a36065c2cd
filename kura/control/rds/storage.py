"""Allocated storage as a real quota: measuring it, storage-full, and RDS storage autoscaling.

Usage is what `du` says of the data directory (WAL included: pg_wal lives inside it). One unit of
AllocatedStorage is KURA_STORAGE_UNIT_BYTES bytes (default 1 GiB), so a test can make "20 GiB" mean
20 MiB and fill it in a second.

Storage-full fence: `default_transaction_read_only = on` rendered into the node's configuration and
reloaded, then every backend holding a transaction id (an open write transaction) is terminated.
Why this and not a restart into read-only (standby) mode: a reload takes milliseconds, reads and
existing idle sessions keep working, and nothing about the cluster changes (no new timeline for the
backups to follow); the data directory stays consistent because PostgreSQL itself never hits a full
disk. What it does not stop is a client that deliberately runs `SET default_transaction_read_only =
off` (any role may): the quota is a soft fence, where RDS's full volume is a hard one.

Autoscaling (MaxAllocatedStorage set), as RDS documents it: when free space falls under 10 % the
allocation grows by the greatest of 10 GiB, 10 % of the current allocation and the growth predicted
for the next 7 hours from the last hour's rate, capped at MaxAllocatedStorage. Kura acts at once
(RDS also waits for 5 minutes of low space and 6 hours since the last storage change).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

UNIT_ENV = "KURA_STORAGE_UNIT_BYTES"
GIB = 1024**3
LOW_FREE = 0.10
MIN_STEP_GIB = 10
PREDICT_HOURS = 7.0
BASELINE_SECONDS = 3600.0
REWRITE_SECONDS = 60.0  # status.storage is rewritten at least this often while nothing changes


def unit_bytes() -> int:
    raw = os.environ.get(UNIT_ENV, "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else GIB


def measure(path: Path) -> int:
    """Bytes allocated on disk under `path` (du: blocks, each hard-linked file once); 0 if missing."""
    total = 0
    seen: set[tuple[int, int]] = set()
    stack = [path]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:  # vanished (a temp file, a dropped table) or not there yet
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            if st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


@dataclass(frozen=True, slots=True)
class Usage:
    allocated: int  # units (GiB)
    used_bytes: int
    unit: int

    @property
    def capacity(self) -> int:
        return self.allocated * self.unit

    @property
    def free_bytes(self) -> int:
        return max(0, self.capacity - self.used_bytes)

    @property
    def full(self) -> bool:
        return self.used_bytes >= self.capacity

    @property
    def low(self) -> bool:
        return self.free_bytes < LOW_FREE * self.capacity


def growth_per_hour(storage: dict[str, Any] | None, used: int, now: float) -> float:
    """Bytes per hour since the baseline kept in status.storage (0 without one, never negative)."""
    base = (storage or {}).get("baseline") or {}
    at, was = base.get("at"), base.get("used")
    if not isinstance(at, int | float) or not isinstance(was, int) or now - at < 60:
        return 0.0
    return max(0.0, (used - was) * 3600.0 / (now - at))


def autoscale_target(usage: Usage, max_allocated: int | None, growth: float) -> int | None:
    """The new allocation (units) when autoscaling should act now, else None."""
    if not max_allocated or max_allocated <= usage.allocated or not usage.low:
        return None
    predicted = growth * PREDICT_HOURS / usage.unit
    step = max(MIN_STEP_GIB, usage.allocated * 0.10, predicted)
    return int(min(max_allocated, usage.allocated + max(1, round(step + 0.4999))))


def recorded(storage: dict[str, Any] | None, usage: Usage, now: float) -> dict[str, Any] | None:
    """The new status.storage for a measurement, or None when what is recorded is still true enough."""
    old = storage or {}
    base = old.get("baseline")
    if not isinstance(base, dict) or now - float(base.get("at", 0)) > BASELINE_SECONDS:
        base = {"at": now, "used": usage.used_bytes}
    new = {"used_bytes": usage.used_bytes, "free_bytes": usage.free_bytes, "measured_at": now,
           "allocated_bytes": usage.capacity, "baseline": base}
    unchanged = (old.get("used_bytes") == usage.used_bytes and old.get("free_bytes") == usage.free_bytes
                 and old.get("baseline") == base)
    if unchanged and now - float(old.get("measured_at", 0)) < REWRITE_SECONDS:
        return None
    return new
