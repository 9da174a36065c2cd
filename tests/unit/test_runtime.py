"""The reconciler runtime over a real SQLite store, driven by a FakeClock (run_due) or by its threads."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kura.clock import FakeClock
from kura.config import Settings
from kura.control import registry
from kura.control.runtime import MAX_BACKOFF, UNEXPECTED_DELAY, Runtime, Verdict
from kura.control.types import STATUS_ERROR, STATUS_ERROR_SPEC, Outcome, PermanentError, TemporaryError
from kura.crypto import MasterKey
from kura.env import Env
from kura.store.sqlite import SqliteStore
from kura.store.types import AlreadyExists, Resource, VersionConflict

KIND = "test.thing"
REGION = "us-east-1"

Behaviour = Outcome | Exception | Callable[[Env, Resource], Outcome]


class Fake:
    """Implements the Reconciler protocol; answers with queued behaviours, then Outcome("in sync")."""

    kind = KIND
    source_type = "thing"

    def __init__(self, *script: Behaviour) -> None:
        self.script: deque[Behaviour] = deque(script)
        self.calls: list[Resource] = []
        self._lock = threading.Lock()

    def reconcile(self, env: Env, res: Resource) -> Outcome:
        with self._lock:
            self.calls.append(res)
            step = self.script.popleft() if self.script else Outcome("in sync")
        if isinstance(step, Exception):
            raise step
        if isinstance(step, Outcome):
            return step
        return step(env, res)

    def ids(self) -> list[str]:
        return [r.id for r in self.calls]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    clock = FakeClock()
    store = SqliteStore(tmp_path / "state.db", clock=clock)
    yield Env(store=store, clock=clock, settings=Settings(home=tmp_path, resync_seconds=30.0),
              account="123456789012", master_key=MasterKey(b"k" * 32))
    store.close()


def advance(env: Env, seconds: float) -> None:
    assert isinstance(env.clock, FakeClock)
    env.clock.advance(seconds)


def touch(env: Env, id: str, **spec: Any) -> Resource:
    """Create or change a resource as the API plane would (re-read on a concurrent change)."""
    while True:
        res = env.store.get(KIND, REGION, id)
        try:
            if res is None:
                return env.store.create(KIND, REGION, id, dict(spec))
            return env.store.update(res, spec={**res.spec, **spec})
        except (VersionConflict, AlreadyExists):
            continue


def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


# -- triggers -------------------------------------------------------------------------------------
def test_start_scan_reconciles_what_exists(env: Env) -> None:
    touch(env, "a")
    touch(env, "b")
    env.store.create("other.kind", REGION, "x", {})
    fake = Fake()
    handled = Runtime(env, [fake]).run_due()
    assert [(h.id, h.verdict, h.outcome) for h in handled] == [
        ("a", Verdict.SUCCEEDED, "in sync"), ("b", Verdict.SUCCEEDED, "in sync")]
    assert Runtime(env, [fake]).run_due()[0].id == "a"  # a restarted runtime looks again


def test_change_triggers_and_own_kind_only(env: Env) -> None:
    fake = Fake()
    rt = Runtime(env, [fake])
    assert rt.run_due() == []
    touch(env, "a", size=1)
    env.store.create("other.kind", REGION, "x", {})
    assert [h.id for h in rt.run_due()] == ["a"]
    touch(env, "a", size=2)
    assert [h.id for h in rt.run_due()] == ["a"]
    assert fake.calls[-1].spec == {"size": 2}
    assert rt.run_due() == []


def test_changes_while_queued_coalesce(env: Env) -> None:
    fake = Fake()
    rt = Runtime(env, [fake])
    rt.run_due()
    for size in range(5):
        touch(env, "a", size=size)
    assert len(rt.run_due()) == 1
    assert fake.calls[0].spec == {"size": 4}


def test_own_writes_do_not_retrigger(env: Env) -> None:
    def write_status(e: Env, res: Resource) -> Outcome:
        e.store.update(res, status={"seen": res.version})
        return Outcome("wrote status")

    fake = Fake(write_status)
    rt = Runtime(env, [fake])
    touch(env, "a")
    assert [h.outcome for h in rt.run_due()] == ["wrote status"]
    assert rt.run_due() == []
    touch(env, "a", size=3)  # someone else's change does trigger
    assert len(rt.run_due()) == 1


def test_requeue_after_timer(env: Env) -> None:
    fake = Fake(Outcome("polling", requeue_after=10))
    rt = Runtime(env, [fake])
    touch(env, "a")
    assert rt.run_due()[0].next_in == 10
    advance(env, 9.5)
    assert rt.run_due() == []
    advance(env, 0.5)
    assert [h.outcome for h in rt.run_due()] == ["in sync"]
    advance(env, 15)  # no timer left (and no resync yet)
    assert rt.run_due() == []


def test_latest_outcome_replaces_timer(env: Env) -> None:
    fake = Fake(Outcome("polling", requeue_after=10), Outcome("settled"))
    rt = Runtime(env, [fake])
    touch(env, "a")
    rt.run_due()
    touch(env, "a", size=1)
    assert [h.outcome for h in rt.run_due()] == ["settled"]
    advance(env, 10)
    assert rt.run_due() == []


def test_resync_picks_up_unannounced_resources(env: Env, tmp_path: Path) -> None:
    fake = Fake()
    rt = Runtime(env, [fake])
    rt.run_due()
    other = SqliteStore(tmp_path / "state.db")  # another process's writes are not announced here
    other.create(KIND, REGION, "quiet", {})
    other.close()
    assert rt.run_due() == []
    advance(env, 30)
    assert [h.id for h in rt.run_due()] == ["quiet"]


def test_kick_and_gone(env: Env) -> None:
    fake = Fake()
    rt = Runtime(env, [fake])
    res = touch(env, "a")
    rt.run_due()
    env.store.delete(res)
    assert [h.verdict for h in rt.run_due()] == [Verdict.GONE]
    rt.kick(KIND, REGION, "a")
    rt.kick("unowned.kind", REGION, "a")
    assert [h.verdict for h in rt.run_due()] == [Verdict.GONE]
    assert len(fake.calls) == 1


# -- errors ---------------------------------------------------------------------------------------
def test_temporary_error_backs_off_and_is_visible(env: Env) -> None:
    fake = Fake(*[TemporaryError("disk busy", delay=2) for _ in range(4)])
    rt = Runtime(env, [fake])
    touch(env, "a")
    delays = []
    for _ in range(4):
        (h,) = rt.run_due()
        assert h.verdict is Verdict.RETRYING and h.outcome.endswith("disk busy")
        assert h.next_in is not None
        delays.append(h.next_in)
        advance(env, h.next_in - 0.1)
        assert rt.run_due() == []
        advance(env, 0.1)
    assert delays == [2, 4, 8, 16]
    res = env.store.get(KIND, REGION, "a")
    assert res is not None and res.status[STATUS_ERROR] == "disk busy"
    events = env.store.events(REGION, source_type="thing", source_id="a")
    assert [(e.message, e.categories) for e in events] == [("disk busy", ("failure",))]  # not one per retry
    (h,) = rt.run_due()
    assert h.verdict is Verdict.SUCCEEDED
    res = env.store.get(KIND, REGION, "a")
    assert res is not None and STATUS_ERROR not in res.status


def test_backoff_is_capped(env: Env) -> None:
    fake = Fake(*[TemporaryError("slow", delay=20) for _ in range(4)], TemporaryError("later", delay=300))
    rt = Runtime(env, [fake])
    touch(env, "a")
    delays = []
    for _ in range(5):
        (h,) = rt.run_due()
        assert h.next_in is not None
        delays.append(h.next_in)
        advance(env, h.next_in)
    assert delays == [20, 40, MAX_BACKOFF, MAX_BACKOFF, 300]


def test_error_record_spares_concurrent_status_writes(env: Env) -> None:
    def write_then_fail(e: Env, res: Resource) -> Outcome:
        e.store.update(res, status={**res.status, "phase": "half-way"})
        raise TemporaryError("engine not ready")

    fake = Fake(write_then_fail, Outcome("ready"))
    rt = Runtime(env, [fake])
    touch(env, "a")
    rt.run_due()
    res = env.store.get(KIND, REGION, "a")
    assert res is not None and res.status == {"phase": "half-way", STATUS_ERROR: "engine not ready"}
    advance(env, 5)
    rt.run_due()
    res = env.store.get(KIND, REGION, "a")
    assert res is not None and res.status == {"phase": "half-way"}


def test_unexpected_exception_is_logged_and_retried(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    fake = Fake(ValueError("bad thing"))
    rt = Runtime(env, [fake])
    touch(env, "a")
    touch(env, "b")
    with caplog.at_level(logging.INFO, logger="kura.control"):
        handled = rt.run_due()
    assert [(h.id, h.verdict, h.next_in) for h in handled] == [
        ("a", Verdict.RETRYING, UNEXPECTED_DELAY), ("b", Verdict.SUCCEEDED, None)]
    res = env.store.get(KIND, REGION, "a")
    assert res is not None and res.status[STATUS_ERROR] == "ValueError: bad thing"
    assert any(r.exc_info and "bad thing" in str(r.exc_info[1]) for r in caplog.records)
    lines = [r.getMessage() for r in caplog.records if "verdict=" in r.getMessage()]
    assert lines == [
        f'kind={KIND} region={REGION} id=a verdict=retrying outcome="retry in 5s: ValueError: bad thing"',
        f'kind={KIND} region={REGION} id=b verdict=succeeded outcome="in sync"',
    ]


def test_a_settled_resource_logs_at_info_once(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    rt = Runtime(env, [Fake()])
    touch(env, "a")
    with caplog.at_level(logging.DEBUG, logger="kura.control"):
        rt.run_due()
        advance(env, 30)
        rt.run_due()
    levels = [r.levelno for r in caplog.records if "verdict=succeeded" in r.getMessage()]
    assert levels == [logging.INFO, logging.DEBUG]


def test_permanent_error_waits_for_a_spec_change(env: Env) -> None:
    fake = Fake(PermanentError("engine version 9 does not exist"))
    rt = Runtime(env, [fake])
    touch(env, "a", engine=9)
    (h,) = rt.run_due()
    assert (h.verdict, h.next_in) == (Verdict.FAILED, None)
    res = env.store.get(KIND, REGION, "a")
    assert res is not None and res.status[STATUS_ERROR] == "engine version 9 does not exist"
    assert STATUS_ERROR_SPEC in res.status
    env.store.update(res, status={**res.status, "observed": True})  # a status-only change
    advance(env, 30)  # and a resync
    rt.kick(KIND, REGION, "a")
    assert [h.verdict for h in rt.run_due()] == [Verdict.BLOCKED]
    assert len(fake.calls) == 1
    assert len(env.store.events(REGION, source_id="a")) == 1
    touch(env, "a", engine=16)
    assert [h.verdict for h in rt.run_due()] == [Verdict.SUCCEEDED]
    res = env.store.get(KIND, REGION, "a")
    assert res is not None and res.status == {"observed": True}


# -- threads --------------------------------------------------------------------------------------
def test_one_reconcile_per_resource_at_a_time(env: Env) -> None:
    active: dict[str, int] = {}
    worst: dict[str, int] = {}
    lock = threading.Lock()

    def slow(e: Env, res: Resource) -> Outcome:
        with lock:
            active[res.id] = active.get(res.id, 0) + 1
            worst[res.id] = max(worst.get(res.id, 0), active[res.id])
        time.sleep(0.002)
        with lock:
            active[res.id] -= 1
        return Outcome("ok")

    fake = Fake(*[slow] * 10_000)
    rt = Runtime(env, [fake], workers=4)
    rt.start()
    ids = ["a", "b", "c"]

    def hammer(n: int) -> None:
        for i in range(40):
            rt.kick(KIND, REGION, ids[(n + i) % 3])
            touch(env, ids[(n * i) % 3], n=n, i=i)

    writers = [threading.Thread(target=hammer, args=(n,)) for n in range(6)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    wait_for(rt.idle)
    assert rt.stop(timeout=5)
    assert set(worst) == set(ids) and max(worst.values()) == 1
    final = {r.id: r.version for r in env.store.list(KIND)}
    last_seen = {r.id: r.version for r in fake.calls}
    assert last_seen == final  # every resource was reconciled after its last change


def test_different_resources_run_in_parallel(env: Env) -> None:
    b_started = threading.Event()

    def by_id(e: Env, res: Resource) -> Outcome:
        if res.id == "a":
            assert b_started.wait(5), "b never ran while a was busy"
            return Outcome("a done")
        b_started.set()
        return Outcome("b done")

    touch(env, "a")
    touch(env, "b")
    fake = Fake(by_id, by_id)
    rt = Runtime(env, [fake], workers=2)
    rt.start()
    wait_for(lambda: len(fake.calls) == 2 and rt.idle())
    assert rt.stop(timeout=5)
    res = env.store.get(KIND, REGION, "a")
    assert res is not None and STATUS_ERROR not in res.status


def test_change_during_reconcile_runs_once_more(env: Env) -> None:
    entered, release = threading.Event(), threading.Event()

    def blocked(e: Env, res: Resource) -> Outcome:
        entered.set()
        assert release.wait(5)
        return Outcome("first")

    fake = Fake(blocked)
    touch(env, "a", size=0)
    rt = Runtime(env, [fake], workers=4)
    rt.start()
    assert entered.wait(5)
    for size in range(1, 6):
        touch(env, "a", size=size)
    release.set()
    wait_for(lambda: len(fake.calls) == 2 and rt.idle())
    time.sleep(0.05)
    assert rt.stop(timeout=5)
    assert [r.spec["size"] for r in fake.calls] == [0, 5]


def test_stop_is_prompt(env: Env) -> None:
    fake = Fake(Outcome("poll", requeue_after=3600))
    touch(env, "a")
    rt = Runtime(env, [fake], workers=3)
    rt.start()
    wait_for(lambda: len(fake.calls) == 1 and rt.idle())
    began = time.monotonic()
    assert rt.stop(timeout=5)
    assert time.monotonic() - began < 1.5
    touch(env, "a", size=1)  # changes after stop are ignored
    assert len(fake.calls) == 1
    with pytest.raises(RuntimeError):
        rt.run_due()


# -- registry -------------------------------------------------------------------------------------
def test_registry_loads_plugins(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(registry.PLUGINS_ENV, " tests.plugins.slow_kind , ")
    try:
        registry.load_all()
        kinds = [r.kind for r in registry.all_reconcilers()]
        assert "test.slow" in kinds and kinds == sorted(kinds)
        with pytest.raises(RuntimeError, match="two reconcilers"):
            registry.register(type("Impostor", (Fake,), {"kind": "test.slow"})())
    finally:
        registry.unregister("test.slow")
    with pytest.raises(ValueError, match="two reconcilers"):
        Runtime(env, [Fake(), Fake()])
