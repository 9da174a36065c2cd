"""A secret as Kura keeps it: frozen records inside, a JSON spec in the store.

The secret resource holds the metadata of every version (stages, dates, KMS key); the encrypted
values live in their own records (values.py), so that reading or listing a secret never loads
(or rewrites) up to 100 ciphertexts of 64 KiB.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from kura.env import Env
from kura.services.secretsmanager.names import CURRENT, KIND, candidate_names, not_found
from kura.store.types import Resource

DAY = 86_400.0


def day_of(ts: float) -> float:
    """Midnight UTC of `ts`: AWS keeps access dates at day resolution."""
    return ts - ts % DAY


@dataclass(frozen=True, slots=True)
class Version:
    id: str
    stages: tuple[str, ...]
    created: float
    kms_key_arn: str | None  # the customer key that encrypts it; None: the AWS managed key
    last_accessed: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "stages": list(self.stages), "created": self.created,
                "kms_key_arn": self.kms_key_arn, "last_accessed": self.last_accessed}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Version:
        return cls(raw["id"], tuple(raw["stages"]), raw["created"], raw.get("kms_key_arn"),
                   raw.get("last_accessed"))


@dataclass(frozen=True, slots=True)
class Rotation:
    enabled: bool = False
    lambda_arn: str | None = None
    rules: dict[str, Any] | None = None  # AutomaticallyAfterDays / ScheduleExpression / Duration
    last_rotated: float | None = None
    next_rotation: float | None = None
    # The rotation asked for and not finished yet: the version id it creates (AWSPENDING).
    pending: str | None = None
    rotator: str | None = None  # name of the registered rotator that carries it out

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> Rotation:
        return cls(**raw) if raw else cls()


@dataclass(frozen=True, slots=True)
class Secret:
    arn: str
    name: str
    region: str
    created: float
    last_changed: float
    description: str | None = None
    kms_key_id: str | None = None  # key ARN of a customer key; None: the AWS managed key
    tags: dict[str, str] = field(default_factory=dict)
    last_accessed: float | None = None
    deleted: float | None = None  # when DeleteSecret was called (DeletedDate)
    deletion_date: float | None = None  # when the secret is purged
    owning_service: str | None = None
    type: str | None = None
    policy: str | None = None
    rotation: Rotation = field(default_factory=Rotation)
    versions: tuple[Version, ...] = ()  # oldest first

    # -- versions ----------------------------------------------------------------------------
    def version(self, version_id: str) -> Version | None:
        return next((v for v in self.versions if v.id == version_id), None)

    def staged(self, stage: str) -> Version | None:
        return next((v for v in self.versions if stage in v.stages), None)

    @property
    def current(self) -> Version | None:
        return self.staged(CURRENT)

    def stages_map(self) -> dict[str, list[str]]:
        return {v.id: list(v.stages) for v in self.versions if v.stages}

    def with_versions(self, versions: list[Version] | tuple[Version, ...]) -> Secret:
        return dataclasses.replace(self, versions=tuple(versions))

    def changed(self, now: float, **changes: Any) -> Secret:
        return dataclasses.replace(self, last_changed=now, **changes)

    # -- store -------------------------------------------------------------------------------
    def to_spec(self) -> dict[str, Any]:
        spec = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in ("rotation", "versions", "region")}
        spec["rotation"] = self.rotation.to_json()
        spec["versions"] = [v.to_json() for v in self.versions]
        return spec

    @classmethod
    def from_resource(cls, res: Resource) -> Secret:
        raw = dict(res.spec)
        raw["rotation"] = Rotation.from_json(raw.get("rotation"))
        raw["versions"] = tuple(Version.from_json(v) for v in raw.get("versions") or [])
        raw["tags"] = dict(raw.get("tags") or {})
        return cls(region=res.region, **raw)


def find(env: Env, region: str, secret_id: str) -> tuple[Resource, Secret] | None:
    """The secret a SecretId (name, full ARN or partial ARN) denotes, or None."""
    for name, arn in candidate_names(secret_id, region, env.account):
        res = env.store.get(KIND, region, name)
        if res is None:
            continue
        secret = Secret.from_resource(res)
        if arn is None or secret.arn == arn:
            return res, secret
    return None


def require(env: Env, region: str, secret_id: str) -> tuple[Resource, Secret]:
    found = find(env, region, secret_id)
    if found is None:
        raise not_found()
    return found
