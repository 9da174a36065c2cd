"""ElastiCache node types → Redis `maxmemory`, scaled down to what this host can hold.

The per-type figures follow ElastiCache's documented node-type-specific `maxmemory` (approximate:
t-classes from the table, m/r families from the `large` size times the size multiplier). One host
runs many nodes, so each node gets at most a sixteenth of the host's memory.
"""

from __future__ import annotations

import os
import re

_GIB = 1024**3
_FIXED_GIB = {  # burstable and legacy small types
    "t2.micro": 0.555, "t2.small": 1.55, "t2.medium": 3.22,
    "t3.micro": 0.5, "t3.small": 1.37, "t3.medium": 3.09,
    "t4g.micro": 0.5, "t4g.small": 1.37, "t4g.medium": 3.09,
    "m3.medium": 2.78, "r3.large": 13.5,
}
_LARGE_GIB = {"m": 6.38, "r": 13.07}  # the `large` size of m4/m5/m6g/m7g and r4/r5/r6g/r7g
_SIZE = {"large": 1, "xlarge": 2, "2xlarge": 4, "4xlarge": 8, "8xlarge": 16, "12xlarge": 24,
         "16xlarge": 32, "24xlarge": 48}
_FAMILY = re.compile(r"^cache\.([mr])(\d+)(g|gd|n)?\.(\w+)$")
HOST_SHARE = 16


def node_memory(node_type: str) -> int:
    """ElastiCache's maxmemory for `node_type` in bytes; ValueError for an unknown type."""
    short = node_type.removeprefix("cache.")
    if short in _FIXED_GIB:
        return int(_FIXED_GIB[short] * _GIB)
    m = _FAMILY.match(node_type)
    if m is None or m.group(4) not in _SIZE:
        raise ValueError(f"unknown cache node type {node_type!r}")
    return int(_LARGE_GIB[m.group(1)] * _SIZE[m.group(4)] * _GIB)


def host_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def maxmemory_for(node_type: str, host_bytes: int | None = None) -> int:
    """maxmemory bytes for a node of `node_type` on this host: min(ElastiCache's, host / 16)."""
    cap = (host_bytes if host_bytes is not None else host_memory()) // HOST_SHARE
    return min(node_memory(node_type), cap)
