"""PgNode: one PostgreSQL data directory and the postmaster serving it (the `Node` protocol).

The postmaster is started detached (its parent becomes PID 1) so it outlives Kura; Kura talks to it as
`rdsadmin` over a private 0700 unix socket and finds it again after a restart from postmaster.pid.
Everything Kura sets lives in `kura.conf` and `pg_hba.conf`, rewritten whole on every configure().
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from kura.engines import osuser
from kura.engines.osuser import OsUser
from kura.engines.postgres import pgproc
from kura.engines.postgres.errors import InvalidSettings, NotRunning, PgError, StartError
from kura.engines.postgres.render import TlsFiles, is_true, render_conf, render_hba
from kura.engines.postgres.scram import scram_verifier
from kura.engines.postgres.templates import (
    KURA_CONF,
    SUPERUSER,
    TemplateCache,
    default_cache_root,
    syncfs,
)
from kura.engines.postgres.types import NodeConfig, NodeState, NodeStatus, PgEngine
from kura.engines.postgres.validate import validate_settings

log = logging.getLogger(__name__)

PENDING_PASSWORD = "kura_superuser.scram"  # a verifier, applied at the next start
STARTUP_LOG = "startup.log"  # what the postmaster says before its logging collector takes over
_POLL = 0.005
_MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes with the terminating NUL
_TLS_NAMES = ("kura_server.crt", "kura_server.key", "kura_ca.crt")


class PgNode:
    def __init__(self, engine: PgEngine, datadir: Path, *, socket_dir: Path, log_dir: Path,
                 run_as: OsUser | None, templates: TemplateCache | None = None) -> None:
        self.engine = engine
        self.datadir = datadir
        self.socket_dir = socket_dir
        self.log_dir = log_dir
        self.run_as = run_as
        self.templates = templates or TemplateCache(default_cache_root(), run_as)

    def __repr__(self) -> str:
        return f"PgNode({self.engine.version}, {self.datadir})"

    # -- lifecycle ---------------------------------------------------------------------------------

    def exists(self) -> bool:
        return (self.datadir / "PG_VERSION").is_file()

    def init(self, superuser_password: str | None = None) -> None:
        """Create the data directory from the engine's template cluster (idempotent): a ready spare
        copy when there is one (a rename), else a fresh copy; then a new spare is made in background."""
        if not self.exists():
            self.datadir.parent.mkdir(parents=True, exist_ok=True)
            if not self.templates.take_spare(self.engine, self.datadir):
                staging = self.datadir.with_name(f".{self.datadir.name}.init")
                shutil.rmtree(staging, ignore_errors=True)  # a copy a crash interrupted
                self.templates.copy_to(self.engine, staging, sync=False)
                os.rename(staging, self.datadir)  # atomic: exists() never sees half a copy
                _flush_in_background(self.datadir)
            self.templates.refill_in_background(self.engine)
        if superuser_password is not None:
            self._write(self.datadir / PENDING_PASSWORD, scram_verifier(superuser_password))
            if self._pidfile() is not None:
                self._apply_pending_password()

    def configure(self, config: NodeConfig) -> list[str]:
        """Validate the settings with the engine (InvalidSettings carries PostgreSQL's reasons), then
        write kura.conf and pg_hba.conf. On a running node, reload at once (dynamic settings take
        effect) and return what PostgreSQL reports `pending_restart`; [] on a stopped node."""
        sock = self.socket_dir / f".s.PGSQL.{config.port}"
        if len(str(sock)) > _MAX_SOCKET_PATH:
            raise ValueError(f"socket path {sock} is longer than {_MAX_SOCKET_PATH} bytes")
        if not self.exists():
            raise PgError(f"{self.datadir} does not exist: call init() before configure()")
        errors = validate_settings(self.engine, config.settings, self.run_as)
        if errors:
            raise InvalidSettings(errors)
        for d in (self.socket_dir, self.log_dir):
            osuser.private_dir(d, self.run_as)
        for p in (self.datadir, self.socket_dir, self.log_dir, self.engine.bindir):
            osuser.grant_traverse(p, self.run_as)
        files = {
            KURA_CONF: render_conf(config, socket_dir=self.socket_dir, log_dir=self.log_dir,
                                   tls=self._install_tls(config), cluster_name=self.datadir.name),
            "pg_hba.conf": render_hba(config.hba, force_ssl=is_true(config.settings.get("rds.force_ssl"))),
        }
        previous = {name: self._read(name) for name in files}
        for name, text in files.items():
            self._write(self.datadir / name, text)
        if self._pidfile() is None:
            return []
        pending, broken = self._reload_and_wait()
        broken = [name for name in broken if name not in pending]
        if broken:  # validated above, so only a file someone else edited gets here: put ours back
            for name, old in previous.items():
                if old is not None:
                    self._write(self.datadir / name, old)
            self._reload_and_wait()
            raise InvalidSettings({name: "setting could not be applied" for name in broken})
        if "wal_level" in pending and "rds.logical_replication" in config.settings:
            pending.append("rds.logical_replication")
        return sorted(pending)

    def start(self, timeout: float = 30.0) -> None:
        """Start the postmaster and return once it accepts connections (idempotent)."""
        deadline = time.monotonic() + timeout
        pf = self._pidfile()
        if pf is None:
            if not self._read(KURA_CONF):
                raise PgError(f"{self.datadir} is not configured: call configure() before start()")
            pgproc.remove_stale_locks(self.datadir, [self.socket_dir])
            pid = self._spawn()
        else:
            pid = pf.pid
        self._wait_ready(pid, deadline)
        self._wait_flushed()
        if (self.datadir / PENDING_PASSWORD).exists():
            self._apply_pending_password()

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT, what `pg_ctl stop -m fast` sends); immediate, then SIGKILL, past the
        timeout. Returns once the postmaster and its children are gone (zombies count as gone)."""
        pf = pgproc.read_pidfile(self.datadir)
        if pf is not None and pgproc.is_live_postmaster(pf):
            kids = pgproc.children(pf.pid)
            for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
                if sig is signal.SIGKILL:
                    log.warning("%s did not stop; killing it", self)
                    for kid in kids:
                        _signal(kid, sig)
                _signal(pf.pid, sig)
                if _wait_until(lambda: not any(map(pgproc.alive, [pf.pid, *kids])), wait):
                    break
        pgproc.remove_stale_locks(self.datadir, [self.socket_dir])

    def restart(self, timeout: float = 30.0) -> None:
        self.stop(timeout)
        self.start(timeout)

    def reload(self) -> None:
        if self._pidfile() is None:
            raise NotRunning(f"{self} is not running")
        self._reload_and_wait()

    def remove(self) -> None:
        """Stop if running; delete the data directory and the private socket directory (the log
        directory is the caller's: it may want the last logs)."""
        self.stop()
        self._wait_flushed()
        shutil.rmtree(self.datadir, ignore_errors=True)
        shutil.rmtree(self.datadir.with_name(f".{self.datadir.name}.init"), ignore_errors=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    def discard(self, trash: Path) -> Path:
        """remove(), except that the data directory is renamed into `trash` (same file system: instant)
        for the caller to delete later — deleting 40 MB of small files can take seconds on a busy disk."""
        self.stop()
        self._wait_flushed()
        trash.mkdir(parents=True, exist_ok=True)
        target = trash / f"{self.datadir.parent.name}-{os.urandom(4).hex()}"
        with contextlib.suppress(FileNotFoundError):
            self.datadir.rename(target)
        shutil.rmtree(self.datadir.with_name(f".{self.datadir.name}.init"), ignore_errors=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)
        return target

    # -- observation and SQL -----------------------------------------------------------------------

    def status(self) -> NodeStatus:
        """From postmaster.pid + /proc (a zombie is dead) + a quick connection attempt."""
        pf = self._pidfile()
        if pf is None:
            return NodeStatus(NodeState.STOPPED, None)
        try:
            with self._connect(connect_timeout=2) as conn:
                return NodeStatus(NodeState.RUNNING, pf.pid, _version(conn.info.server_version))
        except NotRunning:  # exited between the two looks
            return NodeStatus(NodeState.STOPPED, None)
        except psycopg.OperationalError:
            starting = pf.status in (None, "starting")
            return NodeStatus(NodeState.STARTING if starting else NodeState.UNRESPONSIVE, pf.pid)

    def execute(self, sql: str, params: tuple[object, ...] = (), dbname: str = "postgres"
                ) -> list[tuple[object, ...]]:
        """Run SQL as rdsadmin over the private socket (autocommit)."""
        return self._execute(sql, params, dbname)

    def connect(self, dbname: str = "postgres", connect_timeout: int = 3) -> psycopg.Connection[Any]:
        """An autocommit rdsadmin connection over the private socket, for callers that need several
        statements in one session."""
        return self._connect(dbname, connect_timeout)

    # -- internals ---------------------------------------------------------------------------------

    def _wait_flushed(self) -> None:
        with _flush_lock:
            thread = _flushes.pop(self.datadir, None)
        if thread is not None:
            thread.join()

    def _pidfile(self) -> pgproc.PidFile | None:
        pf = pgproc.read_pidfile(self.datadir)
        return pf if pf is not None and pgproc.is_live_postmaster(pf) else None

    def _connect(self, dbname: str = "postgres", connect_timeout: int = 3) -> psycopg.Connection[Any]:
        pf = self._pidfile()
        if pf is None:
            raise NotRunning(f"{self} is not running")
        return psycopg.connect(host=pf.socket_dir or str(self.socket_dir), port=pf.port, user=SUPERUSER,
                               dbname=dbname, autocommit=True, connect_timeout=connect_timeout)

    def _execute(self, query: str | sql.Composed, params: tuple[object, ...] = (),
                 dbname: str = "postgres") -> list[tuple[object, ...]]:
        with self._connect(dbname) as conn, conn.cursor() as cur:
            cur.execute(query, params or None)
            return list(cur.fetchall()) if cur.description is not None else []

    def _spawn(self) -> int:
        """Launch the postmaster detached: sh backgrounds it, prints its pid and exits (we reap sh).
        Unlike `pg_ctl start -w` (100 ms polls) we then poll postmaster.pid every 5 ms, and knowing the
        pid lets us see an early exit at once."""
        script = '"$0" -D "$1" </dev/null >>"$2" 2>&1 & echo $!'
        done = osuser.run(["/bin/sh", "-c", script, self.engine.tool("postgres"), self.datadir,
                           self.log_dir / STARTUP_LOG], self.run_as, timeout=30, new_session=True)
        if done.returncode != 0 or not done.stdout.strip().isdigit():
            raise StartError(f"cannot launch postgres for {self.datadir}: {done.stderr.strip()}")
        return int(done.stdout.strip())

    def _wait_ready(self, pid: int, deadline: float) -> None:
        while time.monotonic() < deadline:
            pf = pgproc.read_pidfile(self.datadir)
            if pf is not None and pf.pid == pid and pf.status in ("ready", "standby"):
                return
            if not pgproc.alive(pid):
                raise StartError(f"PostgreSQL {self.engine.version} in {self.datadir} exited during "
                                 f"startup: {self.log_tail()}")
            time.sleep(_POLL)
        raise StartError(f"PostgreSQL in {self.datadir} was not ready in time: {self.log_tail()}")

    def _reload_and_wait(self, timeout: float = 2.0) -> tuple[list[str], list[str]]:
        """SIGHUP and wait until this session has re-read the files; (pending_restart names,
        names the files set to values PostgreSQL could not apply)."""
        with self._connect() as conn:
            before = conn.execute("SELECT pg_conf_load_time()").fetchone()
            conn.execute("SELECT pg_reload_conf()")
            _wait_until(lambda: conn.execute("SELECT pg_conf_load_time()").fetchone() != before, timeout)
            pending = [str(r[0]) for r in conn.execute("SELECT name FROM pg_settings WHERE pending_restart")]
            broken = [str(r[0]) for r in conn.execute(
                "SELECT DISTINCT name FROM pg_file_settings WHERE error IS NOT NULL AND name IS NOT NULL")]
        return pending, broken

    def _apply_pending_password(self) -> None:
        path = self.datadir / PENDING_PASSWORD
        verifier = path.read_text().strip()
        self._execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(SUPERUSER),
                                                                  sql.Literal(verifier)))
        path.unlink()

    def _install_tls(self, config: NodeConfig) -> TlsFiles | None:
        """Copies of the certificate files inside the data directory, owned by the engine user (who
        cannot read Kura's own, and PostgreSQL insists the key be private to it)."""
        if config.ssl_cert is None or config.ssl_key is None:
            return None
        paths = [self.datadir / n for n in _TLS_NAMES]
        for src, dest in zip((config.ssl_cert, config.ssl_key, config.ssl_ca), paths, strict=True):
            if src is not None:
                self._write(dest, Path(src).read_text())
        return TlsFiles(paths[0], paths[1], paths[2] if config.ssl_ca is not None else None)

    def _read(self, name: str) -> str | None:
        try:
            return (self.datadir / name).read_text()
        except FileNotFoundError:
            return None

    def _write(self, path: Path, text: str) -> None:
        """Replace a file atomically (a reload never reads half of it), 0600, owned by the engine user."""
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        if self.run_as is not None:
            os.chown(tmp, self.run_as.uid, self.run_as.gid)
        os.replace(tmp, path)

    def log_tail(self, lines: int = 15) -> str:
        logs = sorted((p for p in self.log_dir.glob("*") if p.is_file()), key=lambda p: p.stat().st_mtime)
        text = "".join(p.read_text(errors="replace") for p in logs[-2:])
        return "\n".join(text.strip().splitlines()[-lines:]) or "(no log output)"


# Durability flushes of fresh copies, by data directory: the control plane may use one PgNode object
# for init() and another for start().
_flushes: dict[Path, threading.Thread] = {}
_flush_lock = threading.Lock()


def _flush_in_background(datadir: Path) -> None:
    """The flush (~0.1 s) overlaps configure() and the postmaster's startup; start() waits for it
    before it reports the node ready."""
    thread = threading.Thread(target=syncfs, args=(datadir,), name="kura-pg-flush", daemon=True)
    with _flush_lock:
        _flushes[datadir] = thread
    thread.start()


def _version(num: int) -> str:
    return f"{num // 10000}.{num % 10000}"


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _wait_until(predicate: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(_POLL)
    return bool(predicate())
