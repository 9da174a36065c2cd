"""Evaluating a CloudWatch metric alarm: a pure function of the alarm's rule, the datapoints of its
evaluation range and its current state (time enters only through `end`, given by the caller).

The evaluation range is the `EvaluationPeriods` (N) periods ending at `end` plus two more before
them, as CloudWatch fetches more than N datapoints. When at least N of them exist, the N most recent
decide: ALARM if at least `DatapointsToAlarm` (M) of them breach, else OK — TreatMissingData does not
matter then. When none exists: `missing` → INSUFFICIENT_DATA, `ignore` → the state stays,
`breaching` → ALARM, `notBreaching` → OK. When some exist but fewer than N, the missing ones are
filled as TreatMissingData says (`missing` judges on the real ones alone; `ignore` changes state only
when the real ones settle it) — the table of CloudWatch's "how alarm state is evaluated when data is
missing".
"""

from __future__ import annotations

import datetime as dt
import enum
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

EXTRA_PERIODS = 2


class State(enum.Enum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
ANOMALY_COMPARISONS = ("LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold",
                       "GreaterThanUpperThreshold")
MISSING_TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")


@dataclass(frozen=True, slots=True)
class Rule:
    comparison: str
    threshold: float
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing: str = "missing"
    statistic: str = "Average"

    @property
    def range_periods(self) -> int:
        return self.evaluation_periods + EXTRA_PERIODS

    def breaches(self, value: float) -> bool:
        return COMPARISONS[self.comparison][0](value, self.threshold)


@dataclass(frozen=True, slots=True)
class Decision:
    state: State
    reason: str
    reason_data: dict[str, Any]


def window(rule: Rule, end: float) -> tuple[float, float]:
    """[start, end) of the evaluation range ending at `end`."""
    return end - rule.range_periods * rule.period, end


def _stamp(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%d/%m/%y %H:%M:%S")


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _n(count: int, word: str = "datapoint") -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _verdict(rule: Rule, real: list[tuple[float, float]], current: State) -> tuple[State | None, int]:
    """The state the real datapoints (newest first) lead to — None: keep the current one — and how
    many missing datapoints were filled in."""
    n, m = rule.evaluation_periods, rule.datapoints_to_alarm
    if len(real) >= n:
        return (State.ALARM if sum(rule.breaches(v) for _, v in real[:n]) >= m else State.OK), 0
    fill = n - len(real)
    bad = sum(rule.breaches(v) for _, v in real)
    how = rule.treat_missing
    if not real:
        return {"missing": State.INSUFFICIENT_DATA, "ignore": None, "breaching": State.ALARM,
                "notBreaching": State.OK}[how], fill
    if how == "breaching":
        return (State.ALARM if bad + fill >= m else State.OK), fill
    if how == "notBreaching":
        return (State.ALARM if bad >= m else State.OK), fill
    if how == "missing":
        return (State.ALARM if bad >= min(m, len(real)) else State.OK), fill
    if bad >= m:  # ignore: move only when the real datapoints settle it
        return State.ALARM, fill
    return (State.OK if len(real) - bad > n - m else None), fill


def evaluate(rule: Rule, points: Sequence[tuple[float, float]], end: float, current: State) -> Decision:
    """The alarm's state given the datapoints (period start, value) of its evaluation range."""
    start, _ = window(rule, end)
    real = sorted(((ts, v) for ts, v in points if start <= ts < end), reverse=True)
    state, fill = _verdict(rule, real, current)
    used = real[:rule.evaluation_periods]
    data: dict[str, Any] = {"version": "1.0", "queryDate": _iso(end), "startDate": _iso(start),
                            "statistic": rule.statistic, "period": rule.period,
                            "recentDatapoints": [v for _, v in reversed(used)], "threshold": rule.threshold,
                            "evaluatedDatapoints": [{"timestamp": _iso(ts), "value": v} for ts, v in used]}
    if state is None:
        return Decision(current, f"Unchanged: {_n(fill)} missing, treated as [Ignore].", data)
    return Decision(state, _reason(rule, state, used, fill), data)


def _reason(rule: Rule, state: State, used: list[tuple[float, float]], fill: int) -> str:
    words = COMPARISONS[rule.comparison][1]
    if state is State.INSUFFICIENT_DATA:
        return f"Insufficient Data: {_n(fill)} {'was' if fill == 1 else 'were'} unknown."
    if not used:
        treated = "Breaching" if state is State.ALARM else "NonBreaching"
        return (f"Threshold Crossed: no datapoints were received for {_n(fill, 'period')} and {_n(fill)} "
                f"missing {'was' if fill == 1 else 'were'} treated as [{treated}].")
    if state is State.ALARM:
        shown = [(ts, v) for ts, v in used if rule.breaches(v)]
        verb, transition = words, "OK -> ALARM"
    else:
        shown = [(ts, v) for ts, v in used if not rule.breaches(v)]
        verb, transition = f"not {words}", "ALARM -> OK"
    listed = ", ".join(f"{v!r} ({_stamp(ts)})" for ts, v in shown)
    plural = "was" if len(shown) == 1 else "were"
    needed = rule.datapoints_to_alarm if state is State.ALARM else \
        rule.evaluation_periods - rule.datapoints_to_alarm + 1
    tail = f" and {_n(fill)} missing treated as {rule.treat_missing}" if fill else ""
    return (f"Threshold Crossed: {len(shown)} out of the last {len(used)} datapoints [{listed}] {plural} "
            f"{verb} the threshold ({rule.threshold!r}){tail} (minimum {_n(needed)} for {transition} "
            "transition).")
