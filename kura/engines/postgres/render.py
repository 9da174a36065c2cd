"""Rendering a NodeConfig into `kura.conf` (included by the template's postgresql.conf) and `pg_hba.conf`.

Pure functions. Kura's own settings (addresses, sockets, logging pipeline, TLS files) come after the
parameter group's and win; parameter group values for them are dropped. RDS-only parameters are kept
as placeholders (so `SHOW rds.force_ssl` answers as on RDS) and translated: `rds.force_ssl=1` makes every
TCP rule `hostssl`, `rds.logical_replication=1` sets `wal_level = logical`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kura.engines.postgres.templates import SUPERUSER
from kura.engines.postgres.types import HbaRule, NodeConfig

# Set by Kura itself; a parameter group cannot override them.
OWN_SETTINGS = frozenset({
    "listen_addresses", "port", "unix_socket_directories", "unix_socket_permissions",
    "unix_socket_group", "logging_collector", "log_directory", "ssl", "ssl_cert_file", "ssl_key_file",
    "ssl_ca_file", "data_directory", "hba_file", "ident_file", "config_file", "external_pid_file",
    "password_encryption",
})
LOG_FILENAME = "postgresql.log.%Y-%m-%d-%H"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_HBA_KINDS = ("local", "host", "hostssl", "hostnossl")
_HBA_METHODS = ("scram-sha-256", "trust", "reject", "peer")
_HBA_ADDRESS = re.compile(r"^(all|samehost|samenet|[0-9A-Fa-f.:]+(/\d{1,3})?)$")
_TRUE = ("1", "on", "true", "yes")


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert: Path
    key: Path
    ca: Path | None


def is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() in _TRUE


def quote(value: str) -> str:
    """A postgresql.conf string literal (always quoted: PostgreSQL accepts quoted numbers and booleans)."""
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError("configuration values cannot contain line breaks")
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"invalid configuration parameter name {name!r}")
    return name


def effective_settings(settings: Mapping[str, str]) -> dict[str, str]:
    """The parameter group's settings minus Kura's own, plus what the rds.* parameters imply."""
    out = {check_name(k): v for k, v in settings.items() if k.lower() not in OWN_SETTINGS}
    if is_true(out.get("rds.logical_replication")):
        out["wal_level"] = "logical"
    return out


def render_conf(config: NodeConfig, *, socket_dir: Path, log_dir: Path, tls: TlsFiles | None,
                cluster_name: str) -> str:
    settings = effective_settings(config.settings)
    settings.setdefault("cluster_name", cluster_name)
    settings.setdefault("log_filename", LOG_FILENAME)
    own = {
        "listen_addresses": config.listen_address,
        "port": str(config.port),
        "unix_socket_directories": str(socket_dir),
        "unix_socket_permissions": "0700",
        "logging_collector": "on",
        "log_directory": str(log_dir),
        "password_encryption": "scram-sha-256",
        "ssl": "on" if tls else "off",
    }
    if tls:
        own |= {"ssl_cert_file": str(tls.cert), "ssl_key_file": str(tls.key),
                "ssl_ca_file": str(tls.ca) if tls.ca else ""}
    lines = ["# Written by Kura on every configuration change; edits here are lost.",
             "# Parameter group"]
    lines += [f"{name} = {quote(value)}" for name, value in sorted(settings.items())]
    lines.append("# Kura's own (after the parameter group: these win)")
    lines += [f"{name} = {quote(value)}" for name, value in own.items()]
    return "\n".join(lines) + "\n"


def _hba_field(value: str) -> str:
    if not value or any(c in value for c in "\"\n\r\0"):
        raise ValueError(f"invalid pg_hba.conf field {value!r}")
    return value if re.match(r"^[A-Za-z0-9_.@-]+$", value) else f'"{value}"'


def render_hba(rules: tuple[HbaRule, ...], *, force_ssl: bool) -> str:
    """pg_hba.conf: Kura's own trust line on the private (0700) socket first, then the rules."""
    lines = ["# Written by Kura on every configuration change; edits here are lost.",
             f"local   all          {SUPERUSER}  trust",
             f"local   replication  {SUPERUSER}  trust"]
    for rule in rules:
        if rule.kind not in _HBA_KINDS or rule.method not in _HBA_METHODS:
            raise ValueError(f"unsupported pg_hba rule {rule}")
        kind = rule.kind
        if force_ssl and kind in ("host", "hostnossl"):
            if kind == "hostnossl" and rule.method != "reject":
                continue  # rds.force_ssl=1: no plaintext door stays open
            kind = "hostssl" if kind == "host" else kind
        fields = [kind, _hba_field(rule.database), _hba_field(rule.user)]
        if kind != "local":
            if not _HBA_ADDRESS.match(rule.address):
                raise ValueError(f"invalid pg_hba address {rule.address!r}")
            fields.append(rule.address)
        fields.append(rule.method)
        lines.append("  ".join(fields))
    return "\n".join(lines) + "\n"
