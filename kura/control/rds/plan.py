"""The decider: desired (spec) + recorded (status) + observed → the one operation to run now.

Pure: no store, no processes, no clock. Each operation is a fixed list of named steps (so that a
checkpoint taken by one Kura is understood by the next); steps that find nothing to do are no-ops.
One decision per pass, in this order: delete (preempts anything), resume a checkpointed operation,
create, stop/start, recover a postmaster that died, reboot, class/port change, master password,
storage growth and the storage-full fence, parameter changes. The reconciler comes straight back
after an operation, so whatever else is due is decided on the next pass.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kura.control.rds import settings, storage
from kura.control.rds.ha import CAUGHT_UP_BYTES, Seen
from kura.engines.postgres.types import NodeState


class Op(enum.StrEnum):
    CREATE = "create"
    RESTORE = "restore"  # a create whose data comes from a snapshot or an automated backup
    CREATE_REPLICA = "create-replica"  # a create whose data is a clone of the source, kept streaming
    PROMOTE = "promote"  # a read replica becomes a standalone primary
    DELETE = "delete"
    STOP = "stop"
    START = "start"
    REBOOT = "reboot"
    RECOVER = "recover"  # the postmaster died: start it again
    MODIFY = "modify"  # class or port: re-render and restart
    ROTATE_CERTIFICATE = "rotate-certificate"  # another CA: a new certificate, reloaded
    APPLY_PARAMETERS = "apply-parameters"  # dynamic changes: re-render (the node reloads)
    PENDING_REBOOT = "pending-reboot"  # only static changes: record that they wait
    SET_PASSWORD = "set-password"
    MANAGE_PASSWORD = "manage-password"  # ManageMasterUserPassword turned on
    UNMANAGE_PASSWORD = "unmanage-password"  # … and off again
    GROW_STORAGE = "grow-storage"
    FENCE = "fence"  # storage-full: refuse writes
    UNFENCE = "unfence"
    ENABLE_MULTI_AZ = "enable-multi-az"  # a synchronous standby (and the endpoint to the router)
    DISABLE_MULTI_AZ = "disable-multi-az"
    REBUILD_STANDBY = "rebuild-standby"  # the standby died, or the old primary after a failover
    CONFIGURE_STANDBY = "configure-standby"  # the primary's parameters changed
    DEGRADE = "degrade"  # the standby is lost: commits stop waiting for it
    RESYNC = "resync"  # the standby caught up again: commits wait for it again
    FAILOVER = "failover"  # the primary failed: fence it, promote the synchronous standby
    SWITCHOVER = "switchover"  # RebootDBInstance --force-failover: the same without losing anything
    REFOLLOW = "refollow"  # a read replica's Multi-AZ source failed over: follow its new primary


class Step(enum.StrEnum):
    MARK = "mark"  # write the transitional state (creating, stopping, …) so clients see it
    ENGINE = "engine"
    ENDPOINT = "endpoint"
    CERTIFICATE = "certificate"
    SECRET = "secret"
    INIT = "init"
    CONFIGURE = "configure"
    START = "start"
    MASTER_USER = "master-user"
    DATABASE = "database"
    BACKING_UP = "backing-up"
    STOP = "stop"
    RESTART = "restart"
    TERMINATE_WRITERS = "terminate-writers"
    PASSWORD = "password"
    ALLOCATE = "allocate"
    REMOVE_DATA = "remove-data"
    RELEASE_ENDPOINT = "release-endpoint"
    DELETE_SECRET = "delete-secret"
    RESTORE_DATA = "restore-data"
    REPLAY = "replay"
    FINAL_SNAPSHOT = "final-snapshot"
    STOP_SNAPSHOT = "stop-snapshot"
    ARCHIVE_WAL = "archive-wal"
    CLONE = "clone"
    PROMOTE = "promote"
    RELEASE_SLOT = "release-slot"
    MEMBERS = "members"
    ROUTE = "route"
    MOVE_ENDPOINT = "move-endpoint"
    STANDBY = "standby"
    SYNC = "sync"
    UNSYNC_MARK = "unsync-mark"
    UNSYNC = "unsync"
    DROP_STANDBY = "drop-standby"
    STOP_STANDBY = "stop-standby"
    FENCE_PRIMARY = "fence-primary"
    SWITCH_CHECK = "switch-check"
    CAUGHT_UP = "caught-up"
    PROMOTE_STANDBY = "promote-standby"
    FAILOVER_DONE = "failover-done"
    REFOLLOW = "refollow"
    HOLD = "hold"


S = Step
STEPS: dict[Op, tuple[Step, ...]] = {
    Op.CREATE: (S.MARK, S.ENGINE, S.ENDPOINT, S.CERTIFICATE, S.SECRET, S.MEMBERS, S.INIT, S.CONFIGURE,
                S.ROUTE, S.START, S.MASTER_USER, S.DATABASE, S.STANDBY, S.SYNC, S.BACKING_UP),
    Op.RESTORE: (S.MARK, S.ENGINE, S.ENDPOINT, S.CERTIFICATE, S.SECRET, S.MEMBERS, S.RESTORE_DATA,
                 S.CONFIGURE, S.ROUTE, S.REPLAY, S.MASTER_USER, S.DATABASE, S.STANDBY, S.SYNC,
                 S.BACKING_UP),
    Op.CREATE_REPLICA: (S.MARK, S.ENGINE, S.ENDPOINT, S.CERTIFICATE, S.CLONE, S.CONFIGURE, S.START),
    Op.PROMOTE: (S.PROMOTE,),
    Op.DELETE: (S.MARK, S.FINAL_SNAPSHOT, S.STOP, S.ARCHIVE_WAL, S.RELEASE_SLOT, S.DROP_STANDBY,
                S.REMOVE_DATA, S.RELEASE_ENDPOINT, S.DELETE_SECRET),
    Op.STOP: (S.MARK, S.STOP_SNAPSHOT, S.STOP, S.STOP_STANDBY),
    Op.START: (S.MARK, S.CONFIGURE, S.START),
    Op.REBOOT: (S.MARK, S.CONFIGURE, S.HOLD, S.RESTART, S.ROUTE),
    Op.RECOVER: (S.FENCE_PRIMARY, S.HOLD, S.CONFIGURE, S.START, S.ROUTE),
    Op.MODIFY: (S.MARK, S.ENDPOINT, S.CERTIFICATE, S.CONFIGURE, S.HOLD, S.RESTART, S.ROUTE),
    Op.ROTATE_CERTIFICATE: (S.CERTIFICATE, S.CONFIGURE),
    Op.APPLY_PARAMETERS: (S.CONFIGURE,),
    Op.PENDING_REBOOT: (S.MARK,),
    Op.SET_PASSWORD: (S.PASSWORD,),
    Op.MANAGE_PASSWORD: (S.SECRET, S.PASSWORD),
    Op.UNMANAGE_PASSWORD: (S.PASSWORD, S.DELETE_SECRET),
    Op.GROW_STORAGE: (S.ALLOCATE,),
    Op.FENCE: (S.CONFIGURE, S.TERMINATE_WRITERS),  # configure() of a running node reloads it
    Op.UNFENCE: (S.CONFIGURE,),
    Op.ENABLE_MULTI_AZ: (S.MARK, S.MEMBERS, S.MOVE_ENDPOINT, S.STANDBY, S.SYNC),
    Op.DISABLE_MULTI_AZ: (S.MARK, S.UNSYNC_MARK, S.UNSYNC, S.DROP_STANDBY),
    Op.REBUILD_STANDBY: (S.STANDBY, S.SYNC),
    Op.CONFIGURE_STANDBY: (S.UNSYNC_MARK, S.UNSYNC, S.STANDBY, S.SYNC),
    Op.DEGRADE: (S.UNSYNC_MARK, S.UNSYNC),
    Op.RESYNC: (S.SYNC,),
    Op.FAILOVER: (S.HOLD, S.FENCE_PRIMARY, S.PROMOTE_STANDBY, S.ROUTE, S.FAILOVER_DONE),
    Op.REFOLLOW: (S.REFOLLOW,),
    Op.SWITCHOVER: (S.MARK, S.SWITCH_CHECK, S.HOLD, S.STOP, S.CAUGHT_UP, S.PROMOTE_STANDBY, S.ROUTE,
                    S.FAILOVER_DONE),
}
# The state MARK writes for each operation that has one.
MARKS: dict[Op, str] = {Op.CREATE: "creating", Op.RESTORE: "creating", Op.CREATE_REPLICA: "creating",
                        Op.DELETE: "deleting",
                        Op.STOP: "stopping", Op.START: "starting", Op.REBOOT: "rebooting",
                        Op.MODIFY: "modifying", Op.ENABLE_MULTI_AZ: "modifying",
                        Op.DISABLE_MULTI_AZ: "modifying", Op.SWITCHOVER: "rebooting"}
# Standby work that waits on the primary: a primary dying meanwhile is handled first (the op is dropped
# and decided again afterwards), or the instance would wait forever for a primary nobody restarts.
ABANDONABLE = frozenset({Op.ENABLE_MULTI_AZ, Op.REBUILD_STANDBY, Op.CONFIGURE_STANDBY, Op.RESYNC})
# States in which a postmaster is supposed to run (a dead one is started again).
RUNNING = frozenset({"available", "storage-full", "backing-up", "modifying"})


@dataclass(frozen=True, slots=True)
class Observed:
    node: NodeState | None  # None: nothing on disk yet
    want: settings.Desired | None = None  # None while the engine is not known yet
    usage: storage.Usage | None = None
    growth: float = 0.0  # bytes per hour
    source_alive: bool | None = None  # a read replica's source still exists (None: not a replica)
    ha: Seen | None = None  # a Multi-AZ (or routed) instance's primary and standby, as one look saw them
    source_moved: bool = False  # a read replica's source failed over to its other member
    cluster_held: bool = False  # a cluster writer whose death its cluster's HA monitor handles


@dataclass(frozen=True, slots=True)
class Plan:
    op: Op
    reason: str  # one sentence: the log line and the reconcile's outcome
    done: dict[str, Any] = field(default_factory=dict)  # status written with the last checkpoint
    target: int | None = None  # GROW_STORAGE: the new allocation
    abandon: str | None = None  # a checkpointed operation to drop first (delete preempts it)

    @property
    def steps(self) -> tuple[Step, ...]:
        return STEPS[self.op]


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def running_state(status: Mapping[str, Any]) -> str:
    return "storage-full" if status.get("fenced") else "available"


def plan(spec: Mapping[str, Any], status: Mapping[str, Any], seen: Observed) -> Plan | None:
    """The next operation for one DB instance, or None when it is where it should be."""
    ident = str(spec.get("DBInstanceIdentifier", "?"))
    desired = str(spec.get("desired") or "available")
    state = status.get("state")
    op_name = (status.get("op") or {}).get("name")
    if desired == "deleted":
        return Plan(Op.DELETE, f"deleted DB instance {ident}",
                    abandon=op_name if op_name and op_name != Op.DELETE else None)
    if op_name:
        if op_name in ABANDONABLE and seen.ha is not None and seen.ha.primary_dead:
            found = _ha(ident, spec, status, seen.ha, False)
            if found is not None:
                return dataclasses.replace(found, abandon=op_name)
        if state == "incompatible-parameters" and not _retry(spec, status, seen):
            return None  # a create that could not start waits for corrected parameters
        return _resume(Op(op_name), ident, spec, status)
    if state in (None, "creating"):
        if spec.get("restore_from"):
            return Plan(Op.RESTORE, f"restored DB instance {ident}", _create_done(spec))
        if spec.get("ReadReplicaSourceDBInstanceIdentifier"):
            return Plan(Op.CREATE_REPLICA, f"created read replica {ident}", _create_done(spec))
        return Plan(Op.CREATE, f"created DB instance {ident}", _create_done(spec))
    if state == "failed":
        return None
    return _lifecycle(ident, desired, str(state), spec, status, seen)


def _resume(op: Op, ident: str, spec: Mapping[str, Any], status: Mapping[str, Any]) -> Plan:
    done: dict[str, Any] = {}
    if op in (Op.CREATE, Op.RESTORE, Op.CREATE_REPLICA):
        done = _create_done(spec)
    elif op in (Op.START, Op.MODIFY, Op.UNFENCE, Op.REBOOT, Op.ENABLE_MULTI_AZ, Op.DISABLE_MULTI_AZ,
                Op.FAILOVER, Op.SWITCHOVER):
        done = {"state": running_state(status) if op is not Op.UNFENCE else "available"}
        if op in (Op.REBOOT, Op.SWITCHOVER):
            done["reboot_seq"] = _int(spec.get("reboot_seq"))
    elif op is Op.STOP:
        done = {"state": "stopped"}
    elif op is Op.FENCE:
        done = {"state": "storage-full"}
    elif op in (Op.SET_PASSWORD, Op.MANAGE_PASSWORD, Op.UNMANAGE_PASSWORD):
        done = {"password_seq": _int(spec.get("password_seq"))}
    return Plan(op, f"resumed {op} of DB instance {ident}", done)


def _create_done(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {"state": "available", "reboot_seq": _int(spec.get("reboot_seq")),
            "password_seq": _int(spec.get("password_seq")), "parameter_apply_status": "in-sync"}


def _lifecycle(ident: str, desired: str, state: str, spec: Mapping[str, Any], status: Mapping[str, Any],
               seen: Observed) -> Plan | None:
    if desired == "stopped":
        if state == "stopped":
            return None
        return Plan(Op.STOP, f"stopped DB instance {ident}", {"state": "stopped"})
    paused = bool((status.get("serverless") or {}).get("paused"))  # Serverless v2 auto-pause
    unpause = {"serverless": None} if paused else {}  # what starts its postmaster ends the pause
    if state == "stopped":
        return Plan(Op.START, f"started DB instance {ident}", {"state": running_state(status), **unpause})
    reboot_due = _int(spec.get("reboot_seq")) > _int(status.get("reboot_seq"))
    if paused and state in RUNNING:
        if reboot_due:
            return Plan(Op.REBOOT, f"rebooted DB instance {ident}",
                        {"state": running_state(status), "reboot_seq": _int(spec.get("reboot_seq")),
                         **unpause})
        return None  # its postmaster is meant to be down until a client comes (autopause.py)
    if state == "incompatible-parameters":
        if _retry(spec, status, seen):
            return Plan(Op.REBOOT, f"rebooted DB instance {ident} with its corrected parameters",
                        {"state": running_state(status), "reboot_seq": _int(spec.get("reboot_seq"))})
        return None
    if state in RUNNING and seen.ha is not None:
        found = _ha(ident, spec, status, seen.ha, reboot_due)
        if found is not None:
            return found
    if status.get("role") == "replica" and state in RUNNING and seen.source_moved:
        # before a restart in place: a stopped old writer of a cluster must come back as a standby
        return Plan(Op.REFOLLOW, f"read replica {ident} follows the new primary of its source")
    if state in RUNNING and seen.node is NodeState.STOPPED:
        if seen.cluster_held:
            return None  # its readers are synchronous: the cluster fails over (or hands it back)
        return Plan(Op.RECOVER, f"restarted DB instance {ident}: its postmaster had stopped")
    if status.get("role") == "replica" and state in RUNNING and (
            not spec.get("ReadReplicaSourceDBInstanceIdentifier") or seen.source_alive is False):
        why = "promoted" if not spec.get("ReadReplicaSourceDBInstanceIdentifier") else "its source is gone"
        return Plan(Op.PROMOTE, f"read replica {ident} is now a standalone DB instance ({why})",
                    {"role": "primary", "replication": None})
    if status.get("role") == "replica" and state in RUNNING and seen.source_moved:
        return Plan(Op.REFOLLOW, f"read replica {ident} follows the new primary of its source")
    if reboot_due:
        return Plan(Op.REBOOT, f"rebooted DB instance {ident}",
                    {"state": running_state(status), "reboot_seq": _int(spec.get("reboot_seq"))})
    return _modifications(ident, spec, status, seen)


def values_digest(status: Mapping[str, Any]) -> str:
    """What the standby must run with: the primary's applied parameters."""
    values = (status.get("applied") or {}).get("parameters") or {}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def wants_standby(spec: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    return bool(spec.get("MultiAZ")) and status.get("role") != "replica" \
        and not spec.get("ReadReplicaSourceDBInstanceIdentifier")


def _ha(ident: str, spec: Mapping[str, Any], status: Mapping[str, Any], look: Seen,
        reboot_due: bool) -> Plan | None:
    """Multi-AZ, in order: a dead primary (failover if the standby was synchronous, else restart it in
    place), a lost standby (stop waiting for it), Multi-AZ turned on or off, a standby to rebuild, a
    reboot with failover, the standby's parameters, and synchronous replication again once caught up."""
    ha: Mapping[str, Any] = status.get("ha") or {}
    standby = ha.get("standby")
    running = {"state": running_state(status)}
    if look.primary_dead:
        if standby and ha.get("in_sync") and look.standby_running:
            return Plan(Op.FAILOVER, f"failed over DB instance {ident} to its standby: the primary's "
                        f"{look.why}", running)
        return Plan(Op.RECOVER, f"restarted DB instance {ident} in place: its primary's {look.why} and "
                    "no synchronous standby can take over")
    wanted = wants_standby(spec, status)
    if ha.get("sync") and look.standby_lost:
        return Plan(Op.DEGRADE, f"DB instance {ident}: the standby is lost; commits no longer wait for it")
    if wanted and not standby:
        return Plan(Op.ENABLE_MULTI_AZ, f"DB instance {ident} is Multi-AZ: its standby is synchronous",
                    running)
    if standby and not wanted:
        return Plan(Op.DISABLE_MULTI_AZ, f"DB instance {ident} is Single-AZ: its standby is gone", running)
    if standby and not look.standby_running:
        return Plan(Op.REBUILD_STANDBY, f"rebuilt the standby of DB instance {ident}")
    if reboot_due and standby and _int(spec.get("force_failover"), -1) == _int(spec.get("reboot_seq")):
        return Plan(Op.SWITCHOVER, f"rebooted DB instance {ident} with a failover to its standby",
                    {**running, "reboot_seq": _int(spec.get("reboot_seq"))})
    if standby and ha.get("standby_values") != values_digest(status):
        return Plan(Op.CONFIGURE_STANDBY, f"the standby of DB instance {ident} has the primary's parameters")
    seen = look.standby
    if standby and not ha.get("sync") and seen is not None and seen.state == "streaming" \
            and 0 <= seen.behind_bytes <= CAUGHT_UP_BYTES:
        return Plan(Op.RESYNC, f"DB instance {ident}: commits wait for the standby again")
    return None


def _retry(spec: Mapping[str, Any], status: Mapping[str, Any], seen: Observed) -> bool:
    """After incompatible-parameters, try again only when rebooted, as RDS does: correcting the group
    alone starts nothing (and a start of its own would race the user's reboot)."""
    return _int(spec.get("reboot_seq")) > _int(status.get("reboot_seq"))


def _modifications(ident: str, spec: Mapping[str, Any], status: Mapping[str, Any],
                   seen: Observed) -> Plan | None:
    applied: Mapping[str, Any] = status.get("applied") or {}
    if (spec.get("DBInstanceClass") != applied.get("DBInstanceClass")
            or _int(spec.get("Port"), 5432) != _int(applied.get("Port"), 5432)):
        return Plan(Op.MODIFY, f"modified DB instance {ident}: class {spec.get('DBInstanceClass')}, "
                    f"port {spec.get('Port')}", {"state": running_state(status)})
    if spec.get("CACertificateIdentifier", applied.get("CACertificateIdentifier")) != applied.get(
            "CACertificateIdentifier"):
        return Plan(Op.ROTATE_CERTIFICATE, f"DB instance {ident} now serves a certificate of "
                    f"{spec.get('CACertificateIdentifier')}")
    found = _password(ident, spec, status)
    if found is not None:
        return found
    found = _storage(ident, spec, status, seen)
    if found is not None:
        return found
    return _parameters(ident, spec, status, seen)


def _password(ident: str, spec: Mapping[str, Any], status: Mapping[str, Any]) -> Plan | None:
    done = {"password_seq": _int(spec.get("password_seq"))}
    managed = bool(spec.get("ManageMasterUserPassword"))
    in_use, asked = status.get("master_user_secret_arn"), spec.get("MasterUserSecretArn")
    if managed and (not in_use or (asked and asked != in_use)):
        return Plan(Op.MANAGE_PASSWORD, f"DB instance {ident}: the master password is now managed in "
                    "Secrets Manager", done)
    if not managed and in_use:
        return Plan(Op.UNMANAGE_PASSWORD, f"DB instance {ident}: the master password is no longer "
                    "managed in Secrets Manager", done)
    if _int(spec.get("password_seq")) > _int(status.get("password_seq")):
        return Plan(Op.SET_PASSWORD, f"reset the master password of DB instance {ident}", done)
    return None


def allocated(spec: Mapping[str, Any], status: Mapping[str, Any]) -> int:
    """What the instance has: the user's AllocatedStorage, or more if autoscaling grew it."""
    applied = _int((status.get("applied") or {}).get("AllocatedStorage"))
    return max(_int(spec.get("AllocatedStorage")), applied)


def _storage(ident: str, spec: Mapping[str, Any], status: Mapping[str, Any],
             seen: Observed) -> Plan | None:
    applied = _int((status.get("applied") or {}).get("AllocatedStorage"))
    have = allocated(spec, status)
    if have > applied:
        return Plan(Op.GROW_STORAGE, f"DB instance {ident} has {have} GiB of storage", target=have)
    usage = seen.usage
    if usage is None:
        return None
    target = storage.autoscale_target(usage, _int(spec.get("MaxAllocatedStorage")) or None, seen.growth)
    if target is not None:
        return Plan(Op.GROW_STORAGE, f"autoscaled the storage of DB instance {ident} from "
                    f"{usage.allocated} to {target} GiB", target=target)
    fenced = bool(status.get("fenced"))
    if usage.full and not fenced:
        return Plan(Op.FENCE, f"DB instance {ident} is storage-full: writes are refused",
                    {"state": "storage-full", "fenced": True})
    if fenced and not usage.full:
        return Plan(Op.UNFENCE, f"DB instance {ident} has free storage again: writes are accepted",
                    {"state": "available", "fenced": False})
    return None


def _parameters(ident: str, spec: Mapping[str, Any], status: Mapping[str, Any],
                seen: Observed) -> Plan | None:
    want = seen.want
    if want is None:
        return None
    if status.get("failed_parameters") == want.values:
        return None  # PostgreSQL refused exactly these (recorded with an event): wait for a change
    applied: Mapping[str, Any] = status.get("applied") or {}
    same_group = applied.get("parameter_group") == want.group
    diff = settings.changes(applied.get("parameters") or {}, want, same_group=same_group)
    after = "pending-reboot" if diff.deferred else "in-sync"
    if diff.now:
        names = ", ".join(sorted(diff.now))
        return Plan(Op.APPLY_PARAMETERS, f"applied {names} to DB instance {ident} without a restart",
                    {"parameter_apply_status": after})
    if diff.deferred and status.get("parameter_apply_status") != "pending-reboot":
        names = ", ".join(sorted(diff.deferred))
        return Plan(Op.PENDING_REBOOT, f"DB instance {ident}: {names} wait for a reboot",
                    {"parameter_apply_status": "pending-reboot"})
    if not diff.deferred and status.get("parameter_apply_status") not in (None, "in-sync"):
        return Plan(Op.PENDING_REBOOT, f"DB instance {ident}: its parameters are in sync",
                    {"parameter_apply_status": "in-sync"})
    return None
