"""Checkpointed steps: resume after a crash, never redo a completed step."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kura.clock import FakeClock
from kura.config import Settings
from kura.control.runtime import Runtime, Verdict
from kura.control.steps import OpConflict, OpState, Step, StepContext, apply, in_progress
from kura.control.types import STATUS_ERROR, STATUS_OP, Outcome, PermanentError
from kura.crypto import MasterKey
from kura.env import Env
from kura.store.sqlite import SqliteStore
from kura.store.types import Resource

KIND = "test.db"
REGION = "us-east-1"


class Crash(Exception):
    """Stands for the process dying in the middle of a step."""


class DbReconciler:
    """A reconciler written the way service reconcilers are: plan by name, apply, report."""

    kind = KIND

    def __init__(self, crash_in: str | None = None) -> None:
        self.crash_in = crash_in
        self.executed: list[str] = []

    def plan(self, op: str) -> list[Step]:
        return {
            "create": [Step("allocate", self.allocate), Step("init", self.init), Step("start", self.start)],
            "reboot": [Step("start", self.start)],
        }[op]

    def reconcile(self, env: Env, res: Resource) -> Outcome:
        op = in_progress(res) or ("create" if res.status.get("state") != "available" else None)
        if op is None:
            return Outcome("available")
        apply(env, res, op, self.plan(op), done={"state": "available"})
        return Outcome(f"{op} finished")

    def _run(self, name: str) -> None:
        self.executed.append(name)
        if self.crash_in == name:
            self.crash_in = None
            raise Crash(f"killed during {name}")

    def allocate(self, ctx: StepContext) -> None:
        self._run("allocate")
        ctx.data["port"] = 5432
        ctx.status["address"] = "127.0.0.7"

    def init(self, ctx: StepContext) -> None:
        self._run("init")
        ctx.status["datadir"] = f"/data/{ctx.res.id}"

    def start(self, ctx: StepContext) -> None:
        self._run("start")
        ctx.status["endpoint"] = f"{ctx.res.status['address']}:{ctx.data['port']}"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    clock = FakeClock()
    store = SqliteStore(tmp_path / "state.db", clock=clock)
    yield Env(store=store, clock=clock, settings=Settings(home=tmp_path),
              account="123456789012", master_key=MasterKey(b"k" * 32))
    store.close()


def current(env: Env, id: str = "db1") -> Resource:
    res = env.store.get(KIND, REGION, id)
    assert res is not None
    return res


def test_all_steps_once_and_checkpoint_cleared(env: Env) -> None:
    rec = DbReconciler()
    env.store.create(KIND, REGION, "db1", {"engine": "postgres"})
    assert [h.outcome for h in Runtime(env, [rec]).run_due()] == ["create finished"]
    assert rec.executed == ["allocate", "init", "start"]
    res = current(env)
    assert STATUS_OP not in res.status
    assert res.status == {"address": "127.0.0.7", "datadir": "/data/db1", "endpoint": "127.0.0.7:5432",
                          "state": "available"}


@pytest.mark.parametrize("crash_in", ["allocate", "init", "start"])
def test_resume_after_crash_never_redoes_completed_steps(env: Env, crash_in: str) -> None:
    env.store.create(KIND, REGION, "db1", {"engine": "postgres"})
    first = DbReconciler(crash_in=crash_in)
    (h,) = Runtime(env, [first]).run_due()
    assert h.verdict is Verdict.RETRYING and crash_in in h.outcome
    done = ["allocate", "init", "start"][: ["allocate", "init", "start"].index(crash_in)]
    assert first.executed == [*done, crash_in]

    op = OpState.of(current(env))
    assert op is not None and (op.name, op.step, op.step_name) == ("create", len(done), crash_in)
    assert op.started_at == env.clock.now()
    assert op.data == ({"port": 5432} if done else {})

    second = DbReconciler()  # a new process: fresh reconciler and runtime over the same store
    (h,) = Runtime(env, [second]).run_due()
    assert h.outcome == "create finished"
    assert second.executed == ["allocate", "init", "start"][len(done):]
    res = current(env)
    assert res.status["endpoint"] == "127.0.0.7:5432" and res.status["state"] == "available"
    assert STATUS_OP not in res.status and STATUS_ERROR not in res.status


def test_apply_directly_resumes_from_the_checkpoint(env: Env) -> None:
    rec = DbReconciler(crash_in="init")
    res = env.store.create(KIND, REGION, "db1", {})
    with pytest.raises(Crash):
        apply(env, res, "create", rec.plan("create"))
    assert in_progress(current(env)) == "create"
    apply(env, current(env), "create", rec.plan("create"))
    assert rec.executed == ["allocate", "init", "init", "start"]
    assert in_progress(current(env)) is None


def test_checkpoint_survives_concurrent_writes(env: Env) -> None:
    def user_edits_spec(ctx: StepContext) -> None:
        res = current(ctx.env)
        ctx.env.store.update(res, spec={"size": 2}, status={**res.status, "seen": True})
        ctx.status["edited"] = True

    res = env.store.create(KIND, REGION, "db1", {"size": 1})
    steps = [Step("edit", user_edits_spec), Step("after", lambda ctx: None)]
    apply(env, res, "resize", steps)
    res = current(env)
    assert res.spec == {"size": 2}
    assert res.status == {"seen": True, "edited": True}


def test_another_operation_in_progress_is_a_conflict(env: Env) -> None:
    rec = DbReconciler(crash_in="init")
    res = env.store.create(KIND, REGION, "db1", {})
    with pytest.raises(Crash):
        apply(env, res, "create", rec.plan("create"))
    with pytest.raises(OpConflict):
        apply(env, current(env), "reboot", rec.plan("reboot"))
    with pytest.raises(OpConflict, match="not in the plan"):
        apply(env, current(env), "create", rec.plan("reboot"))


def test_resource_deleted_mid_operation(env: Env) -> None:
    def delete_it(ctx: StepContext) -> None:
        ctx.env.store.delete(current(ctx.env))

    res = env.store.create(KIND, REGION, "db1", {})
    with pytest.raises(PermanentError, match="deleted"):
        apply(env, res, "drop", [Step("delete", delete_it)])
