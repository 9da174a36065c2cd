"""RDS log exports and Enhanced Monitoring into CloudWatch Logs, on a real PostgreSQL through a real
`kura up`, read back with the real AWS CLI (v1, PyPI's awscli; `aws logs tail` with Debian's v2).

One instance serves the module: a parameter group logging DDL (seed 004's `log_statement = 'ddl'`) and
rotating the log file once it holds 1 kB (at most once a second: the file name has seconds),
`postgresql` exports and Enhanced Monitoring every second.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from kura.control.rds import nodes
from tests.integration.test_rds_lifecycle import (
    connect,
    create,
    describe,
    pytestmark,  # noqa: F401 (skips the module without PostgreSQL)
    running,
    wait_for,
    wait_status,
)
from tests.kura_fixture import KuraServer

DB = "logs-db"
GROUP = f"/aws/rds/instance/{DB}/postgresql"
ROLE = "arn:aws:iam::123456789012:role/rds-monitoring-role"


@pytest.fixture(scope="module")
def kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    with running(tmp_path_factory.mktemp("logs") / "home") as server:
        rds = server.client("rds")
        rds.create_db_parameter_group(DBParameterGroupName="logs-ddl", DBParameterGroupFamily=family(server),
                                      Description="DDL statements logged, small log files")
        rds.modify_db_parameter_group(DBParameterGroupName="logs-ddl", Parameters=[
            {"ParameterName": "log_statement", "ParameterValue": "ddl", "ApplyMethod": "immediate"},
            {"ParameterName": "log_filename", "ParameterValue": "postgresql.log.%Y-%m-%d-%H%M%S",
             "ApplyMethod": "immediate"},
            {"ParameterName": "log_rotation_size", "ParameterValue": "1", "ApplyMethod": "immediate"}])
        create(rds, DB, DBParameterGroupName="logs-ddl", EnableCloudwatchLogsExports=["postgresql"],
               MonitoringInterval=1, MonitoringRoleArn=ROLE)
        logs = server.client("logs")
        wait_for(lambda: logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"], 30,
                 "the export to begin")  # its follower looks for new exports every second
        yield server


def family(server: KuraServer) -> str:
    return f"postgres{nodes.engines()[0].major}"


def marker() -> str:
    return f"marker_{uuid.uuid4().hex[:10]}"


def exported(server: KuraServer, pattern: str, group: str = GROUP) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = server.client("logs").filter_log_events(
        logGroupName=group, filterPattern=pattern)["events"]
    return events


def at_least(count: int, read: Callable[[], list[dict[str, Any]]]) -> Callable[[], list[dict[str, Any]]]:
    def check() -> list[dict[str, Any]]:
        found = read()
        return found if len(found) >= count else []

    return check


def raise_log(inst: dict[str, Any], *texts: str) -> None:
    with connect(inst, dbname="postgres") as conn:
        for text in texts:
            conn.execute(f"DO $$ BEGIN RAISE LOG '{text}'; END $$")


def logged(server: KuraServer, run: str) -> list[str]:
    """The texts of this run's RAISE LOG lines in CloudWatch Logs, in order (not their STATEMENT lines)."""
    return [e["message"].rsplit("LOG:  ", 1)[1] for e in exported(server, f"%{run}%")
            if ":LOG:  " in e["message"]]


def test_a_postgres_line_reaches_cloudwatch_logs_within_two_seconds(kura: KuraServer) -> None:
    inst = describe(kura.client("rds"), DB)
    assert inst["EnabledCloudwatchLogsExports"] == ["postgresql"]
    table = marker()
    with connect(inst) as conn:
        conn.execute(f"CREATE TABLE {table} (id int)")  # logged: log_statement = ddl
    written = time.monotonic()
    found = wait_for(lambda: exported(kura, table), 5, "the DDL statement in CloudWatch Logs")
    latency = time.monotonic() - written
    assert latency < 2.0, latency
    print(f"\nDDL line visible through FilterLogEvents after {latency:.3f} s")
    assert f"statement: CREATE TABLE {table}" in found[0]["message"]
    assert found[0]["logStreamName"] == DB

    with pytest.raises(psycopg.OperationalError):
        connect(inst, password="not-the-password")
    time.sleep(1.0)  # one second later, a single CLI call finds it (the CLI's own start-up is not counted)
    out = kura.aws("logs", "filter-log-events", "--log-group-name", GROUP, "--filter-pattern",
                   'FATAL "password authentication failed"')["events"]
    assert out and 'user "master"' in out[-1]["message"]

    text = marker()
    raise_log(inst, text)
    since = int(time.time() * 1000) - 5000
    time.sleep(1.0)
    tail = kura.aws_v2("logs", "tail", GROUP, "--since", "5s", "--filter-pattern", text)
    assert [line for line in tail.splitlines() if line.endswith(f"LOG:  {text}")], tail
    assert f" {DB} " in tail  # `aws logs tail` prints the stream's name before the message
    head = kura.aws("logs", "get-log-events", "--log-group-name", GROUP, "--log-stream-name", DB,
                    "--start-from-head", "--limit", "3")["events"]
    assert "starting PostgreSQL" in head[0]["message"]  # the export began with the instance
    logs = kura.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/rds/instance/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == [GROUP]
    streams = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    assert [s["logStreamName"] for s in streams] == [DB] and streams[0]["lastEventTimestamp"] > since


def test_enhanced_monitoring_every_second_with_the_process_list(kura: KuraServer) -> None:
    inst = describe(kura.client("rds"), DB)
    resource = inst["DbiResourceId"]
    assert inst["MonitoringInterval"] == 1 and inst["MonitoringRoleArn"] == ROLE
    assert inst["EnhancedMonitoringResourceArn"].endswith(f":log-group:RDSOSMetrics:log-stream:{resource}")
    start = int(time.time() * 1000)
    docs = wait_for(at_least(3, lambda: kura.aws("logs", "get-log-events", "--log-group-name", "RDSOSMetrics",
                                                 "--log-stream-name", resource, "--start-time",
                                                 str(start))["events"]), 15, "three RDSOSMetrics events")
    gaps = [b["timestamp"] - a["timestamp"] for a, b in itertools.pairwise(docs)]
    assert all(700 <= g <= 1500 for g in gaps), gaps
    doc = json.loads(docs[-1]["message"])
    assert (doc["instanceID"], doc["instanceResourceID"], doc["engine"]) == (DB, resource, "POSTGRES")
    postmaster = int((kura.home / "data" / "rds" / kura.region / DB / "pgdata" / "postmaster.pid")
                     .read_text().split()[0])
    procs = {p["id"]: p for p in doc["processList"]}
    assert postmaster in procs
    names = " ".join(p["name"] for p in procs.values())
    assert "checkpointer" in names and "walwriter" in names.replace(" ", "")
    children = {int(x) for x in Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()}
    assert {p for p in procs if p != postmaster} & children  # its real children, by pid
    assert all(procs[p]["parentID"] == postmaster for p in procs if p != postmaster)
    for section in ("cpuUtilization", "loadAverageMinute", "memory", "tasks", "diskIO", "fileSys", "network"):
        assert doc[section], section
    assert doc["memory"]["total"] == 1024 * 1024  # db.t3.micro: 1 GiB
    assert doc["tasks"]["total"] == len(procs)
    group = kura.aws("logs", "describe-log-groups", "--log-group-name-prefix", "RDSOSMetrics")["logGroups"]
    assert group[0]["retentionInDays"] == 30


def test_exports_follow_rotation_and_restarts_without_gaps_or_duplicates(kura: KuraServer) -> None:
    rds = kura.client("rds")
    inst = describe(rds, DB)
    run = marker()
    texts = [f"{run}_{i:02d}" for i in range(12)]
    raise_log(inst, *texts[0:3])
    time.sleep(1.1)  # the file is over log_rotation_size: the next write rotates, to a new name
    raise_log(inst, *texts[3:6])
    wait_for(lambda: len(logged(kura, run)) == 6, 10, "the first lines")
    kura.kill9()  # Kura dies; the instance goes on logging
    raise_log(inst, *texts[6:9])
    time.sleep(1.1)
    raise_log(inst, texts[9])
    kura.start()
    raise_log(inst, *texts[10:12])
    wait_for(lambda: len(logged(kura, run)) >= 12, 15, "every line once Kura is back")
    time.sleep(0.6)  # a second pass would show any duplicate
    assert logged(kura, run) == texts
    log_dir = kura.home / "data" / "rds" / kura.region / DB / "log"
    assert len([p for p in log_dir.iterdir() if run in p.read_text(errors="replace")]) >= 4  # rotated

    rds.modify_db_instance(DBInstanceIdentifier=DB, ApplyImmediately=True,
                           CloudwatchLogsExportConfiguration={"DisableLogTypes": ["postgresql"]})
    assert describe(rds, DB)["EnabledCloudwatchLogsExports"] == []
    time.sleep(1.5)  # the follower sees the export gone
    off, on = f"{marker()}_off", f"{marker()}_on"
    raise_log(inst, off)
    time.sleep(2.5)  # an export seen enabled starts 2 s before that moment (whole-second timestamps)
    rds.modify_db_instance(DBInstanceIdentifier=DB, ApplyImmediately=True,
                           CloudwatchLogsExportConfiguration={"EnableLogTypes": ["postgresql"]})
    wait_status(rds, DB, "available")
    time.sleep(1.5)  # the follower sees the export back
    raise_log(inst, on)
    wait_for(lambda: logged(kura, on), 10, "the line after exports were enabled again")
    assert logged(kura, off) == []  # written while the export was off: not sent


def stored(server: KuraServer, message: str) -> int:
    """How many events with this message the log store holds (read beside the running Kura)."""
    with contextlib.closing(sqlite3.connect(server.home / "logs.db")) as db:
        return int(db.execute("SELECT COUNT(*) FROM events WHERE message=?", (message,)).fetchone()[0])


def test_cloudwatch_logs_api_through_the_cli(kura: KuraServer, tmp_path: Path) -> None:
    group = "/kura/test/app"
    kura.aws("logs", "create-log-group", "--log-group-name", group, "--tags", "team=db,env=test")
    kura.aws("logs", "create-log-stream", "--log-group-name", group, "--log-stream-name", "web-1")
    now = int(time.time() * 1000)
    events = [{"timestamp": now - 2 * 86_400_000, "message": "two days ago"},
              {"timestamp": now - 1000, "message": '{"level": "ERROR", "latency": 1500}'},
              {"timestamp": now, "message": "[ERROR 404] NOT FOUND"}]
    for name, batch in (("old", events[:1]), ("new", events[1:])):  # a batch spans 24 hours at most
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(batch))
        kura.aws("logs", "put-log-events", "--log-group-name", group, "--log-stream-name", "web-1",
                 "--log-events", f"file://{path}")
    pattern = kura.aws("logs", "filter-log-events", "--log-group-name", group, "--filter-pattern",
                       "{ $.latency > 1000 }")["events"]
    assert [e["message"] for e in pattern] == [events[1]["message"]]
    arn = f"arn:aws:logs:{kura.region}:{kura.credentials()['account_id']}:log-group:{group}"
    assert kura.aws("logs", "list-tags-for-resource", "--resource-arn", arn)["tags"] == {"team": "db",
                                                                                        "env": "test"}
    assert stored(kura, "two days ago") == 1
    kura.aws("logs", "put-retention-policy", "--log-group-name", group, "--retention-in-days", "1")
    assert stored(kura, "two days ago") == 0  # deleted, not only hidden
    kept = kura.aws("logs", "get-log-events", "--log-group-name", group, "--log-stream-name", "web-1",
                    "--start-from-head")["events"]
    assert [e["message"] for e in kept] == [events[1]["message"], events[2]["message"]]  # the old one went
    kura.aws("logs", "delete-log-group", "--log-group-name", group)
    missing = kura.aws("logs", "get-log-events", "--log-group-name", group, "--log-stream-name", "web-1",
                       check=False)
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr
    assert stored(kura, events[2]["message"]) == 0
