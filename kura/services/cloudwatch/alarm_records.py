"""CloudWatch alarms as stored: `cloudwatch.alarm` (id: the alarm's name) with the request in its
spec and the state in its status, and `cloudwatch.alarm-history` items (kept 14 days, as CloudWatch
keeps them). Shared by the alarm handlers and the evaluator in kura/control/cloudwatch."""

from __future__ import annotations

import itertools
import json
from typing import Any

from kura.store.types import Resource, Store

KIND_ALARM = "cloudwatch.alarm"
KIND_HISTORY = "cloudwatch.alarm-history"
METRIC = "MetricAlarm"
COMPOSITE = "CompositeAlarm"
HISTORY_DAYS = 14
INITIAL_REASON = "Unchecked: Initial alarm creation"

# Status keys: the state as DescribeAlarms shows it, and the transition whose actions are pending.
STATE, REASON, REASON_DATA = "StateValue", "StateReason", "StateReasonData"
UPDATED, TRANSITIONED = "StateUpdatedTimestamp", "StateTransitionedTimestamp"
TRANSITION, NOTIFIED = "transition", "notified"
HELD_UNTIL = "held_until"  # SetAlarmState: the evaluator leaves the state alone until then
HOLD_SECONDS = 10.0


# Orders the history items of one instant as they were written (the timestamp in the id keeps the
# items of different runs apart).
_seq = itertools.count()


def alarm_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"


def initial_status(now: float) -> dict[str, Any]:
    return {STATE: "INSUFFICIENT_DATA", REASON: INITIAL_REASON, UPDATED: now, TRANSITIONED: now}


def transition(status: dict[str, Any], state: str, reason: str, reason_data: dict[str, Any] | str | None,
               now: float) -> dict[str, Any]:
    """`status` moved to `state`: the new state, and a transition whose actions are still to run."""
    old = str(status.get(STATE, "INSUFFICIENT_DATA"))
    seq = int((status.get(TRANSITION) or {}).get("seq", 0)) + 1
    data = reason_data if isinstance(reason_data, str) or reason_data is None else \
        json.dumps(reason_data, separators=(",", ":"))
    new = {**status, STATE: state, REASON: reason, UPDATED: now, TRANSITIONED: now,
           TRANSITION: {"seq": seq, "old": old, "new": state, "reason": reason, "time": now}}
    if data is None:
        new.pop(REASON_DATA, None)
    else:
        new[REASON_DATA] = data
    return new


def add_history(store: Store, region: str, name: str, alarm_type: str, kind: str, summary: str,
                data: dict[str, Any], now: float) -> None:
    """One DescribeAlarmHistory item (ConfigurationUpdate, StateUpdate or Action)."""
    store.create(KIND_HISTORY, region, f"{name}/{now:017.6f}/{next(_seq) & 0xFFFFFFFF:08x}",
                 {"AlarmName": name, "AlarmType": alarm_type, "Timestamp": now, "HistoryItemType": kind,
                  "HistorySummary": summary, "HistoryData": json.dumps(data, separators=(",", ":"))})


def state_history(res: Resource, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """HistoryData of a StateUpdate item."""
    def part(status: dict[str, Any]) -> dict[str, Any]:
        out = {"stateValue": status.get(STATE), "stateReason": status.get(REASON)}
        if status.get(REASON_DATA):
            out["stateReasonData"] = json.loads(status[REASON_DATA])
        return out

    return {"version": "1.0", "oldState": part(old), "newState": part(new)}


def is_composite(res: Resource) -> bool:
    return res.spec.get("type") == COMPOSITE
