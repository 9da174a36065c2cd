"""Metric math: CloudWatch's expression language over the time series of a GetMetricData request.

A value is a number, a time series (`Line`: timestamp → value) or an array of them. Arithmetic and
comparisons work element by element on the timestamps both sides have (a number applies to every
timestamp; an array applies the operation to each of its series). Functions: SUM, AVG, MIN, MAX,
STDDEV (of an array: one series, timestamp by timestamp; of a series: a number), ABS, CEIL, FLOOR,
LOG, LOG10, DIFF, DIFF_TIME, RATE (per second), RUNNING_SUM, FILL (a number, a series, REPEAT or
LINEAR), IF (with AND/OR/NOT, && || !), METRICS() and METRICS("text") (the MetricStat series whose
Id contains the text), PERIOD, DATAPOINT_COUNT, METRIC_COUNT, REMOVE_EMPTY, FIRST, LAST; `[a, b]` is
an array. The grammar is mathparse.py's.
"""

from __future__ import annotations

import itertools
import math
import statistics as pystats
from collections.abc import Callable
from dataclasses import dataclass
from typing import Union

from kura.metrics.mathparse import MathError, Node, parse

__all__ = ["Context", "Line", "MathError", "Node", "Value", "evaluate", "parse"]


@dataclass(slots=True)
class Line:
    label: str
    points: dict[int, float]
    period: int
    id: str = ""

    def like(self, points: dict[int, float]) -> Line:
        return Line(self.label, points, self.period, self.id)


Value = Union[float, Line, list[Line]]  # noqa: UP007  (a runtime alias)


# -- evaluating -------------------------------------------------------------------------------------------
@dataclass
class Context:
    resolve: Callable[[str], Value]  # the value of another query of the request, by id
    metrics: Callable[[str | None], list[Line]]  # METRICS(): the MetricStat series (Id containing text)
    grid: Callable[[int], list[int]]  # every period start of the request's range, for FILL


def evaluate(node: Node, ctx: Context) -> Value:
    kind = node[0]
    if kind == "num":
        return float(node[1])
    if kind == "ref":
        return ctx.resolve(node[1])
    if kind == "list":
        out: list[Line] = []
        for item in node[1]:
            value = evaluate(item, ctx)
            if isinstance(value, float):
                raise MathError("An array holds time series, not numbers")
            out.extend(value if isinstance(value, list) else [value])
        return out
    if kind == "bin":
        return _binary(node[1], evaluate(node[2], ctx), evaluate(node[3], ctx))
    if kind == "not":
        return _map(evaluate(node[1], ctx), lambda v: 0.0 if v else 1.0)
    if kind == "call":
        return _call(node[1], node[2], ctx)
    raise MathError(f"{node[1]!r} is not a value here")


_OPS: dict[str, Callable[[float, float], float | None]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b if b else None,
    "^": lambda a, b: _power(a, b),
    ">": lambda a, b: float(a > b), "<": lambda a, b: float(a < b), ">=": lambda a, b: float(a >= b),
    "<=": lambda a, b: float(a <= b), "==": lambda a, b: float(a == b), "!=": lambda a, b: float(a != b),
    "&&": lambda a, b: float(bool(a) and bool(b)), "||": lambda a, b: float(bool(a) or bool(b)),
}


def _power(a: float, b: float) -> float | None:
    try:
        out = a**b
    except (OverflowError, ZeroDivisionError):
        return None
    return out if isinstance(out, float | int) and math.isfinite(out) else None


def _binary(op: str, a: Value, b: Value) -> Value:
    fn = _OPS[op]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            raise MathError(f"The arrays on both sides of {op!r} differ in size")
        return [_pair(fn, x, y) for x, y in zip(a, b, strict=True)]  # type: ignore[misc]
    if isinstance(a, list):
        return [_pair(fn, x, b) for x in a]  # type: ignore[misc, arg-type]
    if isinstance(b, list):
        return [_pair(fn, a, y) for y in b]  # type: ignore[misc]
    return _pair(fn, a, b)


def _pair(fn: Callable[[float, float], float | None], a: float | Line, b: float | Line) -> float | Line:
    if isinstance(a, float) and isinstance(b, float):
        out = fn(a, b)
        if out is None:
            raise MathError("The expression divides by zero")
        return float(out)
    line = a if isinstance(a, Line) else b
    assert isinstance(line, Line)
    left = a.points if isinstance(a, Line) else None
    right = b.points if isinstance(b, Line) else None
    stamps = left.keys() & right.keys() if left is not None and right is not None else (left or right or {})
    points: dict[int, float] = {}
    for ts in stamps:
        x = left[ts] if left is not None else float(a)  # type: ignore[arg-type]
        y = right[ts] if right is not None else float(b)  # type: ignore[arg-type]
        value = fn(x, y)
        if value is not None:
            points[ts] = float(value)
    return line.like(dict(sorted(points.items())))


def _map(value: Value, fn: Callable[[float], float | None]) -> Value:
    if isinstance(value, list):
        return [_map(v, fn) for v in value]  # type: ignore[misc]
    if isinstance(value, float):
        out = fn(value)
        if out is None:
            raise MathError("The function is not defined for this number")
        return float(out)
    return value.like({t: float(r) for t, v in value.points.items() if (r := fn(v)) is not None})


def _log(base: float | None) -> Callable[[float], float | None]:
    def fn(v: float) -> float | None:
        if v <= 0:
            return None
        return math.log(v) if base is None else math.log(v, base)

    return fn


_ELEMENTWISE: dict[str, Callable[[float], float | None]] = {
    "ABS": abs, "CEIL": lambda v: float(math.ceil(v)), "FLOOR": lambda v: float(math.floor(v)),
    "LOG": _log(None), "LOG10": _log(10.0),
}
_AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "SUM": math.fsum, "AVG": lambda vs: math.fsum(vs) / len(vs), "MIN": min, "MAX": max,
    "STDDEV": lambda vs: pystats.pstdev(vs) if len(vs) > 1 else 0.0,
}


def _call(name: str, args: list[Node], ctx: Context) -> Value:
    if name == "METRICS":
        text = args[0][1] if args and args[0][0] == "str" else None
        if args and text is None:
            raise MathError("METRICS takes a string")
        return ctx.metrics(text)
    if name == "FILL":
        return _fill(args, ctx)
    if name == "IF":
        return _if(args, ctx)
    values = [evaluate(a, ctx) for a in args]
    if name in _ELEMENTWISE:
        return _map(_one(name, values), _ELEMENTWISE[name])
    if name in _AGGREGATES:
        return _aggregate(name, values)
    if name in ("DIFF", "DIFF_TIME", "RATE", "RUNNING_SUM", "PERIOD"):
        return _per_line(_one(name, values), lambda line: _sequence(name, line))
    if name in ("DATAPOINT_COUNT", "METRIC_COUNT", "REMOVE_EMPTY", "FIRST", "LAST"):
        return _arrays(name, _one(name, values))
    raise MathError(f"Unknown function {name}")


def _one(name: str, values: list[Value]) -> Value:
    if len(values) != 1:
        raise MathError(f"{name} takes one argument")
    return values[0]


def _aggregate(name: str, values: list[Value]) -> Value:
    fn = _AGGREGATES[name]
    value = _one(name, values)
    if isinstance(value, float):
        return value
    if isinstance(value, Line):
        if not value.points:
            raise MathError(f"{name} of a time series without datapoints")
        return float(fn(list(value.points.values())))
    if not value:
        raise MathError(f"{name} of an empty array")
    stamps = sorted(set().union(*(line.points.keys() for line in value)))
    points = {t: float(fn([line.points[t] for line in value if t in line.points])) for t in stamps}
    return Line(name, points, value[0].period)


def _per_line(value: Value, fn: Callable[[Line], Line]) -> Value:
    if isinstance(value, float):
        raise MathError("This function takes a time series")
    return [fn(line) for line in value] if isinstance(value, list) else fn(value)


def _sequence(name: str, line: Line) -> Line:
    items = sorted(line.points.items())
    if name == "PERIOD":
        return line.like({t: float(line.period) for t, _ in items})
    if name == "RUNNING_SUM":
        out, total = {}, 0.0
        for t, v in items:
            total += v
            out[t] = total
        return line.like(out)
    pairs = list(itertools.pairwise(items))
    if name == "DIFF":
        return line.like({t: v - pv for (_, pv), (t, v) in pairs})
    if name == "DIFF_TIME":
        return line.like({t: float(t - pt) for (pt, _), (t, _v) in pairs})
    return line.like({t: (v - pv) / (t - pt) for (pt, pv), (t, v) in pairs})  # RATE


def _arrays(name: str, value: Value) -> Value:
    if name == "DATAPOINT_COUNT":
        return _per_line(value, lambda line: line.like({t: float(len(line.points)) for t in line.points}))
    lines = value if isinstance(value, list) else [value] if isinstance(value, Line) else None
    if lines is None:
        raise MathError(f"{name} takes an array of time series")
    if name == "METRIC_COUNT":
        return float(len(lines))
    if name == "REMOVE_EMPTY":
        return [line for line in lines if line.points]
    if not lines:
        raise MathError(f"{name} of an empty array")
    return lines[0] if name == "FIRST" else lines[-1]


def _fill(args: list[Node], ctx: Context) -> Value:
    if len(args) != 2:
        raise MathError("FILL takes a time series and a value, REPEAT or LINEAR")
    target = evaluate(args[0], ctx)
    how: str | float | Line = args[1][1] if args[1][0] == "kw" else evaluate(args[1], ctx)  # type: ignore[assignment]
    if isinstance(how, list):
        raise MathError("FILL takes a single value or time series to fill with")
    return _per_line(target, lambda line: _fill_line(line, how, ctx.grid(line.period)))


def _fill_line(line: Line, how: str | float | Line, grid: list[int]) -> Line:
    known = sorted(line.points.items())
    out = dict(line.points)
    for ts in grid:
        if ts in out:
            continue
        if isinstance(how, float):
            out[ts] = how
        elif isinstance(how, Line):
            if ts in how.points:
                out[ts] = how.points[ts]
        elif known:
            before = [(t, v) for t, v in known if t < ts]
            after = [(t, v) for t, v in known if t > ts]
            if how == "REPEAT" or not before or not after:
                out[ts] = before[-1][1] if before else after[0][1]
            else:
                (t0, v0), (t1, v1) = before[-1], after[0]
                out[ts] = v0 + (v1 - v0) * (ts - t0) / (t1 - t0)
    return line.like(dict(sorted(out.items())))


def _if(args: list[Node], ctx: Context) -> Value:
    if len(args) not in (2, 3):
        raise MathError("IF takes a condition, a value and optionally another value")
    cond, yes = evaluate(args[0], ctx), evaluate(args[1], ctx)
    no = evaluate(args[2], ctx) if len(args) == 3 else None
    if isinstance(cond, float):
        chosen = yes if cond else no
        if chosen is None:
            raise MathError("IF without a value for a false condition")
        return chosen
    return _per_line(cond, lambda line: _if_line(line, yes, no))


def _at(value: Value | None, ts: int) -> float | None:
    if value is None or isinstance(value, list):
        return None
    return value if isinstance(value, float) else value.points.get(ts)


def _if_line(cond: Line, yes: Value, no: Value | None) -> Line:
    out = {}
    for ts, flag in cond.points.items():
        value = _at(yes if flag else no, ts)
        if value is not None:
            out[ts] = value
    return cond.like(out)
