"""Performance Insights on a real `kura up`: a DB instance with Performance Insights runs a deliberately
slow statement (pg_sleep) and a statement waiting on a row lock another session holds; the sampler's
record shows them as the top SQL with their wait events (DescribeDimensionKeys), their full text
(GetDimensionKeyDetails) and the load by wait event over time (GetResourceMetrics), through boto3 and
the AWS CLI. Seed 002's `aws pi get-resource-metrics` runs as written, on an Aurora cluster's resource
id (the writer's load)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import bash
from tests.integration.test_rds_lifecycle import PASSWORD, connect, create, running, wait_for, wait_status
from tests.kura_fixture import KuraServer

PADDING = "/* " + "the slow report " * 40 + "*/"  # a statement longer than the 500 bytes listed
SLEEP = f"SELECT pg_sleep(3) {PADDING}"
SEED002 = """\
aws pi get-resource-metrics \\
  --service-type RDS \\
  --identifier $(terraform output -raw cluster_resource_id) \\
  --metric-queries file://metrics-query.json \\
  --start-time $(date -u -d '1 hour ago' +%Y-%m-%dT%H:%M:%S) \\
  --end-time $(date -u +%Y-%m-%dT%H:%M:%S)
"""
METRICS_QUERY = [{"Metric": "db.load.avg"},
                 {"Metric": "db.load.avg", "GroupBy": {"Group": "db.wait_event", "Limit": 5}}]


@pytest.fixture(scope="module")
def kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    with running(tmp_path_factory.mktemp("pi") / "home") as server:
        yield server


@pytest.fixture(scope="module")
def slow(kura: KuraServer) -> dict[str, Any]:
    """An instance with Performance Insights after a slow statement and a lock wait ran on it."""
    rds = kura.client("rds")
    create(rds, "pi-db", EnablePerformanceInsights=True)
    inst = wait_status(rds, "pi-db", "available")
    setup = connect(inst)
    setup.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int)")
    setup.execute("INSERT INTO accounts VALUES (1, 100)")
    holder, waiter, sleeper = connect(inst), connect(inst), connect(inst)
    began = time.time()
    holder.execute("BEGIN")
    holder.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1")
    threads = [threading.Thread(target=waiter.execute, args=("UPDATE accounts SET balance = balance + 10 "
                                                             "WHERE id = 1",)),
               threading.Thread(target=sleeper.execute, args=(SLEEP,))]
    for thread in threads:
        thread.start()
    time.sleep(3.2)
    holder.execute("COMMIT")
    for thread in threads:
        thread.join(timeout=10)
    time.sleep(1.5)  # the last second sampled and recorded
    for conn in (setup, holder, waiter, sleeper):
        conn.close()
    return {"id": inst["DbiResourceId"], "start": datetime.fromtimestamp(began - 5, UTC),
            "end": datetime.fromtimestamp(time.time() + 1, UTC)}


def _keys(pi: Any, slow: dict[str, Any], group: str, **extra: Any) -> list[dict[str, Any]]:
    return list(pi.describe_dimension_keys(**_span(slow), Metric="db.load.avg", GroupBy={"Group": group},
                                           **extra)["Keys"])


def _span(slow: dict[str, Any]) -> dict[str, Any]:
    return {"ServiceType": "RDS", "Identifier": slow["id"], "StartTime": slow["start"],
            "EndTime": slow["end"]}


def test_settings_shown_and_changed(kura: KuraServer, slow: dict[str, Any]) -> None:
    rds = kura.client("rds")
    db = rds.describe_db_instances(DBInstanceIdentifier="pi-db")["DBInstances"][0]
    assert (db["PerformanceInsightsEnabled"], db["PerformanceInsightsRetentionPeriod"]) == (True, 7)
    assert db["PerformanceInsightsKMSKeyId"].startswith("arn:aws:kms:")
    db = rds.modify_db_instance(DBInstanceIdentifier="pi-db", PerformanceInsightsRetentionPeriod=731,
                                ApplyImmediately=True)["DBInstance"]
    assert db["PerformanceInsightsRetentionPeriod"] == 731


def test_top_sql_with_its_wait_events(kura: KuraServer, slow: dict[str, Any]) -> None:
    pi = kura.client("pi")
    grouped = {"GroupBy": {"Group": "db.sql_tokenized"}, "PartitionBy": {"Group": "db.wait_event"}}
    out = pi.describe_dimension_keys(**_span(slow), Metric="db.load.avg", **grouped)
    waits = [p["Dimensions"]["db.wait_event.name"] for p in out["PartitionKeys"]]
    assert "Timeout:PgSleep" in waits and "Lock:transactionid" in waits, waits
    by_text = {k["Dimensions"]["db.sql_tokenized.statement"]: k for k in out["Keys"]}
    sleep = next(k for t, k in by_text.items() if t.startswith("SELECT pg_sleep($1)"))
    update = by_text["UPDATE accounts SET balance = balance + $1 WHERE id = $2"]
    assert sleep["Total"] > 0.2 and update["Total"] > 0.2, out["Keys"]
    assert sleep["Partitions"][waits.index("Timeout:PgSleep")] == sleep["Total"]
    assert update["Partitions"][waits.index("Lock:transactionid")] == update["Total"]
    assert len(sleep["Dimensions"]["db.sql_tokenized.statement"].encode()) <= 500
    assert sleep["Dimensions"]["db.sql_tokenized.db_id"].lstrip("-").isdigit()  # pg_stat_statements' id
    top_waits = [k["Dimensions"]["db.wait_event.name"] for k in _keys(pi, slow, "db.wait_event")]
    # the lock holder, idle in its transaction meanwhile, counts as waiting on its client
    assert {"Timeout:PgSleep", "Lock:transactionid", "Client:ClientRead"} <= set(top_waits[:4]), top_waits


def test_full_statement_text(kura: KuraServer, slow: dict[str, Any]) -> None:
    pi = kura.client("pi")
    sql = next(k["Dimensions"] for k in _keys(pi, slow, "db.sql")
               if k["Dimensions"]["db.sql.statement"].startswith("SELECT pg_sleep(3)"))
    details = pi.get_dimension_key_details(ServiceType="RDS", Identifier=slow["id"], Group="db.sql",
                                           GroupIdentifier=sql["db.sql.id"])["Dimensions"]
    assert details == [{"Dimension": "db.sql.statement", "Value": SLEEP, "Status": "AVAILABLE"}]
    cli = kura.aws("pi", "get-dimension-key-details", "--service-type", "RDS", "--identifier", slow["id"],
                   "--group", "db.sql_tokenized", "--group-identifier", sql["db.sql.tokenized_id"])
    assert cli["Dimensions"][0]["Value"] == f"SELECT pg_sleep($1) {PADDING}"
    features = pi.get_resource_metadata(ServiceType="RDS", Identifier=slow["id"])["Features"]
    assert features == {"pg_stat_statements": {"Status": "ENABLED"}}


def test_load_by_wait_event_over_time(kura: KuraServer, slow: dict[str, Any]) -> None:
    pi = kura.client("pi")
    out = pi.get_resource_metrics(**_span(slow), PeriodInSeconds=1, MetricQueries=[
        {"Metric": "db.load.avg", "GroupBy": {"Group": "db.wait_event"}}])
    whole, *split = out["MetricList"]
    assert whole["Key"] == {"Metric": "db.load.avg"} and max(p["Value"] for p in whole["DataPoints"]) >= 2
    by_wait = {s["Key"]["Dimensions"]["db.wait_event.name"]: s["DataPoints"] for s in split}
    for wait in ("Timeout:PgSleep", "Lock:transactionid"):
        busy = [p for p in by_wait[wait] if p["Value"] == 1.0]
        assert 2 <= len(busy) <= 5, (wait, by_wait[wait])
    assert out["AlignedStartTime"] <= slow["start"] and out["AlignedEndTime"] >= slow["end"]
    minutes = pi.get_resource_metrics(**_span(slow), PeriodInSeconds=60, MetricQueries=[
        {"Metric": "db.load.max"}])["MetricList"][0]["DataPoints"]
    assert max(p["Value"] for p in minutes) >= 2


def test_errors_as_pi_answers_them(kura: KuraServer, slow: dict[str, Any]) -> None:
    pi = kura.client("pi")
    base = {"ServiceType": "RDS", "StartTime": slow["start"], "EndTime": slow["end"]}

    def code(**params: Any) -> str:
        try:
            pi.get_resource_metrics(**{**base, "Identifier": slow["id"],
                                       "MetricQueries": [{"Metric": "db.load.avg"}], **params})
        except pi.exceptions.ClientError as exc:
            return str(exc.response["Error"]["Code"])
        raise AssertionError("no error")

    assert code(Identifier="db-NOSUCHRESOURCE") == "NotAuthorizedException"
    assert code(PeriodInSeconds=7) == "InvalidArgumentException"
    assert code(MetricQueries=[{"Metric": "db.load.p99"}]) == "InvalidArgumentException"
    assert code(MetricQueries=[{"Metric": "db.load.avg", "GroupBy": {"Group": "db.nope"}}]) == \
        "InvalidArgumentException"
    rds = kura.client("rds")
    rds.modify_db_instance(DBInstanceIdentifier="pi-db", EnablePerformanceInsights=False,
                           ApplyImmediately=True)
    try:
        assert code() == "NotAuthorizedException"
    finally:
        rds.modify_db_instance(DBInstanceIdentifier="pi-db", EnablePerformanceInsights=True,
                               ApplyImmediately=True)


def test_seed002_get_resource_metrics_on_the_cluster(kura: KuraServer, tmp_path: Path) -> None:
    rds = kura.client("rds")
    rds.create_db_cluster(DBClusterIdentifier="nba-tracker-dev", Engine="aurora-postgresql",
                          MasterUsername="nbatracker", MasterUserPassword=PASSWORD, DatabaseName="nbatracker",
                          EnablePerformanceInsights=True, PerformanceInsightsRetentionPeriod=7,
                          ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 1.0})
    rds.create_db_instance(DBInstanceIdentifier="nba-tracker-dev-1", DBClusterIdentifier="nba-tracker-dev",
                           Engine="aurora-postgresql", DBInstanceClass="db.serverless")
    writer = wait_status(rds, "nba-tracker-dev-1", "available", 120)
    assert (writer["PerformanceInsightsEnabled"], writer["PerformanceInsightsRetentionPeriod"]) == (True, 7)
    cluster = rds.describe_db_clusters(DBClusterIdentifier="nba-tracker-dev")["DBClusters"][0]
    assert cluster["PerformanceInsightsEnabled"] and cluster["PerformanceInsightsRetentionPeriod"] == 7
    conn = connect({"Endpoint": {"Address": cluster["Endpoint"], "Port": cluster["Port"]}}, user="nbatracker",
                   dbname="nbatracker")
    with conn:
        conn.execute("SELECT pg_sleep(2)")
    (tmp_path / "metrics-query.json").write_text(json.dumps(METRICS_QUERY))
    script = f'terraform() {{ echo "{cluster["DbClusterResourceId"]}"; }}\n{SEED002}'

    def answered() -> dict[str, Any] | None:
        out = json.loads(bash(kura, script, tmp_path).stdout)
        waits = {s["Key"].get("Dimensions", {}).get("db.wait_event.name") for s in out["MetricList"]}
        return out if "Timeout:PgSleep" in waits else None

    out = wait_for(answered, 10, "the pg_sleep in the cluster's load")
    assert out["Identifier"] == cluster["DbClusterResourceId"]
    whole = out["MetricList"][0]
    assert whole["Key"] == {"Metric": "db.load.avg"} and whole["DataPoints"]
    assert out["AlignedEndTime"] > out["AlignedStartTime"]


def test_digests_end_as_pg_stat_statements_text(kura: KuraServer, slow: dict[str, Any]) -> None:
    """The statements had no pg_stat_statements entry while they ran (it is added when one ends): their
    digests were Kura's normalization until the sampler, asking again, recorded pg_stat_statements'."""
    def final() -> bool:
        with contextlib.closing(sqlite3.connect(kura.home / "pi.db")) as db:
            rows = db.execute("SELECT s.final FROM statements s JOIN sources o ON o.id = s.source "
                              "WHERE o.name = ? AND s.kind = 'tokenized'", (slow["id"],)).fetchall()
        return bool(rows) and all(r[0] for r in rows)

    wait_for(final, 30, "pg_stat_statements' digests")
