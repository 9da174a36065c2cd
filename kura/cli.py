"""`kura` — run and inspect a Kura installation.

    kura up [--home DIR] [--host H] [--port N] [--detach] [--auth sigv4|any] [--acu-memory M] [--acu-cpu C]
    kura down [--home DIR] [--all]
    kura status [--home DIR]
    kura env [--home DIR]
    kura ca-bundle [--home DIR]
    kura engines [list | install MAJOR [--target DIR]]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from rich.console import Console
from rich.table import Table

from kura import cli_engines, cli_tls
from kura.config import DEFAULT_HOST, DEFAULT_PORT, AuthMode, Paths, Settings, default_home, parse_bytes

out = Console()
err = Console(stderr=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kura", description="Self-hosted managed PostgreSQL and Redis "
                                "that speak the AWS APIs (RDS, ElastiCache, Secrets Manager, KMS, …).")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    home_help = "Kura's home directory (default $KURA_HOME or ~/.local/share/kura)"

    up = sub.add_parser("up", help="start Kura (foreground unless --detach)",
                        description="Start the API and control plane for a home. Database processes "
                        "that are already running are adopted.")
    up.add_argument("--home", type=Path, default=None, help=home_help)
    up.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    up.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    up.add_argument("--detach", action="store_true",
                    help="run in the background; return once the API answers")
    up.add_argument("--auth", choices=[m.value for m in AuthMode], default=AuthMode.SIGV4.value,
                    help="sigv4 (default) verifies every request; any accepts unsigned requests "
                    "(throwaway test setups only)")
    up.add_argument("--acu-memory", default=None, help="memory of one Aurora capacity unit for "
                    "db.serverless (default $KURA_ACU_MEMORY or 2GiB)")
    up.add_argument("--acu-cpu", type=float, default=None, help="CPU cores of one Aurora capacity unit "
                    "(default $KURA_ACU_CPU or 0.5)")

    down = sub.add_parser("down", help="stop Kura", description="Stop the API/control process. Database "
                          "processes keep running (adopted by the next `kura up`) unless --all.")
    down.add_argument("--home", type=Path, default=None, help=home_help)
    down.add_argument("--all", action="store_true", help="stop the database processes too")

    status = sub.add_parser("status", help="what runs, where, and its health")
    status.add_argument("--home", type=Path, default=None, help=home_help)

    cli_tls.add_parser(sub, home_help)
    cli_engines.add_parser(sub, home_help)

    env = sub.add_parser("env", help="print export lines for the AWS CLI and SDKs",
                         description='Print shell export lines: eval "$(kura env)"')
    env.add_argument("--home", type=Path, default=None, help=home_help)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    home: Path = (args.home or default_home()).expanduser().resolve()
    handler = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "env": cmd_env,
               "ca-bundle": cli_tls.cmd_ca_bundle, "engines": cli_engines.cmd_engines}[args.command]
    return handler(args, home)


def cmd_up(args: argparse.Namespace, home: Path) -> int:
    from kura import server

    settings = Settings(home=home, host=args.host, port=args.port, auth=AuthMode(args.auth))
    try:
        if args.acu_memory is not None:
            settings = dataclasses.replace(settings, acu_memory=parse_bytes(args.acu_memory))
        if args.acu_cpu is not None:
            if not 0 < args.acu_cpu <= 64:
                raise ValueError(f"--acu-cpu {args.acu_cpu}: between 0 and 64 cores")
            settings = dataclasses.replace(settings, acu_cpu=args.acu_cpu)
    except ValueError as exc:
        err.print(f"[red]{exc}[/]")
        return 2
    settings.paths.ensure()
    if server.is_running(settings.paths):
        info = server.read_runtime(settings.paths)
        err.print(f"[yellow]Kura is already running[/] for {home} at {info.get('endpoint', '?')} "
                  f"(pid {info.get('pid', '?')}).")
        return 1
    if args.detach:
        return _detach(args, settings)
    logging.basicConfig(level=os.environ.get("KURA_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        server.serve(settings)
    except server.AlreadyRunning as exc:
        err.print(f"[yellow]Kura is already running[/] for {home} at {exc}.")
        return 1
    return 0


def _detach(args: argparse.Namespace, settings: Settings) -> int:
    paths = settings.paths
    log_path = paths.logs / "kura.log"
    cmd = [sys.executable, "-m", "kura", "up", "--home", str(paths.home), "--host", settings.host,
           "--port", str(settings.port), "--auth", settings.auth.value,
           "--acu-memory", str(settings.acu_memory), "--acu-cpu", str(settings.acu_cpu)]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err.print(f"[red]Kura did not start[/] (exit {proc.returncode}); the end of {log_path}:")
            err.print(_tail(log_path))
            return 1
        if _health(settings.endpoint_url):
            out.print(f"Kura is up at [bold]{settings.endpoint_url}[/] (pid {proc.pid}, home {paths.home}).")
            out.print('Next: eval "$(kura env)"')
            return 0
        time.sleep(0.1)
    err.print(f"[red]Kura did not answer within 30 s[/]; see {log_path}")
    return 1


def cmd_down(args: argparse.Namespace, home: Path) -> int:
    from kura import server

    paths = Paths(home)
    info = server.read_runtime(paths)
    pid = info.get("pid")
    if not server.is_running(paths) or not isinstance(pid, int):
        out.print(f"Kura is not running for {home}.")
        return 0
    if args.all:
        server.stop_all_marker(paths).touch()
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not server.is_running(paths):
            out.print(f"Kura stopped (pid {pid})" + (" with its database processes." if args.all else "."))
            return 0
        time.sleep(0.1)
    err.print(f"[red]Kura (pid {pid}) did not stop within 30 s.[/]")
    return 1


def cmd_status(args: argparse.Namespace, home: Path) -> int:
    from kura import server

    paths = Paths(home)
    if not server.is_running(paths):
        out.print(f"Kura is [bold red]not running[/] for {home}.")
        return 3
    info = server.read_runtime(paths)
    endpoint = str(info.get("endpoint", ""))
    healthy = _health(endpoint)
    table = Table(title=f"Kura at {home}", show_header=False)
    table.add_row("API", f"{endpoint} ({'healthy' if healthy else '[red]not answering[/]'})")
    table.add_row("pid", str(info.get("pid")))
    started = info.get("started_at")
    if isinstance(started, (int, float)):
        table.add_row("uptime", f"{time.time() - started:.0f} s")
    for kind, count in _resource_counts(paths).items():
        table.add_row(kind, str(count))
    out.print(table)
    instances = _instances(paths)
    if instances:
        inst_table = Table(title="DB instances")
        for column in ("region", "identifier", "status", "endpoint", "engine", "capacity"):
            inst_table.add_column(column)
        for row in instances:
            inst_table.add_row(*row)
        out.print(inst_table)
    _router_status(paths)
    return 0 if healthy else 1


def _router_status(paths: Paths) -> None:
    """The endpoint router (Multi-AZ endpoints): its pid and connection counts per endpoint."""
    from kura.net.router.control import RouterControl

    router = RouterControl(paths.home / "router")
    pid = router.pid()
    if pid is None:
        return
    table = Table(title=f"Endpoint router (pid {pid})")
    columns = ("open", "active", "total", "steered", "held", "held_total", "dropped")
    for column in ("endpoint", *columns):
        table.add_column(column)
    for name, counts in sorted(router.stats().items()):
        table.add_row(name, *(str(counts.get(c, 0)) for c in columns))
    out.print(table)


def _capacity(status: dict[str, object]) -> str:
    """A Serverless v2 member's capacity, its ACUUtilization and whether a control group enforces it."""
    found = status.get("serverless")
    if not isinstance(found, dict) or not found.get("capacity"):
        return "paused" if isinstance(found, dict) and found.get("paused") else "-"
    capacity, high = float(found["capacity"]), float(found.get("max") or 0)
    share = f", {100 * capacity / high:.0f}% of max" if high else ""
    enforced = str(found.get("enforced", ""))
    how = f"cgroup {enforced}" if enforced in ("v1", "v2") else \
        f"not enforced ({enforced.removeprefix('no: ')})"
    return f"{capacity:g} ACU{share}, {how}"


def _instances(paths: Paths) -> list[tuple[str, str, str, str, str, str]]:
    """What the control plane last observed of each DB instance (read-only look at the store)."""
    import sqlite3

    if not paths.state_db.exists():
        return []
    conn = sqlite3.connect(f"file:{paths.state_db}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute("SELECT region, id, status FROM resources WHERE kind='rds.db-instance' "
                            "ORDER BY region, id").fetchall()
    except sqlite3.Error:
        return []
    finally:
        conn.close()
    result = []
    for region, ident, status_json in rows:
        status = json.loads(status_json)
        endpoint = f"{status['address']}:{status['port']}" if status.get("address") else "-"
        engine = f"postgres {status['engine_version']}" if status.get("engine_version") else "-"
        result.append((str(region), str(ident), str(status.get("state", "creating")), endpoint, engine,
                       _capacity(status)))
    return result


def _resource_counts(paths: Paths) -> dict[str, int]:
    import sqlite3

    if not paths.state_db.exists():
        return {}
    conn = sqlite3.connect(f"file:{paths.state_db}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute("SELECT kind, count(*) FROM resources GROUP BY kind ORDER BY kind").fetchall()
    except sqlite3.Error:
        return {}
    finally:
        conn.close()
    return {str(k): int(n) for k, n in rows}


def cmd_env(args: argparse.Namespace, home: Path) -> int:
    from kura import server
    from kura.api.credentials import load_or_create

    paths = Paths(home)
    paths.ensure()
    creds = load_or_create(paths.credentials)
    endpoint = str(server.read_runtime(paths).get("endpoint") or Settings(home=home).endpoint_url)
    region = os.environ.get("AWS_DEFAULT_REGION") or Settings(home=home).default_region
    lines = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": creds.access_key_id,
        "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }
    for key, value in lines.items():
        print(f"export {key}={shlex.quote(value)}")
    # `aws` then means the AWS CLI beside Kura (the virtualenv's), which honours AWS_ENDPOINT_URL; an
    # older one first on PATH (Debian's 2.9) would send the calls to AWS itself.
    bindir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if (Path(bindir) / "aws").exists() and path.split(":")[0] != bindir:
        print(f'export PATH={shlex.quote(bindir)}:"$PATH"')
    return 0


def _health(endpoint: str) -> bool:
    if not endpoint:
        return False
    try:
        with urllib.request.urlopen(f"{endpoint}/_kura/health", timeout=1) as resp:
            return bool(json.load(resp).get("status") == "ok")
    except (OSError, ValueError):
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
