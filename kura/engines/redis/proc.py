"""redis-server liveness from its pid file and /proc — never from `kill -0` alone.

The server is started detached (its parent becomes PID 1) so it outlives Kura; on hosts whose PID 1
does not reap, a dead one stays a zombie that `kill -0` calls alive. A pid is only our server if the
process is a live redis-server whose working directory is the node's data directory (redis chdirs to
`dir`), which also guards against a reused pid.
"""

from __future__ import annotations

import os
from pathlib import Path

from kura.engines.postgres.pgproc import alive, proc_state

__all__ = ["alive", "proc_state", "read_pid", "server_pid"]


def read_pid(pidfile: Path) -> int | None:
    try:
        text = pidfile.read_text().strip()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    return int(text) if text.isdigit() else None


def is_server(pid: int, datadir: Path) -> bool:
    """`pid` is a live redis-server serving `datadir`."""
    if not alive(pid):
        return False
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    if not comm.startswith("redis-server"):
        return False
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")) == datadir.resolve()
    except (FileNotFoundError, ProcessLookupError):
        return False
    except PermissionError:  # another user's process and we are not root: trust the name
        return True


def server_pid(datadir: Path, pidfile: Path) -> int | None:
    """The pid of the live redis-server of `datadir`, or None."""
    pid = read_pid(pidfile)
    return pid if pid is not None and is_server(pid, datadir) else None
