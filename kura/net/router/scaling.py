"""How many forwarding workers the router runs: more while they are busy, fewer once they are idle.

The supervisor samples each worker's CPU time every second. When the workers' mean CPU use stays above
`up` (share of one core) for `up_seconds`, one more worker starts (up to `maximum`, by default one per
core); when it stays below `down` for `down_seconds`, an idle worker (no connection open in it) is
stopped (down to `minimum`). Connections are spread over the workers by the kernel (SO_REUSEPORT).
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Policy:
    minimum: int = 1
    maximum: int = 1
    up: float = 0.7
    down: float = 0.15
    up_seconds: float = 3.0
    down_seconds: float = 30.0

    @classmethod
    def from_env(cls, minimum: int, maximum: int | None) -> Policy:
        env = os.environ
        top = maximum if maximum is not None else int(
            env.get("KURA_ROUTER_MAX_WORKERS") or os.cpu_count() or 1)
        return cls(minimum, max(minimum, top), float(env.get("KURA_ROUTER_SCALE_UP", 0.7)),
                   float(env.get("KURA_ROUTER_SCALE_DOWN", 0.15)),
                   float(env.get("KURA_ROUTER_SCALE_UP_SECONDS", 3)),
                   float(env.get("KURA_ROUTER_SCALE_DOWN_SECONDS", 30)))


class Scaler:
    """The decision, from samples: +1 (start a worker), -1 (stop an idle one) or 0."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.busy_since: float | None = None
        self.idle_since: float | None = None

    def decide(self, now: float, workers: int, busy: float) -> int:
        p = self.policy
        self.busy_since = (now if self.busy_since is None else self.busy_since) if busy > p.up else None
        self.idle_since = (now if self.idle_since is None else self.idle_since) if busy < p.down else None
        if self.busy_since is not None and now - self.busy_since >= p.up_seconds and workers < p.maximum:
            self.busy_since = None
            return 1
        if self.idle_since is not None and now - self.idle_since >= p.down_seconds and workers > p.minimum:
            self.idle_since = None
            return -1
        return 0


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK
