"""An Aurora DB cluster's data while no DB instance holds it: the volume of a clone, and the final DB
cluster snapshot of DeleteDBCluster.

- A clone (RestoreDBClusterToPointInTime --restore-type copy-on-write) is made when the cluster is:
  the source writer's running data directory copied by the kernel (kura.engines.postgres.clone:
  reflinks where the file system shares blocks, else copy_file_range) into the clone's volume,
  `$KURA_HOME/data/rds-volumes/<region>/<cluster>/pgdata`, with the WAL its recovery needs. The cluster
  is `available` once the copy is there; its first writer moves the volume into its own data
  directory (a rename) and recovers it like a restored base backup (new timeline, nothing shared).
- A final snapshot is the cluster's data as one cold base backup that restores alone: its storage (the
  continuous backup of its last writer, the automated backup it was restored from at its time, or a
  clone's volume) recovered in a scratch PostgreSQL on a private socket, stopped, and copied. The
  cluster keeps its storage until the snapshot is taken.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from kura.control import steps
from kura.control.rds import nodes
from kura.control.types import PermanentError, TemporaryError
from kura.engines import osuser
from kura.engines.postgres import backup, clone
from kura.engines.postgres.errors import PgError
from kura.engines.postgres.node import PgNode
from kura.engines.postgres.types import NodeConfig, NodeState
from kura.env import Env
from kura.services.rds.records import KIND_CLUSTER, KIND_INSTANCE, SOURCE_CLUSTER
from kura.store.types import Event, Resource

SCRATCH_PORT = 5432  # the scratch server listens on its private unix socket only


def volume_dir(env: Env, region: str, cluster_id: str) -> Path:
    return env.settings.paths.data / "rds-volumes" / region / cluster_id / "pgdata"


def clone_pending(res: Resource) -> bool:
    """A clone whose volume is not copied yet (the cluster shows `creating` meanwhile)."""
    return bool((res.spec.get("storage") or {}).get("volume")) and not res.status.get("volume")


def _clone_source(env: Env, res: Resource) -> PgNode:
    storage = res.spec["storage"]
    inst = env.store.get(KIND_INSTANCE, res.region, str(storage.get("source_instance")))
    if inst is None or inst.spec.get("DbiResourceId") != storage.get("source_dbi"):
        raise PermanentError(f"DB cluster {res.id}: the writer it clones ({storage.get('source_instance')}) "
                             "no longer exists")
    node = nodes.node_for(env, inst)
    if node is None or nodes.liveness(node) is not NodeState.RUNNING:
        raise TemporaryError(f"DB cluster {res.id}: the writer it clones ({inst.id}) is not running", 2.0)
    return node


def make_clone(env: Env, res: Resource) -> Resource:
    """Copy the source writer into the clone's volume, prepared for recovery; the cluster is available."""
    source = _clone_source(env, res)
    dest = volume_dir(env, res.region, res.id)
    shutil.rmtree(dest.parent, ignore_errors=True)  # what an interrupted attempt left
    dest.parent.mkdir(parents=True, exist_ok=True)
    began = env.clock.monotonic()
    try:
        made = clone.online_copy(source, dest, dest / backup.RESTORE_WAL)
    except (PgError, psycopg.Error, OSError) as exc:
        shutil.rmtree(dest.parent, ignore_errors=True)
        raise TemporaryError(f"DB cluster {res.id}: cloning {source.datadir} failed: {exc}", 5.0) from exc
    backup.prepare_recovery(dest, None, source.run_as)
    took = env.clock.monotonic() - began
    volume = {"last_segment": made.last_segment, "at": env.clock.now(), "bytes": made.stats.bytes,
              "files": made.stats.files, "methods": made.stats.by_method, "seconds": round(took, 3)}
    res = steps.patch_status(env.store, res, lambda status: {**status, "volume": volume,
                                                             "state": "available"}) or res
    origin = res.spec["storage"].get("clone_of")
    _event(env, res, f"Cloned from DB cluster {origin}: {made.stats.bytes / 2**20:.1f} MiB in "
           f"{made.stats.files} files in {took:.1f} s ({made.methods})", "creation")
    return res


def take(env: Env, region: str, restore_from: dict[str, Any], node: PgNode) -> dict[str, Any]:
    """A clone's first writer (or a final snapshot's scratch server) takes the volume as its data
    directory: a rename. What the replay step needs to know of it (restore_data's ctx.data)."""
    ident = str(restore_from["volume"])
    cluster = env.store.get(KIND_CLUSTER, region, ident)
    info = cluster.status.get("volume") if cluster is not None else None
    if not info:
        raise PermanentError(f"the volume of DB cluster {ident} was never made")
    found = volume_dir(env, region, ident)
    if found.exists():
        node.stop()
        shutil.rmtree(node.datadir, ignore_errors=True)
        node.datadir.parent.mkdir(parents=True, exist_ok=True)
        os.rename(found, node.datadir)
        osuser.grant_traverse(node.datadir, node.run_as)
    elif not node.exists():
        raise PermanentError(f"the volume of DB cluster {ident} is gone")
    return {"staged_last": info["last_segment"], "restored_to": None, "consistent_at": info["at"]}


def drop(env: Env, region: str, cluster_id: str) -> None:
    shutil.rmtree(volume_dir(env, region, cluster_id).parent, ignore_errors=True)


def _scratch(snap: Resource) -> Resource:
    """A DB instance record that exists only here: what the restore steps need to rebuild `snap`'s data
    (its layout under data/rds/<region>/.final-<hash>, its engine, where its data comes from)."""
    ident = ".final-" + hashlib.sha256(snap.id.encode()).hexdigest()[:16]
    spec = {"DBInstanceIdentifier": ident, "restore_from": dict(snap.spec["cluster_storage"])}
    return Resource(KIND_INSTANCE, snap.region, ident, spec,
                    {"engine_version": snap.spec.get("EngineVersion")}, 0, 0.0, 0.0)


def write_final(env: Env, snap: Resource, sink: Callable[[bytes], None]) -> backup.BaseBackup:
    """The cluster's data, recovered in a scratch server and stopped, as a tar into `sink`."""
    from kura.control.rds import actions, backup_steps  # (they import this module)
    from kura.control.rds.plan import Op, Plan

    scratch = _scratch(snap)
    work = actions.Work(env, Plan(Op.RESTORE, f"final snapshot {snap.id}"))
    node = work.node(scratch)
    node.stop()  # a scratch server an interrupted attempt left running
    ctx = steps.StepContext(env, scratch, {})
    try:
        backup_steps.restore_data(work, ctx)
        node.configure(NodeConfig("", SCRATCH_PORT, {}, ()))
        backup_steps.replay(work, ctx)
        node.stop()
        found = backup.cold_backup(node.engine, node.datadir, sink)
    except BaseException:
        node.stop()
        if not scratch.spec["restore_from"].get("volume"):  # else the data stays, for the next attempt
            _remove(env, snap.region, scratch.id, node)
        raise
    _remove(env, snap.region, scratch.id, node)
    return found


def _remove(env: Env, region: str, ident: str, node: PgNode) -> None:
    shutil.rmtree(nodes.layout(env, region, ident).base, ignore_errors=True)
    shutil.rmtree(node.socket_dir, ignore_errors=True)


def _event(env: Env, res: Resource, message: str, *categories: str) -> None:
    env.store.add_event(Event(res.region, SOURCE_CLUSTER, res.id, message, categories,
                              extra={"arn": f"arn:aws:rds:{res.region}:{env.account}:cluster:{res.id}"}))
