"""`kura ca-bundle`: print the installation's CA bundle, for `sslmode=verify-full sslrootcert=…`.

    kura ca-bundle [--home DIR] > kura-ca.pem
    psql "host=<Endpoint.Address> port=5432 sslmode=verify-full sslrootcert=kura-ca.pem …"

The CAs are made on first need, so this works before `kura up` ever ran.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kura.config import Paths, default_home

HELP = "print the CA bundle clients verify endpoints with (sslmode=verify-full)"
DESCRIPTION = ("Print the PEM bundle of this installation's root CAs (one per RDS CA identifier) to "
               "stdout: kura ca-bundle > kura-ca.pem, then psql \"sslmode=verify-full "
               "sslrootcert=kura-ca.pem host=<endpoint address> …\".")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], home_help: str) -> None:
    """Register `ca-bundle` on the main parser's subcommands."""
    p = sub.add_parser("ca-bundle", help=HELP, description=DESCRIPTION)
    p.add_argument("--home", type=Path, default=None, help=home_help)


def cmd_ca_bundle(args: argparse.Namespace, home: Path) -> int:
    from kura.net import tls

    paths = Paths(home)
    paths.ensure()
    sys.stdout.write(tls.bundle_pem(paths))
    sys.stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (`python -m kura.cli_tls`), the same as `kura ca-bundle`."""
    parser = argparse.ArgumentParser(prog="kura ca-bundle", description=DESCRIPTION)
    parser.add_argument("--home", type=Path, default=None, help="Kura's home directory")
    args = parser.parse_args(argv)
    home: Path = (args.home or default_home()).expanduser().resolve()
    return cmd_ca_bundle(args, home)


if __name__ == "__main__":
    sys.exit(main())
