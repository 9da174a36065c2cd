"""The routing table: which address the router listens on for each endpoint, and where it forwards.

    $KURA_HOME/router/table.json   {"hold_seconds": 30, "serial": n, "endpoints": [{"name",
                                     "listen": [host, port], "targets": [[host, port], ...],
                                     "balance": "first" | "spread", "wake": true?}]}

`first`: every connection goes to the first reachable target in order (a writer endpoint: one target,
the primary). `spread`: connections are spread round-robin over the targets (a reader endpoint).
Kura writes the whole file atomically (rename) and then signals the router.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_HOLD = 30.0
WAKE_SOCKET = "wake.sock"  # in the router's directory: Kura's datagram socket for wake-ups

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    listen: Address
    targets: tuple[Address, ...] = ()
    balance: str = "first"
    wake: bool = False  # a connection held here is told to Kura (WAKE_SOCKET): a paused database resumes


@dataclass(frozen=True, slots=True)
class Table:
    endpoints: tuple[Endpoint, ...] = ()
    hold_seconds: float = DEFAULT_HOLD
    extra: dict[str, Any] = field(default_factory=dict)
    serial: int = 0  # set when published; each worker reports the serial it has in force

    def by_listen(self) -> dict[Address, Endpoint]:
        return {e.listen: e for e in self.endpoints}


def _address(value: Any) -> Address:
    host, port = value
    return str(host), int(port)


def parse(doc: dict[str, Any]) -> Table:
    endpoints = tuple(
        Endpoint(str(e["name"]), _address(e["listen"]), tuple(_address(t) for t in e.get("targets") or ()),
                 str(e.get("balance") or "first"), bool(e.get("wake")))
        for e in doc.get("endpoints") or ())
    return Table(endpoints, float(doc.get("hold_seconds", DEFAULT_HOLD)), serial=int(doc.get("serial", 0)))


def load(path: Path) -> Table:
    try:
        return parse(json.loads(path.read_text()))
    except FileNotFoundError:
        return Table()


def dump(table: Table) -> dict[str, Any]:
    return {"hold_seconds": table.hold_seconds, "serial": table.serial,
            "endpoints": [{"name": e.name, "listen": list(e.listen), "targets": [list(t) for t in e.targets],
                           "balance": e.balance, **({"wake": True} if e.wake else {})}
                          for e in table.endpoints]}


def write(path: Path, table: Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(dump(table), indent=1))
    os.replace(tmp, path)
