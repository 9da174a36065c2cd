"""Performance Insights without a server: statement digests, the sample store's runs and retention, and
the `pi` handlers' arithmetic and refusals over samples recorded by hand (the sampler's output shape),
plus the RDS settings of instances and Aurora clusters (members take the cluster's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kura.services.pi  # noqa: F401  (registers the handlers)
from kura.api.errors import AwsError
from kura.metrics import pi_query, pi_sampler, pi_store
from kura.metrics.pi_sampler import Second, Session, Statement
from kura.services.rds.records import KIND_INSTANCE
from tests.unit.test_rds_instances import REGION, Rds

T0 = 1_700_000_000 - 600  # ten minutes before the fake clock's now


def session(wait: str = "CPU", sql: str = "S1", user: str = "app") -> Session:
    kind, _, event = wait.partition(":")
    return Session(kind, event or kind, sql, "T" + sql, "16384", user, "127.0.0.9", "127.0.0.9", "app",
                   "psql")


def second(ts: int, *sessions: Session) -> Second:
    texts = [Statement("sql", s.sql_id, "pi-1", f"SELECT {s.sql_id} " + "x" * 600, s.tokenized_id)
             for s in sessions]
    texts += [Statement("tokenized", s.tokenized_id, "42", f"SELECT {s.sql_id} $1") for s in sessions]
    return Second(ts, list(sessions), texts)


@pytest.fixture(name="rds")
def rds_fixture(tmp_path: Path) -> Iterator[Rds]:
    r = Rds(tmp_path)
    yield r
    pi_store.close_home(tmp_path)
    r.store.close()


def test_digests_and_redaction() -> None:
    assert pi_sampler.normalize("SELECT * FROM t WHERE a = 'x''y' AND b = 42 AND c = -1.5e3") == \
        "SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $3"
    assert pi_sampler.normalize("SELECT t1.col2 FROM t1 LIMIT 10") == "SELECT t1.col2 FROM t1 LIMIT $1"
    assert pi_sampler.redact("ALTER ROLE app PASSWORD 'secret' VALID UNTIL 'x'") == \
        "ALTER ROLE app PASSWORD '***' VALID UNTIL 'x'"
    assert pi_sampler.synthetic_id("SELECT 1").startswith("pi-")


def test_store_runs_and_retention(tmp_path: Path) -> None:
    store = pi_store.PiStore(tmp_path / "pi.db")
    try:
        store.record([("db-A", second(100, session(), session()))])
        store.record([("db-A", second(101))])
        store.record([("db-A", second(101, session()))])  # the same second again: kept once
        store.record([("db-A", second(110, session("Lock:transactionid")))])  # after a gap: a new run
        assert store.runs("db-A", 0, 1000) == [(100, 101), (110, 110)]
        load = pi_query.load(store, "db-A", 100, 120, 10, (), [])
        assert load.covered == {10: 2, 11: 1}
        assert load.points((), "avg") == [(10, 1.0), (11, 1.0)]
        assert load.points((), "max") == [(10, 2.0), (11, 1.0)]
        assert load.points((), "min") == [(10, 0.0), (11, 1.0)]
        assert load.points((), "sum") == [(10, 2.0), (11, 1.0)]
        store.prune({"db-A": 5}, now=112, default=1)
        assert store.runs("db-A", 0, 1000) == [(110, 110)]
        assert pi_query.top(store, "db-A", 0, 1000, ("wait_type", "wait_event"), [], 5) == [
            (("Lock", "transactionid"), 1.0)]
    finally:
        store.close()


def _with_pi(rds: Rds, ident: str = "db1", **params: Any) -> str:
    rds.create(ident, EnablePerformanceInsights=True, **params)
    return str(rds.spec(ident)["DbiResourceId"])


def _record(rds: Rds, dbi: str) -> None:
    """Ten seconds: CPU on S1 in each, a lock wait on S2 in the last four, nothing in second 5."""
    store = pi_store.for_home(rds.env.settings.home)
    for i in range(10):
        sessions = [] if i == 5 else [session("CPU", "S1")]
        if i >= 6:
            sessions.append(session("Lock:transactionid", "S2", user="batch"))
        store.record([(dbi, second(T0 + i, *sessions))])


def pi(rds: Rds, op: str, dbi: str, **params: Any) -> dict[str, Any]:
    return rds.call("pi", op, ServiceType="RDS", Identifier=dbi, **params)


def test_metrics_grouped_and_filtered(rds: Rds) -> None:
    dbi = _with_pi(rds)
    _record(rds, dbi)
    span = {"StartTime": T0, "EndTime": T0 + 10, "PeriodInSeconds": 1}
    out = pi(rds, "GetResourceMetrics", dbi, **span, MetricQueries=[
        {"Metric": "db.load.avg", "GroupBy": {"Group": "db.wait_event", "Limit": 1}}])
    whole, top = out["MetricList"]
    assert [p["Value"] for p in whole["DataPoints"]] == [1, 1, 1, 1, 1, 0, 2, 2, 2, 2]
    assert whole["DataPoints"][0]["Timestamp"] == T0 + 1  # END_TIME alignment
    assert top["Key"]["Dimensions"] == {"db.wait_event.name": "CPU", "db.wait_event.type": "CPU"}
    assert (out["AlignedStartTime"], out["AlignedEndTime"], out["Identifier"]) == (T0, T0 + 10, dbi)
    ten = {"StartTime": T0, "EndTime": T0 + 10, "PeriodInSeconds": 60}
    for metric, value in (("db.load.avg", 1.3), ("db.load.max", 2), ("db.load.min", 0), ("db.load.sum", 13)):
        got = pi(rds, "GetResourceMetrics", dbi, **ten, MetricQueries=[{"Metric": metric}])
        assert [p["Value"] for p in got["MetricList"][0]["DataPoints"]] == [value], metric
    filtered = pi(rds, "GetResourceMetrics", dbi, **ten, MetricQueries=[
        {"Metric": "db.load.avg", "Filter": {"db.user.name": "batch"}, "GroupBy": {"Group": "db.sql"}}])
    assert [p["Value"] for p in filtered["MetricList"][0]["DataPoints"]] == [0.4]
    sql = filtered["MetricList"][1]["Key"]["Dimensions"]
    assert sql["db.sql.id"] == "S2" and sql["db.sql.tokenized_id"] == "TS2"
    assert len(sql["db.sql.statement"]) == 500


def test_top_keys_partitions_and_details(rds: Rds) -> None:
    dbi = _with_pi(rds)
    _record(rds, dbi)
    out = pi(rds, "DescribeDimensionKeys", dbi, StartTime=T0, EndTime=T0 + 10, Metric="db.load.avg",
             GroupBy={"Group": "db.sql_tokenized"}, PartitionBy={"Group": "db.wait_event_type"})
    assert out["PartitionKeys"] == [{"Dimensions": {"db.wait_event_type.name": "CPU"}},
                                    {"Dimensions": {"db.wait_event_type.name": "Lock"}}]
    shown = [(k["Dimensions"]["db.sql_tokenized.statement"], k["Total"], k["Partitions"])
             for k in out["Keys"]]
    assert shown == [("SELECT S1 $1", 0.9, [0.9, 0.0]), ("SELECT S2 $1", 0.4, [0.0, 0.4])]
    paged = pi(rds, "DescribeDimensionKeys", dbi, StartTime=T0, EndTime=T0 + 10, Metric="db.load.avg",
               GroupBy={"Group": "db.user", "Dimensions": ["db.user.name"]}, MaxResults=1)
    assert paged["Keys"] == [{"Dimensions": {"db.user.name": "app"}, "Total": 0.9}] and paged["NextToken"]
    rest = pi(rds, "DescribeDimensionKeys", dbi, StartTime=T0, EndTime=T0 + 10, Metric="db.load.avg",
              GroupBy={"Group": "db.user", "Dimensions": ["db.user.name"]}, NextToken=paged["NextToken"])
    assert rest["Keys"] == [{"Dimensions": {"db.user.name": "batch"}, "Total": 0.4}]
    details = pi(rds, "GetDimensionKeyDetails", dbi, Group="db.sql", GroupIdentifier="S2")["Dimensions"]
    assert details == [{"Dimension": "db.sql.statement", "Value": "SELECT S2 " + "x" * 600,
                        "Status": "AVAILABLE"}]
    assert pi(rds, "GetDimensionKeyDetails", dbi, Group="db.sql", GroupIdentifier="NOPE")["Dimensions"] == [
        {"Dimension": "db.sql.statement", "Status": "UNAVAILABLE"}]


def test_catalogue_and_metadata(rds: Rds) -> None:
    dbi = _with_pi(rds)
    pi_store.for_home(rds.env.settings.home).set_features(dbi, {"pg_stat_statements": "ENABLED"})
    metrics = pi(rds, "ListAvailableResourceMetrics", dbi, MetricTypes=["db", "os"])["Metrics"]
    assert [m["Metric"] for m in metrics] == ["db.load", "db.sampledload"]
    groups = pi(rds, "ListAvailableResourceDimensions", dbi, Metrics=["db.load"])["MetricDimensions"][0]
    waits = [{"Identifier": "db.wait_event.name"}, {"Identifier": "db.wait_event.type"}]
    assert {"Group": "db.wait_event", "Dimensions": waits} in groups["Groups"]
    assert pi(rds, "GetResourceMetadata", dbi)["Features"] == {"pg_stat_statements": {"Status": "ENABLED"}}


def _code(rds: Rds, op: str, dbi: str, **params: Any) -> str:
    with pytest.raises(AwsError) as info:
        pi(rds, op, dbi, **params)
    return info.value.code


def test_refusals(rds: Rds) -> None:
    dbi = _with_pi(rds)
    rds.create("plain")
    span = {"StartTime": T0, "EndTime": T0 + 10}
    query = [{"Metric": "db.load.avg"}]
    assert _code(rds, "GetResourceMetrics", str(rds.spec("plain")["DbiResourceId"]), **span,
                 MetricQueries=query) == "NotAuthorizedException"
    assert _code(rds, "GetResourceMetrics", "db-NOSUCH", **span, MetricQueries=query) == \
        "NotAuthorizedException"
    for bad in ({"MetricQueries": [{"Metric": "os.cpuUtilization.user.avg"}]},
                {"MetricQueries": [{"Metric": "db.load"}]},
                {"MetricQueries": query, "PeriodInSeconds": 30},
                {"MetricQueries": query, "StartTime": T0 + 10},
                {"MetricQueries": [{"Metric": "db.load.avg", "Filter": {"db.nope": "x"}}]}):
        assert _code(rds, "GetResourceMetrics", dbi, **{**span, **bad}) == "InvalidArgumentException", bad
    assert _code(rds, "DescribeDimensionKeys", dbi, **span, Metric="db.load.max",
                 GroupBy={"Group": "db.sql"}) == "InvalidArgumentException"
    assert _code(rds, "GetDimensionKeyDetails", dbi, Group="db.lock_snapshot", GroupIdentifier="1") == \
        "InvalidArgumentException"


def test_cluster_settings_reach_members_and_its_id_means_the_writer(rds: Rds) -> None:
    made = rds("CreateDBCluster", DBClusterIdentifier="c1", Engine="aurora-postgresql",
               MasterUsername="admin_user", MasterUserPassword="Master-pass-1",
               EnablePerformanceInsights=True, PerformanceInsightsRetentionPeriod=62)["DBCluster"]
    assert (made["PerformanceInsightsEnabled"], made["PerformanceInsightsRetentionPeriod"]) == (True, 62)
    member = {"DBClusterIdentifier": "c1", "Engine": "aurora-postgresql", "DBInstanceClass": "db.r6g.large"}
    writer = rds("CreateDBInstance", DBInstanceIdentifier="w1", **member)["DBInstance"]
    assert (writer["PerformanceInsightsEnabled"], writer["PerformanceInsightsRetentionPeriod"]) == (True, 62)
    _record(rds, writer["DbiResourceId"])
    out = pi(rds, "GetResourceMetrics", made["DbClusterResourceId"], StartTime=T0, EndTime=T0 + 10,
             MetricQueries=[{"Metric": "db.load.sum"}])
    assert out["Identifier"] == made["DbClusterResourceId"]
    assert [p["Value"] for p in out["MetricList"][0]["DataPoints"]] == [1, 1, 1, 1, 1, 0, 2, 2, 2, 2]
    assert rds.code("ModifyDBCluster", DBClusterIdentifier="c1", PerformanceInsightsRetentionPeriod=8) == \
        "InvalidParameterValue"
    off = rds("ModifyDBCluster", DBClusterIdentifier="c1", EnablePerformanceInsights=False)["DBCluster"]
    assert off["PerformanceInsightsEnabled"] is False and "PerformanceInsightsRetentionPeriod" not in off
    assert rds.store.get(KIND_INSTANCE, REGION, "w1").spec["EnablePerformanceInsights"] is False  # type: ignore[union-attr]
    assert _code(rds, "GetResourceMetrics", made["DbClusterResourceId"], StartTime=T0, EndTime=T0 + 10,
                 MetricQueries=[{"Metric": "db.load.avg"}]) == "NotAuthorizedException"
