from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from kura.clock import FakeClock
from kura.config import Settings
from kura.control.maintenance import apply_due, in_window
from kura.crypto import MasterKey
from kura.env import Env
from kura.services.rds.records import KIND_INSTANCE, SOURCE_INSTANCE
from kura.store.sqlite import SqliteStore

# Sunday 2026-11-22 04:30 UTC
SUNDAY_0430 = dt.datetime(2026, 11, 22, 4, 30, tzinfo=dt.UTC).timestamp()


def test_in_window() -> None:
    assert in_window("sun:04:00-sun:05:00", SUNDAY_0430)
    assert not in_window("sun:05:00-sun:06:00", SUNDAY_0430)
    assert not in_window("mon:04:00-mon:05:00", SUNDAY_0430)
    assert in_window("sun:23:30-mon:00:30", SUNDAY_0430 + 19.25 * 3600)  # sun 23:45
    assert in_window("sun:23:30-mon:00:30", SUNDAY_0430 + 19.9 * 3600)  # mon 00:24
    assert not in_window("sun:23:30-mon:00:30", SUNDAY_0430 + 20 * 3600)  # mon 00:30: the end, out
    assert not in_window("garbage", SUNDAY_0430)


def test_pending_values_move_into_the_spec_in_the_window(tmp_path: Path) -> None:
    clock = FakeClock(SUNDAY_0430 - 3600)
    store = SqliteStore(tmp_path / "state.db", clock)
    env = Env(store, clock, Settings(home=tmp_path), "123456789012", MasterKey(os.urandom(32)))
    res = store.create(KIND_INSTANCE, "ap-northeast-1", "db1", {
        "DBInstanceClass": "db.t3.micro", "PreferredMaintenanceWindow": "sun:04:00-sun:05:00",
        "PendingModifiedValues": {"DBInstanceClass": "db.t3.large"}})

    assert apply_due(env, res, SOURCE_INSTANCE) is None  # 03:30: not yet
    clock.advance(3600)
    done = apply_due(env, res, SOURCE_INSTANCE)
    assert done is not None
    assert done.spec["DBInstanceClass"] == "db.t3.large" and done.spec["PendingModifiedValues"] == {}
    events = store.events("ap-northeast-1", source_id="db1")
    assert "maintenance window: DBInstanceClass=db.t3.large" in events[-1].message
    assert apply_due(env, done, SOURCE_INSTANCE) is None  # nothing left
