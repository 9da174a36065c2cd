"""Metric math on hand-made series: arithmetic by timestamp, the array functions, RATE/DIFF, FILL, IF,
METRICS(), and the errors an expression can have."""

from __future__ import annotations

import pytest

from kura.metrics import expr
from kura.metrics.expr import Line

GRID = [0, 60, 120, 180, 240]


def ctx(**lines: dict[int, float]) -> expr.Context:
    found = {k: Line(k, v, 60, k) for k, v in lines.items()}

    def resolve(ident: str) -> expr.Value:
        if ident not in found:
            raise expr.MathError(f"Unknown metric or expression id: {ident}")
        return found[ident]

    return expr.Context(resolve, lambda text: [v for k, v in found.items() if text is None or text in k],
                        lambda period: GRID)


def run(text: str, context: expr.Context) -> expr.Value:
    return expr.evaluate(expr.parse(text)[0], context)


def points(value: expr.Value) -> dict[int, float]:
    assert isinstance(value, Line)
    return value.points


A = {0: 1.0, 60: 2.0, 120: 4.0, 240: 8.0}
B = {0: 10.0, 60: 20.0, 180: 30.0}


def test_arithmetic_works_on_the_timestamps_both_sides_have() -> None:
    c = ctx(a=A, b=B)
    assert points(run("a + b", c)) == {0: 11.0, 60: 22.0}
    assert points(run("(a + 1) * 2 - b / 10", c)) == {0: 3.0, 60: 4.0}
    assert points(run("-a ^ 2", c)) == {0: -1.0, 60: -4.0, 120: -16.0, 240: -64.0}
    assert points(run("b / (a - 1)", c)) == {60: 20.0}  # dividing by zero leaves the timestamp out
    assert run("2 * 3 + 1", c) == 7.0
    assert expr.parse("m1 + e_2 * METRICS()")[1] == {"m1", "e_2"}


def test_aggregates_of_arrays_and_of_one_series() -> None:
    c = ctx(a=A, b=B)
    assert points(run("SUM([a, b])", c)) == {0: 11.0, 60: 22.0, 120: 4.0, 180: 30.0, 240: 8.0}
    assert points(run("MAX(METRICS())", c)) == {0: 10.0, 60: 20.0, 120: 4.0, 180: 30.0, 240: 8.0}
    assert points(run("AVG(METRICS('b'))", c)) == B
    assert run("SUM(a)", c) == 15.0 and run("AVG(b)", c) == 20.0 and run("MIN(a)", c) == 1.0
    assert run("STDDEV(b)", c) == pytest.approx(8.16496580927726)
    assert run("METRIC_COUNT(METRICS())", c) == 2.0
    arr = run("METRICS() * 2", c)
    assert isinstance(arr, list)
    assert [points(x) for x in arr] == [{t: 2 * v for t, v in s.items()} for s in (A, B)]


def test_rates_differences_and_running_sums() -> None:
    c = ctx(a=A)
    assert points(run("DIFF(a)", c)) == {60: 1.0, 120: 2.0, 240: 4.0}
    assert points(run("RATE(a)", c)) == {60: 1 / 60, 120: 2 / 60, 240: 4 / 120}
    assert points(run("DIFF_TIME(a)", c)) == {60: 60.0, 120: 60.0, 240: 120.0}
    assert points(run("RUNNING_SUM(a)", c)) == {0: 1.0, 60: 3.0, 120: 7.0, 240: 15.0}
    assert points(run("PERIOD(a)", c)) == dict.fromkeys(A, 60.0)
    assert points(run("ABS(FLOOR(a / -3))", c)) == {0: 1.0, 60: 1.0, 120: 2.0, 240: 3.0}
    assert points(run("LOG10(a * 25)", c))[120] == pytest.approx(2.0)


def test_fill_with_a_value_repeat_linear_or_another_series() -> None:
    c = ctx(a=A, b=B)
    assert points(run("FILL(a, 0)", c)) == {**A, 180: 0.0}
    assert points(run("FILL(a, REPEAT)", c)) == {**A, 180: 4.0}
    assert points(run("FILL(a, LINEAR)", c)) == {**A, 180: 6.0}
    assert points(run("FILL(b, LINEAR)", c)) == {**B, 120: 25.0, 240: 30.0}
    assert points(run("FILL(a, b)", c)) == {**A, 180: 30.0}


def test_if_and_logic() -> None:
    c = ctx(a=A, b=B)
    assert points(run("IF(a > 2, a, 0)", c)) == {0: 0.0, 60: 0.0, 120: 4.0, 240: 8.0}
    assert points(run("IF(a >= 2 AND a < 8, 1)", c)) == {60: 1.0, 120: 1.0}
    assert points(run("IF(NOT (a == 1) || a != a, b)", c)) == {60: 20.0}
    assert points(run("a > 2", c)) == {0: 0.0, 60: 0.0, 120: 1.0, 240: 1.0}


@pytest.mark.parametrize(("text", "message"), [
    ("a +", "ends too early"), ("SUM(a", "Expected '\\)'"), ("a $ b", "Unexpected character"),
    ("NOPE(a)", "Unknown function NOPE"), ("zz * 2", "Unknown metric or expression id: zz"),
    ("1 / 0", "divides by zero"), ("SUM([1, 2])", "holds time series"), ("a b", "after the expression"),
])
def test_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(expr.MathError, match=message):
        run(text, ctx(a=A))
