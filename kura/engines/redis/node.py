"""RedisNode: one Redis data directory and the redis-server serving it.

The server is started detached (its own session, its parent becomes PID 1) so it outlives Kura; Kura
finds it again after a restart from the pid file, and reads the bind address, port, password and TLS
files it needs to talk to it from `kura-node.json` (0600, beside redis.conf, which holds the same
secrets anyway).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from kura.engines import osuser
from kura.engines.osuser import OsUser
from kura.engines.redis import proc
from kura.engines.redis.errors import (
    InvalidSettings,
    NotRunning,
    RedisEngineError,
    SnapshotError,
    StartError,
)
from kura.engines.redis.render import CONF, DUMP, LOGFILE, OWNED, PIDFILE, TLS_NAMES, render_conf
from kura.engines.redis.types import RedisConfig, RedisEngine, RedisState, RedisStatus

log = logging.getLogger(__name__)

STATE = "kura-node.json"
# Where the running server listens (bind, port, TLS), written at each launch: a configure() that moves
# the listener only takes effect at the restart, and until then Kura must keep reaching the old one.
LISTENER = "kura-listener.json"
STARTUP_LOG = "startup.log"  # what redis-server says before it opens its logfile
_POLL = 0.005
# Structural fields: changing them on a running node needs a restart (the listener, the TLS context).
_RESTART_FIELDS = ("bind", "port", "tls_cert", "tls_key", "tls_ca")
_LIVE_DEFAULTS = {"save": "", "appendonly": "no"}


class RedisNode:
    def __init__(self, engine: RedisEngine, datadir: Path, *, run_as: OsUser | None) -> None:
        self.engine = engine
        self.datadir = datadir
        self.run_as = run_as

    def __repr__(self) -> str:
        return f"RedisNode({self.engine.version}, {self.datadir})"

    # -- lifecycle ---------------------------------------------------------------------------------

    def exists(self) -> bool:
        return (self.datadir / CONF).is_file()

    def configure(self, config: RedisConfig) -> list[str]:
        """Write redis.conf (and the node's state). On a running node apply what Redis can change live
        (CONFIG SET, REPLICAOF) and return the names that need a restart; [] on a stopped node."""
        osuser.private_dir(self.datadir, self.run_as)
        osuser.grant_traverse(self.datadir, self.run_as)
        osuser.grant_traverse(self.engine.server, self.run_as)
        old = self.config() if self.exists() else None
        pending: list[str] = []
        if old is not None and self._pid() is not None:
            pending = self._apply_live(old, config)
        self._install_tls(config)
        self._save(config)
        return pending

    def start(self, timeout: float = 10.0) -> None:
        """Start redis-server and return once it answers PING (idempotent)."""
        deadline = time.monotonic() + timeout
        if not self.exists():
            raise RedisEngineError(f"{self.datadir} is not configured: call configure() before start()")
        pid = self._pid()
        if pid is None:
            (self.datadir / PIDFILE).unlink(missing_ok=True)
            cfg = self.config()
            self._write(self.datadir / LISTENER, json.dumps(
                {"bind": cfg.bind, "port": cfg.port, "tls": cfg.tls, "verify": cfg.tls_ca is not None}))
            pid = self._spawn()
        self._wait_ready(pid, deadline)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (Redis's orderly shutdown), SIGKILL past the timeout. Returns once the process is
        gone; a zombie counts as gone."""
        pid = self._pid()
        if pid is not None:
            for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
                if sig is signal.SIGKILL:
                    log.warning("%s did not stop in %.1f s; killing it", self, timeout)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
                if _wait_until(lambda: not proc.alive(pid), wait):
                    break
        (self.datadir / PIDFILE).unlink(missing_ok=True)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.datadir, ignore_errors=True)

    # -- observation -------------------------------------------------------------------------------

    def status(self) -> RedisStatus:
        pid = self._pid()
        if pid is None:
            return RedisStatus(RedisState.STOPPED, None)
        try:
            with self.client() as conn:
                info: dict[str, Any] = conn.info("replication")
        except redis.RedisError:
            if not proc.alive(pid):
                return RedisStatus(RedisState.STOPPED, None)
            return RedisStatus(RedisState.UNRESPONSIVE, pid)
        role = str(info.get("role"))
        if role == "slave":
            up = info.get("master_link_status") == "up"
            down = 0 if up else None
            if not up and str(info.get("master_sync_in_progress")) == "0":
                seconds = _int(info.get("master_link_down_since_seconds"))
                down = seconds if seconds is not None and seconds >= 0 else None
            return RedisStatus(RedisState.RUNNING, pid, role, up, _int(info.get("slave_repl_offset")), down)
        return RedisStatus(RedisState.RUNNING, pid, role, None, _int(info.get("master_repl_offset")))

    def config(self) -> RedisConfig:
        """The configuration last written by configure() (or changed by config_set/replicaof)."""
        try:
            raw = json.loads((self.datadir / STATE).read_text())
        except FileNotFoundError as exc:
            raise RedisEngineError(f"{self.datadir} is not configured") from exc
        paths = {k: Path(raw[k]) if raw.get(k) else None for k in ("tls_cert", "tls_key", "tls_ca")}
        rep = raw.get("replicaof")
        return RedisConfig(raw["bind"], int(raw["port"]), dict(raw["settings"]),
                           raw.get("requirepass"), paths["tls_cert"], paths["tls_key"], paths["tls_ca"],
                           (str(rep[0]), int(rep[1])) if rep else None, raw.get("masterauth"))

    def client(self, timeout: float = 2.0) -> redis.Redis:
        """A redis-py client over TCP to the running server's bind:port, with the password and TLS
        as configured."""
        cfg = self.config()
        try:
            where = json.loads((self.datadir / LISTENER).read_text())
        except FileNotFoundError:  # never started by this adapter
            where = {"bind": cfg.bind, "port": cfg.port, "tls": cfg.tls, "verify": cfg.tls_ca is not None}
        kwargs: dict[str, Any] = {}
        if where["tls"]:
            verify = bool(where["verify"])
            kwargs = {"ssl": True, "ssl_check_hostname": False,  # the SAN names the endpoint, not bind
                      "ssl_cert_reqs": "required" if verify else "none",
                      "ssl_ca_certs": str(self.datadir / TLS_NAMES[2]) if verify else None}
        # No retries: redis-py's default (3, with backoff from 1 s) would make status() of a dead node
        # take seconds; the control plane decides when to try again.
        host = str(where["bind"]).split()[0]  # the node's own address when it also binds an endpoint
        return redis.Redis(host=host, port=int(where["port"]), password=cfg.requirepass,
                           socket_timeout=timeout, socket_connect_timeout=timeout,
                           retry=Retry(NoBackoff(), 0), decode_responses=True, **kwargs)

    # -- live changes ------------------------------------------------------------------------------

    def config_set(self, settings: dict[str, str]) -> list[str]:
        """CONFIG SET each directive on the running node and keep it in redis.conf. Returns the names
        Redis cannot change live (they apply at the next start); InvalidSettings for rejected values,
        which are then not written. On a stopped node everything is written and applies at start."""
        cfg = self.config()
        owned = sorted(n for n in settings if n.lower() in OWNED)
        if owned:
            raise InvalidSettings({n: "managed by Kura, not settable" for n in owned})
        pending: list[str] = []
        if self._pid() is not None:
            pending = self._config_set_live(settings)
        self._save(_replace(cfg, settings={**cfg.settings, **settings}))
        return pending

    def replicaof(self, host: str, port: int) -> None:
        """Follow the primary at host:port (kept in redis.conf, so a restart stays a replica)."""
        cfg = _replace(self.config(), replicaof=(host, port))
        if self._pid() is not None:
            with self.client() as conn:
                if cfg.masterauth:
                    conn.config_set("masterauth", cfg.masterauth)
                conn.replicaof(host, port)
        self._save(cfg)

    def promote(self) -> None:
        """REPLICAOF NO ONE: become a primary, keeping the data set."""
        cfg = _replace(self.config(), replicaof=None)
        if self._pid() is not None:
            with self.client() as conn:
                conn.replicaof("NO", "ONE")
        self._save(cfg)

    # -- snapshots ---------------------------------------------------------------------------------

    def snapshot(self, dest: Path, timeout: float = 60.0) -> int:
        """BGSAVE, wait for that save to finish, copy dump.rdb to `dest` (atomically); its size."""
        if self._pid() is None:
            raise NotRunning(f"{self} is not running")
        deadline = time.monotonic() + timeout
        with self.client(timeout=max(2.0, min(timeout, 10.0))) as conn:
            self._bgsave(conn, deadline)
            # BGSAVE forks before it answers, so from here on "in progress" means our save.
            if not _wait_until(lambda: not _int(conn.info("persistence").get("rdb_bgsave_in_progress")),
                               max(0.0, deadline - time.monotonic())):
                raise SnapshotError(f"BGSAVE of {self} did not finish in {timeout:.0f} s")
            if conn.info("persistence").get("rdb_last_bgsave_status") != "ok":
                raise SnapshotError(f"BGSAVE of {self} failed: {self._log_tail()}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.copyfile(self.datadir / DUMP, tmp)
        os.replace(tmp, dest)
        return dest.stat().st_size

    def restore(self, rdb: Path) -> None:
        """Make `rdb` the node's data set, loaded at its next start (the node must be stopped)."""
        if self._pid() is not None:
            raise RedisEngineError(f"{self} is running: stop it before restoring a snapshot")
        osuser.private_dir(self.datadir, self.run_as)
        self._copy_in(rdb, self.datadir / DUMP)
        shutil.rmtree(self.datadir / "appendonlydir", ignore_errors=True)  # AOF would win over the RDB

    # -- internals ---------------------------------------------------------------------------------

    def _pid(self) -> int | None:
        return proc.server_pid(self.datadir, self.datadir / PIDFILE)

    def _spawn(self) -> int:
        """Launch redis-server detached: sh backgrounds it, prints its pid and exits (we reap sh)."""
        script = '"$0" "$1" </dev/null >>"$2" 2>&1 & echo $!'
        done = osuser.run(["/bin/sh", "-c", script, self.engine.server, self.datadir / CONF,
                           self.datadir / STARTUP_LOG], self.run_as, timeout=30, new_session=True,
                          cwd=self.datadir)
        if done.returncode != 0 or not done.stdout.strip().isdigit():
            raise StartError(f"cannot launch redis-server for {self.datadir}: {done.stderr.strip()}")
        return int(done.stdout.strip())

    def _wait_ready(self, pid: int, deadline: float) -> None:
        conn = self.client(timeout=0.5)
        try:
            while time.monotonic() < deadline:
                with contextlib.suppress(redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                    if conn.ping():
                        return
                if not proc.alive(pid):
                    raise StartError(f"Redis {self.engine.version} in {self.datadir} exited during "
                                     f"startup: {self._log_tail()}")
                time.sleep(_POLL)
        finally:
            conn.close()
        raise StartError(f"Redis in {self.datadir} did not answer in time: {self._log_tail()}")

    def _apply_live(self, old: RedisConfig, new: RedisConfig) -> list[str]:
        pending = [f for f in _RESTART_FIELDS if getattr(old, f) != getattr(new, f)]
        changed = {k: v for k, v in new.settings.items() if old.settings.get(k) != v}
        # A dropped setting goes back to its default live only for Kura's own defaults; the others
        # keep their value until the restart that reads the new redis.conf.
        dropped = set(old.settings) - set(new.settings)
        changed.update({k: v for k, v in _LIVE_DEFAULTS.items() if k in dropped})
        pending += self._config_set_live(changed)
        with self.client() as conn:
            if new.masterauth != old.masterauth:
                conn.config_set("masterauth", new.masterauth or "")
            if new.replicaof != old.replicaof:
                conn.replicaof(*(new.replicaof or ("NO", "ONE")))
            if new.requirepass != old.requirepass:  # last: it changes what this client must send
                conn.config_set("requirepass", new.requirepass or "")
        return sorted(set(pending))

    def _config_set_live(self, settings: dict[str, str]) -> list[str]:
        pending: list[str] = []
        errors: dict[str, str] = {}
        with self.client() as conn:
            for name, value in settings.items():
                try:
                    conn.config_set(name, value)
                except redis.ResponseError as exc:
                    if "immutable config" in str(exc) or "can't set" in str(exc):
                        pending.append(name)
                    else:
                        errors[name] = str(exc).split(" - ", 1)[-1]
        if errors:
            raise InvalidSettings(errors)
        return pending

    def _bgsave(self, conn: redis.Redis, deadline: float) -> None:
        while True:
            try:
                conn.bgsave()
                return
            except redis.ResponseError as exc:  # another save (or an AOF rewrite) runs: wait for it
                if "in progress" not in str(exc) or time.monotonic() > deadline:
                    raise SnapshotError(f"BGSAVE of {self} failed: {exc}") from exc
                time.sleep(0.05)

    def _save(self, config: RedisConfig) -> None:
        state = {"bind": config.bind, "port": config.port, "settings": config.settings,
                 "requirepass": config.requirepass, "masterauth": config.masterauth,
                 "replicaof": list(config.replicaof) if config.replicaof else None,
                 **{k: str(getattr(config, k)) if getattr(config, k) else None
                    for k in ("tls_cert", "tls_key", "tls_ca")}}
        self._write(self.datadir / STATE, json.dumps(state, indent=1))
        self._write(self.datadir / CONF, render_conf(config, self.datadir))

    def _install_tls(self, config: RedisConfig) -> None:
        """Copies of the certificate files in the data directory, readable by the engine user."""
        if not config.tls:
            return
        for src, name in zip((config.tls_cert, config.tls_key, config.tls_ca), TLS_NAMES, strict=True):
            if src is not None:
                self._copy_in(Path(src), self.datadir / name)

    def _copy_in(self, src: Path, dest: Path) -> None:
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.copyfile(src, tmp)
        tmp.chmod(0o600)
        if self.run_as is not None:
            os.chown(tmp, self.run_as.uid, self.run_as.gid)
        os.replace(tmp, dest)

    def _write(self, path: Path, text: str) -> None:
        """Replace a file atomically, 0600, owned by the engine user."""
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        if self.run_as is not None:
            os.chown(tmp, self.run_as.uid, self.run_as.gid)
        os.replace(tmp, path)

    def _log_tail(self, lines: int = 15) -> str:
        text = ""
        for name in (STARTUP_LOG, LOGFILE):
            with contextlib.suppress(FileNotFoundError):
                text += (self.datadir / name).read_text(errors="replace")
        return "\n".join(text.strip().splitlines()[-lines:]) or "(no log output)"


def _replace(cfg: RedisConfig, **changes: Any) -> RedisConfig:
    return dataclasses.replace(cfg, **changes)


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _wait_until(predicate: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(_POLL)
    return bool(predicate())
