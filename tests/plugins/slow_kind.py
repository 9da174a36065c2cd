"""A fake kind whose operation is N slow steps, each leaving a trace in a file: kill -9 material.

spec: {"log": path, "steps": 5, "sleep": 0.3} (sleep optional). Step i appends `start i <pid>`,
sleeps, appends `end i <pid>`; the pid tells which Kura incarnation ran it. The last checkpoint sets
state=done.
"""

from __future__ import annotations

import os
import time
from functools import partial
from pathlib import Path

from kura.control.registry import reconciler
from kura.control.steps import Step, StepContext, apply
from kura.control.types import Outcome
from kura.env import Env
from kura.store.types import Resource

KIND = "test.slow"


def _trace(path: Path, line: str) -> None:
    with path.open("a") as f:
        f.write(f"{line} {os.getpid()}\n")


def _work(path: Path, index: int, pause: float, ctx: StepContext) -> None:
    _trace(path, f"start {index}")
    time.sleep(pause)
    _trace(path, f"end {index}")
    ctx.data["done"] = [*ctx.data.get("done", []), index]


@reconciler
class SlowReconciler:
    kind = KIND
    source_type = "test-slow"

    def reconcile(self, env: Env, res: Resource) -> Outcome:
        if res.status.get("state") == "done":
            return Outcome("done")
        path, pause, count = Path(res.spec["log"]), float(res.spec.get("sleep", 0.3)), int(res.spec["steps"])
        steps = [Step(f"step-{i}", partial(_work, path, i, pause)) for i in range(count)]
        apply(env, res, "build", steps, done={"state": "done"})
        return Outcome(f"built in {len(steps)} steps")
