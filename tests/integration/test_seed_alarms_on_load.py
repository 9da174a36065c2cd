"""Seed 004's four alarms and seed 003's three, each fired by a real load on a real PostgreSQL and back
to OK once the load stops, the ALARM notification reaching an HTTP subscriber of the SNS topic signed.

What is the seeds': namespace, metric, dimension, statistic (Average), comparison operator, threshold
and the topic in AlarmActions (seed 003's also in OKActions). What is not: periods of 10 s and one
evaluation period instead of the seeds' 300 s × 2 (ReplicaLag: 60 s × 5), with which one transition
takes five to ten minutes of load; and FreeStorageSpace, where this Kura's "GiB" is 16 MiB
(KURA_STORAGE_UNIT_BYTES) and the threshold of 10 GiB is scaled alike, so that 150 MB of rows cross it.

The loads:
- CPUUtilization > 80: backends summing series (a 2-vCPU class against this host's 2 cores);
- DatabaseConnections > 250 (seed 004: 80 % of max_connections, 300 in its parameter group here) and
  > 800 (seed 003): client sessions held open through the endpoint;
- FreeStorageSpace < 10 GiB: an unlogged table filled past the threshold, then dropped;
- ReplicaLag > 30: WAL replay of the read replica stopped (SIGSTOP of its startup process) while a
  client commits on the source; SIGCONT and it catches up;
- ACUUtilization > 80 (Serverless v2, 0.5–4 ACU): the CPU load and the sessions make the writer scale
  to its maximum; it scales back down once they stop.

CPU-bound: these run in the serial phase of `make test`, alone on the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from kura.control.rds import nodes
from kura.engines import cgroups
from kura.metrics import procfs
from tests.integration.test_cloudwatch_metrics import series
from tests.integration.test_rds_clusters import cluster, endpoint
from tests.integration.test_rds_lifecycle import PASSWORD, connect, create, pytestmark, running, wait_status
from tests.kura_fixture import KuraServer
from tests.sns_subscriber import Subscriber, subscribed_topic, subscriber, verify

pytestmark = [pytestmark, pytest.mark.serial,
              pytest.mark.skipif(not cgroups.support().enforced, reason=cgroups.support().reason)]

MAJOR = nodes.engines()[0].major if nodes.engines() else 16
UNIT = 16 * 1024 * 1024  # one "GiB" of allocated storage here
PERIOD = 10
GT, LT = "GreaterThanThreshold", "LessThanThreshold"


@pytest.fixture(scope="module")
def kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    with running(tmp_path_factory.mktemp("seed-alarms") / "home", KURA_STORAGE_UNIT_BYTES=str(UNIT),
                 KURA_SERVERLESS_DOWN_AFTER="3", KURA_SERVERLESS_DOWN_EVERY="1") as server:
        yield server


@dataclass
class Load:
    """A load that runs in its own thread from start() until stop()."""

    run: Callable[[threading.Event], None]
    halt: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    error: BaseException | None = None

    def start(self) -> None:
        def body() -> None:
            try:
                self.run(self.halt)
            except BaseException as exc:  # reported by the test, not lost in the thread
                self.error = exc

        self.thread = threading.Thread(target=body, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.halt.set()
        if self.thread is not None:
            self.thread.join(60)
        assert self.error is None, f"the load failed: {self.error!r}"


def burners(target: dict[str, Any], backends: int) -> Callable[[threading.Event], None]:
    def one(halt: threading.Event) -> None:
        with connect(target) as conn:
            while not halt.is_set():
                # in the select list the series streams (in FROM it would spill to temporary files,
                # which count against the storage the storage alarm watches)
                conn.execute("SELECT count(*) FROM (SELECT generate_series(1, 3000000)) s")

    def run(halt: threading.Event) -> None:
        with ThreadPoolExecutor(backends) as pool:
            for done in [pool.submit(one, halt) for _ in range(backends)]:
                done.result()

    return run


def sessions(target: dict[str, Any], count: int) -> Callable[[threading.Event], None]:
    def run(halt: threading.Event) -> None:
        opened: list[psycopg.Connection[Any]] = []
        try:
            with ThreadPoolExecutor(8) as pool:  # ~100 a second: a serverless writer scales meanwhile
                for start in range(0, count, 100):
                    opened += pool.map(lambda _: connect(target), range(start, min(count, start + 100)))
                    if halt.wait(1.0):
                        break
            halt.wait()
        finally:
            for conn in opened:
                conn.close()

    return run


def put_alarm(kura: KuraServer, name: str, metric: str, threshold: float, op: str, dimension: tuple[str, str],
              topic: str, ok_actions: bool) -> None:
    """`aws cloudwatch put-metric-alarm` as the seed writes it (but for the period)."""
    args = ["cloudwatch", "put-metric-alarm", "--alarm-name", name, "--metric-name", metric,
            "--namespace", "AWS/RDS", "--statistic", "Average", "--period", str(PERIOD),
            "--evaluation-periods", "1", "--threshold", repr(threshold), "--comparison-operator", op,
            "--dimensions", f"Name={dimension[0]},Value={dimension[1]}", "--alarm-actions", topic]
    kura.aws(*args, *(["--ok-actions", topic] if ok_actions else []))


def states(kura: KuraServer, names: list[str]) -> dict[str, str]:
    found = kura.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
    return {a["AlarmName"]: a["StateValue"] for a in found}


def drive(kura: KuraServer, sub: Subscriber, loads: dict[str, Load], timeout: float = 240) -> dict[str, Any]:
    """Wait for every alarm to be OK; start the loads; stop each alarm's load at its ALARM notification;
    wait for every alarm to be OK again. Returns the ALARM notifications by alarm name."""
    names = sorted(loads)
    deadline = time.monotonic() + timeout
    while set(states(kura, names).values()) != {"OK"}:
        assert time.monotonic() < deadline, f"not all OK before the load: {states(kura, names)}"
        time.sleep(1)
    fired: dict[str, Any] = {}
    for load in loads.values():
        load.start()
    try:
        while len(fired) < len(names):
            assert time.monotonic() < deadline, f"no ALARM for {set(names) - set(fired)}"
            with contextlib.suppress(queue.Empty):
                doc = sub.next_of("Notification", timeout=2).doc
                verify(doc)
                note = json.loads(doc["Message"])
                if note["NewStateValue"] == "ALARM" and note["AlarmName"] not in fired:
                    fired[note["AlarmName"]] = note
                    loads[note["AlarmName"]].stop()
        while set(states(kura, names).values()) != {"OK"}:
            assert time.monotonic() < deadline, f"not all OK after the load: {states(kura, names)}"
            time.sleep(1)
    finally:
        for load in loads.values():
            load.halt.set()
        for load in loads.values():
            load.stop()
    for name in names:
        history = kura.client("cloudwatch").describe_alarm_history(AlarmName=name,
                                                                   HistoryItemType="StateUpdate")
        summaries = [h["HistorySummary"] for h in history["AlarmHistoryItems"]]
        assert summaries[:2] == ["Alarm updated from ALARM to OK", "Alarm updated from OK to ALARM"], \
            summaries
    return fired


def startup_process(datadir: Path) -> int:
    """The replica's startup process: the postmaster's child replaying WAL."""
    postmaster = int((datadir / "postmaster.pid").read_text().split()[0])
    for child in procfs.children(postmaster):
        if b"startup" in Path(f"/proc/{child}/cmdline").read_bytes():
            return child
    raise AssertionError(f"no startup process under {postmaster}")


def test_seed_004_alarms_fire_on_load_and_clear(kura: KuraServer) -> None:
    rds = kura.client("rds")
    rds.create_db_parameter_group(DBParameterGroupName="langpont-params",
                                  DBParameterGroupFamily=f"postgres{MAJOR}",
                                  Description="max_connections for the 250-connection alarm")
    rds.modify_db_parameter_group(DBParameterGroupName="langpont-params", Parameters=[
        {"ParameterName": "max_connections", "ParameterValue": "300", "ApplyMethod": "pending-reboot"}])
    create(rds, "langpont-db", DBParameterGroupName="langpont-params")
    rds.create_db_instance_read_replica(DBInstanceIdentifier="langpont-replica",
                                        SourceDBInstanceIdentifier="langpont-db")
    source = wait_status(rds, "langpont-db", "available")
    wait_status(rds, "langpont-replica", "available", 120)
    with connect(source) as conn:
        conn.execute("CREATE TABLE ledger (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())")
    replica_dir = kura.home / "data" / "rds" / kura.region / "langpont-replica" / "pgdata"
    threshold = 10.0 * UNIT

    def fill(halt: threading.Event) -> None:
        # 48 MiB past the threshold, far from full (the storage-full fence would refuse the writers).
        # 1 kB rows stay below the TOAST threshold, stored as they are, uncompressed: 7 to a page.
        free = series(kura.client("cloudwatch"), "FreeStorageSpace", "Minimum", time.time() - 30,
                      [{"Name": "DBInstanceIdentifier", "Value": "langpont-db"}])[-1]
        rows = int((free - threshold + 48 * 2**20) / (8192 / 7))
        with connect(source) as conn:
            conn.execute("CREATE UNLOGGED TABLE ballast (pad text)")
            conn.execute("INSERT INTO ballast SELECT repeat('x', 1000) FROM generate_series(1, %s)", (rows,))
            halt.wait()
            conn.execute("DROP TABLE ballast")

    def lag(halt: threading.Event) -> None:
        pid = startup_process(replica_dir)
        os.kill(pid, signal.SIGSTOP)
        try:
            with connect(source) as conn:
                while not halt.wait(0.2):
                    conn.execute("INSERT INTO ledger DEFAULT VALUES")
        finally:
            os.kill(pid, signal.SIGCONT)

    with subscriber() as sub:
        topic = subscribed_topic(kura.client("sns"), sub, "langpont-alerts")
        db, replica = ("DBInstanceIdentifier", "langpont-db"), ("DBInstanceIdentifier", "langpont-replica")
        put_alarm(kura, "langpont-rds-cpu-high", "CPUUtilization", 80, GT, db, topic, False)
        put_alarm(kura, "langpont-rds-connections-high", "DatabaseConnections", 250, GT, db, topic, False)
        put_alarm(kura, "langpont-rds-replica-lag", "ReplicaLag", 30, GT, replica, topic, False)
        put_alarm(kura, "langpont-rds-storage-low", "FreeStorageSpace", threshold, LT, db, topic, False)
        fired = drive(kura, sub, {"langpont-rds-cpu-high": Load(burners(source, 3)),
                                  "langpont-rds-connections-high": Load(sessions(source, 260)),
                                  "langpont-rds-replica-lag": Load(lag),
                                  "langpont-rds-storage-low": Load(fill)})
    for name, note in fired.items():
        print(f"\n{name}: {note['NewStateReason']}")
    assert fired["langpont-rds-replica-lag"]["Trigger"]["Dimensions"] == \
        [{"value": "langpont-replica", "name": "DBInstanceIdentifier"}]
    assert fired["langpont-rds-storage-low"]["Trigger"]["ComparisonOperator"] == LT


def test_seed_003_alarms_fire_on_load_and_clear(kura: KuraServer) -> None:
    rds = kura.client("rds")
    ident = "miyabi-prod-aurora-cluster"
    rds.create_db_cluster_parameter_group(DBClusterParameterGroupName="miyabi-cluster-params",
                                          DBParameterGroupFamily=f"aurora-postgresql{MAJOR}",
                                          Description="room for the 800-connection alarm")
    rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName="miyabi-cluster-params", Parameters=[
        {"ParameterName": "max_connections", "ParameterValue": "1000", "ApplyMethod": "pending-reboot"}])
    rds.create_db_cluster(DBClusterIdentifier=ident, Engine="aurora-postgresql", MasterUsername="master",
                          MasterUserPassword=PASSWORD, DatabaseName="app",
                          DBClusterParameterGroupName="miyabi-cluster-params",
                          ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 4})
    rds.create_db_instance(DBInstanceIdentifier="miyabi-prod-aurora-1", DBClusterIdentifier=ident,
                           Engine="aurora-postgresql", DBInstanceClass="db.serverless")
    wait_status(rds, "miyabi-prod-aurora-1", "available", 120)
    writer = endpoint(cluster(rds, ident))
    dim = ("DBClusterIdentifier", ident)
    with subscriber() as sub:
        topic = subscribed_topic(kura.client("sns"), sub, "miyabi-prod-alerts")
        put_alarm(kura, "miyabi-prod-aurora-cpu-high", "CPUUtilization", 80, GT, dim, topic, True)
        put_alarm(kura, "miyabi-prod-aurora-acu-high", "ACUUtilization", 80, GT, dim, topic, True)
        put_alarm(kura, "miyabi-prod-aurora-connections-high", "DatabaseConnections", 800, GT, dim, topic,
                  True)
        fired = drive(kura, sub, {"miyabi-prod-aurora-cpu-high": Load(burners(writer, 4)),
                                  "miyabi-prod-aurora-acu-high": Load(burners(writer, 2)),
                                  "miyabi-prod-aurora-connections-high": Load(sessions(writer, 820))})
    for name, note in fired.items():
        print(f"\n{name}: {note['NewStateReason']}")
    assert fired["miyabi-prod-aurora-acu-high"]["Trigger"]["Dimensions"] == \
        [{"value": ident, "name": "DBClusterIdentifier"}]
