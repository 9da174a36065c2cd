"""The `aws rds` commands of the Aurora Serverless v2 seeds (001, 002, 003), as they are written, against
a cluster made with the settings of seed 003's production Terraform module (Aurora PostgreSQL 15.4,
0.5–16 ACU, 7 days of backups) and a db.serverless writer: backup status and restorable time (001),
a manual cluster snapshot, a restore from it and a change of the capacity range (002), and a
point-in-time restore (003). `$(terraform output -raw cluster_id)` is the cluster's identifier."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import bash, engine_version, psql, wait_for, wait_status
from tests.kura_fixture import KuraServer

CLUSTER = "miyabi-prod-aurora-cluster"  # seed 003's name in its restore command

SEED001 = """\
# バックアップ状況確認
aws rds describe-db-cluster-snapshots \\
  --db-cluster-identifier goal-mandala-prd-aurora-cluster

# ポイントインタイム復旧可能時間確認
aws rds describe-db-clusters \\
  --db-cluster-identifier goal-mandala-prd-aurora-cluster \\
  --query 'DBClusters[0].EarliestRestorableTime'
""".replace("goal-mandala-prd-aurora-cluster", CLUSTER)

SEED002_SNAPSHOT = """\
aws rds create-db-cluster-snapshot \\
  --db-cluster-snapshot-identifier manual-snapshot-$(date +%Y%m%d) \\
  --db-cluster-identifier $(terraform output -raw cluster_id)
"""
SEED002_RESTORE = """\
aws rds restore-db-cluster-from-snapshot \\
  --db-cluster-identifier restored-cluster \\
  --snapshot-identifier manual-snapshot-20240101 \\
  --engine aurora-postgresql
"""
SEED002_SCALING = """\
# ACU範囲の変更
aws rds modify-db-cluster \\
  --db-cluster-identifier $(terraform output -raw cluster_id) \\
  --serverless-v2-scaling-configuration MinCapacity=1.0,MaxCapacity=4.0 \\
  --apply-immediately
"""
SEED002_STATUS = """\
aws rds describe-db-clusters \\
  --db-cluster-identifier $(terraform output -raw cluster_id)
"""
SEED003_LOGS = """\
# 接続できない → CloudWatch Logsでエラー確認
aws logs describe-log-streams \\
  --log-group-name /aws/rds/cluster/$(terraform output -raw cluster_id)/postgresql \\
  --query 'logStreams[].logStreamName' --output text
aws logs filter-log-events \\
  --log-group-name /aws/rds/cluster/$(terraform output -raw cluster_id)/postgresql \\
  --start-time $(( ($(date +%s) - 300) * 1000 )) \\
  --filter-pattern '?FATAL ?ERROR' --query 'events[].message' --output text
"""
SEED003_PITR = """\
aws rds restore-db-cluster-to-point-in-time \\
  --source-db-cluster-identifier miyabi-prod-aurora-cluster \\
  --db-cluster-identifier miyabi-prod-aurora-restored \\
  --restore-to-time 2025-12-12T12:00:00Z
"""


def terraform(script: str) -> str:
    """The seed's `$(terraform output -raw cluster_id)` answered by a shell function of that name."""
    return f'terraform() {{ echo "{CLUSTER}"; }}\n{script}'


def cluster(server: KuraServer, ident: str) -> dict[str, Any]:
    return dict(server.aws("rds", "describe-db-clusters", "--db-cluster-identifier", ident)["DBClusters"][0])


def writer_of(server: KuraServer, ident: str, instance: str) -> dict[str, Any]:
    server.aws("rds", "create-db-instance", "--db-instance-identifier", instance, "--db-cluster-identifier",
               ident, "--engine", "aurora-postgresql", "--db-instance-class", "db.serverless")
    return wait_status(server, instance, "available", 180)


def rows(server: KuraServer, ident: str, password: str) -> list[str]:
    found = cluster(server, ident)
    return psql(found["Endpoint"], found["Port"], "postgres", password, "miyabi_auth_billing",
                "SELECT note FROM notes ORDER BY id").stdout.splitlines()


@pytest.fixture(scope="module")
def aurora(rds_server: KuraServer) -> dict[str, Any]:
    if engine_version(rds_server, 15) is None:
        pytest.skip("the seeds' Aurora PostgreSQL 15.4 needs PostgreSQL 15 on this host")
    password = secrets.token_urlsafe(18)
    rds_server.aws("rds", "create-db-cluster", "--db-cluster-identifier", CLUSTER, "--engine",
                   "aurora-postgresql", "--engine-version", "15.4", "--database-name", "miyabi_auth_billing",
                   "--master-username", "postgres", "--master-user-password", password,
                   "--backup-retention-period", "7", "--storage-encrypted",
                   "--serverless-v2-scaling-configuration", "MinCapacity=0.5,MaxCapacity=16",
                   "--enable-cloudwatch-logs-exports", "postgresql")  # seed 003: CloudWatch Logs統合
    writer_of(rds_server, CLUSTER, f"{CLUSTER}-instance-1")
    found = wait_for(lambda: (c := cluster(rds_server, CLUSTER)).get("EarliestRestorableTime") and c, 90,
                     "a restorable time")
    psql(found["Endpoint"], found["Port"], "postgres", password, "miyabi_auth_billing",
         "CREATE TABLE notes (id int PRIMARY KEY, note text)", "INSERT INTO notes VALUES (1, 'first')")
    return {"password": password, "written": time.time()}


def test_seed001_backup_status_and_restorable_time(rds_server: KuraServer, aurora: dict[str, Any],
                                                   tmp_path: Path) -> None:
    out = bash(rds_server, SEED001, tmp_path).stdout
    snapshots, _, earliest = out.rpartition("}")
    listed = json.loads(snapshots + "}")["DBClusterSnapshots"]
    assert listed and all(s["DBClusterIdentifier"] == CLUSTER for s in listed)
    assert {s["SnapshotType"] for s in listed} == {"automated"}
    when = datetime.fromisoformat(json.loads(earliest.strip()))
    assert when <= datetime.now(UTC)


def test_seed002_snapshot_restore_and_capacity(rds_server: KuraServer, aurora: dict[str, Any],
                                               tmp_path: Path) -> None:
    made = json.loads(bash(rds_server, terraform(SEED002_SNAPSHOT), tmp_path).stdout)["DBClusterSnapshot"]
    name = made["DBClusterSnapshotIdentifier"]
    assert name == f"manual-snapshot-{datetime.now().strftime('%Y%m%d')}" and made["Status"] == "creating"
    wait_for(lambda: rds_server.aws("rds", "describe-db-cluster-snapshots",
                                    "--db-cluster-snapshot-identifier", name)["DBClusterSnapshots"][0][
                                        "Status"] == "available", 90, "the snapshot")
    restore = SEED002_RESTORE.replace("manual-snapshot-20240101", name)  # the seed's example date: ours
    restored = json.loads(bash(rds_server, restore, tmp_path).stdout)["DBCluster"]
    assert (restored["DBClusterIdentifier"], restored["Engine"]) == ("restored-cluster", "aurora-postgresql")
    assert restored["DBClusterMembers"] == [] and restored["EngineVersion"] == "15.4"
    changed = json.loads(bash(rds_server, terraform(SEED002_SCALING), tmp_path).stdout)["DBCluster"]
    assert changed["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 1.0, "MaxCapacity": 4.0}
    status = json.loads(bash(rds_server, terraform(SEED002_STATUS), tmp_path).stdout)["DBClusters"][0]
    assert status["Status"] == "available" and status["ServerlessV2ScalingConfiguration"]["MaxCapacity"] == 4
    writer_of(rds_server, "restored-cluster", "restored-cluster-instance-1")
    assert rows(rds_server, "restored-cluster", aurora["password"]) == ["first"]


def test_seed003_point_in_time_restore(rds_server: KuraServer, aurora: dict[str, Any],
                                       tmp_path: Path) -> None:
    def past_the_first_row() -> dict[str, Any] | None:
        found = cluster(rds_server, CLUSTER)
        latest = datetime.fromisoformat(found["LatestRestorableTime"]).timestamp()
        return found if latest > aurora["written"] + 1 else None

    found = wait_for(past_the_first_row, 60, "restorable past the first row")
    at = found["LatestRestorableTime"]
    psql(found["Endpoint"], found["Port"], "postgres", aurora["password"], "miyabi_auth_billing",
         "INSERT INTO notes VALUES (2, 'after the restore time')")
    time.sleep(1)
    stamp = datetime.fromisoformat(at).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    restored = json.loads(bash(rds_server, SEED003_PITR.replace("2025-12-12T12:00:00Z", stamp),
                               tmp_path).stdout)["DBCluster"]
    assert restored["DBClusterIdentifier"] == "miyabi-prod-aurora-restored"
    writer_of(rds_server, "miyabi-prod-aurora-restored", "miyabi-prod-aurora-restored-instance-1")
    assert rows(rds_server, "miyabi-prod-aurora-restored", aurora["password"]) == ["first"]
    refused = bash(rds_server, SEED003_PITR.replace("miyabi-prod-aurora-restored", "too-early"), tmp_path,
                   check=False)
    assert refused.returncode != 0 and "InvalidRestoreFault" in refused.stderr  # 2025: before the cluster


def test_seed003_connection_errors_in_cloudwatch_logs(rds_server: KuraServer, aurora: dict[str, Any],
                                                      tmp_path: Path) -> None:
    """Seed 003's troubleshooting step: a client that cannot connect, and its error read from the
    cluster's exported PostgreSQL log (stream = the writer instance) with the AWS CLI."""
    found = cluster(rds_server, CLUSTER)
    assert found["EnabledCloudwatchLogsExports"] == ["postgresql"]
    refused = psql(found["Endpoint"], found["Port"], "postgres", "wrong-password", "miyabi_auth_billing",
                   "SELECT 1", check=False)
    assert refused.returncode != 0
    time.sleep(1.0)  # exported within a second
    streams, _, errors = bash(rds_server, terraform(SEED003_LOGS), tmp_path).stdout.partition("\n")
    assert streams.split() == [f"{CLUSTER}-instance-1"]
    assert 'FATAL:  password authentication failed for user "postgres"' in errors
