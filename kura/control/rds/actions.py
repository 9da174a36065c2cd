"""The executor: what each named step of a plan does. Every step is idempotent (a crash re-runs it).

Steps read the resource as of the previous checkpoint (`ctx.res`) and put the status fields they
produce into `ctx.status`, written with their checkpoint. They raise EngineMissing (the create cannot
go on: `failed`) and StartFailed (the postmaster refuses its parameters: `incompatible-parameters`);
anything else is retried by the reconciler.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from kura.control import steps
from kura.control.rds import (
    backup_steps,
    ha_steps,
    master_password,
    nodes,
    observe,
    replica_steps,
    routing,
    settings,
)
from kura.control.rds.events import arn_of, event
from kura.control.rds.plan import MARKS, Op, Plan, Step, allocated
from kura.engines.postgres import catalog
from kura.engines.postgres.errors import StartError
from kura.engines.postgres.node import PgNode
from kura.env import Env
from kura.net import addresses, tls
from kura.services.rds.records import KIND_CLUSTER, KIND_CLUSTER_ENDPOINT
from kura.store.types import Resource

# Operations that render all that is desired.
FULL = frozenset({Op.CREATE, Op.RESTORE, Op.CREATE_REPLICA, Op.START, Op.REBOOT, Op.RECOVER, Op.MODIFY})
RDS_SUPERUSER = "rds_superuser"
# Predefined roles RDS grants rds_superuser (those this major has); WITH ADMIN OPTION so that the
# master user can pass them on, as on RDS.
RDS_SUPERUSER_ROLES = ("pg_monitor", "pg_signal_backend", "pg_read_all_settings", "pg_read_all_stats",
                       "pg_stat_scan_tables", "pg_checkpoint", "pg_use_reserved_connections",
                       "pg_create_subscription")


class EngineMissing(Exception):
    """The requested PostgreSQL major is not installed: the create fails (the message says why)."""


class StartFailed(Exception):
    """The postmaster would not start with this configuration (the message carries its log)."""


@dataclass(frozen=True, slots=True)
class Work:
    """What the steps of one operation share."""

    env: Env
    plan: Plan

    def node(self, res: Resource) -> PgNode:
        node = nodes.node_for(self.env, res)
        if node is None:
            raise EngineMissing(f"PostgreSQL {res.status.get('engine_version')} is no longer installed "
                                f"on this Kura host. {catalog.install_hint(_major(res))}")
        return node


def _major(res: Resource) -> int:
    return int(str(res.status.get("engine_version") or res.spec.get("EngineVersion") or "16").split(".")[0])


def _mark(work: Work, ctx: steps.StepContext) -> None:
    state = MARKS.get(work.plan.op)
    if state:
        ctx.status["state"] = state


def _engine(work: Work, ctx: steps.StepContext) -> None:
    requested = ctx.res.spec.get("EngineVersion")
    try:
        try:
            engine, note = catalog.resolve(nodes.engines(), requested)
        except catalog.EngineNotInstalled:  # installed since the engines were discovered?
            engine, note = catalog.resolve(nodes.engines(refresh=True), requested)
    except (catalog.EngineNotInstalled, ValueError) as exc:
        raise EngineMissing(str(exc)) from exc
    ctx.status["engine_version"] = engine.version
    if note:
        event(work.env, ctx.res, note, "notification")


def _endpoint(work: Work, ctx: steps.StepContext) -> None:
    port = int(ctx.res.spec.get("Port") or 5432)
    found = addresses.allocate(work.env.store, arn_of(work.env, ctx.res), port)
    ctx.status.update(address=found.address, port=found.port)


def _certificate(work: Work, ctx: steps.StepContext) -> None:
    env, res = work.env, ctx.res
    ca_id = str(res.spec.get("CACertificateIdentifier") or tls.DEFAULT_CA)
    ca = tls.ensure_ca(env.settings.paths, ca_id)
    where = nodes.layout(env, res.region, res.id)
    cert, key = tls.issue(ca, arn_of(env, res), [str(res.status["address"]), *_cluster_names(env, res)],
                          where.tls)
    till = x509.load_pem_x509_certificate(cert.read_bytes()).not_valid_after_utc
    ctx.status["tls"] = {"cert": str(cert), "key": str(key), "ca": str(ca.cert_path), "ca_id": ca_id}
    ctx.status["certificate_valid_till"] = till.timestamp()
    if work.plan.op is Op.ROTATE_CERTIFICATE:
        ctx.status["applied"] = {**(res.status.get("applied") or {}), "CACertificateIdentifier": ca_id}


def _cluster_names(env: Env, res: Resource) -> list[str]:
    """A cluster member's certificate also names its cluster's endpoints (verify-full through them)."""
    ident = res.spec.get("DBClusterIdentifier")
    cluster = env.store.get(KIND_CLUSTER, res.region, str(ident)) if ident else None
    if cluster is None:
        return []
    names = [str(cluster.status[k]) for k in ("address", "reader_address") if cluster.status.get(k)]
    return names + [str(e.status["address"]) for e in env.store.list(KIND_CLUSTER_ENDPOINT, res.region)
                    if e.spec.get("DBClusterIdentifier") == cluster.id and e.status.get("address")]


def _secret(work: Work, ctx: steps.StepContext) -> None:
    if ctx.res.spec.get("ManageMasterUserPassword"):
        ctx.status["master_user_secret_arn"] = master_password.ensure_secret(work.env, ctx.res)


def _init(work: Work, ctx: steps.StepContext) -> None:
    work.node(ctx.res).init()
    ctx.status["log_dir"] = str(nodes.layout(work.env, ctx.res.region, ctx.res.id).log)


def _values(work: Work, res: Resource) -> tuple[dict[str, str], bool]:
    """The parameters to render for this operation, and whether they are all that is desired."""
    applied: dict[str, str] = dict((res.status.get("applied") or {}).get("parameters") or {})
    want = observe.desired_for(work.env, res)
    if want is None:
        raise EngineMissing(f"DB instance {res.id} has no engine")
    if work.plan.op in FULL:
        return dict(want.values), True
    if work.plan.op is Op.APPLY_PARAMETERS:
        same = (res.status.get("applied") or {}).get("parameter_group") == want.group
        return settings.merged(applied, settings.changes(applied, want, same_group=same).now), False
    return applied, False


def _configure(work: Work, ctx: steps.StepContext) -> None:
    res = ctx.res
    values, full = _values(work, res)  # a replica's are raised to its source's (observe.desired_for)
    problem = settings.memory_problem(values, str(res.spec.get("DBInstanceClass"))) if full else None
    if problem:
        raise StartFailed(problem)  # as RDS: not started at all, `incompatible-parameters`
    fenced = {Op.FENCE: True, Op.UNFENCE: False}.get(work.plan.op, bool(res.status.get("fenced")))
    files = res.status["tls"]
    address, port = routing.listen_address(res)  # a routed instance's primary: its member address
    config = settings.render(values, address=address, port=port,
                             tls=(Path(files["cert"]), Path(files["key"]), Path(files["ca"])),
                             fenced=fenced)
    work.node(res).configure(config)  # a running node reloads at once
    applied = {**(res.status.get("applied") or {}), "parameters": values}
    if full:
        want = observe.desired_for(work.env, res)
        applied.update(DBInstanceClass=res.spec.get("DBInstanceClass"), Port=int(res.status["port"]),
                       CACertificateIdentifier=files.get("ca_id"),
                       AllocatedStorage=allocated(res.spec, res.status),
                       parameter_group=want.group if want else None)
        ctx.status["parameter_apply_status"] = "in-sync"
    ctx.status.update(applied=applied, fenced=fenced)


configure = _configure  # (backup_steps re-renders after a second unpack)


def _start(work: Work, ctx: steps.StepContext) -> None:
    try:
        work.node(ctx.res).start()
    except StartError as exc:
        raise StartFailed(str(exc)) from exc


def _restart(work: Work, ctx: steps.StepContext) -> None:
    try:
        work.node(ctx.res).restart()
    except StartError as exc:
        raise StartFailed(str(exc)) from exc


def _stop(work: Work, ctx: steps.StepContext) -> None:
    node = nodes.node_for(work.env, ctx.res)
    if node is not None:
        node.stop()


def _master_user(work: Work, ctx: steps.StepContext) -> None:
    res = ctx.res
    user = str(res.spec["MasterUsername"])
    # A restored instance's master user keeps the password it had in the source, as on RDS.
    keep = bool(res.spec.get("restore_from")) and not res.spec.get("master_password_sealed") \
        and not res.spec.get("ManageMasterUserPassword")
    password = None if keep else master_password.current_password(work.env, res)
    q = master_password.quote_ident
    with work.node(res).connect() as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (RDS_SUPERUSER,)).fetchone() is None:
            conn.execute(f"CREATE ROLE {RDS_SUPERUSER} NOLOGIN CREATEDB CREATEROLE")
        present = [r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                                              (list(RDS_SUPERUSER_ROLES),))]
        if present:
            conn.execute(f"GRANT {', '.join(present)} TO {RDS_SUPERUSER} WITH ADMIN OPTION")
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone() is None:
            conn.execute(f"CREATE ROLE {q(user)} LOGIN CREATEDB CREATEROLE")
        # A member of rds_superuser, not a superuser: what RDS's master user is.
        conn.execute(f"GRANT {RDS_SUPERUSER} TO {q(user)} WITH ADMIN OPTION")
        if password is not None:
            conn.execute(master_password.alter_password_sql(user, password))


def _database(work: Work, ctx: steps.StepContext) -> None:
    res = ctx.res
    name = res.spec.get("DBName")
    node = work.node(res)
    if name and not node.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)):
        q = master_password.quote_ident
        node.execute(f"CREATE DATABASE {q(str(name))} OWNER {q(str(res.spec['MasterUsername']))}")
    node.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", dbname=str(name or "postgres"))
    ctx.status["state"] = "backing-up"  # visible while the next step runs


def _backing_up(work: Work, ctx: steps.StepContext) -> None:
    """The first automated backup. A no-op until the backups issue takes a real base backup here."""


def _terminate_writers(work: Work, ctx: steps.StepContext) -> None:
    # Sessions in a transaction that has written (it holds a transaction id) could keep writing;
    # idle and read-only sessions pick up default_transaction_read_only from the reload and stay.
    work.node(ctx.res).execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' "
        "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()")


def _password(work: Work, ctx: steps.StepContext) -> None:
    res = ctx.res
    password = master_password.current_password(work.env, res)
    work.node(res).execute(master_password.alter_password_sql(str(res.spec["MasterUsername"]), password))


def _allocate(work: Work, ctx: steps.StepContext) -> None:
    target = work.plan.target
    ctx.status["applied"] = {**(ctx.res.status.get("applied") or {}), "AllocatedStorage": target}


def _remove_data(work: Work, ctx: steps.StepContext) -> None:
    where = nodes.layout(work.env, ctx.res.region, ctx.res.id)
    node = nodes.node_for(work.env, ctx.res)
    if node is not None:
        node.discard(nodes.trash_dir(work.env))
    shutil.rmtree(where.socket, ignore_errors=True)
    shutil.rmtree(where.base, ignore_errors=True)  # logs and certificates: small
    nodes.empty_trash_soon(work.env)


def _release_endpoint(work: Work, ctx: steps.StepContext) -> None:
    addresses.release(work.env.store, arn_of(work.env, ctx.res))
    for member in nodes.MEMBERS:
        addresses.release(work.env.store, ha_steps.owner(work, ctx.res, member))


def _delete_secret(work: Work, ctx: steps.StepContext) -> None:
    master_password.delete_secret(work.env, ctx.res)
    ctx.status["master_user_secret_arn"] = None


StepFn = Callable[[Work, steps.StepContext], None]
TABLE: dict[Step, StepFn] = {
    Step.MARK: _mark, Step.ENGINE: _engine, Step.ENDPOINT: _endpoint, Step.CERTIFICATE: _certificate,
    Step.SECRET: _secret, Step.INIT: _init, Step.CONFIGURE: _configure, Step.START: _start,
    Step.MASTER_USER: _master_user, Step.DATABASE: _database, Step.BACKING_UP: _backing_up,
    Step.STOP: _stop, Step.RESTART: _restart, Step.TERMINATE_WRITERS: _terminate_writers,
    Step.PASSWORD: _password, Step.ALLOCATE: _allocate, Step.REMOVE_DATA: _remove_data,
    Step.RELEASE_ENDPOINT: _release_endpoint, Step.DELETE_SECRET: _delete_secret,
    Step.RESTORE_DATA: backup_steps.restore_data, Step.REPLAY: backup_steps.replay,
    Step.FINAL_SNAPSHOT: backup_steps.final_snapshot, Step.ARCHIVE_WAL: backup_steps.archive_wal,
    Step.STOP_SNAPSHOT: backup_steps.stop_snapshot,
    Step.CLONE: replica_steps.clone, Step.PROMOTE: replica_steps.promote,
    Step.RELEASE_SLOT: replica_steps.release, Step.REFOLLOW: replica_steps.refollow,
    Step.MEMBERS: ha_steps.members, Step.ROUTE: ha_steps.route, Step.HOLD: ha_steps.hold,
    Step.MOVE_ENDPOINT: ha_steps.move_endpoint,
    Step.STANDBY: ha_steps.standby, Step.SYNC: ha_steps.sync, Step.UNSYNC_MARK: ha_steps.unsync_mark,
    Step.UNSYNC: ha_steps.unsync, Step.DROP_STANDBY: ha_steps.drop_standby,
    Step.STOP_STANDBY: ha_steps.stop_standby, Step.FENCE_PRIMARY: ha_steps.fence,
    Step.SWITCH_CHECK: ha_steps.switch_check, Step.CAUGHT_UP: ha_steps.caught_up,
    Step.PROMOTE_STANDBY: ha_steps.promote, Step.FAILOVER_DONE: ha_steps.failover_done,
}


def steps_for(work: Work) -> list[steps.Step]:
    return [steps.Step(name.value, functools.partial(TABLE[name], work)) for name in work.plan.steps]

