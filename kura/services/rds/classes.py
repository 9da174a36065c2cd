"""DB instance classes: vCPUs and memory per class, as AWS publishes them.

Memory drives the engine's memory settings (`{DBInstanceClassMemory/…}` formulas) in the control
plane; here the table validates DBInstanceClass and feeds DescribeOrderableDBInstanceOptions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GIB = 1024**3


@dataclass(frozen=True, slots=True)
class InstanceClass:
    name: str  # "db.t3.medium"
    vcpus: int
    memory_gib: float
    burstable: bool

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gib * GIB)


# Burstable classes are irregular; every other family follows vCPUs x (GiB per vCPU).
_BURSTABLE = {"micro": (2, 1), "small": (2, 2), "medium": (2, 4), "large": (2, 8), "xlarge": (4, 16),
              "2xlarge": (8, 32)}
_VCPUS = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "12xlarge": 48,
          "16xlarge": 64, "24xlarge": 96, "32xlarge": 128, "48xlarge": 192}
_UP_TO_16 = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")
_UP_TO_24 = (*_UP_TO_16, "24xlarge")
_UP_TO_32 = (*_UP_TO_24, "32xlarge")
_UP_TO_48 = (*_UP_TO_32, "48xlarge")
# family → (GiB per vCPU, sizes)
_FAMILIES: dict[str, tuple[int, tuple[str, ...]]] = {
    "m5": (4, _UP_TO_24), "m5d": (4, _UP_TO_24), "m6g": (4, _UP_TO_16), "m6gd": (4, _UP_TO_16),
    "m6i": (4, _UP_TO_32), "m6id": (4, _UP_TO_32), "m7g": (4, _UP_TO_16), "m7i": (4, _UP_TO_48),
    "m8g": (4, _UP_TO_48),
    "r5": (8, _UP_TO_24), "r5d": (8, _UP_TO_24), "r6g": (8, _UP_TO_16), "r6gd": (8, _UP_TO_16),
    "r6i": (8, _UP_TO_32), "r6id": (8, _UP_TO_32), "r7g": (8, _UP_TO_16), "r7i": (8, _UP_TO_48),
    "r8g": (8, _UP_TO_48),
    "x2g": (16, _UP_TO_16),
}


def _build() -> dict[str, InstanceClass]:
    table: dict[str, InstanceClass] = {}
    for family in ("t3", "t4g"):
        for size, (vcpus, mem) in _BURSTABLE.items():
            table[f"db.{family}.{size}"] = InstanceClass(f"db.{family}.{size}", vcpus, mem, True)
    for family, (per_vcpu, sizes) in _FAMILIES.items():
        for size in sizes:
            name = f"db.{family}.{size}"
            table[name] = InstanceClass(name, _VCPUS[size], _VCPUS[size] * per_vcpu, False)
    return table


CLASSES: dict[str, InstanceClass] = _build()
_FORM = re.compile(r"^db\.[a-z0-9-]+\.[a-z0-9]+$")


def well_formed(name: str) -> bool:
    return bool(_FORM.match(name))


def lookup(name: str) -> InstanceClass | None:
    return CLASSES.get(name)


SERVERLESS = "db.serverless"  # Aurora Serverless v2: sized by its cluster's capacity (ACUs)
ACU_GIB = 2  # memory of one Aurora capacity unit


def serverless(acu: float) -> InstanceClass:
    """db.serverless at `acu` capacity units: 2 GiB each, a vCPU per 2 ACUs (at least one)."""
    return InstanceClass(SERVERLESS, max(1, int(acu // 2)), acu * ACU_GIB, False)


def all_classes() -> list[InstanceClass]:
    return sorted(CLASSES.values(), key=lambda c: c.name)
