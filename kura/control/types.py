"""The reconciler contract.

A reconciler owns one resource kind. `reconcile` looks at one resource (desired `spec`, observed
`status`) and takes the next idempotent step(s) toward the spec, checkpointing progress in the
resource's status through the store, so that a crash at any point is finished on the next start.
It returns an Outcome: a one-sentence account that is both the log line and what tests assert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kura.env import Env
from kura.store.types import Resource

# Status keys the control plane reserves on every resource (views may show them; reconcilers don't
# write them directly): the last reconcile failure's message, the hash of the spec a PermanentError
# was raised for (absent for temporary errors), and the checkpoint of a multi-step operation.
STATUS_ERROR = "error"
STATUS_ERROR_SPEC = "error_spec"
STATUS_OP = "op"


class TemporaryError(Exception):
    """Try again after `delay` seconds; the message is shown in the resource's status and events."""

    def __init__(self, message: str, delay: float = 5.0) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentError(Exception):
    """Retrying will not help; the reconciler records the failure and stops until the spec changes."""


@dataclass(frozen=True, slots=True)
class Outcome:
    message: str
    # Look at the resource again after this many seconds even if nothing changes (timers,
    # polling a process). None: only on change or periodic resync.
    requeue_after: float | None = None


class Reconciler(Protocol):
    """One per kind. May also define `source_type` (the AWS event SourceType; default: the kind)."""

    kind: str

    def reconcile(self, env: Env, res: Resource) -> Outcome: ...
