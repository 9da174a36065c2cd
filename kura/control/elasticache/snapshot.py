"""The `elasticache.snapshot` reconciler: real RDB files, sealed with a KMS data key when the source is
encrypted at rest; CopySnapshot copies the file; automatic daily snapshots in the SnapshotWindow, kept
SnapshotRetentionLimit days (`schedule`, called by the cluster and group reconcilers).

A sealed file is `MAGIC`, the 4-byte length of the encrypted data key, that key (KMS ciphertext), then
the RDB sealed with AES-256-GCM under the data key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import struct
import tempfile
from pathlib import Path
from typing import Any

from kura import crypto
from kura.control.elasticache import common, members, nodes
from kura.control.registry import reconciler
from kura.control.types import Outcome, PermanentError, TemporaryError
from kura.env import Env
from kura.services.elasticache.records import KIND_CACHE_CLUSTER, KIND_REPLICATION_GROUP, KIND_SNAPSHOT
from kura.services.kms import internal as kms
from kura.store.types import AlreadyExists, Resource

MAGIC = b"KURA-EC-SNAP1\n"
AAD = b"kura elasticache snapshot"
KMS_ALIAS = "alias/aws/elasticache"
DAY = 86400.0


def _seal(env: Env, region: str, key_ref: str | None, plain: bytes) -> tuple[bytes, str]:
    key_arn, data_key, blob = kms.generate_data_key(env, region, key_ref, default_alias=KMS_ALIAS)
    return MAGIC + struct.pack(">I", len(blob)) + blob + crypto.seal(data_key, plain, AAD), key_arn


def plain_rdb(env: Env, snap: Resource, out_dir: Path) -> Path:
    """The snapshot's RDB, decrypted into `out_dir` when it is sealed."""
    raw = Path(str(snap.status["file"])).read_bytes()
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / "restore.rdb"
    if raw.startswith(MAGIC):
        size = struct.unpack(">I", raw[len(MAGIC):len(MAGIC) + 4])[0]
        start = len(MAGIC) + 4
        _, data_key = kms.decrypt_data_key(env, snap.region, raw[start:start + size])
        raw = crypto.unseal(data_key, raw[start + size:], AAD)
    dest.write_bytes(raw)
    return dest


def source_node(env: Env, snap: Resource) -> tuple[Resource, nodes.RedisNode]:
    """The cluster to dump: the named cache cluster, or the replication group's primary."""
    ident = snap.spec.get("CacheClusterId")
    group_id = snap.spec.get("ReplicationGroupId")
    if not ident and group_id:
        group = env.store.get(KIND_REPLICATION_GROUP, snap.region, str(group_id))
        if group is None:
            raise PermanentError(f"replication group {group_id} does not exist")
        ident = members.primary_of(group)
    cluster = env.store.get(KIND_CACHE_CLUSTER, snap.region, str(ident))
    node = nodes.node_for(env, cluster) if cluster is not None else None
    if cluster is None or node is None:
        raise PermanentError(f"cache cluster {ident} does not exist")
    return cluster, node


def take(env: Env, cluster: Resource, node: nodes.RedisNode, name: str,
         key_ref: str | None) -> dict[str, Any]:
    """Dump `node` into the snapshot file of `name`; the status fields of a finished snapshot."""
    dest = nodes.snapshot_path(env, cluster.region, name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        dump = Path(tmp) / "dump.rdb"
        node.snapshot(dump)
        data = dump.read_bytes()
    encrypted = bool(cluster.spec.get("AtRestEncryptionEnabled"))
    key_arn = None
    if encrypted:
        data, key_arn = _seal(env, cluster.region, key_ref or cluster.spec.get("KmsKeyId"), data)
    part = dest.with_suffix(".part")
    part.write_bytes(data)
    os.chmod(part, 0o600)
    part.replace(dest)
    return {"state": "available", "file": str(dest), "size": len(data), "created": env.clock.now(),
            "encrypted": encrypted, "kms_key_arn": key_arn}


def _copy(env: Env, snap: Resource) -> dict[str, Any]:
    source = env.store.get(KIND_SNAPSHOT, snap.region, str(snap.spec["copy_of"]))
    if source is None or source.status.get("state") != "available":
        raise TemporaryError(f"waiting for snapshot {snap.spec['copy_of']} to be available", 1.0)
    dest = nodes.snapshot_path(env, snap.region, snap.id)
    shutil.copyfile(str(source.status["file"]), dest)
    return {**{k: source.status.get(k) for k in ("size", "encrypted", "kms_key_arn")},
            "state": "available", "file": str(dest), "created": env.clock.now()}


def _remove(env: Env, snap: Resource) -> Outcome:
    nodes.snapshot_path(env, snap.region, snap.id).unlink(missing_ok=True)
    current = env.store.get(snap.kind, snap.region, snap.id)
    if current is not None:
        env.store.delete(current)
    return Outcome(f"snapshot {snap.id} deleted")


@reconciler
class SnapshotReconciler:
    kind = KIND_SNAPSHOT
    source_type = "snapshot"

    def reconcile(self, env: Env, res: Resource) -> Outcome:
        if res.spec.get("desired") == "deleted" or res.status.get("state") == "deleting":
            return _remove(env, res)
        if res.status.get("state") in ("available", "failed"):
            return Outcome(f"snapshot {res.id} is {res.status['state']}")
        if res.spec.get("copy_of"):
            common.patch(env, res, _copy(env, res))
            return Outcome(f"snapshot {res.id} copied from {res.spec['copy_of']}")
        try:
            cluster, node = source_node(env, res)
            fields = take(env, cluster, node, res.id, res.spec.get("KmsKeyId"))
        except PermanentError as exc:
            common.patch(env, res, {"state": "failed", "failure": str(exc)})
            return Outcome(f"snapshot {res.id} failed: {exc}")
        common.patch(env, res, fields)
        what = f"replication group with ID '{res.spec['ReplicationGroupId']}'" \
            if res.spec.get("ReplicationGroupId") else f"cache cluster with ID '{cluster.id}'"
        common.event(env, cluster, f"Snapshot succeeded for snapshot with ID '{res.id}' of {what}",
                      "snapshot")
        return Outcome(f"snapshot {res.id} of {cluster.id} taken ({fields['size']} bytes)")


def _in_window(window: str | None, now: dt.datetime) -> bool:
    if not window:
        return now.hour == 5  # AWS picks a window; Kura's default is 05:00-06:00 UTC
    start, end = (dt.time.fromisoformat(p) for p in window.split("-"))
    at = now.time()
    return start <= at < end if start <= end else (at >= start or at < end)


def schedule(env: Env, res: Resource) -> None:
    """Automatic snapshots of `res` (a standalone cache cluster or a replication group): one per day in
    its SnapshotWindow; automated snapshots older than SnapshotRetentionLimit days are deleted."""
    limit = int(res.spec.get("SnapshotRetentionLimit") or 0)
    key = "CacheClusterId" if res.kind == KIND_CACHE_CLUSTER else "ReplicationGroupId"
    mine = [s for s in env.store.list(KIND_SNAPSHOT, res.region)
            if s.spec.get(key) == res.id and s.spec.get("SnapshotSource") == "automated"]
    now = env.clock.now()
    for snap in mine:
        if float(snap.status.get("created") or now) <= now - limit * DAY:
            _remove(env, snap)
    when = dt.datetime.fromtimestamp(now, dt.UTC)
    recent = any(float(s.status.get("created") or now) > now - DAY / 2 for s in mine)
    if limit <= 0 or recent or not _in_window(res.spec.get("SnapshotWindow"), when):
        return
    name = f"automatic.{res.id}-{when:%Y-%m-%d-%H-%M}"
    spec = {"SnapshotName": name, "SnapshotSource": "automated", key: res.id,
            **{k: res.spec.get(k) for k in ("CacheNodeType", "EngineVersion", "KmsKeyId")}}
    with contextlib.suppress(AlreadyExists):
        env.store.create(KIND_SNAPSHOT, res.region, name, spec, {"state": "creating"})
