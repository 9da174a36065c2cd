"""Kura's side of the router: start it (detached, so it outlives Kura), publish a table, read the
connection counts."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kura.net.router import table as tables
from kura.net.router.steer import established

START_TIMEOUT = 10.0


class RouterError(Exception):
    pass


class RouterControl:
    def __init__(self, directory: Path, workers: int = 1) -> None:
        self.dir = directory
        self.workers = workers
        self.table_path = directory / "table.json"

    def pid(self) -> int | None:
        try:
            pid = int((self.dir / "router.pid").read_text().split()[0])
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError, IndexError):
            return None
        mine = b"kura.net.router" in cmd and str(self.dir).encode() in cmd
        return pid if mine and state not in ("Z", "X") else None

    def ensure(self) -> int:
        """The router's pid, started first if it is not running."""
        pid = self.pid()
        if pid is not None:
            return pid
        self.dir.mkdir(parents=True, exist_ok=True)
        log = open(self.dir / "router.log", "ab")  # noqa: SIM115 (handed to the child)
        try:
            # its own session, stdin closed: it outlives Kura and never reads our terminal
            proc = subprocess.Popen([sys.executable, "-m", "kura.net.router", "--dir", str(self.dir),
                                     "--workers", str(self.workers)], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log, start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.pid() == proc.pid and len(self.stats_files()) >= self.workers:  # every worker runs
                return proc.pid
            if proc.poll() is not None:
                raise RouterError(f"the router exited at start (code {proc.returncode}); see "
                                  f"{self.dir / 'router.log'}")
            time.sleep(0.02)
        raise RouterError(f"the router did not start in {START_TIMEOUT:.0f} s")

    def publish(self, table: tables.Table) -> int:
        """Write `table` with a new serial and signal the router; returns the serial (see wait_applied)."""
        serial = time.time_ns()
        tables.write(self.table_path, dataclasses.replace(table, serial=serial))
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)
        return serial

    def _workers(self) -> list[dict[str, Any]]:
        """The stats of the live workers."""
        found = []
        for path in self.stats_files():
            with contextlib.suppress(OSError, ValueError):
                doc: dict[str, Any] = json.loads(path.read_text())
                pid = int(doc.get("pid", 0))
                if pid and Path(f"/proc/{pid}").exists():
                    found.append(doc)
        return found

    def listening(self) -> set[tuple[str, int]]:
        """The addresses every live worker listens on."""
        sets = [{(str(a[0]), int(a[1])) for a in doc.get("listening") or ()} for doc in self._workers()]
        return set.intersection(*sets) if sets else set()

    def wait_applied(self, serial: int, timeout: float = 10.0) -> bool:
        """Wait until every live worker has the table of `serial` (or a newer one) in force."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            docs = self._workers()
            if docs and all(int(d.get("serial") or 0) >= serial for d in docs):
                return True
            time.sleep(0.005)
        return False

    def wait_listening(self, addr: tuple[str, int], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if addr in self.listening():
                return True
            time.sleep(0.01)
        return False

    def stats_files(self) -> list[Path]:
        return sorted(self.dir.glob("stats-*.json"))

    def stats(self) -> dict[str, dict[str, int]]:
        """Connection counts per endpoint, summed over the workers."""
        out: dict[str, dict[str, int]] = {}
        for path in self.stats_files():
            with contextlib.suppress(OSError, ValueError):
                doc: dict[str, Any] = json.loads(path.read_text())
                for name, counts in doc.get("endpoints", {}).items():
                    mine = out.setdefault(name, {})
                    for key, value in counts.items():
                        mine[key] = mine.get(key, 0) + int(value)
        # Steered connections never pass through a worker: count what is open on each endpoint address.
        table = tables.load(self.dir / "table.json")
        opened = established([e.listen for e in table.endpoints])
        for endpoint in table.endpoints:
            if endpoint.name in out:
                out[endpoint.name]["open"] = opened.get(endpoint.listen, 0)
        return out

    def stop(self, timeout: float = 10.0) -> None:
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.pid() is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 2
            while self.pid() is not None and time.monotonic() < deadline:
                time.sleep(0.02)
