"""Plan-then-apply with checkpoints.

A reconciler expresses a multi-step operation as named idempotent steps. `apply` runs them in order
and, after each one, writes a checkpoint to `status["op"]` together with the status fields the step
produced (one atomic write). After a crash the next `apply` of the same operation resumes at the
first step without a checkpoint: completed steps never run again; the interrupted one runs again,
which is why every step must be idempotent. The checkpoint is removed by the last step's write.

    status["op"] = {"name": "create", "step": 2, "step_name": "start", "started_at": 1.7e9,
                    "data": {...}}      # step: index of the next step to run

Writes by a reconcile to its own resource do not trigger the runtime again, so checkpoints don't loop.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kura.control.types import STATUS_OP, PermanentError
from kura.env import Env
from kura.store.types import Resource, Store, VersionConflict

log = logging.getLogger("kura.control")

StatusChange = Callable[[dict[str, Any]], dict[str, Any] | None]


def patch_status(store: Store, res: Resource, change: StatusChange, attempts: int = 50) -> Resource | None:
    """Apply `change` to the newest status without clobbering concurrent writes.

    `change` gets a copy of the status and returns the new one, or None when nothing needs writing.
    On VersionConflict the resource is re-read and `change` applied again. Returns the newest
    resource, or None if it was deleted.
    """
    current: Resource | None = res
    for _ in range(attempts):
        if current is None:
            return None
        new = change(copy.deepcopy(current.status))
        if new is None:
            return current
        try:
            return store.update(current, status=new)
        except VersionConflict:
            current = store.get(res.kind, res.region, res.id)
    raise VersionConflict(f"{res.kind} {res.region}/{res.id}: status kept changing for {attempts} tries")


@dataclass(slots=True)
class StepContext:
    env: Env
    res: Resource  # as of the previous checkpoint
    data: dict[str, Any]  # scratch carried from step to step, checkpointed with each step
    status: dict[str, Any] = field(default_factory=dict)  # status fields written with this checkpoint


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    run: Callable[[StepContext], None]


@dataclass(frozen=True, slots=True)
class OpState:
    """A checkpoint as read back from `status["op"]`."""

    name: str
    step: int
    step_name: str
    started_at: float
    data: dict[str, Any]

    @classmethod
    def of(cls, res: Resource) -> OpState | None:
        raw = res.status.get(STATUS_OP)
        if not isinstance(raw, dict):
            return None
        return cls(str(raw["name"]), int(raw["step"]), str(raw["step_name"]), float(raw["started_at"]),
                   dict(raw.get("data") or {}))

    def as_status(self) -> dict[str, Any]:
        return {"name": self.name, "step": self.step, "step_name": self.step_name,
                "started_at": self.started_at, "data": self.data}


class OpConflict(Exception):
    """`apply` was asked for one operation while the checkpoint belongs to another (a reconciler bug)."""


def in_progress(res: Resource) -> str | None:
    """The name of the operation checkpointed on `res`, if any: resume it before deciding anything new."""
    op = OpState.of(res)
    return op.name if op else None


def apply(env: Env, res: Resource, op: str, steps: Sequence[Step],
          done: dict[str, Any] | None = None) -> Resource:
    """Run operation `op` from its checkpoint (or from the start) to the end; return the newest resource.

    `done`: status fields (e.g. the final state) written in the same write that removes the
    checkpoint, so no crash can leave the operation finished but not marked so, or the reverse.
    """
    if not steps:
        raise ValueError(f"operation {op} has no steps")
    state = OpState.of(res)
    if state is None:
        state = OpState(op, 0, steps[0].name, env.clock.now(), {})
        res = _checkpoint(env.store, res, {}, state)
    elif state.name != op:
        raise OpConflict(f"{res.kind} {res.id}: asked to apply {op} while {state.name} is in progress")
    names = [s.name for s in steps]
    if state.step_name not in names:
        raise OpConflict(f"{res.kind} {res.id}: step {state.step_name} of {op} is not in the plan {names}")
    for index in range(names.index(state.step_name), len(steps)):
        step = steps[index]
        ctx = StepContext(env, res, copy.deepcopy(state.data))
        step.run(ctx)
        last = index + 1 == len(steps)
        if last:
            ctx.status.update(done or {})
        state = OpState(op, index + 1, "" if last else steps[index + 1].name, state.started_at, ctx.data)
        res = _checkpoint(env.store, res, ctx.status, None if last else state)
        log.debug('kind=%s id=%s op=%s step=%s outcome="step done"', res.kind, res.id, op, step.name)
    return res


def _checkpoint(store: Store, res: Resource, fields: dict[str, Any], state: OpState | None) -> Resource:
    def change(status: dict[str, Any]) -> dict[str, Any]:
        status.update(fields)
        if state is None:
            status.pop(STATUS_OP, None)
        else:
            status[STATUS_OP] = state.as_status()
        return status

    new = patch_status(store, res, change)
    if new is None:
        raise PermanentError(f"{res.kind} {res.id} was deleted during an operation")
    return new
