"""The `rds.automated-backup` reconciler: continuous WAL streaming, base backups, retention, and the
latest restorable time.

Each pass while the instance runs (every PACE seconds): the slot and pg_receivewal are there (started
again if they died), complete segments move into the backup storage, and one sample of the primary's
flushed WAL position is taken. The latest restorable time is the start of the newest sample whose
position the stream has flushed: everything committed before it is in the backup storage. A base
backup is taken first thing (the instance shows `backing-up`) and then daily in PreferredBackupWindow;
retention keeps BackupRetentionPeriod days of restorability and always the base backup that the
window's start needs. Deleted instances' backups (`retained`) keep what they had until it expires.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import psycopg

from kura import sealed
from kura.control.rds import backup_store, nodes
from kura.control.rds.events import event
from kura.control.rds.plan import RUNNING
from kura.control.registry import reconciler
from kura.control.types import Outcome, TemporaryError
from kura.engines.postgres import backup
from kura.engines.postgres.node import PgNode
from kura.engines.postgres.types import NodeState
from kura.env import Env
from kura.services.rds.records import KIND_AUTOMATED_BACKUP, KIND_INSTANCE, SOURCE_INSTANCE
from kura.store.types import Resource

log = logging.getLogger("kura.control.rds")

PACE = 1.0
IDLE_PACE = 5.0  # instance stopped, retained backups
DAY = 86400.0
_SAMPLE = ("SELECT pg_current_wal_flush_lsn()::text, (SELECT flush_lsn::text FROM pg_stat_replication "
           "WHERE application_name = %s ORDER BY flush_lsn DESC NULLS LAST LIMIT 1)")


@dataclass
class _Probe:
    conn: psycopg.Connection[Any] | None
    samples: deque[tuple[float, int]]


_probes: dict[tuple[str, str], _Probe] = {}
_probes_lock = threading.Lock()


def instance_of(env: Env, res: Resource) -> Resource | None:
    inst = env.store.get(KIND_INSTANCE, res.region, str(res.spec.get("DBInstanceIdentifier")))
    if inst is None or inst.spec.get("DbiResourceId") != res.id:
        return None
    return inst


def in_window(window: str | None, now: float) -> bool:
    """Whether `now` lies in an `hh24:mi-hh24:mi` (UTC) backup window."""
    if not window:
        return False
    try:
        start, end = (dt.time.fromisoformat(p) for p in str(window).split("-"))
    except ValueError:
        return False
    at = dt.datetime.fromtimestamp(now, dt.UTC).time()
    return start <= at < end if start <= end else (at >= start or at < end)


def prune(backups: list[dict[str, Any]], now: float, days: int) -> list[dict[str, Any]]:
    """The base backups to keep: those finished inside the window, plus the newest one finished before
    it (restores to the window's start need it). Pure, for the fake-clock tests."""
    horizon = now - days * DAY
    done = [b for b in backups if b.get("finished")]
    inside = [b for b in done if float(b["finished"]) >= horizon]
    before = [b for b in done if float(b["finished"]) < horizon]
    keep = ([before[-1]] if before else []) + inside
    return keep + [b for b in backups if not b.get("finished")]


def _patch(env: Env, res: Resource, fields: dict[str, Any]) -> Resource:
    if all(res.status.get(k) == v for k, v in fields.items()):
        return res
    return env.store.update(res, status={**res.status, **fields})


def _streamer(env: Env, res: Resource, node: PgNode) -> backup.Streamer:
    where = backup_store.stream_dir(env, res.region, str(res.spec["DBInstanceIdentifier"]))
    return backup.Streamer(node.engine, where)


def _ensure_stream(node: PgNode, stream: backup.Streamer) -> None:
    if stream.pid() is not None:
        return  # streaming: the slot exists (a look at /proc, not a connection, on every pass)
    node.execute("SELECT pg_create_physical_replication_slot(%s, true) WHERE NOT EXISTS "
                 "(SELECT 1 FROM pg_replication_slots WHERE slot_name = %s)", (backup.SLOT, backup.SLOT))
    stream.start(node.datadir)


def _sample(env: Env, res: Resource, node: PgNode) -> float | None:
    """One (time, flushed LSN) sample; the newest sampled time the stream has caught up with."""
    key = (res.region, res.id)
    with _probes_lock:
        probe = _probes.setdefault(key, _Probe(None, deque(maxlen=600)))
    try:
        if probe.conn is None or probe.conn.closed:
            probe.conn = node.connect()
            probe.conn.autocommit = True
        at = env.clock.now()
        row = probe.conn.execute(_SAMPLE, (backup.APPLICATION,)).fetchone()
    except psycopg.Error:
        _forget_probe(key)
        return None
    assert row is not None
    probe.samples.append((at, backup.lsn_int(row[0])))
    if row[1] is None:
        return None
    received = backup.lsn_int(row[1])
    caught = [t for t, lsn in probe.samples if lsn <= received]
    while probe.samples and probe.samples[0][1] <= received and len(probe.samples) > 1:
        probe.samples.popleft()  # older than the newest caught-up sample: never needed again
    return max(caught) if caught else None


def _forget_probe(key: tuple[str, str]) -> None:
    with _probes_lock:
        probe = _probes.pop(key, None)
    if probe is not None and probe.conn is not None:
        with contextlib.suppress(Exception):
            probe.conn.close()


def _take_base(env: Env, res: Resource, node: PgNode, area: backup_store.Area,
               key: tuple[bytes, bytes] | None) -> Resource:
    started = env.clock.now()
    ident = f"{dt.datetime.fromtimestamp(started, dt.UTC):%Y%m%dT%H%M%S}"
    res = _patch(env, res, {"taking": True})
    inst = instance_of(env, res)
    if inst is not None:
        event(env, inst, "Backing up DB instance", "backup")
    area.base.mkdir(parents=True, exist_ok=True)
    path = area.base / f"{ident}.tar"
    try:
        with sealed.Writer(path, key, area.context(path.name)) as out:
            info = backup.base_backup(node.engine, node.datadir, out.write)
    finally:
        res = _patch(env, env.store.get(res.kind, res.region, res.id) or res, {"taking": False})
    size = path.stat().st_size
    entry = {"id": ident, "started": started, "finished": env.clock.now(), "start_lsn": info.start_lsn,
             "end_lsn": info.end_lsn, "timeline": info.timeline, "size": size}
    backups = [*(res.status.get("backups") or []), entry]
    inst = instance_of(env, res)
    if inst is not None:
        used = area.size_bytes()
        event(env, inst, f"Finished DB Instance backup ({size / 2**20:.1f} MiB; backup storage "
              f"used {used / 2**20:.1f} MiB)", "backup", backup_storage_bytes=used)
    return _patch(env, res, {"backups": backups, "state": "active", "earliest": backups[0]["finished"]})


def _base_due(res: Resource, now: float) -> bool:
    backups = res.status.get("backups") or []
    if not backups:
        return True
    last = float(backups[-1]["started"])
    return now - last > DAY / 2 and in_window(res.spec.get("PreferredBackupWindow"), now)


def _retention(env: Env, res: Resource, area: backup_store.Area) -> Resource:
    backups = list(res.status.get("backups") or [])
    keep = prune(backups, env.clock.now(), int(res.spec.get("BackupRetentionPeriod") or 1))
    if len(keep) == len(backups):
        return res
    kept = {b["id"] for b in keep}
    for b in backups:
        if b["id"] not in kept:
            (area.base / f"{b['id']}.tar").unlink(missing_ok=True)
    if keep:
        area.drop_wal_before(backup.segment_of(keep[0]["start_lsn"], int(keep[0]["timeline"])))
    return _patch(env, res, {"backups": keep, "earliest": keep[0]["finished"] if keep else None,
                             "size_bytes": area.size_bytes()})


def _active(env: Env, res: Resource, inst: Resource) -> Outcome:
    node = nodes.node_for(env, inst)
    if inst.status.get("role") == "replica":  # promotion asked for, not done yet: still a standby
        return Outcome(f"automated backup {res.id}: {inst.id} is still a read replica", requeue_after=0.5)
    paused = bool((inst.status.get("serverless") or {}).get("paused"))
    if inst.status.get("state") not in RUNNING or node is None or nodes.liveness(node) is None or paused:
        soon = inst.status.get("state") in (None, "creating")  # the first backup is due at once
        return Outcome(f"automated backup {res.id}: instance {inst.id} is {inst.status.get('state')}",
                       requeue_after=0.2 if soon else IDLE_PACE)
    area = backup_store.Area(env, res.region, res.id)
    key = area.key(bool(res.spec.get("StorageEncrypted")), res.spec.get("KmsKeyId"))
    stream = _streamer(env, res, node)
    try:
        _ensure_stream(node, stream)
    except (backup.BackupError, psycopg.Error) as exc:
        raise TemporaryError(f"WAL streaming of {inst.id} cannot start: {exc} {stream.log_tail()}",
                             2.0) from exc
    try:
        with area.locked():
            area.archive(stream, key)
        if _base_due(res, env.clock.now()):
            with area.locked():
                res = _take_base(env, res, node, area, key)
            res = _patch(env, res, {"size_bytes": area.size_bytes()})
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        return _storage_full(env, res, inst, exc)
    if res.status.get("storage_full"):
        res = _patch(env, res, {"storage_full": False})
        event(env, inst, "The backup storage has free space again; backups resume", "backup")
    latest = _sample(env, res, node)
    previous = res.status.get("latest")
    if latest is not None and (previous is None or latest - float(previous) >= 1.0):
        res = _patch(env, res, {"latest": latest})
    res = _retention(env, res, area)
    return Outcome(f"automated backup of {inst.id}: latest restorable {res.status.get('latest')}",
                   requeue_after=PACE)


def _storage_full(env: Env, res: Resource, inst: Resource, exc: OSError) -> Outcome:
    """The backup storage's disk is full: the instance goes on (its slot keeps the WAL meanwhile), the
    restorable time stops advancing, and the user is told once."""
    if not res.status.get("storage_full"):
        _patch(env, res, {"storage_full": True, "taking": False})
        event(env, inst, f"The backup storage is full ({exc.strerror}): automated backups and "
              "point-in-time restore stop advancing until space is freed", "backup", "failure")
    return Outcome(f"automated backup of {inst.id}: backup storage full", requeue_after=IDLE_PACE)


def _retained(env: Env, res: Resource) -> Outcome:
    _forget_probe((res.region, res.id))
    area = backup_store.Area(env, res.region, res.id)
    res = _patch(env, res, {"state": "retained", "taking": False})
    res = _retention(env, res, area)
    if not res.status.get("backups"):
        return _delete(env, res)
    return Outcome(f"automated backup {res.id} is retained", requeue_after=3600.0)


def _delete(env: Env, res: Resource) -> Outcome:
    _forget_probe((res.region, res.id))
    inst = instance_of(env, res)
    node = nodes.node_for(env, inst) if inst is not None else None
    if inst is not None and node is not None:
        _streamer(env, res, node).stop()
        if nodes.liveness(node) is NodeState.RUNNING:
            with contextlib.suppress(psycopg.Error):
                node.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                             "WHERE slot_name = %s", (backup.SLOT,))
    backup_store.Area(env, res.region, res.id).remove()
    current = env.store.get(res.kind, res.region, res.id)
    if current is not None:
        env.store.delete(current)
    return Outcome(f"automated backup {res.id} deleted")


@reconciler
class AutomatedBackupReconciler:
    kind = KIND_AUTOMATED_BACKUP
    source_type = SOURCE_INSTANCE

    def reconcile(self, env: Env, res: Resource) -> Outcome:
        desired = res.spec.get("desired") or "active"
        if desired == "deleted":
            return _delete(env, res)
        inst = instance_of(env, res)
        if desired == "retained" or inst is None:
            return _retained(env, res)
        if inst.spec.get("desired") == "deleted":
            return Outcome(f"automated backup {res.id}: instance {inst.id} is being deleted",
                           requeue_after=IDLE_PACE)
        return _active(env, res, inst)


def stop_all(env: Env) -> None:
    """`kura down --all`: stop every WAL streamer (the next `kura up` starts them again)."""
    for res in env.store.list(KIND_AUTOMATED_BACKUP):
        inst = instance_of(env, res)
        node = nodes.node_for(env, inst) if inst is not None else None
        if node is not None:
            _streamer(env, res, node).stop()
