"""ManageMasterUserPassword: the RDS-owned secret holds a password that works; RotateSecret and
ModifyDBInstance --rotate-master-user-password change it in PostgreSQL with no downtime."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from kura.control.rds import nodes
from tests.integration.test_rds_lifecycle import (
    connect,
    create,
    describe,
    messages,
    rds_kura,
    wait_for,
    wait_status,
)
from tests.kura_fixture import KuraServer

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no PostgreSQL installed")
__all__ = ["rds_kura"]  # the module-scoped server fixture, shared


def _secret(sm: Any, arn: str, stage: str = "AWSCURRENT") -> dict[str, Any]:
    return dict(json.loads(sm.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"]))


def _logs_in(inst: dict[str, Any], password: str) -> bool:
    try:
        with connect(inst, password=password) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


def _rotated(sm: Any, arn: str, old: str) -> str:
    def done() -> str | None:
        desc = sm.describe_secret(SecretId=arn)
        pending = any("AWSPENDING" in s for s in desc["VersionIdsToStages"].values())
        new = _secret(sm, arn)["password"]
        return new if new != old and not pending else None

    return str(wait_for(done, 30, "the rotation to finish"))


def test_managed_master_password_and_rotation(rds_kura: KuraServer) -> None:
    rds, sm = rds_kura.client("rds"), rds_kura.client("secretsmanager")
    create(rds, "managed-db", ManageMasterUserPassword=True)
    inst = describe(rds, "managed-db")
    arn = inst["MasterUserSecret"]["SecretArn"]
    first = _secret(sm, arn)
    assert first["username"] == "master"
    assert _logs_in(inst, first["password"])

    held = connect(inst, password=first["password"])  # a session open across both rotations
    sm.rotate_secret(SecretId=arn)
    second = _rotated(sm, arn, first["password"])
    assert _logs_in(inst, second)
    assert not _logs_in(inst, first["password"])
    assert _secret(sm, arn, "AWSPREVIOUS")["password"] == first["password"]

    rds.modify_db_instance(DBInstanceIdentifier="managed-db", RotateMasterUserPassword=True,
                           ApplyImmediately=True)
    third = _rotated(sm, arn, second)
    assert _logs_in(inst, third)
    assert not _logs_in(inst, second)
    assert held.execute("SELECT 1").fetchone() == (1,)  # no downtime: the old session never dropped
    held.close()


def test_turning_managed_password_on_then_off(rds_kura: KuraServer) -> None:
    rds, sm = rds_kura.client("rds"), rds_kura.client("secretsmanager")
    create(rds, "toggle-db")
    rds.modify_db_instance(DBInstanceIdentifier="toggle-db", ManageMasterUserPassword=True,
                           ApplyImmediately=True)
    inst = wait_for(lambda: (i := describe(rds, "toggle-db")).get("MasterUserSecret") and i, 10, "the secret")
    password = _secret(sm, inst["MasterUserSecret"]["SecretArn"])["password"]
    wait_for(lambda: _logs_in(inst, password), 15, "the managed password to work")
    wait_status(rds, "toggle-db", "available")

    rds.modify_db_instance(DBInstanceIdentifier="toggle-db", ManageMasterUserPassword=False,
                           MasterUserPassword="Back-to-mine-1", ApplyImmediately=True)
    wait_for(lambda: _logs_in(inst, "Back-to-mine-1"), 15, "the user's password to work again")
    assert not _logs_in(inst, password)
    assert "Reset master credentials" in messages(rds, "toggle-db")
