"""Rotation schedules: AutomaticallyAfterDays, rate(N hours|days) and AWS six-field cron(), in UTC.

AWS rotates "at any time" inside a window; Kura rotates at the window's start, which is one of
the times AWS could have chosen. Duration is checked and recorded only.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from kura.services.secretsmanager.model import DAY
from kura.services.secretsmanager.names import invalid_parameter

HOUR = 3600.0
_RATE = re.compile(r"rate\(\s*(\d+)\s+(hour|hours|day|days)\s*\)")
_CRON = re.compile(r"cron\((.*)\)")
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_HORIZON_DAYS = 5 * 366  # a cron that matches nothing for five years is refused


def _bad(expr: str, why: str) -> Exception:
    return invalid_parameter(f"Invalid ScheduleExpression {expr!r}: {why}.")


@dataclass(frozen=True, slots=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    dom: str  # raw day-of-month field: matched per month (L needs the month's length)
    months: frozenset[int]
    dow: str
    years: frozenset[int] | None

    def matches_day(self, day: dt.date) -> bool:
        if day.month not in self.months or (self.years is not None and day.year not in self.years):
            return False
        if self.dom != "?":
            return _dom_matches(self.dom, day)
        return _dow_matches(self.dow, day)


def _expand(field: str, lo: int, hi: int, names: dict[str, int] | None = None) -> frozenset[int]:
    out: set[int] = set()
    for part in field.upper().split(","):
        rng, _, step_s = part.partition("/")
        step = int(step_s) if step_s else 1
        if rng in ("*", "?"):
            a, b = lo, hi
        elif "-" in rng:
            a_s, b_s = rng.split("-", 1)
            a, b = _num(a_s, names), _num(b_s, names)
        else:
            a = _num(rng, names)
            b = hi if step_s else a
        if not (lo <= a <= hi and lo <= b <= hi) or step < 1:
            raise ValueError(part)
        out.update(range(a, b + 1, step))
    return frozenset(out)


def _num(text: str, names: dict[str, int] | None) -> int:
    if names and text in names:
        return names[text]
    return int(text)


def _dom_matches(field: str, day: dt.date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    if field == "L":
        return day.day == last
    return day.day in _expand(field, 1, 31)


def _dow_matches(field: str, day: dt.date) -> bool:
    aws_dow = day.isoweekday() % 7 + 1  # AWS: 1 = Sunday … 7 = Saturday
    if "#" in field:
        wd, nth = field.split("#", 1)
        return aws_dow == _num(wd.upper(), _DAYS) and (day.day - 1) // 7 + 1 == int(nth)
    if field.upper().endswith("L") and len(field) > 1:
        last = calendar.monthrange(day.year, day.month)[1]
        return aws_dow == _num(field[:-1].upper(), _DAYS) and day.day > last - 7
    return aws_dow in _expand(field, 1, 7, _DAYS)


def _check_day_fields(cron: Cron) -> None:
    """Raise ValueError on a malformed day field (they are parsed lazily, per day)."""
    probe = dt.date(2024, 1, 1)
    if cron.dom != "?":
        _dom_matches(cron.dom, probe)
    else:
        _dow_matches(cron.dow, probe)


def parse_cron(expr: str, body: str) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise _bad(expr, "a cron expression has six fields: minutes hours day-of-month month "
                         "day-of-week year")
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise _bad(expr, "exactly one of day-of-month and day-of-week must be '?'")
    if "W" in dom.upper() or "LW" in dom.upper():
        raise _bad(expr, "Kura does not support the W (nearest weekday) wildcard")
    try:
        cron = Cron(_expand(minutes, 0, 59), _expand(hours, 0, 23), dom.upper(),
                    _expand(month, 1, 12, _MONTHS), dow.upper(),
                    None if year in ("*", "?") else _expand(year, 1970, 2199))
        _check_day_fields(cron)
    except ValueError:
        raise _bad(expr, "a field is out of range or malformed") from None
    return cron


def validate(rules: dict[str, Any], now: float) -> dict[str, Any]:
    """Check RotationRules as AWS does; return them as they will be recorded."""
    days, expr, duration = rules.get("AutomaticallyAfterDays"), rules.get("ScheduleExpression"), \
        rules.get("Duration")
    if days is not None and expr is not None:
        raise invalid_parameter("You can't specify both AutomaticallyAfterDays and ScheduleExpression.")
    if days is None and expr is None:
        raise invalid_parameter("RotationRules must include AutomaticallyAfterDays or ScheduleExpression.")
    if duration is not None and not 1 <= int(duration.rstrip("h")) <= 24:
        raise invalid_parameter("The rotation window Duration must be between 1h and 24h.")
    recorded = {k: v for k, v in rules.items() if v is not None}
    if expr is not None:
        m = _RATE.fullmatch(expr.strip())
        if m and m[2].startswith("hour") and int(m[1]) < 4:
            raise _bad(expr, "you can rotate a secret at most every four hours")
        if m and int(m[1]) < 1:
            raise _bad(expr, "the rate must be positive")
        if m and m[2].startswith("day"):
            recorded["AutomaticallyAfterDays"] = int(m[1])
        if next_rotation(recorded, now) is None:
            raise _bad(expr, "it never matches in the next five years")
    return recorded


def next_rotation(rules: dict[str, Any] | None, after: float) -> float | None:
    """When the next scheduled rotation is due after `after` (epoch seconds), or None."""
    if not rules:
        return None
    expr = rules.get("ScheduleExpression")
    if expr is None:
        return after + int(rules["AutomaticallyAfterDays"]) * DAY
    expr = expr.strip()
    m = _RATE.fullmatch(expr)
    if m:
        n = int(m[1])
        return after + n * HOUR if m[2].startswith("hour") else after - after % DAY + n * DAY
    c = _CRON.fullmatch(expr)
    if c is None:
        raise _bad(expr, "use rate(N hours), rate(N days) or cron(...)")
    return _next_cron(parse_cron(expr, c[1]), after)


def _next_cron(cron: Cron, after: float) -> float | None:
    start = dt.datetime.fromtimestamp(after, tz=dt.UTC).date()
    for offset in range(_HORIZON_DAYS):
        day = start + dt.timedelta(days=offset)
        if not cron.matches_day(day):
            continue
        midnight = calendar.timegm(day.timetuple())
        for hour in sorted(cron.hours):
            for minute in sorted(cron.minutes):
                when = midnight + hour * HOUR + minute * 60.0
                if when > after:
                    return when
    return None
