"""Where an instance lives on disk, which engine runs it, and the PgNode that drives it.

    $KURA_HOME/data/rds/<region>/<id>/pgdata   the data directory (WAL inside: pg_wal)
                                      log      PostgreSQL's log files (DescribeDBLogFiles)
                                      tls      the endpoint certificate and key
                                      socket   Kura's private unix socket, unless that path is too
                                               long for a socket (108 bytes): then /tmp/kura-<hash>
                                      pgdata2, log2, socket2   the second member of a Multi-AZ
                                               instance (member "2"; the first is member "1")

Which member is the primary is the instance's status (`ha.primary`, "1" when absent): `node_for`
answers the primary, `member_node` either member.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from kura.engines import osuser
from kura.engines.osuser import OsUser
from kura.engines.postgres import catalog, pgproc
from kura.engines.postgres.node import PgNode
from kura.engines.postgres.types import NodeState, PgEngine
from kura.env import Env
from kura.store.types import Resource

_SOCKET_MAX = 107 - len("/.s.PGSQL.65535")
_lock = threading.Lock()
_engines: list[PgEngine] | None = None
_homes: set[Path] = set()  # Kura homes whose engines/ directory is searched too (`kura up --home`)
_user: tuple[OsUser | None] | None = None


@dataclass(frozen=True, slots=True)
class Layout:
    base: Path
    pgdata: Path
    log: Path
    tls: Path
    socket: Path


def socket_dir(base: Path, name: str = "socket") -> Path:
    """`<base>/socket`, or a short private directory under /tmp when that path is too long."""
    socket = base / name
    if len(str(socket)) > _SOCKET_MAX:
        digest = hashlib.sha256(str(socket if name != "socket" else base).encode()).hexdigest()[:16]
        socket = Path(tempfile.gettempdir()) / f"kura-{digest}"
    return socket


def trash_dir(env: Env) -> Path:
    return env.settings.paths.data / "trash"


def empty_trash(env: Env) -> None:
    """Delete what deleted instances left in the trash (also at start: Kura may have died meanwhile)."""
    root = trash_dir(env)
    if root.is_dir():
        for entry in root.iterdir():
            shutil.rmtree(entry, ignore_errors=True)


def empty_trash_soon(env: Env) -> None:
    threading.Thread(target=empty_trash, args=(env,), name="kura-rds-trash", daemon=True).start()


MEMBERS = ("1", "2")


def layout(env: Env, region: str, ident: str, member: str = "1") -> Layout:
    base = env.settings.paths.data / "rds" / region / ident
    tail = "" if member == "1" else member
    return Layout(base, base / f"pgdata{tail}", base / f"log{tail}", base / "tls",
                  socket_dir(base, f"socket{tail}"))


def primary_member(res: Resource) -> str:
    return str((res.status.get("ha") or {}).get("primary") or "1")


def other_member(member: str) -> str:
    return MEMBERS[1] if member == MEMBERS[0] else MEMBERS[0]


def engines(refresh: bool = False, home: Path | None = None) -> list[PgEngine]:
    """The installed engines, newest first (discovered once per process, or again on refresh).

    `home`: also search `<home>/engines` (where `kura engines install --home` unpacks them), from now on.
    """
    global _engines
    with _lock:
        if home is not None and home not in _homes:
            _homes.add(home)
            refresh = True
        if _engines is None or refresh:
            _engines = catalog.discover([h / "engines" for h in sorted(_homes)])
        return list(_engines)


def engine_for(version: str) -> PgEngine | None:
    """The engine of exactly `version`, else the newest of its major (apt may have upgraded the minor)."""
    for fresh in (False, True):
        found = engines(refresh=fresh)
        exact = [e for e in found if e.version == version]
        same = [e for e in found if str(e.major) == version.split(".")[0]]
        if exact or same:
            return (exact or same)[0]
    return None


def run_as() -> OsUser | None:
    global _user
    with _lock:
        if _user is None:
            _user = (osuser.engine_user(),)
        return _user[0]


def make_node(engine: PgEngine, where: Layout) -> PgNode:
    return PgNode(engine, where.pgdata, socket_dir=where.socket, log_dir=where.log, run_as=run_as())


def node_for(env: Env, res: Resource) -> PgNode | None:
    """The primary's node of an instance whose engine is known (None before the create chose one)."""
    return member_node(env, res, primary_member(res))


def member_node(env: Env, res: Resource, member: str) -> PgNode | None:
    version = res.status.get("engine_version")
    if not version:
        return None
    engine = engine_for(str(version))
    if engine is None:
        return None
    return make_node(engine, layout(env, res.region, res.id, member))


def liveness(node: PgNode) -> NodeState | None:
    """RUNNING while the data directory's postmaster lives, STOPPED when it does not, None with no data
    directory. Only postmaster.pid and /proc are read: the periodic look at fifty idle instances must
    not fork fifty backends (node.status() connects; what the plan needs is only "did it die").
    """
    if not node.exists():
        return None
    found = pgproc.read_pidfile(node.datadir)
    return NodeState.RUNNING if found is not None and pgproc.is_live_postmaster(found) else NodeState.STOPPED
