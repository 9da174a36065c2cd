"""The unprivileged OS user engine processes run as when Kura runs as root.

PostgreSQL refuses to run as root, and a database server should not hold root's powers anyway. When
Kura is not root, engines simply run as Kura's own user (`engine_user()` returns None).
"""

from __future__ import annotations

import logging
import os
import pwd
import stat
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ENGINE_USER = "kura-engine"
# Engine processes never inherit Kura's environment (it may hold AWS or KMS secrets).
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


class OsUserError(Exception):
    """The engine user cannot be created, or cannot reach a path it needs."""


@dataclass(frozen=True, slots=True)
class OsUser:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...] = ()

    def popen_kwargs(self) -> dict[str, Any]:
        """subprocess keyword arguments that drop to this user in the child (setpriv's --init-groups)."""
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups)}


def _lookup(name: str) -> OsUser | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    groups = tuple(g for g in os.getgrouplist(name, entry.pw_gid) if g != entry.pw_gid)
    return OsUser(name, entry.pw_uid, entry.pw_gid, groups)


def ensure_user(name: str = ENGINE_USER) -> OsUser:
    """The system user `name`, created (no home, no login shell) if missing. Needs root to create."""
    found = _lookup(name)
    if found is not None:
        return found
    cmd = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
           "--shell", "/usr/sbin/nologin", "--comment", "Kura database engines", name]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise OsUserError(f"cannot create the engine user {name}: useradd is not installed") from exc
    found = _lookup(name)  # a concurrent Kura may have created it first: that is fine
    if found is None:
        raise OsUserError(f"cannot create the engine user {name}: {done.stderr.strip() or done.returncode}")
    log.info("created system user %s (uid %d) for database engine processes", name, found.uid)
    return found


def engine_user(name: str = ENGINE_USER) -> OsUser | None:
    """Who engine processes run as: None (ourselves) unless we are root."""
    return ensure_user(name) if os.geteuid() == 0 else None


def run(cmd: Sequence[str | Path], run_as: OsUser | None, *, env: Mapping[str, str] | None = None,
        input: str | None = None, timeout: float | None = None, cwd: Path | str = "/",
        new_session: bool = False) -> subprocess.CompletedProcess[str]:
    """Run a command to completion (so it is reaped) as `run_as`, with a clean environment.

    `new_session` detaches it (and whatever it leaves running) from our session and terminal.
    """
    kwargs = run_as.popen_kwargs() if run_as else {}
    return subprocess.run([str(c) for c in cmd], env={**BASE_ENV, **(env or {})}, input=input,
                          capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False,
                          start_new_session=new_session, **kwargs)


def chown_tree(path: Path, user: OsUser | None) -> None:
    """Give a tree to `user` (no-op when engines run as ourselves)."""
    if user is None:
        return
    os.chown(path, user.uid, user.gid, follow_symlinks=False)
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            os.chown(os.path.join(root, name), user.uid, user.gid, follow_symlinks=False)


def private_dir(path: Path, user: OsUser | None) -> Path:
    """Create (if needed) a 0700 directory owned by `user` — data, socket and log directories."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    if user is not None:
        os.chown(path, user.uid, user.gid)
    return path


def _can_search(st: os.stat_result, user: OsUser) -> bool:
    if st.st_uid == user.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == user.gid or st.st_gid in user.groups:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def grant_traverse(path: Path, user: OsUser | None) -> list[Path]:
    """Let `user` reach `path`: add search (o+x, never read) to each ancestor that blocks it.

    A root-run Kura keeps its home under 0700 directories (/root, pytest's temp dirs); the engine user
    needs to pass through them to its own 0700 data, socket and log directories and to the engine's
    binaries. Returns the directories changed (logged), [] when nothing blocked.
    """
    if user is None:
        return []
    changed: list[Path] = []
    for parent in reversed(path.absolute().parents):
        st = parent.stat()
        if not _can_search(st, user):
            parent.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
            changed.append(parent)
            log.info("granted search permission (o+x) on %s so that %s can reach %s", parent,
                     user.name, path)
    return changed
