"""The router's worker-count decisions, from CPU samples."""

from __future__ import annotations

import os

from kura.net.router.scaling import Policy, Scaler, cpu_seconds


def test_sustained_load_adds_a_worker_and_sustained_idleness_removes_one() -> None:
    scaler = Scaler(Policy(minimum=1, maximum=2, up=0.7, down=0.15, up_seconds=3, down_seconds=30))
    assert [scaler.decide(t, 1, 0.9) for t in (0, 1, 2)] == [0, 0, 0]
    assert scaler.decide(3, 1, 0.9) == 1
    assert scaler.decide(4, 2, 0.95) == 0  # at the maximum
    assert scaler.decide(5, 2, 0.5) == 0 and scaler.decide(6, 2, 0.05) == 0  # idle from 6
    assert scaler.decide(35, 2, 0.05) == 0 and scaler.decide(36, 2, 0.05) == -1
    assert scaler.decide(100, 1, 0.0) == 0  # at the minimum


def test_a_short_burst_changes_nothing() -> None:
    scaler = Scaler(Policy(minimum=1, maximum=4, up_seconds=3))
    assert [scaler.decide(t, 1, load) for t, load in ((0, 0.9), (1, 0.9), (2, 0.2), (3, 0.9))] == [0, 0, 0, 0]


def test_cpu_seconds_of_this_process_and_of_none() -> None:
    assert (cpu_seconds(os.getpid()) or 0) > 0
    assert cpu_seconds(2**22 + 12345) is None
