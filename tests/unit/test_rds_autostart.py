"""Seven days stopped: a DB instance, or a DB cluster with its DB instances, is started, as AWS does —
decided on the injected clock over a real SQLite store, the handlers playing the API and the test the
rest of the control plane."""

from __future__ import annotations

from typing import Any

from kura.control.rds import autostart
from kura.control.rds.plan import Observed, Op, plan
from kura.engines.postgres.types import NodeState
from kura.services.rds.records import KIND_CLUSTER, KIND_INSTANCE
from kura.store.types import Resource
from tests.unit.test_rds_clusters_api import make
from tests.unit.test_rds_instances import REGION, Rds, rds_fixture

__all__ = ["rds_fixture"]
DAY = 86400.0


def _get(rds: Rds, ident: str, kind: str = KIND_INSTANCE) -> Resource:
    res = rds.store.get(kind, REGION, ident)
    assert res is not None
    return res


def _messages(rds: Rds, ident: str) -> list[str]:
    return [e.message for e in rds.store.events(REGION, source_id=ident)]


def test_an_instance_stopped_seven_days_is_started(rds: Rds) -> None:
    rds.create("db1", BackupRetentionPeriod=0)
    rds.available("db1")
    rds("StopDBInstance", DBInstanceIdentifier="db1")
    rds.set_status("db1", state="stopped")
    res = autostart.instance(rds.env, _get(rds, "db1"))  # the first look at it stopped: since now
    assert res.status["stopped_at"] == rds.clock.now()
    assert autostart.remaining(res.status, rds.clock.now()) == 7 * DAY

    rds.clock.advance(7 * DAY - 1)
    res = autostart.instance(rds.env, _get(rds, "db1"))
    assert res.spec["desired"] == "stopped" and autostart.INSTANCE_STARTED not in _messages(rds, "db1")
    rds.clock.advance(1)
    res = autostart.instance(rds.env, _get(rds, "db1"))
    assert res.spec["desired"] == "available"
    assert autostart.INSTANCE_STARTED in _messages(rds, "db1")
    chosen = plan(res.spec, res.status, Observed(NodeState.STOPPED))
    assert chosen is not None and chosen.op is Op.START
    assert rds.describe("db1")["DBInstanceStatus"] == "starting"

    rds.set_status("db1", state="available")  # started: the stop time is forgotten, the next stop counts anew
    assert "stopped_at" not in autostart.instance(rds.env, _get(rds, "db1")).status
    rds("StopDBInstance", DBInstanceIdentifier="db1")
    rds.set_status("db1", state="stopped")
    res = autostart.instance(rds.env, _get(rds, "db1"))
    assert res.spec["desired"] == "stopped" and res.status["stopped_at"] == rds.clock.now()


def _stopped_cluster(rds: Rds) -> tuple[Resource, list[Resource]]:
    make(rds)
    rds.store.update(_get(rds, "c1", KIND_CLUSTER), status={"state": "available"})
    rds("CreateDBInstance", DBInstanceIdentifier="m1", DBClusterIdentifier="c1", Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large")
    rds.available("m1")
    rds("StopDBCluster", DBClusterIdentifier="c1")
    rds.set_status("m1", state="stopped")
    return _get(rds, "c1", KIND_CLUSTER), [_get(rds, "m1")]


def test_a_cluster_stopped_seven_days_is_started_with_its_instances(rds: Rds) -> None:
    cluster, members = _stopped_cluster(rds)
    assert autostart.instance(rds.env, members[0]).spec["desired"] == "stopped"  # its cluster decides
    cluster = autostart.cluster(rds.env, cluster, members)
    assert cluster.status["stopped_at"] == rds.clock.now()
    rds.clock.advance(3 * DAY)
    assert autostart.cluster(rds.env, cluster, members).spec["desired"] == "stopped"

    rds.clock.advance(4 * DAY)
    cluster = autostart.cluster(rds.env, cluster, [_get(rds, "m1")])
    assert cluster.spec["desired"] == "available" and "stopped_at" not in cluster.status
    assert _get(rds, "m1").spec["desired"] == "available"
    assert autostart.CLUSTER_STARTED in _messages(rds, "c1")
    found: dict[str, Any] = rds("DescribeDBClusters", DBClusterIdentifier="c1")["DBClusters"][0]
    assert found["Status"] == "starting"


def test_a_cluster_started_by_hand_forgets_its_stop_time(rds: Rds) -> None:
    cluster, members = _stopped_cluster(rds)
    cluster = autostart.cluster(rds.env, cluster, members)
    rds.clock.advance(6 * DAY)
    rds("StartDBCluster", DBClusterIdentifier="c1")
    rds.set_status("m1", state="available")
    cluster = autostart.cluster(rds.env, _get(rds, "c1", KIND_CLUSTER), [_get(rds, "m1")])
    assert "stopped_at" not in cluster.status
    rds("StopDBCluster", DBClusterIdentifier="c1")
    rds.set_status("m1", state="stopped")
    rds.clock.advance(2 * DAY)  # eight days after the first stop, two after this one
    cluster = autostart.cluster(rds.env, _get(rds, "c1", KIND_CLUSTER), [_get(rds, "m1")])
    cluster = autostart.cluster(rds.env, cluster, [_get(rds, "m1")])
    assert cluster.spec["desired"] == "stopped" and cluster.status["stopped_at"] == rds.clock.now()
