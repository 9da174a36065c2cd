"""KMS keys and aliases as stored records, and how a key reference resolves to a key.

A key is a `kms.key` resource (id = the key's UUID); an alias is a `kms.alias` resource (id = the
alias name, e.g. ``alias/app``). Key material is 32 random bytes kept only sealed under the
installation master key, bound (as AAD) to the key's region and id so that sealed material cannot
be moved from one key record to another.
"""

from __future__ import annotations

import base64
import enum
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

from kura.api.errors import AwsError
from kura.env import Env
from kura.store.types import AlreadyExists, Resource

KIND_KEY = "kms.key"
KIND_ALIAS = "kms.alias"
SYMMETRIC = "SYMMETRIC_DEFAULT"
ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"

# The AWS managed keys Kura's own services use, created the first time they are referenced.
MANAGED_ALIASES: dict[str, str] = {
    "alias/aws/rds": "Default key that protects my RDS database volumes when no other key is defined",
    "alias/aws/secretsmanager": "Default key that protects my Secrets Manager data when no other key "
    "is defined",
    "alias/aws/elasticache": "Default key that protects my ElastiCache data when no other key is defined",
}


class KeyState(enum.StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    PENDING_DELETION = "PendingDeletion"


class KeyManager(enum.StrEnum):
    AWS = "AWS"
    CUSTOMER = "CUSTOMER"


@dataclass(frozen=True, slots=True)
class Key:
    res: Resource
    account: str

    @property
    def id(self) -> str:
        return self.res.id

    @property
    def region(self) -> str:
        return self.res.region

    @property
    def arn(self) -> str:
        return key_arn(self.region, self.account, self.id)

    @property
    def spec(self) -> dict[str, Any]:
        return self.res.spec

    @property
    def state(self) -> KeyState:
        return KeyState(self.res.spec["KeyState"])

    @property
    def manager(self) -> KeyManager:
        return KeyManager(self.res.spec["KeyManager"])

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.res.spec.get("Tags") or {})


@dataclass(frozen=True, slots=True)
class Alias:
    res: Resource
    account: str

    @property
    def name(self) -> str:
        return self.res.id

    @property
    def arn(self) -> str:
        return f"arn:aws:kms:{self.res.region}:{self.account}:{self.name}"

    @property
    def target(self) -> str:
        return str(self.res.spec["TargetKeyId"])


def key_arn(region: str, account: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


# -- errors (messages as AWS words them) ------------------------------------------------------
def not_found(message: str) -> AwsError:
    return AwsError("NotFoundException", message)


def key_not_found(region: str, account: str, key_id: str) -> AwsError:
    return not_found(f"Key '{key_arn(region, account, key_id)}' does not exist")


def access_denied(env: Env, key: Key, action: str) -> AwsError:
    """What AWS answers when a caller manages an AWS managed key: its policy allows no such action."""
    return AwsError(
        "AccessDeniedException",
        f"User: arn:aws:iam::{env.account}:root is not authorized to perform: kms:{action} on resource: "
        f"{key.arn} because no resource-based policy allows the kms:{action} action",
    )


def require_usable(key: Key) -> None:
    """Cryptographic operations need an Enabled key."""
    if key.state is KeyState.DISABLED:
        raise AwsError("DisabledException", f"{key.arn} is disabled.")
    if key.state is KeyState.PENDING_DELETION:
        raise AwsError("KMSInvalidStateException", f"{key.arn} is pending deletion.")


# -- lookup -----------------------------------------------------------------------------------
def _valid_id(key_id: str) -> bool:
    try:
        return str(uuid.UUID(key_id)) == key_id.lower()
    except ValueError:
        return False


def get_key(env: Env, region: str, key_id: str) -> Key:
    if not _valid_id(key_id):
        raise not_found(f"Invalid keyId '{key_id}'")
    res = env.store.get(KIND_KEY, region, key_id.lower())
    if res is None:
        raise key_not_found(region, env.account, key_id)
    return Key(res, env.account)


def get_alias(env: Env, region: str, name: str) -> Alias | None:
    res = env.store.get(KIND_ALIAS, region, name)
    return Alias(res, env.account) if res else None


def list_aliases(env: Env, region: str) -> list[Alias]:
    return [Alias(r, env.account) for r in env.store.list(KIND_ALIAS, region)]


def find_key(env: Env, region: str, ref: str, *, aliases: bool = True) -> Key:
    """The key `ref` names: key id, key ARN and, when `aliases`, alias name or alias ARN.

    A predefined AWS managed alias that has no key yet gets one, as DescribeKey and the
    cryptographic operations do on AWS.
    """
    resource = ref
    if ref.startswith("arn:"):
        parts = ref.split(":", 5)
        if len(parts) != 6 or parts[1] != "aws" or parts[2] != "kms":
            raise not_found(f"Invalid arn {ref}")
        if parts[3] != region or parts[4] != env.account:
            # Another region or account is another KMS: its keys do not exist here.
            raise not_found(f"Invalid arn {ref}" if parts[3] != region else f"Key '{ref}' does not exist")
        resource = parts[5]
        if resource.startswith("key/"):
            return get_key(env, region, resource[4:])
        if not resource.startswith("alias/"):
            raise not_found(f"Invalid arn {ref}")
    if resource.startswith("alias/"):
        if not aliases:
            raise not_found(f"Invalid keyId '{ref}'")
        return _by_alias(env, region, resource)
    return get_key(env, region, resource)


def _by_alias(env: Env, region: str, name: str) -> Key:
    alias = get_alias(env, region, name)
    if alias is None:
        if name in MANAGED_ALIASES:
            return ensure_managed(env, region, name)
        raise not_found(f"Alias 'arn:aws:kms:{region}:{env.account}:{name}' is not found.")
    return get_key(env, region, alias.target)


# -- creation ---------------------------------------------------------------------------------
def _material_aad(region: str, key_id: str) -> bytes:
    return f"kura:kms:key-material:{region}:{key_id}".encode()


def material(env: Env, key: Key) -> bytes:
    """The key's 32 bytes, unsealed for one operation and never stored in the clear."""
    sealed = base64.b64decode(key.spec["Material"])
    return env.master_key.unseal(sealed, _material_aad(key.region, key.id))


def default_policy(account: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }],
    }, indent=2)


def managed_policy(account: str, region: str, service: str) -> str:
    """The shape of AWS's managed-key policies: use through the service, read for the account."""
    return json.dumps({
        "Version": "2012-10-17",
        "Id": f"auto-{service}-2",
        "Statement": [
            {
                "Sid": f"Allow access through {service} for all principals in the account",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                           "kms:CreateGrant", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:CallerAccount": account,
                                               "kms:ViaService": f"{service}.{region}.amazonaws.com"}},
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                "Resource": "*",
            },
        ],
    }, indent=2)


def create_key(
    env: Env, region: str, *, description: str = "", policy: str | None = None,
    tags: dict[str, str] | None = None, manager: KeyManager = KeyManager.CUSTOMER,
) -> Key:
    key_id = str(uuid.uuid4())
    sealed = env.master_key.seal(os.urandom(32), _material_aad(region, key_id))
    spec: dict[str, Any] = {
        "Description": description,
        "KeyUsage": ENCRYPT_DECRYPT,
        "KeySpec": SYMMETRIC,
        "Origin": "AWS_KMS",
        "KeyManager": manager.value,
        "MultiRegion": False,
        "Policy": policy or default_policy(env.account),
        "Tags": tags or {},
        "KeyState": KeyState.ENABLED.value,
        "CreationDate": env.clock.now(),
        "Material": base64.b64encode(sealed).decode(),
    }
    return Key(env.store.create(KIND_KEY, region, key_id, spec), env.account)


def create_alias(env: Env, region: str, name: str, key: Key) -> Alias:
    now = env.clock.now()
    spec = {"TargetKeyId": key.id, "CreationDate": now, "LastUpdatedDate": now}
    try:
        return Alias(env.store.create(KIND_ALIAS, region, name, spec), env.account)
    except AlreadyExists as exc:
        raise AwsError(
            "AlreadyExistsException",
            f"An alias with the name arn:aws:kms:{region}:{env.account}:{name} already exists",
        ) from exc


def ensure_managed(env: Env, region: str, name: str) -> Key:
    """The AWS managed key behind `name`, created with its alias on first use (once, atomically)."""
    service = name.removeprefix("alias/aws/")
    with env.store.transaction():
        alias = get_alias(env, region, name)
        if alias is not None:
            return get_key(env, region, alias.target)
        key = create_key(env, region, description=MANAGED_ALIASES[name],
                         policy=managed_policy(env.account, region, service), manager=KeyManager.AWS)
        create_alias(env, region, name, key)
        return key


def save(env: Env, key: Key, **changes: Any) -> Key:
    """Write changed spec fields (call inside a store transaction that read `key`)."""
    return Key(env.store.update(key.res, spec={**key.spec, **changes}), env.account)
