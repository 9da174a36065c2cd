"""CloudWatch metrics through a real `kura up`: the collector measures a real PostgreSQL under pgbench and a
real Redis, and boto3, the AWS CLI and clients forced to each of CloudWatch's protocols (JSON, CBOR,
query) read them back; custom metrics round-trip through PutMetricData with percentiles; seed 002's and
seed 004's commands; /metrics parsed by prometheus_client."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import redis
from botocore.config import Config
from prometheus_client.parser import text_string_to_metric_families

from kura.control.elasticache import nodes as ec_nodes
from kura.control.rds import nodes
from kura.engines import osuser
from tests.integration.test_elasticache_lifecycle import endpoint as ec_endpoint
from tests.integration.test_elasticache_lifecycle import ensure_catalogue, stop_redis
from tests.integration.test_elasticache_lifecycle import wait_status as ec_wait_status
from tests.integration.test_rds_lifecycle import PASSWORD, connect, create, describe, running, wait_for
from tests.kura_fixture import KuraServer

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no PostgreSQL installed")
DB = [{"Name": "DBInstanceIdentifier", "Value": "cw-db"}]


@pytest.fixture(scope="module")
def kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    home = tmp_path_factory.mktemp("cloudwatch") / "home"
    try:
        with running(home, KURA_ELASTICACHE_POLL_SECONDS="0.5") as server:
            yield server
    finally:
        stop_redis(home)


@pytest.fixture(scope="module")
def instance(kura: KuraServer) -> dict[str, Any]:
    rds = kura.client("rds")
    create(rds, "cw-db", DBName="langpont")  # seed 004's database name: its SQL runs verbatim
    return describe(rds, "cw-db")


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def series(cw: Any, name: str, stat: str, start: float, dims: list[dict[str, str]] | None = None,
           namespace: str = "AWS/RDS", period: int = 1) -> list[float]:
    found = cw.get_metric_statistics(Namespace=namespace, MetricName=name,
                                     Dimensions=DB if dims is None else dims, StartTime=start,
                                     EndTime=time.time() + 1, Period=period, Statistics=[stat])["Datapoints"]
    return [p[stat] for p in sorted(found, key=lambda p: p["Timestamp"])]


def pgbench(inst: dict[str, Any], *args: str) -> str:
    ep = inst["Endpoint"]
    env = {**osuser.BASE_ENV, "PGPASSWORD": PASSWORD, "PGSSLMODE": "require"}
    tool = str(nodes.engines()[0].tool("pgbench"))
    done = subprocess.run([tool, "-h", ep["Address"], "-p", str(ep["Port"]), "-U", "master", *args,
                           "langpont"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def client_speaking(kura: KuraServer, protocol: str) -> Any:
    """A botocore client speaking one of CloudWatch's protocols: boto3 here picks JSON (awsJson1.0 with
    the query-compatible header), other SDK versions CBOR, older ones query."""
    session = botocore.session.get_session()
    data = session.get_component("data_loader").load_service_model("cloudwatch", "service-2")
    data["metadata"] = {**data["metadata"], "protocols": [protocol]}
    creds = kura.credentials()
    return session.create_client("cloudwatch", endpoint_url=kura.endpoint, region_name=kura.region,
                                 aws_access_key_id=creds["aws_access_key_id"],
                                 aws_secret_access_key=creds["aws_secret_access_key"],
                                 config=Config(retries={"max_attempts": 1}))


def test_pgbench_moves_the_instance_metrics(kura: KuraServer, instance: dict[str, Any]) -> None:
    cw = kura.client("cloudwatch")
    pgbench(instance, "-i", "-s", "1", "-q")
    wait_for(lambda: series(cw, "CommitThroughput", "Maximum", time.time() - 10), 15, "the first rates")
    time.sleep(2)  # the initialisation's last statistics flushed
    idle_from = time.time()
    time.sleep(2)
    idle = {m: max(series(cw, m, "Maximum", idle_from)) for m in
            ("CPUUtilization", "DatabaseConnections", "CommitThroughput")}
    loaded_from = time.time()
    out = pgbench(instance, "-c", "4", "-j", "2", "-T", "4")
    tps = float(out.split("tps = ")[1].split()[0])
    time.sleep(1.5)
    loaded = {m: max(series(cw, m, "Maximum", loaded_from)) for m in idle}
    assert loaded["DatabaseConnections"] >= 4 > idle["DatabaseConnections"]
    assert loaded["CommitThroughput"] > max(50.0, 3 * idle["CommitThroughput"]), (tps, idle, loaded)
    assert loaded["CPUUtilization"] > idle["CPUUtilization"] + 2, (idle, loaded)
    for name in ("WriteIOPS", "WriteThroughput", "DBLoad", "FreeableMemory", "FreeStorageSpace",
                 "TransactionLogsDiskUsage", "MaximumUsedTransactionIDs"):
        assert series(cw, name, "Maximum", loaded_from), name

    # The real AWS CLI (it speaks JSON), a minute's Sum of commits and the same for the engine aggregate
    shown = kura.aws("cloudwatch", "get-metric-statistics", "--namespace", "AWS/RDS", "--metric-name",
                     "CommitThroughput", "--dimensions", "Name=DBInstanceIdentifier,Value=cw-db",
                     "--start-time", iso(loaded_from - 60), "--end-time", iso(time.time() + 60),
                     "--period", "60", "--statistics", "Maximum", "SampleCount")
    assert shown["Label"] == "CommitThroughput"
    assert max(p["Maximum"] for p in shown["Datapoints"]) == pytest.approx(loaded["CommitThroughput"])
    assert all(p["Unit"] == "Count/Second" for p in shown["Datapoints"])
    engine = series(cw, "DatabaseConnections", "Maximum", loaded_from,
                    [{"Name": "EngineName", "Value": "postgres"}])
    assert max(engine) >= 4

    # boto3 GetMetricData with metric math over the same measurements
    got = cw.get_metric_data(StartTime=loaded_from, EndTime=time.time() + 1, ScanBy="TimestampAscending",
                             MetricDataQueries=[
        {"Id": "cpu", "MetricStat": {"Metric": {"Namespace": "AWS/RDS", "MetricName": "CPUUtilization",
                                                "Dimensions": DB}, "Period": 1, "Stat": "Maximum"}},
        {"Id": "conns", "MetricStat": {"Metric": {"Namespace": "AWS/RDS", "MetricName": "DatabaseConnections",
                                                  "Dimensions": DB}, "Period": 1, "Stat": "Average"},
         "ReturnData": False},
        {"Id": "busy", "Expression": "IF(conns >= 4, 1, 0)", "Label": "busy ${MAX}"},
    ])["MetricDataResults"]
    by_id = {r["Id"]: r for r in got}
    assert set(by_id) == {"cpu", "busy"} and by_id["cpu"]["Label"] == "CPUUtilization"
    assert max(by_id["cpu"]["Values"]) == pytest.approx(loaded["CPUUtilization"])
    assert by_id["busy"]["Label"] == "busy 1" and sum(by_id["busy"]["Values"]) >= 3
    assert by_id["cpu"]["Timestamps"] == sorted(by_id["cpu"]["Timestamps"])


def test_list_metrics_filters_and_aggregates(kura: KuraServer, instance: dict[str, Any]) -> None:
    cw = kura.client("cloudwatch")
    wait_for(lambda: series(cw, "CPUUtilization", "Maximum", time.time() - 10), 15, "measurements")
    mine = cw.list_metrics(Namespace="AWS/RDS", Dimensions=DB, RecentlyActive="PT3H")["Metrics"]
    names = {m["MetricName"] for m in mine}
    assert {"CPUUtilization", "FreeableMemory", "DatabaseConnections", "ReadIOPS", "WriteLatency",
            "Deadlocks", "FreeStorageSpace", "CommitThroughput", "DBLoadCPU",
            "MaximumUsedTransactionIDs"} <= names
    by_class = cw.list_metrics(Namespace="AWS/RDS", MetricName="CPUUtilization",
                               Dimensions=[{"Name": "DatabaseClass"}])["Metrics"]
    assert by_class == [{"Namespace": "AWS/RDS", "MetricName": "CPUUtilization",
                         "Dimensions": [{"Name": "DatabaseClass", "Value": "db.t3.micro"}]}]
    assert cw.list_metrics(Namespace="AWS/RDS", Dimensions=DB)["Metrics"] != []
    assert kura.client("cloudwatch", region="us-west-2").list_metrics(Namespace="AWS/RDS")["Metrics"] == []


def test_prometheus_scrape(kura: KuraServer, instance: dict[str, Any]) -> None:
    wait_for(lambda: series(kura.client("cloudwatch"), "CPUUtilization", "Maximum", time.time() - 10), 15,
             "measurements")
    with urllib.request.urlopen(kura.endpoint + "/metrics", timeout=10) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = answer.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    cpu = [s for s in families["aws_rds_cpu_utilization"].samples
           if s.labels.get("db_instance_identifier") == "cw-db"]
    assert len(cpu) == 1 and 0 <= cpu[0].value <= 100 and cpu[0].labels["region"] == kura.region
    conns = families["aws_rds_database_connections"]
    assert conns.type == "gauge" and any(s.labels.get("engine_name") == "postgres" for s in conns.samples)
    ticks = families["kura_metrics_collector_ticks"]  # the family of kura_metrics_collector_ticks_total
    assert ticks.type == "counter" and ticks.samples[0].value > 0
    assert families["kura_metrics_collector_db_instances"].samples[0].value >= 1


def _put_values(cw: Any, namespace: str, now: float) -> None:
    api = [{"Name": "Api", "Value": "translate"}]
    cw.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "Latency", "Dimensions": api, "Unit": "Milliseconds", "Timestamp": now,
         "Values": [float(v) for v in range(1, 101)], "Counts": [1.0] * 100, "StorageResolution": 1},
        {"MetricName": "Latency", "Dimensions": api, "Unit": "Milliseconds", "Value": 1000.0,
         "Timestamp": now},
        {"MetricName": "Requests", "Timestamp": now, "Unit": "Count",
         "StatisticValues": {"SampleCount": 4, "Sum": 10, "Minimum": 1, "Maximum": 4}},
    ])


@pytest.mark.parametrize("protocol", ["json", "smithy-rpc-v2-cbor", "query"])
def test_put_metric_data_round_trip_with_percentiles(kura: KuraServer, protocol: str) -> None:
    cw = client_speaking(kura, protocol)
    namespace, now = f"Kura/Test/{protocol}", time.time()
    _put_values(cw, namespace, now)
    dims = [{"Name": "Api", "Value": "translate"}]
    got = cw.get_metric_statistics(Namespace=namespace, MetricName="Latency", Dimensions=dims,
                                   StartTime=now - 120, EndTime=now + 60, Period=60,
                                   ExtendedStatistics=["p50", "p99", "p100"])["Datapoints"]
    values = {k: sum(p["ExtendedStatistics"][k] for p in got) for k in ("p50", "p99", "p100")}
    # 101 values in the minute of `now` (the standard-resolution one sits at the minute's start)
    minute = next(p for p in got if p["ExtendedStatistics"]["p100"] == 1000.0)["ExtendedStatistics"]
    assert (minute["p50"], minute["p99"], minute["p100"]) == (51.0, 100.0, 1000.0), values
    basic = cw.get_metric_statistics(Namespace=namespace, MetricName="Latency", Dimensions=dims,
                                     StartTime=now - 120, EndTime=now + 60, Period=300, Unit="Milliseconds",
                                     Statistics=["SampleCount", "Sum", "Minimum", "Maximum", "Average"])
    [point] = basic["Datapoints"]
    assert (point["SampleCount"], point["Sum"], point["Minimum"], point["Maximum"]) == (101, 6050, 1, 1000)
    assert point["Unit"] == "Milliseconds"
    assert cw.get_metric_statistics(Namespace=namespace, MetricName="Latency", Dimensions=dims,
                                    StartTime=now - 120, EndTime=now + 60, Period=300, Unit="Seconds",
                                    Statistics=["Sum"])["Datapoints"] == []
    stats = cw.get_metric_statistics(Namespace=namespace, MetricName="Requests", StartTime=now - 120,
                                     EndTime=now + 60, Period=60, Statistics=["Average", "SampleCount"])
    assert [(p["Average"], p["SampleCount"]) for p in stats["Datapoints"]] == [(2.5, 4)]
    listed = cw.list_metrics(Namespace=namespace)["Metrics"]
    assert [m["MetricName"] for m in listed] == ["Latency", "Requests"]
    latency = {"Namespace": namespace, "MetricName": "Latency", "Dimensions": dims}
    requests = {"Namespace": namespace, "MetricName": "Requests"}
    data = cw.get_metric_data(StartTime=now - 120, EndTime=now + 60, MetricDataQueries=[
        {"Id": "lat", "MetricStat": {"Metric": latency, "Period": 300, "Stat": "p50"},
         "Label": "${PROP('Dim.Api')} median"},
        {"Id": "req", "MetricStat": {"Metric": requests, "Period": 300, "Stat": "Sum"}, "ReturnData": False},
        {"Id": "per", "Expression": "lat / req"}])["MetricDataResults"]
    assert [(r["Id"], r["Label"], r["Values"]) for r in data] == [("lat", "translate median", [51.0]),
                                                                   ("per", "per", [5.1])]
    # 500 datums: botocore gzips a body over 10 KiB (Content-Encoding), signed as sent
    cw.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "Bulk", "Value": float(i), "Timestamp": now - i, "StorageResolution": 1}
        for i in range(500)])
    bulk = cw.get_metric_statistics(Namespace=namespace, MetricName="Bulk", StartTime=now - 600,
                                    EndTime=now + 1, Period=600,
                                    Statistics=["SampleCount", "Sum"])["Datapoints"]
    assert sum(p["SampleCount"] for p in bulk) == 500 and sum(p["Sum"] for p in bulk) == sum(range(500))


def test_the_cli_puts_and_reads_with_its_json_protocol(kura: KuraServer) -> None:
    now = time.time()
    kura.aws("cloudwatch", "put-metric-data", "--namespace", "Kura/Cli", "--metric-data",
             '[{"MetricName": "Queue", "Unit": "Count", "StorageResolution": 1, "Values": [1, 2, 3], '
             '"Counts": [1, 1, 2]}]')
    shown = kura.aws("cloudwatch", "get-metric-statistics", "--namespace", "Kura/Cli", "--metric-name",
                     "Queue", "--start-time", iso(now - 60), "--end-time", iso(now + 60), "--period", "60",
                     "--extended-statistics", "p50", "p75")
    [point] = shown["Datapoints"]
    assert point["ExtendedStatistics"] == {"p50": 2.0, "p75": 3.0}
    queries = ('[{"Id": "q", "MetricStat": {"Metric": {"Namespace": "Kura/Cli", "MetricName": "Queue"}, '
               '"Period": 60, "Stat": "Sum"}}, {"Id": "twice", "Expression": "q * 2"}]')
    data = kura.aws("cloudwatch", "get-metric-data", "--start-time", iso(now - 60), "--end-time",
                    iso(now + 60), "--metric-data-queries", queries)
    assert [(r["Id"], r["Values"]) for r in data["MetricDataResults"]] == [("q", [9.0]), ("twice", [18.0])]


@pytest.mark.parametrize("client", ["json", "smithy-rpc-v2-cbor", "query", "cli"])
def test_errors_are_cloudwatchs_in_every_protocol(kura: KuraServer, client: str) -> None:
    now = time.time()
    if client == "cli":
        proc = kura.aws("cloudwatch", "get-metric-statistics", "--namespace", "AWS/RDS", "--metric-name",
                        "CPU", "--start-time", iso(now - 86400 * 2), "--end-time", iso(now), "--period", "60",
                        "--statistics", "Average", check=False)
        assert proc.returncode != 0 and "(InvalidParameterCombination)" in proc.stderr
        assert "exceeds the limit of 1440" in proc.stderr
        proc = kura.aws("cloudwatch", "put-metric-data", "--namespace", "AWS/Mine", "--metric-name", "x",
                        "--value", "1", check=False)
        assert "(InvalidParameterValue)" in proc.stderr
        return
    cw = client_speaking(kura, client)
    with pytest.raises(cw.exceptions.InvalidParameterCombinationException, match="exceeds the limit of 1440"):
        cw.get_metric_statistics(Namespace="AWS/RDS", MetricName="CPU", StartTime=now - 86400 * 2,
                                 EndTime=now, Period=60, Statistics=["Average"])
    with pytest.raises(cw.exceptions.InvalidParameterValueException, match="Namespace"):
        cw.put_metric_data(Namespace="AWS/Mine", MetricData=[{"MetricName": "x", "Value": 1}])
    with pytest.raises(cw.exceptions.InvalidParameterCombinationException, match="mutually exclusive"):
        cw.put_metric_data(Namespace="Mine", MetricData=[{"MetricName": "x", "Value": 1, "Values": [1.0]}])
    with pytest.raises(cw.exceptions.ClientError) as err:
        cw.get_metric_data(StartTime=now - 60, EndTime=now, MetricDataQueries=[
            {"Id": "e1", "Expression": "SUM(METRICS() +"}])
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_get_metric_data_pages_by_max_datapoints(kura: KuraServer) -> None:
    cw, now = kura.client("cloudwatch"), int(time.time())
    cw.put_metric_data(Namespace="Kura/Pages", MetricData=[
        {"MetricName": "n", "Value": float(i), "Timestamp": now - 30 + i, "StorageResolution": 1}
        for i in range(30)])
    query = {"Id": "n", "MetricStat": {"Metric": {"Namespace": "Kura/Pages", "MetricName": "n"}, "Period": 1,
                                       "Stat": "Sum"}}
    seen, token, pages = [], None, 0
    while True:
        extra: dict[str, str] = {"NextToken": token} if token else {}
        page = cw.get_metric_data(StartTime=now - 40, EndTime=now + 1, MetricDataQueries=[query],
                                  MaxDatapoints=12, **extra)
        [result] = page["MetricDataResults"]
        seen += result["Values"]
        pages += 1
        token = page.get("NextToken")
        assert result["StatusCode"] == ("PartialData" if token else "Complete")
        if not token:
            break
    assert pages == 3 and seen == [float(v) for v in range(29, -1, -1)]  # newest first by default


def test_seed_004_custom_metrics_from_sql(kura: KuraServer, instance: dict[str, Any]) -> None:
    """Seed 004's custom_metrics.sql on its database, each row published with put-metric-data."""
    with connect(instance, dbname="langpont") as conn:
        conn.execute("CREATE SCHEMA analytics; CREATE SCHEMA translations; CREATE SCHEMA monitoring")
        conn.execute("CREATE TABLE analytics.analytics_events (user_id int, "
                     "timestamp timestamptz DEFAULT now())")
        conn.execute("CREATE TABLE translations.translation_history (processing_time float, "
                     "created_at timestamptz DEFAULT now())")
        conn.execute("CREATE TABLE monitoring.analysis_activity_log (error_occurred bool, "
                     "created_at timestamptz DEFAULT now())")
        conn.execute("INSERT INTO analytics.analytics_events (user_id) "
                     "SELECT g % 7 FROM generate_series(1, 50) g")
        conn.execute("INSERT INTO translations.translation_history (processing_time) VALUES (1.5), (2.5)")
        conn.execute("INSERT INTO monitoring.analysis_activity_log (error_occurred) VALUES (true), (false), "
                     "(false), (false)")
        sql = (Path(__file__).parent / "seed_004_custom_metrics.sql").read_text()
        rows = [row for q in sql.split(";") if q.strip() and (row := conn.execute(q).fetchone())]
    assert [r[0] for r in rows] == ["active_users_24h", "avg_translation_time", "error_rate_1h",
                                    "database_size_mb"]
    data = [{"MetricName": name, "Value": float(value), "Timestamp": at.isoformat()}
            for name, value, at in rows]
    kura.aws("cloudwatch", "put-metric-data", "--namespace", "LangPont/Application", "--metric-data",
             json.dumps(data))  # one call for the four rows
    now, cw = time.time(), kura.client("cloudwatch")
    shown = kura.aws("cloudwatch", "get-metric-statistics", "--namespace", "LangPont/Application",
                     "--metric-name", "active_users_24h", "--start-time", iso(now - 300), "--end-time",
                     iso(now + 60), "--period", "300", "--statistics", "Average")
    assert [p["Average"] for p in shown["Datapoints"]] == [7.0]
    for name, expected in (("avg_translation_time", 2.0), ("error_rate_1h", 25.0)):
        assert series(cw, name, "Average", now - 300, [], "LangPont/Application", 300) == [expected], name
    assert series(cw, "database_size_mb", "Maximum", now - 300, [], "LangPont/Application", 300)[0] > 1


def test_seed_002_serverless_capacity_by_cluster(kura: KuraServer) -> None:
    rds = kura.client("rds")
    rds.create_db_cluster(DBClusterIdentifier="goal-cluster", Engine="aurora-postgresql",
                          MasterUsername="master", MasterUserPassword=PASSWORD,
                          ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 2})
    rds.create_db_instance(DBInstanceIdentifier="goal-1", DBClusterIdentifier="goal-cluster",
                           Engine="aurora-postgresql", DBInstanceClass="db.serverless")
    wait_for(lambda: describe(rds, "goal-1")["DBInstanceStatus"] == "available", 120, "the serverless writer")
    dims = ["--dimensions", "Name=DBClusterIdentifier,Value=goal-cluster"]

    def seed(minutes: int, period: str, stat: str) -> list[float]:
        now = time.time()
        shown = kura.aws("cloudwatch", "get-metric-statistics", "--namespace", "AWS/RDS", "--metric-name",
                         "ServerlessDatabaseCapacity", *dims, "--start-time", iso(now - minutes * 60),
                         "--end-time", iso(now), "--period", period, "--statistics", stat)
        return [p[stat] for p in shown["Datapoints"]]

    assert wait_for(lambda: seed(60, "300", "Average"), 20, "an hour's capacity, as seed 002 asks")
    assert all(0.5 <= v <= 2 for v in seed(60, "300", "Average"))
    assert all(0.5 <= v <= 2 for v in seed(10, "60", "Maximum"))
    role = [{"Name": "DBClusterIdentifier", "Value": "goal-cluster"}, {"Name": "Role", "Value": "WRITER"}]
    cw = kura.client("cloudwatch")
    writer = series(cw, "ServerlessDatabaseCapacity", "Maximum", time.time() - 60, role)
    assert writer and all(0.5 <= v <= 2 for v in writer)


@pytest.mark.skipif(not ec_nodes.engines(), reason="no redis-server installed")
def test_elasticache_node_metrics(kura: KuraServer) -> None:
    ensure_catalogue(kura)
    ec = kura.client("elasticache")
    ec.create_cache_cluster(CacheClusterId="cw-cache", Engine="redis", CacheNodeType="cache.t3.micro",
                            NumCacheNodes=1)
    host, port = ec_endpoint(ec_wait_status(kura, "cw-cache", "available"))
    cw = kura.client("cloudwatch")
    dims = [{"Name": "CacheClusterId", "Value": "cw-cache"}, {"Name": "CacheNodeId", "Value": "0001"}]
    # counters count from the collector's first look at the node: wait for it
    wait_for(lambda: series(cw, "CacheHits", "Sum", time.time() - 10, dims, "AWS/ElastiCache"), 15, "a look")
    began = time.time()
    client = redis.Redis(host=host, port=port)
    for i in range(200):
        client.set(f"k{i}", "x" * 100)
        client.get(f"k{i}")
        client.get(f"missing{i}")
    cw = kura.client("cloudwatch")
    dims = [{"Name": "CacheClusterId", "Value": "cw-cache"}, {"Name": "CacheNodeId", "Value": "0001"}]

    def total(name: str) -> float:
        return sum(series(cw, name, "Sum", began - 1, dims, "AWS/ElastiCache"))

    wait_for(lambda: total("CacheHits") >= 200 and total("CacheMisses") >= 200, 15, "hits and misses")
    assert total("NetworkBytesIn") > 200 * 100
    assert max(series(cw, "CurrConnections", "Maximum", began - 1, dims, "AWS/ElastiCache")) >= 1
    assert max(series(cw, "BytesUsedForCache", "Maximum", began - 1, dims, "AWS/ElastiCache")) > 200 * 100
    assert series(cw, "DatabaseMemoryUsagePercentage", "Maximum", began - 1, dims, "AWS/ElastiCache")
    assert series(cw, "EngineCPUUtilization", "Maximum", began - 1, dims, "AWS/ElastiCache")
    client.close()
