"""kill -9 of a real `kura up` in the middle of a checkpointed operation; the next `kura up` finishes it.

The operation (tests/plugins/slow_kind.py) has 5 steps; each appends `start i <pid>` and `end i <pid>`
to a file around a 0.3 s pause. Exactness: with `c` the number of steps checkpointed when the first
process died, the first process ran steps 0..c-1 once each and at most began (maybe ended) step c;
the second ran exactly steps c..4 once each. Nothing else runs twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from kura.control.types import STATUS_ERROR, STATUS_OP
from kura.store.sqlite import SqliteStore
from tests.kura_fixture import KuraServer, free_port
from tests.plugins.slow_kind import KIND

REPO = Path(__file__).resolve().parents[2]
STEPS = 5

Trace = list[tuple[str, int]]


def read_trace(path: Path) -> list[tuple[str, int, int]]:
    if not path.exists():
        return []
    rows = (line.split() for line in path.read_text().splitlines())
    return [(verb, int(i), int(pid)) for verb, i, pid in rows]


def wait_for(cond: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no server log)"
            raise AssertionError(f"timed out waiting for {what}; server log:\n{tail}")
        time.sleep(0.02)


def both_ends(steps: range) -> Trace:
    return [(verb, i) for i in steps for verb in ("start", "end")]


def test_kill9_mid_operation_then_up_completes_it(tmp_path: Path) -> None:
    home, trace = tmp_path / "home", tmp_path / "steps.log"
    home.mkdir()
    store = SqliteStore(home / "state.db")  # the server's own file (WAL): created before it starts
    store.create(KIND, "us-east-1", "op-1", {"log": str(trace), "steps": STEPS, "sleep": 0.3})
    server = KuraServer(home=home, port=free_port(),
                        env_extra={"KURA_PLUGINS": "tests.plugins.slow_kind", "PYTHONPATH": str(REPO)})
    server_log = tmp_path / f"kura-{server.port}.log"
    try:
        server.start()
        assert server.proc is not None
        first_pid = server.proc.pid
        wait_for(lambda: ("end", 1, first_pid) in read_trace(trace), 30, "step 1 to end", server_log)
        server.kill9()
        res = store.get(KIND, "us-east-1", "op-1")
        assert res is not None and res.status.get("state") != "done"
        checkpointed = int(res.status[STATUS_OP]["step"])

        server.start()
        assert server.proc is not None
        second_pid = server.proc.pid
        wait_for(lambda: (r := store.get(KIND, "us-east-1", "op-1")) is not None
                 and r.status.get("state") == "done", 30, "the operation to finish", server_log)
    finally:
        server.stop()
    res = store.get(KIND, "us-east-1", "op-1")
    store.close()
    assert res is not None and STATUS_OP not in res.status and STATUS_ERROR not in res.status

    entries = read_trace(trace)
    assert {pid for _, _, pid in entries} == {first_pid, second_pid}
    first: Trace = [(verb, i) for verb, i, pid in entries if pid == first_pid]
    second: Trace = [(verb, i) for verb, i, pid in entries if pid == second_pid]
    assert checkpointed in (1, 2), entries
    assert first[: 2 * checkpointed] == both_ends(range(checkpointed)), entries
    interrupted = first[2 * checkpointed:]
    assert interrupted in ([], [("start", checkpointed)], both_ends(range(checkpointed, checkpointed + 1))), \
        entries
    assert second == both_ends(range(checkpointed, STEPS)), entries
