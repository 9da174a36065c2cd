"""The `rds.db-snapshot` reconciler: a manual snapshot is a base backup of the running instance (tar,
WAL fetched in, manifest), so it restores alone, whatever retention does to automated backups. For
encrypted instances (or a copy given a KmsKeyId) it is sealed under a data key of its own.
CopyDBSnapshot re-seals the source's content under the copy's name and key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path

from kura import sealed
from kura.api.errors import AwsError
from kura.control.rds import backup_store, cluster_volume, nodes
from kura.control.rds.actions import EngineMissing
from kura.control.registry import reconciler
from kura.control.types import Outcome, PermanentError, TemporaryError
from kura.engines.postgres import backup
from kura.engines.postgres.types import NodeState
from kura.env import Env
from kura.services.rds.records import (
    KIND_AUTOMATED_BACKUP,
    KIND_INSTANCE,
    KIND_SNAPSHOT,
    SOURCE_SNAPSHOT,
)
from kura.store.types import Event, Resource


def _event(env: Env, res: Resource, message: str, category: str) -> None:
    env.store.add_event(Event(res.region, SOURCE_SNAPSHOT, res.id, message, (category,)))


def _patch(env: Env, res: Resource, fields: dict[str, object]) -> Resource:
    current = env.store.get(res.kind, res.region, res.id) or res
    return env.store.update(current, status={**current.status, **fields})


def _key(env: Env, res: Resource) -> tuple[bytes, bytes] | None:
    if not res.spec.get("StorageEncrypted"):
        return None
    return backup_store.new_key(env, res.region, res.spec.get("KmsKeyId"))


def _take(env: Env, res: Resource) -> Outcome:
    inst = env.store.get(KIND_INSTANCE, res.region, str(res.spec.get("DBInstanceIdentifier")))
    if inst is None or inst.spec.get("DbiResourceId") != res.spec.get("DbiResourceId"):
        return _fail(env, res, "its DB instance no longer exists")
    node = nodes.node_for(env, inst)
    live = nodes.liveness(node) if node is not None else None
    # A stopped instance (or one whose delete stopped it) is copied cold; a running one hot.
    cold = live is NodeState.STOPPED and inst.status.get("state") in ("stopped", "deleting")
    if node is None or not (cold or live is NodeState.RUNNING):
        raise TemporaryError(f"snapshot {res.id}: DB instance {inst.id} is not running yet", 2.0)
    path = backup_store.snapshot_file(env, res.region, res.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    res = _patch(env, res, {"progress": 10})
    take = backup.cold_backup if cold else backup.base_backup
    with sealed.Writer(path, _key(env, res), backup_store.snapshot_context(res.id)) as out:
        info = take(node.engine, node.datadir, out.write)
    _done(env, res, path, start_lsn=info.start_lsn)
    return Outcome(f"snapshot {res.id} of {inst.id} taken ({info.size} bytes)")


def _final(env: Env, res: Resource) -> Outcome:
    """DeleteDBCluster's final snapshot: of the cluster's storage (cluster_volume.write_final)."""
    path = backup_store.snapshot_file(env, res.region, res.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    res = _patch(env, res, {"progress": 10})
    try:
        with sealed.Writer(path, _key(env, res), backup_store.snapshot_context(res.id)) as out:
            info = cluster_volume.write_final(env, res, out.write)
    except (PermanentError, EngineMissing) as exc:
        path.unlink(missing_ok=True)
        return _fail(env, res, str(exc))
    _done(env, res, path, start_lsn=info.start_lsn)
    return Outcome(f"final snapshot {res.id} of DB cluster {res.spec.get('DBClusterIdentifier')} taken "
                   f"({info.size} bytes)")


def _done(env: Env, res: Resource, path: Path, **extra: object) -> None:
    _patch(env, res, {"state": "available", "progress": 100, "created": env.clock.now(),
                      "size": path.stat().st_size, **extra})
    kind = "automated" if res.spec.get("SnapshotType") == "automated" else "manual"
    _event(env, res, f"{'Copied' if res.spec.get('copy_of') else 'Created'} {kind} snapshot", "creation")


def _fail(env: Env, res: Resource, why: str) -> Outcome:
    _patch(env, res, {"state": "failed", "failure": why})
    _event(env, res, f"Snapshot {res.id} failed: {why}", "failure")
    return Outcome(f"snapshot {res.id} failed: {why}")


def source_file(env: Env, region: str, ident: str) -> tuple[Path, bytes] | None:
    """(file, sealing context) of a manual snapshot, or of an automated one ("rds:<instance>-<stamp>"),
    which is a base backup of an automated backup."""
    snap = env.store.get(KIND_SNAPSHOT, region, ident)
    if snap is not None:
        return backup_store.snapshot_file(env, region, ident), backup_store.snapshot_context(ident)
    for ab in env.store.list(KIND_AUTOMATED_BACKUP, region):
        for b in ab.status.get("backups") or []:
            if automated_name(str(ab.spec.get("DBInstanceIdentifier")), float(b["started"])) == ident:
                area = backup_store.Area(env, region, ab.id)
                return area.base / f"{b['id']}.tar", area.context(f"{b['id']}.tar")
    return None


def automated_name(instance: str, started: float) -> str:
    return f"rds:{instance}-{dt.datetime.fromtimestamp(started, dt.UTC):%Y-%m-%d-%H-%M}"


def _copy(env: Env, res: Resource) -> Outcome:
    found = source_file(env, res.region, str(res.spec["copy_of"]))
    if found is None or not found[0].exists():
        return _fail(env, res, f"source snapshot {res.spec['copy_of']} no longer exists")
    path = backup_store.snapshot_file(env, res.region, res.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with sealed.Writer(path, _key(env, res), backup_store.snapshot_context(res.id)) as out:
            for chunk in sealed.read(found[0], backup_store.unwrapper(env, res.region), found[1]):
                out.write(chunk)
    except AwsError as exc:
        return _fail(env, res, f"the KMS key cannot be used ({exc.code}: {exc.message})")
    _done(env, res, path)
    return Outcome(f"snapshot {res.id} copied from {res.spec['copy_of']}")


@reconciler
class DbSnapshotReconciler:
    kind = KIND_SNAPSHOT
    source_type = SOURCE_SNAPSHOT

    def reconcile(self, env: Env, res: Resource) -> Outcome:
        if res.spec.get("desired") == "deleted":
            backup_store.snapshot_file(env, res.region, res.id).unlink(missing_ok=True)
            with contextlib.suppress(Exception):
                env.store.delete(env.store.get(res.kind, res.region, res.id) or res)
            _event(env, res, "Deleted manual snapshot", "deletion")
            return Outcome(f"snapshot {res.id} deleted")
        state = res.status.get("state")
        if state in ("available", "failed"):
            return Outcome(f"snapshot {res.id} is {state}")
        if res.spec.get("copy_of"):
            return _copy(env, res)
        try:
            return _final(env, res) if res.spec.get("cluster_storage") else _take(env, res)
        except AwsError as exc:
            return _fail(env, res, f"the KMS key cannot be used ({exc.code}: {exc.message})")
        except backup.BackupError as exc:
            raise TemporaryError(f"snapshot {res.id}: {exc}", 2.0) from exc
