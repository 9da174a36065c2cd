"""The alarm evaluator as a pure function: datapoints, a rule and the clock's `end` in, a state out.
The missing-data cases are the rows of CloudWatch's table (3 of 3, evaluation range of 5)."""

from __future__ import annotations

import pytest

from kura.metrics.alarm_eval import Rule, State, evaluate, window

END = 1_700_000_400.0
P = 60


def rule(n: int = 3, m: int = 3, treat: str = "missing", op: str = "GreaterThanThreshold",
         threshold: float = 10.0) -> Rule:
    return Rule(op, threshold, P, n, m, treat)


def points(row: str) -> list[tuple[float, float]]:
    """'0 - X - X' oldest first: X breaches (20), 0 does not (1), - is missing."""
    marks = row.split()
    out = []
    for i, mark in enumerate(marks):
        ts = END - (len(marks) - i) * P
        if mark != "-":
            out.append((ts, 20.0 if mark == "X" else 1.0))
    return out


@pytest.mark.parametrize(("row", "expected"), [
    ("0 - X - X", {"missing": State.OK, "ignore": State.OK, "breaching": State.OK, "notBreaching": State.OK}),
    ("- - - - 0", {"missing": State.OK, "ignore": State.OK, "breaching": State.OK, "notBreaching": State.OK}),
    ("- - - - -", {"missing": State.INSUFFICIENT_DATA, "ignore": None, "breaching": State.ALARM,
                   "notBreaching": State.OK}),
    ("0 X X - X", {"missing": State.ALARM, "ignore": State.ALARM, "breaching": State.ALARM,
                   "notBreaching": State.ALARM}),
    ("- - X - -", {"missing": State.ALARM, "ignore": None, "breaching": State.ALARM,
                   "notBreaching": State.OK}),
])
def test_cloudwatch_missing_data_table(row: str, expected: dict[str, State | None]) -> None:
    for treat, state in expected.items():
        for current in (State.OK, State.ALARM, State.INSUFFICIENT_DATA):
            got = evaluate(rule(treat=treat), points(row), END, current).state
            assert got == (current if state is None else state), (row, treat, current)


def test_m_out_of_n() -> None:
    two_of_three = rule(n=3, m=2)
    assert evaluate(two_of_three, points("X 0 X"), END, State.OK).state is State.ALARM
    assert evaluate(two_of_three, points("X 0 0"), END, State.ALARM).state is State.OK
    decision = evaluate(two_of_three, points("0 X X"), END, State.OK)
    assert decision.reason.startswith("Threshold Crossed: 2 out of the last 3 datapoints [")
    assert decision.reason.endswith("were greater than the threshold (10.0) (minimum 2 datapoints for "
                                    "OK -> ALARM transition).")
    assert decision.reason_data["recentDatapoints"] == [1.0, 20.0, 20.0]
    assert decision.reason_data["threshold"] == 10.0 and decision.reason_data["period"] == P


@pytest.mark.parametrize(("op", "value", "breach"), [
    ("GreaterThanThreshold", 10.0, False), ("GreaterThanThreshold", 10.5, True),
    ("GreaterThanOrEqualToThreshold", 10.0, True), ("GreaterThanOrEqualToThreshold", 9.9, False),
    ("LessThanThreshold", 10.0, False), ("LessThanThreshold", 9.9, True),
    ("LessThanOrEqualToThreshold", 10.0, True), ("LessThanOrEqualToThreshold", 10.1, False),
])
def test_every_comparison(op: str, value: float, breach: bool) -> None:
    r = rule(n=1, m=1, op=op)
    got = evaluate(r, [(END - P, value)], END, State.INSUFFICIENT_DATA).state
    assert got is (State.ALARM if breach else State.OK)


def test_only_the_evaluation_range_counts() -> None:
    r = rule(n=1, m=1)
    start, end = window(r, END)
    assert (start, end) == (END - 3 * P, END)
    # A datapoint of the period still running (at END) and one older than the range are not judged.
    assert evaluate(r, [(END, 50.0), (start - P, 50.0)], END, State.OK).state is State.INSUFFICIENT_DATA
    # The newest real datapoint decides a 1-of-1 alarm even when the last period has none.
    assert evaluate(r, [(END - 2 * P, 50.0), (END - 3 * P, 1.0)], END, State.OK).state is State.ALARM


def test_missing_treated_as_breaching_reason() -> None:
    decision = evaluate(rule(n=2, m=2, treat="breaching"), [], END, State.OK)
    assert decision.state is State.ALARM
    assert "no datapoints were received for 2 periods" in decision.reason
    insufficient = evaluate(rule(n=1, m=1), [], END, State.OK)
    assert insufficient.reason == "Insufficient Data: 1 datapoint was unknown."


def test_ignore_keeps_state_until_data_settles_it() -> None:
    r = rule(n=3, m=2, treat="ignore")
    assert evaluate(r, points("- - - - X"), END, State.OK).state is State.OK  # 1 of the 2 needed: stays
    assert evaluate(r, points("- - - X X"), END, State.OK).state is State.ALARM
    assert evaluate(r, points("- - - 0 0"), END, State.ALARM).state is State.OK  # 2 good: ALARM impossible
