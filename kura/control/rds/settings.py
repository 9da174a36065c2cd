"""Instance class + parameter group + engine catalogue → the settings and hba rules a node runs with.

Pure but for `host_memory()`. What goes into the node's configuration is deliberately short:
- every parameter for which the catalogue has an RDS default (its `default` is set: RDS's own values
  such as shared_preload_libraries=pg_stat_statements, and the memory formulas), formulas resolved
  with the class memory *capped to a share of this host* (`effective_memory`);
- the values the user set in the instance's parameter group, verbatim (formulas resolved).
Everything else keeps PostgreSQL's own default, which is what the catalogue shows for it anyway.
The node drops what Kura owns (addresses, sockets, TLS files, logging pipeline) and translates the
rds.* parameters (rds.force_ssl → hostssl-only hba, rds.logical_replication → wal_level).

Memory cap rule: DBInstanceClassMemory = min(class memory, host memory / HOST_SHARE) with HOST_SHARE
16 (24 GiB host → 1.5 GiB: shared_buffers 384 MiB, max_connections 168). Fifty instances whose
buffer pools were all fully warm would then use 50 × 384 MiB ≈ 19 GiB; idle ones touch almost none
of it. KURA_INSTANCE_MEMORY_BYTES overrides the cap. DBInstanceVCPU is capped to this host's CPUs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kura.engines.postgres import rds_params
from kura.engines.postgres.formulas import is_formula, resolve_formula
from kura.engines.postgres.templates import SUPERUSER
from kura.engines.postgres.types import HbaRule, NodeConfig
from kura.services.rds import classes

HOST_SHARE = 16
MEMORY_ENV = "KURA_INSTANCE_MEMORY_BYTES"
MIN_MEMORY = 256 * 1024 * 1024
FORCE_SSL = "rds.force_ssl"
FENCE = "default_transaction_read_only"  # storage-full: see storage.py


@dataclass(frozen=True, slots=True)
class Desired:
    """The parameters an instance should run with, and which of them may change without a restart."""

    values: dict[str, str]  # GUC (or rds.* pseudo-parameter) → value, formulas resolved
    immediate: frozenset[str]  # a change of these is applied by a reload
    group: str


@dataclass(frozen=True, slots=True)
class Changes:
    """The difference between what runs and what is desired; None as a value: back to the default."""

    now: dict[str, str | None]  # applied at once (reload)
    deferred: dict[str, str | None]  # wait for a reboot (static, or ApplyMethod pending-reboot)


# -- memory -------------------------------------------------------------------------------------------

def _cgroup_limit() -> int | None:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:  # v1 says "no limit" with a huge number
            return int(text)
    return None


def host_memory() -> int:
    """Physical memory, or the cgroup's limit when Kura runs in a smaller container."""
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    limit = _cgroup_limit()
    return min(physical, limit) if limit else physical


@dataclass(frozen=True, slots=True)
class Sizing:
    """What the formulas see of an instance: DBInstanceClassMemory and friends."""

    memory: int  # bytes, capped to this host's share
    vcpus: int
    allocated_gib: int
    port: int

    def variables(self) -> dict[str, int]:
        return {"DBInstanceVCPU": self.vcpus, "AllocatedStorage": self.allocated_gib,
                "EndPointPort": self.port, "DBInstanceClassMemoryGiB": self.memory // classes.GIB}


def live_sizing(capacity: float, memory_per_acu: int, cpus_per_acu: float, host_bytes: int,
                base: Sizing) -> Sizing:
    """A Serverless v2 member at its current capacity: the memory its control group allows (not capped
    to a host share — the group enforces it — but to the host), the cores of its CPU quota."""
    memory = max(MIN_MEMORY, min(int(capacity * memory_per_acu), host_bytes))
    vcpus = max(1, min(math.ceil(capacity * cpus_per_acu), os.cpu_count() or 1))
    return Sizing(memory, vcpus, base.allocated_gib, base.port)


def sizing(instance_class: str, host_bytes: int, *, allocated_gib: int = 20, port: int = 5432,
           capacity_acu: float | None = None) -> Sizing:
    """The class's memory and vCPUs, capped to what this host can give one instance. db.serverless is
    sized at `capacity_acu` (its cluster's maximum capacity, what Aurora sizes its settings for)."""
    found = classes.serverless(capacity_acu) if capacity_acu else classes.lookup(instance_class)
    nominal = found.memory_bytes if found else classes.GIB
    override = os.environ.get(MEMORY_ENV, "")
    cap = int(override) if override.isdigit() else host_bytes // HOST_SHARE
    vcpus = min(found.vcpus if found else 2, os.cpu_count() or 1)
    return Sizing(max(MIN_MEMORY, min(nominal, cap)), vcpus, allocated_gib, port)


_MEMORY_UNITS = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
SHARED_MEMORY_LIMIT = 0.9  # of the class's memory, as RDS checks it at start


def memory_bytes(value: str, base_unit: int) -> int | None:
    """A memory setting as PostgreSQL reads it ("131072" in its base unit, or "1GB"); None if unreadable."""
    text = value.strip().strip("'")
    number = text.rstrip("BkMGT")
    unit = text[len(number):].strip()
    try:
        amount = float(number)
    except ValueError:
        return None
    if not unit:
        return int(amount * base_unit)
    return int(amount * _MEMORY_UNITS[unit]) if unit in _MEMORY_UNITS else None


def memory_problem(values: Mapping[str, str], instance_class: str) -> str | None:
    """Why the instance class cannot run these settings (RDS's incompatible-parameters), or None.

    Checked against the class's real memory, not Kura's capped share: what RDS accepts, Kura runs.
    """
    found = classes.lookup(instance_class)
    raw = values.get("shared_buffers")
    buffers = memory_bytes(raw, 8192) if raw else None
    if found is None or buffers is None or buffers <= SHARED_MEMORY_LIMIT * found.memory_bytes:
        return None
    return (f"shared_buffers {raw} ({buffers / classes.GIB:.1f} GiB) exceeds "
            f"{SHARED_MEMORY_LIMIT:.0%} of the {found.memory_gib:g} GiB of memory of {instance_class}")


# -- desired parameters -------------------------------------------------------------------------------

def _resolve(value: str, size: Sizing) -> str:
    return resolve_formula(value, size.memory, size.variables()) if is_formula(value) else value


def _user_settable(name: str, info: Mapping[str, Any] | None) -> bool:
    if info is None:
        return False  # unknown to the engine: the API refuses it; never rendered
    return info.get("is_modifiable", True) is not False


def desired(catalogue: Mapping[str, Mapping[str, Any]], group: str,
            user: Mapping[str, Mapping[str, Any]], size: Sizing, major: int,
            live: Sizing | None = None) -> Desired:
    """Resolve the parameters of one instance.

    `catalogue`: the engine's parameters by name (kura/catalog.py ParameterInfo); `user`: the group's
    `Parameters` ({name: {"ParameterValue", "ApplyMethod"}}), empty for a default group. `live`: a
    Serverless v2 member's current capacity: the formulas of the parameters a reload changes follow it,
    the others stay sized for `size` (its maximum capacity), as on Aurora.
    """
    defaults = {n: str(i["default"]) for n, i in catalogue.items() if i.get("default") is not None}
    if not catalogue:  # nothing published yet: RDS's defaults as the engine layer knows them
        defaults = {n: v for n in (*rds_params.RDS_DEFAULTS, *rds_params.RDS_ONLY)
                    if (v := rds_params.rds_default(n, major)) is not None}
    dynamic = {n for n, i in catalogue.items() if i.get("apply_type") == "dynamic"}

    def sized(name: str) -> Sizing:
        return live if live is not None and name in dynamic else size

    values = {name: _resolve(value, sized(name)) for name, value in defaults.items()}
    pending_reboot: set[str] = set()
    for name, entry in user.items():
        raw = entry.get("ParameterValue")
        if raw is None or not _user_settable(name, catalogue.get(name)):
            continue
        if entry.get("ApplyMethod") == "pending-reboot":
            pending_reboot.add(name)
        values[name] = _resolve(str(raw), size if name in pending_reboot else sized(name))
    return Desired(values, frozenset(dynamic - pending_reboot), group)


def changes(applied: Mapping[str, str], want: Desired, *, same_group: bool) -> Changes:
    """Split what differs into what a reload applies now and what waits for a reboot.

    A parameter group switched on the instance applies as a whole at the next reboot (as on RDS).
    """
    now: dict[str, str | None] = {}
    deferred: dict[str, str | None] = {}
    for name in sorted(set(applied) | set(want.values)):
        value = want.values.get(name)
        if applied.get(name) == value:
            continue
        (now if same_group and name in want.immediate else deferred)[name] = value
    return Changes(now, deferred)


def merged(applied: Mapping[str, str], change: Mapping[str, str | None]) -> dict[str, str]:
    out = dict(applied)
    for name, value in change.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


# -- rendering ----------------------------------------------------------------------------------------

def hba(readable: bool = True) -> tuple[HbaRule, ...]:
    """Clients log in with SCRAM; the node makes the TCP rules hostssl when rds.force_ssl is on and
    puts Kura's own trust rule for its superuser on the private socket first. A Multi-AZ standby is not
    `readable`: every client is refused, as on RDS."""
    if not readable:
        return tuple(HbaRule("host", "all", "all", net, "reject") for net in ("0.0.0.0/0", "::/0"))
    rules = [HbaRule("host", "all", SUPERUSER, net, "reject") for net in ("0.0.0.0/0", "::/0")]
    rules.append(HbaRule("local", "all", "all", "", "scram-sha-256"))
    rules += [HbaRule("host", "all", "all", net, "scram-sha-256") for net in ("0.0.0.0/0", "::/0")]
    return tuple(rules)


def render(values: Mapping[str, str], *, address: str, port: int, tls: tuple[Path, Path, Path],
           fenced: bool, readable: bool = True) -> NodeConfig:
    """The node's configuration for `values` (what runs, not necessarily all that is desired)."""
    settings = dict(values)
    if fenced:
        settings[FENCE] = "on"  # over whatever the parameter group says, until storage is freed
    cert, key, ca = tls
    return NodeConfig(listen_address=address, port=port, settings=settings, hba=hba(readable),
                      ssl_cert=cert, ssl_key=key, ssl_ca=ca)
