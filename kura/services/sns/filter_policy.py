"""Subscription filter policies: checked at SetSubscriptionAttributes/Subscribe, matched at Publish.

A policy maps keys to lists of conditions (any may match; every key must match): exact strings and
numbers, `prefix`, `suffix`, `equals-ignore-case`, `anything-but`, `numeric` ranges, `exists`, and
`$or` of whole policies. Scope `MessageAttributes` (default) matches the message attributes
(String, Number, String.Array); scope `MessageBody` matches the JSON body, nested keys included.
"""

from __future__ import annotations

import json
from typing import Any

from kura.services.sns import errors

_OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, "=": lambda a, b: a == b,
        ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
_MISSING = object()


def parse(text: str) -> dict[str, Any]:
    try:
        policy = json.loads(text)
    except ValueError:
        raise errors.invalid("FilterPolicy: failed to parse JSON") from None
    if not isinstance(policy, dict):
        raise errors.invalid("FilterPolicy: must be a JSON object")
    _check(policy)
    return policy


def _check(policy: dict[str, Any]) -> None:
    for key, rule in policy.items():
        if key == "$or":
            if not isinstance(rule, list) or len(rule) < 2 or not all(isinstance(p, dict) for p in rule):
                raise errors.invalid("FilterPolicy: $or takes a list of at least two policies")
            for sub in rule:
                _check(sub)
        elif isinstance(rule, dict):
            _check(rule)
        elif not isinstance(rule, list) or not rule:
            raise errors.invalid(f"FilterPolicy: the value of {key} must be a non-empty list")
        else:
            for cond in rule:
                _check_condition(key, cond)


def _check_condition(key: str, cond: Any) -> None:
    if cond is None or (isinstance(cond, str | int | float) and not isinstance(cond, bool)):
        return
    if not isinstance(cond, dict) or len(cond) != 1:
        raise errors.invalid(f"FilterPolicy: unrecognized match type for {key}")
    (op, arg), = cond.items()
    if op == "numeric":
        if not isinstance(arg, list) or len(arg) not in (2, 4) or any(o not in _OPS for o in arg[::2]) \
                or not all(isinstance(v, int | float) for v in arg[1::2]):
            raise errors.invalid(f"FilterPolicy: bad numeric condition for {key}")
    elif op not in ("prefix", "suffix", "equals-ignore-case", "anything-but", "exists"):
        raise errors.invalid(f"FilterPolicy: kura does not implement the match type {op}")


def matches(policy: dict[str, Any], values: dict[str, Any]) -> bool:
    """Whether `values` (attribute name → value, or the decoded JSON body) pass `policy`."""
    for key, rule in policy.items():
        if key == "$or":
            if not any(matches(sub, values) for sub in rule):
                return False
            continue
        value = values.get(key, _MISSING) if isinstance(values, dict) else _MISSING
        if isinstance(rule, dict):
            if not isinstance(value, dict) or not matches(rule, value):
                return False
        elif not any(_match(cond, value) for cond in rule):
            return False
    return True


def _match(cond: Any, value: Any) -> bool:
    if isinstance(cond, dict) and "exists" in cond:
        return (value is not _MISSING) == bool(cond["exists"])
    if value is _MISSING:
        return False
    if isinstance(value, list):  # String.Array (or a JSON array in the body): any element
        return any(_match(cond, v) for v in value)
    if not isinstance(cond, dict):
        return _number(cond) == _number(value) if _is_number(cond) else cond == value
    (op, arg), = cond.items()
    if op == "prefix":
        return isinstance(value, str) and value.startswith(arg)
    if op == "suffix":
        return isinstance(value, str) and value.endswith(arg)
    if op == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(arg).lower()
    if op == "anything-but":
        excluded = arg if isinstance(arg, list) else [arg]
        if isinstance(arg, dict):
            return not _match(arg, value)
        return not any(_match(e, value) for e in excluded)
    number = _number(value)
    if number is None:
        return False
    return all(_OPS[o](number, float(v)) for o, v in zip(arg[::2], arg[1::2], strict=True))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any) -> float | None:
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def attribute_values(attributes: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Message attributes as a filter policy sees them (binary ones cannot match)."""
    out: dict[str, Any] = {}
    for name, attr in attributes.items():
        kind, value = attr.get("Type", "String"), attr.get("Value")
        if kind.startswith("Binary"):
            continue
        if kind.startswith("String.Array"):
            try:
                out[name] = json.loads(value or "[]")
            except ValueError:
                continue
        elif kind.startswith("Number"):
            out[name] = _number(value)
        else:
            out[name] = value
    return out
