"""The master password: where it comes from, how it reaches PostgreSQL, and RDS's secret rotator.

The password is sealed in the spec (`master_password_sealed`, bound to the instance ARN), or, with
ManageMasterUserPassword, held in a Secrets Manager secret that RDS owns (AWSCURRENT's `password`).
It reaches PostgreSQL only as a SCRAM-SHA-256 verifier computed here, so no plaintext password is
ever in a statement the server could log (`log_statement = ddl` logs ALTER ROLE verbatim).

The rotator (registered at import as "rds") owns every secret whose OwningService is rds. set_secret
changes the role's password with ALTER ROLE, which affects new logins only: sessions already open
keep running, so rotation has no downtime.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import psycopg

from kura.control.types import PermanentError, TemporaryError
from kura.engines.postgres.scram import scram_verifier
from kura.env import Env
from kura.services.rds.records import KIND_INSTANCE
from kura.services.secretsmanager import internal as sm
from kura.services.secretsmanager.model import find
from kura.services.secretsmanager.rotation import (
    RotationContext,
    SecretInfo,
    random_password,
    register_rotator,
)
from kura.store.types import Resource

OWNING_SERVICE = "rds"
ROTATOR_NAME = "rds"
ROTATION_RULES = {"ScheduleExpression": "rate(7 days)"}
EXCLUDED = "/\"@ '\\`"  # what RDS leaves out of generated passwords


def instance_arn(env: Env, res: Resource) -> str:
    return f"arn:aws:rds:{res.region}:{env.account}:db:{res.id}"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def alter_password_sql(user: str, password: str) -> str:
    return f"ALTER ROLE {quote_ident(user)} WITH LOGIN PASSWORD {quote_literal(scram_verifier(password))}"


# -- where the password lives -------------------------------------------------------------------------

def secret_arn(res: Resource) -> str | None:
    """The managed secret of the instance: the one the API created, or the one the reconciler did."""
    found = res.spec.get("MasterUserSecretArn") or res.status.get("master_user_secret_arn")
    return str(found) if found else None


def _secret_doc(env: Env, region: str, arn: str, stage: str = "AWSCURRENT") -> dict[str, Any]:
    raw = sm.read_secret(env, region, arn, stage)
    doc = json.loads(raw if isinstance(raw, str) else raw.decode())
    if not isinstance(doc, dict) or "password" not in doc:
        raise PermanentError(f"the master user secret {arn} holds no password")
    return doc


def current_password(env: Env, res: Resource) -> str:
    """The password the master user should have now (never logged, never in an error message)."""
    arn = secret_arn(res)
    if res.spec.get("ManageMasterUserPassword") and arn:
        return str(_secret_doc(env, res.region, arn)["password"])
    sealed = res.spec.get("master_password_sealed")
    if not sealed:
        raise PermanentError(f"DB instance {res.id} has neither a sealed master password nor a secret")
    blob = env.master_key.unseal(base64.b64decode(sealed), aad=instance_arn(env, res).encode())
    return blob.decode()


def ensure_secret(env: Env, res: Resource) -> str:
    """The managed secret's ARN; created here when the API did not (idempotent: a fixed name)."""
    arn = res.spec.get("MasterUserSecretArn") or res.status.get("master_user_secret_arn")
    if arn:
        return str(arn)
    name = f"rds!db-{uuid.uuid5(uuid.NAMESPACE_URL, instance_arn(env, res) + str(res.created_at))}"
    found = find(env, res.region, name)
    if found is not None:
        return found[1].arn
    value = json.dumps({"username": res.spec.get("MasterUsername"),
                        "password": random_password(28, exclude_characters=EXCLUDED)})
    made = sm.create_managed_secret(
        env, res.region, name=name, value=value, owning_service=OWNING_SERVICE,
        kms_key_id=res.spec.get("MasterUserSecretKmsKeyId"), rotator=ROTATOR_NAME,
        description="Secret associated with primary RDS DB instance", rotation_rules=ROTATION_RULES)
    return made.arn


def delete_secret(env: Env, res: Resource) -> None:
    """Delete the instance's managed secrets (the API's and the one recorded in status); idempotent. A
    DB cluster's member shares its cluster's secret, which goes with the cluster."""
    if res.spec.get("DBClusterIdentifier"):
        return
    for arn in {res.spec.get("MasterUserSecretArn"), res.status.get("master_user_secret_arn")} - {None}:
        sm.delete_managed_secret(env, res.region, str(arn))


# -- the rotator --------------------------------------------------------------------------------------

def _instance_of(env: Env, region: str, arn: str) -> Resource:
    for res in env.store.list(KIND_INSTANCE, region):
        if secret_arn(res) == arn:
            return res
    raise PermanentError(f"no DB instance uses the master user secret {arn}")


class RdsRotator:
    """AWS's single-user rotation for RDS master secrets, in-process."""

    def owns(self, secret: SecretInfo) -> bool:
        return secret.owning_service == OWNING_SERVICE

    def create_secret(self, rot: RotationContext) -> None:
        if rot.pending_value() is not None:
            return  # a re-run after a crash keeps the first new value
        doc = _secret_doc(rot.env, rot.region, rot.secret_arn)
        doc["password"] = random_password(28, exclude_characters=EXCLUDED)
        res = _instance_of(rot.env, rot.region, rot.secret_arn)
        fill = {"host": res.status.get("address"), "port": res.status.get("port"),
                "dbname": res.spec.get("DBName") or "postgres", "engine": "postgres"}
        doc.update({k: v for k, v in fill.items() if k in doc and v is not None})
        rot.put_pending(json.dumps(doc))

    def set_secret(self, rot: RotationContext) -> None:
        from kura.control.rds import nodes

        doc = _secret_doc(rot.env, rot.region, rot.secret_arn, "AWSPENDING")
        res = _instance_of(rot.env, rot.region, rot.secret_arn)
        node = nodes.node_for(rot.env, res)
        if node is None or res.status.get("state") in (None, "creating", "stopped", "stopping", "deleting"):
            raise TemporaryError(f"DB instance {res.id} is not running; the rotation waits for it", 10.0)
        user = str(doc.get("username") or res.spec["MasterUsername"])
        node.execute(alter_password_sql(user, str(doc["password"])))

    def test_secret(self, rot: RotationContext) -> None:
        doc = _secret_doc(rot.env, rot.region, rot.secret_arn, "AWSPENDING")
        res = _instance_of(rot.env, rot.region, rot.secret_arn)
        try:
            with psycopg.connect(host=res.status["address"], port=int(res.status["port"]),
                                 user=str(doc.get("username") or res.spec["MasterUsername"]),
                                 password=str(doc["password"]), dbname="postgres", sslmode="require",
                                 connect_timeout=5) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            # libpq's message names host and user, never the password.
            raise TemporaryError(f"the new master password does not log in to {res.id}: "
                                 f"{str(exc).strip()}", 2.0) from None

    def finish_secret(self, rot: RotationContext) -> None:
        """Nothing left: Kura moves AWSCURRENT to the new version after this."""


register_rotator(ROTATOR_NAME, RdsRotator())
