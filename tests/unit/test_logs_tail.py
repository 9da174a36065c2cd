"""Following a PostgreSQL log directory into a log stream: whole lines only, multi-line messages kept
together, rotation, a restart from the committed position without loss or repetition."""

from __future__ import annotations

import calendar
import os
import time
from pathlib import Path

import pytest

from kura.metrics import logtail
from kura.metrics.logstore import LogStore

T0 = calendar.timegm((2026, 1, 2, 3, 4, 5, 0, 0, 0))


def line(seconds: int, text: str) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(T0 + seconds))
    return f"{stamp} UTC::@:[42]:LOG:  {text}\n"


def write(path: Path, text: str, mtime: float | None = None) -> None:
    with path.open("a") as f:
        f.write(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


class Tail:
    def __init__(self, root: Path) -> None:
        self.db = root / "logs.db"
        self.dir = root / "log"
        self.dir.mkdir()
        self.open()

    def open(self) -> None:
        self.store = LogStore(self.db)
        group = self.store.ensure_group("r", "/aws/rds/instance/db/postgresql", 0)
        stream = self.store.ensure_stream(group.id, "db", 0)
        self.sink = logtail.Sink(self.store, "rds-postgresql/r/db/log", group.id, stream.id)

    def follow(self, since: int = 0) -> int:
        return logtail.follow(self.sink, self.dir, (T0 + 100) * 1000, since)

    def messages(self) -> list[str]:
        events = self.store.events(group=self.sink.group, streams=None, start=0, end=None, limit=100)
        return [e.message.split("LOG:  ", 1)[-1] for e in events]


def test_whole_lines_multiline_messages_and_timestamps(tmp_path: Path) -> None:
    tail = Tail(tmp_path)
    current = tail.dir / "postgresql.log.2026-01-02-03"
    write(current, line(0, "ready") + line(1, "statement: SELECT 1,\n\t2,\n\t3") + "2026-01-02 03:04")
    assert tail.follow() == 2
    assert tail.messages() == ["ready", "statement: SELECT 1,\n\t2,\n\t3"]
    events = tail.store.events(group=tail.sink.group, streams=None, start=0, end=None)
    assert [e.ts for e in events] == [T0 * 1000, (T0 + 1) * 1000]
    assert tail.follow() == 0  # the cut line waits for its end
    write(current, ":07 UTC::@:[42]:LOG:  completed\n")
    assert tail.follow() == 1
    assert tail.messages()[-1] == "completed"
    (tail.dir / "startup.log").write_text("not part of the log\n")  # the postmaster's early stderr
    assert tail.follow() == 0


def test_rotation_restart_and_deleted_files(tmp_path: Path) -> None:
    tail = Tail(tmp_path)
    first = tail.dir / "postgresql.log.2026-01-02-03"
    write(first, line(0, "a1") + line(1, "a2"), mtime=T0 + 1)
    assert tail.follow() == 2
    write(first, line(2, "a3"), mtime=T0 + 2)  # the last lines of the old file…
    second = tail.dir / "postgresql.log.2026-01-02-04"
    write(second, line(3, "b1"), mtime=T0 + 3)  # …and the new file, both since the last pass
    assert tail.follow() == 2
    assert tail.messages() == ["a1", "a2", "a3", "b1"]

    tail.store.close()  # Kura stops (or dies: the position is committed with the events)
    write(second, line(4, "b2"), mtime=T0 + 4)  # written while no Kura runs
    tail.open()
    assert tail.follow() == 1
    assert tail.messages() == ["a1", "a2", "a3", "b1", "b2"]

    first.unlink()  # old files go (log retention): nothing is read twice or lost
    third = tail.dir / "postgresql.log.2026-01-02-05"
    write(second, line(5, "b3"), mtime=T0 + 5)
    write(third, line(6, "c1"), mtime=T0 + 6)
    second.unlink()  # even the current one, before its last lines were read: the next file follows
    assert tail.follow() == 1
    assert tail.messages()[-1] == "c1"
    third.write_text(line(7, "c-new"))  # truncated in place and rewritten
    os.utime(third, (T0 + 7, T0 + 7))
    assert tail.follow() == 1
    assert tail.messages()[-1] == "c-new"


def test_an_export_starts_when_it_was_enabled(tmp_path: Path) -> None:
    tail = Tail(tmp_path)
    write(tail.dir / "postgresql.log.2026-01-02-03", line(0, "before") + line(10, "after"), mtime=T0 + 10)
    assert tail.follow(since=(T0 + 5) * 1000) == 1
    assert tail.messages() == ["after"]
    write(tail.dir / "postgresql.log.2026-01-02-03", line(11, "later"), mtime=T0 + 11)
    assert tail.follow(since=(T0 + 50) * 1000) == 1  # the first start stays, whatever is passed later


def test_a_backlog_is_caught_up_over_several_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logtail, "MAX_READ", 200)  # a pass reads at most this much of a file
    tail = Tail(tmp_path)
    current = tail.dir / "postgresql.log.2026-01-02-03"
    write(current, "".join(line(i, f"n{i}") for i in range(20)), mtime=T0 + 20)
    passes = 0
    while len(tail.messages()) < 20 and passes < 30:
        tail.follow()
        passes += 1
    assert tail.messages() == [f"n{i}" for i in range(20)]
    assert passes >= 5  # 20 lines of 45 bytes, 4 a pass
