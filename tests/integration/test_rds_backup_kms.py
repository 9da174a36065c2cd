"""The KMS key of an encrypted instance's backups, through a real `kura up` and boto3: while the
customer managed key is disabled or pending deletion, RestoreDBInstanceFromDBSnapshot,
RestoreDBInstanceToPointInTime, CopyDBSnapshot (with or without a KmsKeyId of its own) and
DeleteDBInstance with a FinalDBSnapshotIdentifier answer KMSKeyNotAccessibleFault (the fault botocore's
model gives all four) and nothing is created or deleted; once the key is enabled again the same restores
work and the data is there. A copy sealed under another key restores while the source's key is disabled.

On AWS a key saved from deletion (CancelKeyDeletion) comes back disabled: restores stay refused until
EnableKey.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kura.control.rds import nodes
from tests.integration.test_rds_lifecycle import (
    connect,
    create,
    describe,
    running,
    wait_for,
    wait_status,
)
from tests.kura_fixture import KuraServer

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no PostgreSQL installed")
FAULT = "KMSKeyNotAccessibleFault"


@pytest.fixture(scope="module")
def kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    with running(tmp_path_factory.mktemp("backup-kms") / "home") as server:
        yield server


def _error(call: Callable[[], Any]) -> tuple[str, str]:
    """(code, message) of the call's error; ("", "") when it succeeded."""
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"]), str(exc.response["Error"]["Message"])
    return "", ""


def _rows(inst: dict[str, Any]) -> list[tuple[int, str]]:
    with connect(inst) as conn:
        return [(int(r[0]), str(r[1])) for r in conn.execute("SELECT id, v FROM t ORDER BY id").fetchall()]


def _snapshot_available(rds: Any, ident: str) -> dict[str, Any] | None:
    snap = rds.describe_db_snapshots(DBSnapshotIdentifier=ident)["DBSnapshots"][0]
    return dict(snap) if snap["Status"] == "available" else None


def _latest(rds: Any, ident: str) -> float:
    found = describe(rds, ident).get("LatestRestorableTime")
    return found.timestamp() if found else 0.0


def _absent(rds: Any, ident: str) -> bool:
    return not any(d["DBInstanceIdentifier"] == ident for d in rds.describe_db_instances()["DBInstances"])


def test_restores_and_copies_need_a_usable_kms_key(kura: KuraServer) -> None:
    rds, kms = kura.client("rds"), kura.client("kms")
    key = kms.create_key(Description="kms-db storage")["KeyMetadata"]
    other = kms.create_key(Description="copies")["KeyMetadata"]
    create(rds, "kms-db", StorageEncrypted=True, KmsKeyId=key["KeyId"], BackupRetentionPeriod=1)
    src = wait_status(rds, "kms-db", "available", 60)
    assert src["StorageEncrypted"] and src["KmsKeyId"] == key["Arn"]
    with connect(src) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t VALUES (1, 'in the snapshot')")
    rds.create_db_snapshot(DBInstanceIdentifier="kms-db", DBSnapshotIdentifier="kms-snap")
    snap = wait_for(lambda: _snapshot_available(rds, "kms-snap"), 60, "kms-snap available")
    assert snap["Encrypted"] and snap["KmsKeyId"] == key["Arn"]
    with connect(src) as conn:
        conn.execute("INSERT INTO t VALUES (2, 'after the snapshot')")
    written = time.time()
    wait_for(lambda: _latest(rds, "kms-db") >= written, 30, "restorable past the second row")

    def from_snapshot(ident: str) -> Any:
        return rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=ident,
                                                        DBSnapshotIdentifier="kms-snap",
                                                        BackupRetentionPeriod=0)

    def to_latest(ident: str) -> Any:
        return rds.restore_db_instance_to_point_in_time(SourceDBInstanceIdentifier="kms-db",
                                                        TargetDBInstanceIdentifier=ident,
                                                        UseLatestRestorableTime=True, BackupRetentionPeriod=0)

    def copy(ident: str, **extra: Any) -> Any:
        return rds.copy_db_snapshot(SourceDBSnapshotIdentifier="kms-snap", TargetDBSnapshotIdentifier=ident,
                                    **extra)

    def refused(state: str) -> None:
        """Every use of the key is refused with RDS's fault, naming the key; nothing is created."""
        calls: dict[str, Callable[[], Any]] = {
            "from-snapshot": lambda: from_snapshot("kms-refused-1"),
            "to-point-in-time": lambda: to_latest("kms-refused-2"),
            "copy": lambda: copy("kms-refused-copy"),
            "copy-under-another-key": lambda: copy("kms-refused-copy", KmsKeyId=other["KeyId"]),
            # Accepted, the final snapshot would fail (it can't be sealed) and the instance go without it.
            "final-snapshot": lambda: rds.delete_db_instance(DBInstanceIdentifier="kms-db",
                                                             FinalDBSnapshotIdentifier="kms-final"),
        }
        for what, call in calls.items():
            code, message = _error(call)
            assert code == FAULT, (state, what, code, message)
            assert key["Arn"] in message, (state, what, message)
        assert _absent(rds, "kms-refused-1") and _absent(rds, "kms-refused-2")
        assert describe(rds, "kms-db")["DBInstanceStatus"] == "available"
        for snap in ("kms-refused-copy", "kms-final"):
            with pytest.raises(rds.exceptions.DBSnapshotNotFoundFault):
                rds.describe_db_snapshots(DBSnapshotIdentifier=snap)

    kms.disable_key(KeyId=key["KeyId"])
    refused("disabled")
    kms.enable_key(KeyId=key["KeyId"])
    from_snapshot("kms-from-snap")
    to_latest("kms-pitr")
    copy("kms-copy", KmsKeyId=other["KeyId"])
    assert _rows(wait_status(rds, "kms-from-snap", "available", 120)) == [(1, "in the snapshot")]
    assert _rows(wait_status(rds, "kms-pitr", "available", 120)) == [(1, "in the snapshot"),
                                                                       (2, "after the snapshot")]
    copied = wait_for(lambda: _snapshot_available(rds, "kms-copy"), 60, "kms-copy available")
    assert copied["Encrypted"] and copied["KmsKeyId"] == other["Arn"]

    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    refused("pending deletion")
    kms.cancel_key_deletion(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    refused("saved from deletion, still disabled")
    # The copy is sealed under the other key: it restores whatever happens to the source's key.
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="kms-from-copy",
                                             DBSnapshotIdentifier="kms-copy", BackupRetentionPeriod=0)
    from_copy = wait_status(rds, "kms-from-copy", "available", 120)
    assert from_copy["KmsKeyId"] == other["Arn"] and _rows(from_copy) == [(1, "in the snapshot")]
    kms.enable_key(KeyId=key["KeyId"])
    from_snapshot("kms-from-snap-2")
    again = wait_status(rds, "kms-from-snap-2", "available", 120)
    assert again["KmsKeyId"] == key["Arn"] and _rows(again) == [(1, "in the snapshot")]
    made = ("kms-from-snap", "kms-pitr", "kms-from-copy", "kms-from-snap-2", "kms-db")
    for ident in made:
        rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)
    wait_for(lambda: all(_absent(rds, i) for i in made), 60, "the instances deleted")
