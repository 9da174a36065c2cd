"""The percentile approximation kept with rolled-up datapoints: a logarithmic histogram (the DDSketch
idea). A value v > 0 falls in bucket k = ceil(log_γ v) and is answered back as 2γ^k / (γ + 1), which
is within (γ - 1)/(γ + 1) of v, about 1 % here; negative values mirror the positive buckets and 0 has
its own. Buckets merge by adding counts, so a 5-minute or hourly rollup is exactly the merge of the
finer ones and any percentile of any period is answered within that relative error.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping

GAMMA = 1.02
_LOG_GAMMA = math.log(GAMMA)
_BIAS = 4000  # keys of positive values are k + _BIAS (> 0), of negative values -(k + _BIAS), of 0 it is 0
_TINY = GAMMA ** (1 - _BIAS)  # magnitudes below this count as 0
_INV = 1.0 / _LOG_GAMMA
_ceil, _log = math.ceil, math.log
_PAIR = struct.Struct("<id")
_VALUES = struct.Struct("<dd")

Sketch = dict[int, float]


def key(value: float) -> int:
    """Its bucket (finite values only: the largest double is bucket 35,843 + _BIAS)."""
    if value >= _TINY:
        return _ceil(_log(value) * _INV) + _BIAS
    if value <= -_TINY:
        return -(_ceil(_log(-value) * _INV) + _BIAS)
    return 0


def representative(k: int) -> float:
    if k == 0:
        return 0.0
    size = 2.0 * GAMMA ** (abs(k) - _BIAS) / (GAMMA + 1.0)
    return size if k > 0 else -size


def of(values: Iterable[tuple[float, float]]) -> Sketch:
    """The sketch of (value, count) pairs."""
    out: Sketch = {}
    for value, count in values:
        k = key(value)
        out[k] = out.get(k, 0.0) + count
    return out


def add_packed(target: Sketch, blob: bytes) -> Sketch:
    """Add packed little-endian (value, count) doubles (the one-second rows' values) to a sketch."""
    for value, count in _VALUES.iter_unpack(blob):
        k = key(value)
        target[k] = target.get(k, 0.0) + count
    return target


def merge_into(target: Sketch, other: Mapping[int, float]) -> Sketch:
    for k, count in other.items():
        target[k] = target.get(k, 0.0) + count
    return target


def encode(sketch: Mapping[int, float]) -> bytes:
    return b"".join(_PAIR.pack(k, c) for k, c in sorted(sketch.items()))


def decode(blob: bytes) -> Sketch:
    return {k: c for k, c in _PAIR.iter_unpack(blob)}


def distribution(sketch: Mapping[int, float]) -> list[tuple[float, float]]:
    """(value, count) pairs in value order (keys sort as their values do)."""
    return [(representative(k), c) for k, c in sorted(sketch.items())]
