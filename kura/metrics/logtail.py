"""Following a PostgreSQL log directory into a log stream, exactly once.

The logging collector writes one file at a time (`postgresql.log.%Y-%m-%d-%H`, rotated hourly or by
size) and each message whole, so a pass reads the current file from its offset to its last complete
line, then every newer file from the start. A message is a line that starts with the log_line_prefix
timestamp ("2026-01-02 03:04:05 UTC:…") and the lines after it that do not (a multi-line statement);
its timestamp is the prefix's (ingestion time when the zone cannot be read).

The position — file name, inode, offset, the file's mtime and a fingerprint of its first bytes — is
committed in the log store in the same transaction as the events it covers: a Kura killed mid-pass
re-reads from the last commit, so nothing is lost or sent twice, and a rotated or deleted file is left
for the next one by modification time.
"""

from __future__ import annotations

import calendar
import os
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kura.metrics.logstore import LogStore

MAX_READ = 4 * 1024 * 1024  # per file and pass: a backlog is caught up over several passes
HEAD = 256  # bytes fingerprinted at the start of the current file
_HEADER = re.compile(rb"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\.\d+)? ([A-Za-z]+)\b")
_SKIP = ("startup.log",)  # the postmaster's stderr before its logging collector runs


@dataclass(frozen=True, slots=True)
class Sink:
    """Where a directory's lines go: a log store's group and stream, and the key of its position."""

    store: LogStore
    key: str
    group: int
    stream: int


def _candidates(log_dir: Path) -> list[tuple[int, str, int]]:
    """(mtime_ns, name, inode) of the log files, oldest first."""
    found = []
    try:
        entries = list(os.scandir(log_dir))
    except OSError:
        return []
    for entry in entries:
        if entry.name.startswith(".") or entry.name in _SKIP or entry.name.endswith((".csv", ".json")):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if entry.is_file(follow_symlinks=False):
            found.append((st.st_mtime_ns, entry.name, st.st_ino))
    return sorted(found)


def _timestamp(header: re.Match[bytes], fallback: int) -> int:
    if header.group(2).upper() not in (b"UTC", b"GMT"):
        return fallback
    try:
        return calendar.timegm(time.strptime(header.group(1).decode(), "%Y-%m-%d %H:%M:%S")) * 1000
    except ValueError:
        return fallback


def split_messages(data: bytes, now_ms: int) -> list[tuple[int, str]]:
    """Complete lines → (timestamp ms, message) events; continuation lines join the message before."""
    events: list[tuple[int, list[bytes]]] = []
    for line in data.split(b"\n"):
        header = _HEADER.match(line)
        if header is not None or not events:
            events.append((_timestamp(header, now_ms) if header else now_ms, [line]))
        else:
            events[-1][1].append(line)
    out = []
    for ts, lines in events:
        text = b"\n".join(lines).decode("utf-8", errors="replace")
        if text.strip():
            out.append((ts, text))
    return out


def _read(path: Path, offset: int) -> tuple[bytes, int, bool] | None:
    """Whole lines from `offset` (at most MAX_READ), the offset after them and whether the read was
    cut short by MAX_READ; None if the file is gone."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            chunk = f.read(MAX_READ)
    except OSError:
        return None
    end = chunk.rfind(b"\n")
    if end < 0:
        return b"", offset, False
    return chunk[:end], offset + end + 1, len(chunk) == MAX_READ


def _head(path: Path, offset: int) -> int | None:
    """A fingerprint of the file's first bytes (up to HEAD or `offset`): the same name and inode with
    another beginning is a file truncated and written again."""
    try:
        with path.open("rb") as f:
            return zlib.crc32(f.read(min(offset, HEAD)))
    except OSError:
        return None


def follow(sink: Sink, log_dir: Path, now_ms: int, since_ms: int | Callable[[], int]) -> int:
    """One pass over `log_dir`; returns how many events were stored. `since_ms` (asked only then)
    applies when the key has no position yet: older lines are not sent (an export enabled later)."""
    found = sink.store.cursor(sink.key)
    if found is None:  # first sight: where this export starts is kept whatever comes next
        found = {"file": None, "since": since_ms() if callable(since_ms) else since_ms}
        sink.store.set_cursor(sink.key, found)
    cursor: dict[str, Any] = found
    stored = 0
    for mtime, name, inode in _plan(cursor, _candidates(log_dir)):
        same = cursor.get("file") == name and cursor.get("inode") == inode
        if same and mtime == cursor.get("mtime") and not cursor.get("more"):
            continue  # not written since the last pass
        offset = int(cursor.get("offset", 0)) if same else 0
        if offset and _head(log_dir / name, offset) != cursor.get("head"):
            offset = 0  # truncated and rewritten in place (log_truncate_on_rotation reusing a name)
        got = _read(log_dir / name, offset)
        if got is None:
            continue
        data, end, cut = got
        since = int(cursor.get("since", 0))
        events = [e for e in (split_messages(data, now_ms) if data else []) if e[0] >= since]
        moved = {"file": name, "inode": inode, "offset": end, "mtime": mtime, "since": since,
                 "head": _head(log_dir / name, end) if end else None, "more": cut}
        if events or moved != cursor:
            sink.store.put(sink.group, sink.stream, events, now_ms, cursor=(sink.key, moved))
        cursor = moved
        stored += len(events)
        if cut:
            break  # more of this file next pass: never skip ahead of it
    return stored


def _plan(cursor: dict[str, Any], files: list[tuple[int, str, int]]) -> list[tuple[int, str, int]]:
    """The files to read this pass: the current one (if still there), then every newer one."""
    current = cursor.get("file")
    if current is None:
        since_ns = (int(cursor.get("since", 0)) - 1000) * 1_000_000
        return [f for f in files if f[0] >= since_ns]
    for index, (_, name, inode) in enumerate(files):
        if name == current and inode == cursor.get("inode"):
            return files[index:]
    seen = int(cursor.get("mtime", 0))  # the current file went away: whatever came after it
    return [f for f in files if f[0] > seen or (f[0] == seen and f[1] > current)]
