"""The DB instance steps that touch backups: restoring the data of a new instance (from a snapshot, or
from an automated backup to a point in time), the final snapshot of a delete, and the last WAL of a
deleted instance whose automated backups are retained.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kura import sealed
from kura.api.errors import AwsError
from kura.control import steps
from kura.control.rds import backup_store, cluster_volume, nodes
from kura.control.types import PermanentError, TemporaryError
from kura.engines.postgres import backup
from kura.engines.postgres.errors import StartError
from kura.env import Env
from kura.services.rds.records import KIND_AUTOMATED_BACKUP, KIND_INSTANCE, KIND_SNAPSHOT
from kura.store.types import Resource

if TYPE_CHECKING:
    from kura.control.rds.actions import Work

REPLAY_TIMEOUT = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class Source:
    """Where a restore's data comes from."""

    tar: Path
    context: bytes
    area: backup_store.Area | None = None  # PITR: the automated backup whose WAL is replayed
    first_segment: str = ""
    live: backup.Streamer | None = None  # PITR from a live instance: its stream has the newest WAL
    target: str | None = None  # PostgreSQL's recovery_target_time, None: replay all there is
    consistent_at: float | None = None  # when the base backup ended: restorable from then on


def _pg_time(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def live_stream(env: Env, ab: Resource) -> backup.Streamer | None:
    inst = env.store.get(KIND_INSTANCE, ab.region, str(ab.spec.get("DBInstanceIdentifier")))
    if inst is None or inst.spec.get("DbiResourceId") != ab.id:
        return None
    node = nodes.node_for(env, inst)
    if node is None:
        return None
    return backup.Streamer(node.engine, backup_store.stream_dir(env, ab.region, inst.id))


def locate(env: Env, region: str, restore_from: dict[str, Any], retarget: bool = True) -> Source:
    """The data a restore starts from. With `retarget` False the target time is dropped (see _replay)."""
    if restore_from.get("snapshot"):
        ident = str(restore_from["snapshot"])
        snap = env.store.get(KIND_SNAPSHOT, region, ident)
        if snap is None or snap.status.get("state") != "available":
            raise PermanentError(f"DB snapshot {ident} is not available")
        return Source(backup_store.snapshot_file(env, region, ident), backup_store.snapshot_context(ident))
    dbi = str(restore_from.get("automated_backup"))
    ab = env.store.get(KIND_AUTOMATED_BACKUP, region, dbi)
    if ab is None:
        raise PermanentError(f"the automated backups of {dbi} no longer exist")
    when = restore_from.get("time")
    done = [b for b in ab.status.get("backups") or [] if b.get("finished")]
    usable = [b for b in done if when is None or float(b["finished"]) <= float(when)]
    if not usable:
        raise PermanentError(f"no base backup of {dbi} finished before the restore time")
    base = usable[-1]
    area = backup_store.Area(env, region, dbi)
    target = _pg_time(float(when)) if when is not None and retarget else None
    return Source(area.base / f"{base['id']}.tar", area.context(f"{base['id']}.tar"), area,
                  backup.segment_of(str(base["start_lsn"]), int(base["timeline"])), live_stream(env, ab),
                  target, float(base["finished"]))


@contextlib.contextmanager
def _failing(what: str) -> Iterator[None]:
    """A refused data key (KMS key disabled or pending deletion), a damaged file or a backup that does
    not verify fails the restore for good, with the reason."""
    try:
        yield
    except AwsError as exc:
        raise PermanentError(f"{what}: the KMS key cannot be used ({exc.code}: {exc.message})") from exc
    except (sealed.SealedFileError, backup.BackupError) as exc:
        raise PermanentError(f"{what}: {exc}") from exc


def restore_data(work: Work, ctx: steps.StepContext, retarget: bool = True) -> None:
    env, res = work.env, ctx.res
    node = work.node(res)
    if res.spec["restore_from"].get("volume"):  # a clone's volume: already a copy, prepared for recovery
        ctx.data.update(cluster_volume.take(env, res.region, dict(res.spec["restore_from"]), node))
        return
    source = locate(env, res.region, dict(res.spec["restore_from"]), retarget)
    shutil.rmtree(node.datadir, ignore_errors=True)  # a half-unpacked attempt
    unwrap = backup_store.unwrapper(env, res.region)
    with _failing(f"restore of DB instance {res.id}"):
        plain = sealed.wrapped_key(source.tar) is None  # tar reads a plain file itself: faster
        backup.unpack(source.tar if plain else sealed.read(source.tar, unwrap, source.context), node.datadir,
                      node.run_as)
        backup.verify(node.engine, node.datadir)
        staged = node.datadir / backup.RESTORE_WAL
        if source.area is not None:
            with source.area.locked():  # no segment moves from the stream to the archive meanwhile
                ctx.data["staged_last"] = source.area.stage(staged, source.first_segment, source.live)
        else:
            staged.mkdir()
            ctx.data["staged_last"] = None
    backup.prepare_recovery(node.datadir, source.target, node.run_as)
    ctx.data["restored_to"] = source.target
    ctx.data["consistent_at"] = source.consistent_at


def replay(work: Work, ctx: steps.StepContext) -> None:
    """Run recovery to the target and promote. When WAL ends before any commit after the target (a
    quiet database), the state at the target is the end of the WAL: unpack again and replay it all —
    but only if recovery really reached the end of the staged WAL; stopping short means a segment is
    missing or damaged, and the restore fails naming it rather than give a silently older database."""
    node = work.node(ctx.res)
    if not backup.recovery_in_progress(node.datadir):
        backup.finish_recovery(node.datadir)
        return
    targeted = ctx.data.get("restored_to") is not None
    try:
        node.start(timeout=REPLAY_TIMEOUT)
        backup.wait_promoted(node, REPLAY_TIMEOUT)
    except StartError as exc:
        if not (targeted and backup.target_missed(str(exc))):
            raise PermanentError(f"recovery of DB instance {ctx.res.id} failed: {exc}") from exc
        _require_complete(ctx, node.log_tail(400))
        # every WAL record given was replayed: recover again on the same data to its end, no target
        backup.prepare_recovery(node.datadir, None, node.run_as)
        node.start(timeout=REPLAY_TIMEOUT)
        backup.wait_promoted(node, REPLAY_TIMEOUT)
        targeted = False
    if not targeted:
        _require_complete(ctx, node.log_tail(400))
    backup.finish_recovery(node.datadir)


def _require_complete(ctx: steps.StepContext, log_text: str) -> None:
    last = ctx.data.get("staged_last")
    done = backup.redo_done(log_text)
    if not last or done is None or backup.segment_of(done[0], 1)[8:] >= str(last)[8:]:
        return
    base = ctx.data.get("consistent_at")
    at = done[1] or (_pg_time(float(base)) if base else None)  # no commit replayed: the backup's end
    when = f"; the latest restorable time is {at}" if at else ""
    raise PermanentError(f"WAL after {backup.segment_of(done[0], 1)[8:]} (up to {str(last)[8:]}) is missing "
                         f"or damaged in the backup storage: recovery stopped at {done[0]}{when}")


def _await_snapshot(work: Work, ctx: steps.StepContext, ident: object) -> None:
    """Until the snapshot is taken. A failed one stops the operation: the data it was to keep stays."""
    if not ident:
        return
    snap = work.env.store.get(KIND_SNAPSHOT, ctx.res.region, str(ident))
    if snap is None or snap.status.get("state") == "available":
        return
    if snap.status.get("state") == "failed":
        raise PermanentError(f"DB instance {ctx.res.id}: snapshot {ident} failed "
                             f"({snap.status.get('failure')}); the instance and its data are kept")
    raise TemporaryError(f"DB instance {ctx.res.id}: waiting for its snapshot {ident}", 1.0)


def final_snapshot(work: Work, ctx: steps.StepContext) -> None:
    """DeleteDBInstance with FinalDBSnapshotIdentifier: the data stays until the snapshot is taken."""
    final = ctx.res.spec.get("final_snapshot") or {}
    _await_snapshot(work, ctx, None if final.get("skip") else final.get("identifier"))


def stop_snapshot(work: Work, ctx: steps.StepContext) -> None:
    """StopDBInstance with DBSnapshotIdentifier: the snapshot is of the running instance."""
    _await_snapshot(work, ctx, ctx.res.spec.get("stop_snapshot"))


def archive_wal(work: Work, ctx: steps.StepContext) -> None:
    """After the last shutdown: what the stream received (the partial segment too) goes into the
    retained automated backup."""
    env, res = work.env, ctx.res
    ab = env.store.get(KIND_AUTOMATED_BACKUP, res.region, str(res.spec.get("DbiResourceId")))
    if ab is None or ab.spec.get("desired") == "deleted":
        return
    stream = live_stream(env, ab)
    if stream is None:
        return
    stream.wait_exit(10.0)
    stream.stop()
    area = backup_store.Area(env, res.region, ab.id)
    with area.locked():
        area.archive(stream, area.key(bool(ab.spec.get("StorageEncrypted")), ab.spec.get("KmsKeyId")),
                     final=True)
