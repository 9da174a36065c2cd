"""The Enhanced Monitoring document, measured on a real process tree: a parent that sleeps and a child
that burns CPU (what a postmaster and a busy backend look like from /proc)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kura.metrics import enhanced, osmetrics

SPIN = "import time\\nend = time.time() + 30\\nwhile time.time() < end: pass"
TREE = f"""
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "{SPIN}"])
print(child.pid, flush=True)
child.wait()
"""


@pytest.fixture
def tree() -> Iterator[tuple[int, int]]:
    proc = subprocess.Popen([sys.executable, "-c", TREE], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    try:
        yield proc.pid, child
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGTERM)
        proc.wait(timeout=10)


def test_document_of_a_busy_child(tree: tuple[int, int], tmp_path: Path) -> None:
    parent, child = tree
    device = osmetrics.device_of(tmp_path)
    first = osmetrics.snapshot([parent, child], time.monotonic(), device)
    load = enhanced.Load()
    time.sleep(1.0)
    second = osmetrics.snapshot([parent, child], time.monotonic(), device)
    load.update(osmetrics.running(second), second.at - first.at)
    inst = enhanced.Instance("db1", "db-ABC", "POSTGRES", 1, 1 << 30, tmp_path, time.time() - 3700,
                             20 << 30, 1 << 20)
    doc = enhanced.document(inst, first, second, load, time.time())
    json.dumps(doc)  # one log event: plain JSON
    assert doc["instanceID"] == "db1" and doc["instanceResourceID"] == "db-ABC" and doc["numVCPUs"] == 1
    assert doc["uptime"].startswith("0 days, 01:01:")
    procs = {p["id"]: p for p in doc["processList"]}
    assert set(procs) == {parent, child}
    assert procs[child]["parentID"] == parent
    assert procs[child]["cpuUsedPc"] > 30  # it spins (the machine is shared: not a full core)
    assert procs[parent]["cpuUsedPc"] < 5
    assert procs[child]["rss"] > 0 and procs[child]["vss"] >= procs[child]["rss"]
    cpu = doc["cpuUtilization"]
    assert cpu["user"] > 30 and abs(cpu["idle"] + cpu["total"] - 100) < 0.01
    assert doc["tasks"]["total"] == 2 and doc["tasks"]["running"] + doc["tasks"]["sleeping"] == 2
    assert 0 < doc["loadAverageMinute"]["one"] <= 1
    memory = doc["memory"]
    assert memory["total"] == 1 << 20 and 0 < memory["free"] < memory["total"]
    assert doc["fileSys"][0]["total"] == 20 << 20 and doc["fileSys"][0]["used"] == 1 << 10
    assert doc["diskIO"][0]["device"] == "rdsdev"


def test_load_average_decays_like_the_kernels() -> None:
    load = enhanced.Load()
    for _ in range(60):
        load.update(2, 1.0)
    assert round(load.one, 2) == round(2 * (1 - 2.718281828 ** -1), 2)  # 63 % of the way after a minute
    assert load.one > load.five > load.fifteen > 0
