"""Aurora Serverless v2 through a real `kura up`, boto3 and psycopg: a db.serverless writer whose
capacity follows a real CPU load up and back down, enforced by its control group (the kernel's CPU
quota and memory limit are read back), its live settings following the capacity, ModifyDBCluster's
new range applied at once, the capacity in `kura status` and per second in the metrics store."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kura.control.rds import nodes
from kura.engines import cgroups
from kura.metrics import series
from tests.integration.test_rds_clusters import cluster, endpoint, query
from tests.integration.test_rds_lifecycle import PASSWORD, connect, running, wait_for, wait_status
from tests.kura_fixture import KuraServer

pytestmark = [pytest.mark.skipif(not nodes.engines(), reason="no PostgreSQL installed"),
              pytest.mark.skipif(not cgroups.support().enforced, reason=cgroups.support().reason)]

ACU_CPU = 0.5


@pytest.fixture(scope="module")
def kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    with running(tmp_path_factory.mktemp("serverless") / "home", KURA_SERVERLESS_DOWN_AFTER="3",
                 KURA_SERVERLESS_DOWN_EVERY="1", KURA_ACU_CPU=str(ACU_CPU),
                 KURA_SERVERLESS_AUTO_PAUSE_SECONDS="3") as server:
        yield server


def _group(kura: KuraServer, dbi: str) -> cgroups.Group:
    return cgroups.Group(cgroups.support().mode, cgroups.parent_name(kura.home), dbi)


def _cores(kura: KuraServer, dbi: str) -> float:
    group = _group(kura, dbi)
    return group.limits()[0] if group.exists() else 0.0


def _burn(target: dict[str, Any], stop: threading.Event) -> None:
    """CPU-bound queries, one after the other, until told to stop."""
    with connect(target) as conn:
        while not stop.is_set():
            conn.execute("SELECT sum(i) FROM generate_series(1, 2000000) i")


@pytest.fixture(scope="module")
def writer(kura: KuraServer) -> dict[str, Any]:
    rds = kura.client("rds")
    rds.create_db_cluster(DBClusterIdentifier="sls", Engine="aurora-postgresql", MasterUsername="master",
                          MasterUserPassword=PASSWORD, DatabaseName="app",
                          ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 4})
    rds.create_db_instance(DBInstanceIdentifier="sls-1", DBClusterIdentifier="sls",
                           Engine="aurora-postgresql", DBInstanceClass="db.serverless")
    found = wait_status(rds, "sls-1", "available", 120)
    return {"cluster": cluster(rds, "sls"), "dbi": found["DbiResourceId"]}


def test_the_writer_runs_in_its_group_at_the_minimum(kura: KuraServer, writer: dict[str, Any]) -> None:
    group = _group(kura, writer["dbi"])
    wait_for(lambda: group.exists() and _cores(kura, writer["dbi"]) == 0.5 * ACU_CPU, 10, "the group")
    with connect(endpoint(writer["cluster"])) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        assert pid in group.pids(), "a backend forked by the postmaster is born in the group"
    assert group.limits()[1] >= 1 << 30  # 0.5 ACU of 2 GiB, or the shared buffers plus headroom


def test_capacity_follows_a_cpu_load_up_and_back_down(kura: KuraServer, writer: dict[str, Any]) -> None:
    target, dbi = endpoint(writer["cluster"]), writer["dbi"]
    before = query(target, "SHOW effective_cache_size")
    stop = threading.Event()
    load = [threading.Thread(target=_burn, args=(target, stop)) for _ in range(3)]
    started = time.monotonic()
    for t in load:
        t.start()
    try:
        wait_for(lambda: _cores(kura, dbi) >= 2 * ACU_CPU, 10, "the capacity to rise")
        rose = time.monotonic() - started
        wait_for(lambda: _cores(kura, dbi) >= 3 * ACU_CPU, 15, "the capacity to rise further")
        assert query(target, "SHOW effective_cache_size") != before  # the live setting followed
    finally:
        stop.set()
        for t in load:
            t.join()
    assert rose < 6, f"capacity rose {rose:.1f} s after the load began"
    wait_for(lambda: _cores(kura, dbi) == 0.5 * ACU_CPU, 40, "the capacity back at the minimum")
    assert wait_for(lambda: query(target, "SHOW effective_cache_size") == before, 10, "the setting back")
    now = time.time()
    seen = series.Series(Path(kura.home) / "metrics.db").get(
        "AWS/RDS", "ServerlessDatabaseCapacity", {"DBInstanceIdentifier": "sls-1"}, now - 120, now + 1)
    values = [v for _, v in seen]
    assert max(values) >= 2 and values[-1] == 0.5, values


def test_a_new_range_applies_at_once_and_shows_in_kura_status(kura: KuraServer,
                                                               writer: dict[str, Any]) -> None:
    rds = kura.client("rds")
    rds.modify_db_cluster(DBClusterIdentifier="sls", ApplyImmediately=True,
                          ServerlessV2ScalingConfiguration={"MinCapacity": 2, "MaxCapacity": 8})
    wait_for(lambda: _cores(kura, writer["dbi"]) == 2 * ACU_CPU, 10, "the new minimum")
    shown = subprocess.run([sys.executable, "-m", "kura", "status", "--home", str(kura.home)],
                           capture_output=True, text=True, timeout=30, env={"COLUMNS": "250"}).stdout
    line = next(x for x in shown.splitlines() if "sls-1" in x)
    assert "2 ACU, 25% of max, cgroup" in line, shown
    rds.modify_db_cluster(DBClusterIdentifier="sls", ApplyImmediately=True,
                          ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 1})
    wait_for(lambda: _cores(kura, writer["dbi"]) == 0.5 * ACU_CPU, 30, "back down within the new range")


def _events(rds: Any, words: str) -> list[str]:
    found = rds.describe_events(SourceType="db-instance", SourceIdentifier="sls-1", Duration=60)["Events"]
    return [e["Message"] for e in found if words in e["Message"]]


def test_an_idle_writer_pauses_and_the_first_client_resumes_it(kura: KuraServer,
                                                                writer: dict[str, Any]) -> None:
    rds, target = kura.client("rds"), endpoint(writer["cluster"])
    assert query(target, "CREATE TABLE kept AS SELECT 42 AS answer") == []
    made = rds.modify_db_cluster(DBClusterIdentifier="sls", ApplyImmediately=True,
                                 ServerlessV2ScalingConfiguration={"MinCapacity": 0, "MaxCapacity": 2})
    assert made["DBCluster"]["ServerlessV2ScalingConfiguration"]["SecondsUntilAutoPause"] == 300
    try:
        wait_for(lambda: _events(rds, "is paused"), 30, "the writer to pause (3 s idle here)")
    except AssertionError:
        titles = [Path(f"/proc/{p}/cmdline").read_bytes() for p in _group(kura, writer["dbi"]).pids()]
        raise AssertionError(titles) from None
    group = _group(kura, writer["dbi"])
    wait_for(lambda: not group.exists() or not group.pids(), 10, "its processes gone")
    shown = subprocess.run([sys.executable, "-m", "kura", "status", "--home", str(kura.home)],
                           capture_output=True, text=True, timeout=30, env={"COLUMNS": "250"}).stdout
    assert "paused" in next(x for x in shown.splitlines() if "sls-1" in x), shown
    assert rds.describe_db_instances(DBInstanceIdentifier="sls-1")["DBInstances"][0]["DBInstanceStatus"] \
        == "available"
    started = time.monotonic()
    assert query(target, "SELECT answer FROM kept") == [42]  # held by the router while it resumes
    took = time.monotonic() - started
    assert took < 5, f"first query {took:.2f} s after a paused writer was asked"
    assert _events(rds, "is resumed")
    rds.modify_db_cluster(DBClusterIdentifier="sls", ApplyImmediately=True,
                          ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 1})


def test_the_group_goes_with_the_instance(kura: KuraServer, writer: dict[str, Any]) -> None:
    rds = kura.client("rds")
    rds.delete_db_instance(DBInstanceIdentifier="sls-1", SkipFinalSnapshot=True)
    group = _group(kura, writer["dbi"])
    wait_for(lambda: not group.exists(), 60, "the group removed")


def test_without_writable_cgroups_the_settings_still_scale_and_kura_says_so(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """A host whose cgroups Kura may not write (here: a cgroup root with nothing in it)."""
    home = tmp_path_factory.mktemp("no-cgroups")
    with running(home / "home", KURA_CGROUP_ROOT=str(home)) as server:
        rds = server.client("rds")
        rds.create_db_cluster(DBClusterIdentifier="free", Engine="aurora-postgresql", MasterUsername="master",
                              MasterUserPassword=PASSWORD, DatabaseName="app",
                              ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 4})
        rds.create_db_instance(DBInstanceIdentifier="free-1", DBClusterIdentifier="free",
                               Engine="aurora-postgresql", DBInstanceClass="db.serverless")
        wait_status(rds, "free-1", "available", 120)
        said = wait_for(lambda: [e["Message"] for e in rds.describe_events(
            SourceType="db-instance", SourceIdentifier="free-1", Duration=60)["Events"]
            if "not enforced" in e["Message"]], 20, "the event")
        assert "cgroup" in said[0]
        target = endpoint(cluster(rds, "free"))
        before = query(target, "SHOW effective_cache_size")
        rds.modify_db_cluster(DBClusterIdentifier="free", ApplyImmediately=True,
                              ServerlessV2ScalingConfiguration={"MinCapacity": 2, "MaxCapacity": 4})
        wait_for(lambda: query(target, "SHOW effective_cache_size") not in (before, None), 20,
                 "the live setting sized for 2 ACUs")
        shown = subprocess.run([sys.executable, "-m", "kura", "status", "--home", str(server.home)],
                               capture_output=True, text=True, timeout=30, env={"COLUMNS": "250"}).stdout
        line = next(x for x in shown.splitlines() if "free-1" in x)
        assert "2 ACU, 50% of max, not enforced" in line, shown
