"""Automated backup retention and the backup window, with a fake clock: what is kept is always enough
to restore to any instant of the retention period."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kura.clock import FakeClock
from kura.control.rds.backups import DAY, _base_due, in_window, prune
from kura.engines.postgres.backup import segment_of
from kura.store.types import Resource

START = dt.datetime(2026, 11, 1, 3, 0, tzinfo=dt.UTC).timestamp()


def daily(n: int) -> list[dict[str, Any]]:
    return [{"id": f"b{i}", "started": START + i * DAY, "finished": START + i * DAY + 60,
             "start_lsn": f"0/{i + 2:X}000028", "timeline": 1} for i in range(n)]


def test_prune_keeps_the_window_and_the_backup_before_it() -> None:
    backups = daily(10)
    clock = FakeClock(START + 9 * DAY + 3600)
    kept = prune(backups, clock.now(), 3)
    # the window starts 3 days back (day 6, 04:00): b7.. finished inside it; b6 (day 6, 03:01) is the
    # base backup that restores to the window's first instants
    assert [b["id"] for b in kept] == ["b6", "b7", "b8", "b9"]
    clock.advance(DAY)
    assert [b["id"] for b in prune(kept, clock.now(), 3)] == ["b7", "b8", "b9"]


def test_prune_never_drops_the_only_backup_or_one_in_progress() -> None:
    one = daily(1)
    assert prune(one, START + 40 * DAY, 1) == one
    running = [*daily(2), {"id": "now", "started": START + 50 * DAY}]
    assert [b["id"] for b in prune(running, START + 50 * DAY, 1)] == ["b1", "now"]


def test_backup_window_and_daily_base_backups() -> None:
    assert in_window("03:00-03:30", START + 600)
    assert not in_window("03:00-03:30", START + 1800)
    assert in_window("23:30-00:30", START - 3.25 * 3600)  # 23:45 the day before
    assert not in_window("garbage", START)
    res = Resource("rds.automated-backup", "ap-northeast-1", "db-X", {"PreferredBackupWindow": "03:00-03:30"},
                   {"backups": daily(1)}, 1, START, START)
    assert not _base_due(res, START + 600)  # the first one was just taken
    assert _base_due(res, START + DAY + 600)  # next day, in the window
    assert not _base_due(res, START + DAY + 7200)  # next day, outside it
    assert _base_due(Resource("rds.automated-backup", "r", "x", {}, {}, 1, START, START), START)


def test_segment_names() -> None:
    assert segment_of("0/2000028", 1) == "000000010000000000000002"
    assert segment_of("1/FF000000", 3) == "0000000300000001000000FF"
