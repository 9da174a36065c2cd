"""Aurora Serverless v2 capacity: the ACU model and the scaling decision (pure).

One ACU is `memory` bytes and `cpus` cores (Settings.acu_memory / acu_cpu). Capacity moves in 0.5-ACU
steps between the cluster's MinCapacity and MaxCapacity. Each second the scaler measures the member's
control group and asks `decide` for the next capacity:

- what is needed: the CPU used held at TARGET_CPU of the quota, the working set held at TARGET_MEMORY
  of the limit, and enough memory for the client connections by RDS's own max_connections formula
  (one connection per 9,531,392 bytes); a quota that throttled the group in most periods hides the
  real demand, so the need is then at least twice the capacity;
- up at once to what is needed (the sample is already a one-second average), as Aurora scales up
  within seconds;
- down gradually: only after the need stayed lower for DOWN_AFTER seconds, then one step every
  DOWN_EVERY seconds, a quarter of the capacity at a time (at least 0.5 ACU), never below the need.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

STEP = 0.5
RUNNING_FLOOR = 0.5  # a running instance never has less (0 means paused)
TARGET_CPU = 0.7
TARGET_MEMORY = 0.8
SATURATED = 0.5  # throttled in at least this share of the periods: the quota is the limit
CONNECTION_BYTES = 9_531_392  # RDS: max_connections = DBInstanceClassMemory / 9531392
DOWN_AFTER = float(os.environ.get("KURA_SERVERLESS_DOWN_AFTER", "15"))
DOWN_EVERY = float(os.environ.get("KURA_SERVERLESS_DOWN_EVERY", "2"))


@dataclass(frozen=True, slots=True)
class Model:
    """What one ACU is on this host."""

    memory: int  # bytes
    cpus: float  # cores

    def limits(self, capacity: float, floor_memory: int = 0) -> tuple[float, int]:
        """The CPU cores and memory bytes a capacity is given (memory never below `floor_memory`:
        the shared buffers sized for MaxCapacity must fit)."""
        return capacity * self.cpus, max(int(capacity * self.memory), floor_memory)


@dataclass(frozen=True, slots=True)
class Sample:
    """One second of a member's control group."""

    cpus: float  # cores used on average over the window
    memory: int  # working set, bytes
    throttled: float  # share of the quota periods in which the group was throttled (0–1)
    connections: int


@dataclass(frozen=True, slots=True)
class State:
    capacity: float
    low_since: float | None = None  # when the need fell below the capacity (monotonic seconds)
    last_down: float = 0.0


@dataclass(frozen=True, slots=True)
class Decision:
    state: State
    reason: str

    @property
    def capacity(self) -> float:
        return self.state.capacity


def clamp(capacity: float, low: float, high: float) -> float:
    """Into [max(low, 0.5), high], on the 0.5-ACU grid (rounded up)."""
    up = math.ceil(capacity / STEP - 1e-9) * STEP
    return min(max(up, low, RUNNING_FLOOR), max(high, RUNNING_FLOOR))


def needed(sample: Sample, capacity: float, model: Model) -> float:
    """The capacity this sample asks for (ACUs, not yet on the grid)."""
    cpu = sample.cpus / TARGET_CPU / model.cpus
    memory = sample.memory / TARGET_MEMORY / model.memory
    connections = sample.connections * CONNECTION_BYTES / model.memory
    need = max(cpu, memory, connections)
    if sample.throttled >= SATURATED:
        need = max(need, capacity * 2)
    return need


def decide(state: State, low: float, high: float, sample: Sample, model: Model, now: float) -> Decision:
    current = clamp(state.capacity, low, high)
    if current != state.capacity:
        return Decision(State(current, None, now), f"capacity {current:g} ACU: the range is {low:g}–{high:g}")
    want = clamp(needed(sample, current, model), low, high)
    if want > current:
        return Decision(State(want, None, now), f"scaled up from {current:g} to {want:g} ACU")
    if want == current:
        return Decision(State(current, None, state.last_down), f"capacity {current:g} ACU is right")
    low_since = state.low_since if state.low_since is not None else now
    if now - low_since < DOWN_AFTER or now - state.last_down < DOWN_EVERY:
        return Decision(State(current, low_since, state.last_down),
                        f"capacity {current:g} ACU: the load has been lower for {now - low_since:.0f} s")
    step = max(STEP, math.floor(current / 4 / STEP) * STEP)
    down = clamp(max(want, current - step), low, high)
    return Decision(State(down, low_since, now), f"scaled down from {current:g} to {down:g} ACU")
