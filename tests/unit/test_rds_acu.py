"""The Serverless v2 scaling decision (pure): up at once to what the load needs, down gradually."""

from __future__ import annotations

from kura.control.rds import acu

MODEL = acu.Model(memory=2 << 30, cpus=0.5)
IDLE = acu.Sample(cpus=0.01, memory=100 << 20, throttled=0.0, connections=1)


def test_a_saturated_quota_doubles_the_capacity_each_second_up_to_the_maximum() -> None:
    busy = acu.Sample(cpus=0.25, memory=100 << 20, throttled=0.9, connections=3)
    state, seen = acu.State(0.5), []
    for second in range(6):
        state = acu.decide(state, 0.5, 4, busy, MODEL, float(second)).state
        seen.append(state.capacity)
    assert seen == [1, 2, 4, 4, 4, 4]


def test_the_need_is_the_cpu_at_its_target_share_on_the_half_acu_grid() -> None:
    load = acu.Sample(cpus=1.0, memory=0, throttled=0.0, connections=0)  # 1 core / 0.7 / 0.5 = 2.86 ACU
    assert acu.decide(acu.State(1), 0.5, 16, load, MODEL, 0).capacity == 3
    memory = acu.Sample(cpus=0.0, memory=7 << 30, throttled=0.0, connections=0)  # 7 GiB / 0.8 / 2 GiB
    assert acu.decide(acu.State(1), 0.5, 16, memory, MODEL, 0).capacity == 4.5
    many = acu.Sample(cpus=0.0, memory=0, throttled=0.0, connections=500)  # RDS's memory per connection
    assert acu.decide(acu.State(0.5), 0.5, 16, many, MODEL, 0).capacity == 2.5


def test_down_only_after_the_load_stayed_low_then_a_quarter_at_a_time() -> None:
    state = acu.State(8)
    for second in range(int(acu.DOWN_AFTER)):
        state = acu.decide(state, 0.5, 16, IDLE, MODEL, float(second)).state
        assert state.capacity == 8
    steps, now = [], acu.DOWN_AFTER
    while state.capacity > 0.5 and now < 200:
        decision = acu.decide(state, 0.5, 16, IDLE, MODEL, now)
        if decision.capacity != state.capacity:
            steps.append(decision.capacity)
        state, now = decision.state, now + 1
    assert steps == [6, 4.5, 3.5, 3, 2.5, 2, 1.5, 1, 0.5]


def test_a_new_range_applies_at_once() -> None:
    assert acu.decide(acu.State(8), 0.5, 2, IDLE, MODEL, 0).capacity == 2
    assert acu.decide(acu.State(1), 4, 16, IDLE, MODEL, 0).capacity == 4


def test_limits_keep_the_shared_buffers_in() -> None:
    assert MODEL.limits(2) == (1.0, 4 << 30)
    assert MODEL.limits(0.5, floor_memory=1536 << 20) == (0.25, 1536 << 20)
