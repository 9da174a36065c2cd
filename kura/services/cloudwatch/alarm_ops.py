"""PutCompositeAlarm, DeleteAlarms, EnableAlarmActions, DisableAlarmActions, SetAlarmState."""

from __future__ import annotations

import json
from typing import Any

from kura.api.errors import AwsError
from kura.metrics import alarm_rule
from kura.services.cloudwatch import alarm_records as records
from kura.services.cloudwatch import alarms, shared
from kura.services.common import tags as tagging
from kura.services.registry import Ctx, operation
from kura.store.types import VersionConflict

MAX_NAMES = 100


def not_found(names: list[str]) -> AwsError:
    return AwsError("ResourceNotFound", f"Could not find the alarm(s): {', '.join(names)}", 404)


def _rule(ctx: Ctx, name: str, text: str) -> None:
    try:
        node = alarm_rule.parse(text)
    except alarm_rule.RuleError as exc:
        raise shared.validation(str(exc)) from None
    refs = alarm_rule.alarms(node)
    if name in refs:
        raise shared.validation(f"The alarm rule of {name} refers to {name} itself.")
    missing = sorted(r for r in refs if ctx.store.get(records.KIND_ALARM, ctx.region, r) is None)
    if missing:
        raise shared.validation(f"Could not save the composite alarm as alarms {missing} in the alarm rule "
                                "do not exist")


@operation("cloudwatch", "PutCompositeAlarm")
def put_composite_alarm(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("ActionConfiguration"):
        raise shared.invalid("kura does not implement ActionConfiguration on alarms.")
    _rule(ctx, params["AlarmName"], params["AlarmRule"])
    alarms.check_actions(ctx, params)
    suppressor = params.get("ActionsSuppressor")
    found = ctx.store.get(records.KIND_ALARM, ctx.region, alarm_rule.alarm_name(suppressor or ""))
    if suppressor and found is None:
        raise shared.validation(f"The actions suppressor {suppressor} does not exist.")
    spec = {k: v for k, v in params.items() if k != "Tags"}
    spec.setdefault("ActionsEnabled", True)
    if suppressor:
        spec.setdefault("ActionsSuppressorWaitPeriod", 60)
        spec.setdefault("ActionsSuppressorExtensionPeriod", 60)
    spec["Tags"] = tagging.normalize(params.get("Tags"), "InvalidParameterValue")
    alarms.save(ctx, params["AlarmName"], spec, records.COMPOSITE)
    return {}


def _names(params: dict[str, Any]) -> list[str]:
    names = list(params.get("AlarmNames") or [])
    if len(names) > MAX_NAMES:
        raise shared.invalid(f"The collection AlarmNames must not have a size greater than {MAX_NAMES}.")
    return names


@operation("cloudwatch", "DeleteAlarms")
def delete_alarms(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    names = _names(params)
    with ctx.store.transaction():
        found = {n: ctx.store.get(records.KIND_ALARM, ctx.region, n) for n in names}
        missing = [n for n, res in found.items() if res is None]
        if missing:
            raise not_found(missing)  # as on CloudWatch: then nothing is deleted
        for res in found.values():
            if res is not None:
                ctx.store.delete(res)
    return {}


def _set_actions(ctx: Ctx, params: dict[str, Any], enabled: bool) -> dict[str, Any]:
    with ctx.store.transaction():
        for name in _names(params):
            res = ctx.store.get(records.KIND_ALARM, ctx.region, name)
            if res is not None and bool(res.spec.get("ActionsEnabled")) != enabled:
                ctx.store.update(res, spec={**res.spec, "ActionsEnabled": enabled})
    return {}


@operation("cloudwatch", "EnableAlarmActions")
def enable_alarm_actions(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return _set_actions(ctx, params, True)


@operation("cloudwatch", "DisableAlarmActions")
def disable_alarm_actions(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    return _set_actions(ctx, params, False)


@operation("cloudwatch", "SetAlarmState")
def set_alarm_state(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    """The state changes at once and its actions run; the evaluator leaves it alone for HOLD_SECONDS,
    then the data decide again (CloudWatch's next evaluation)."""
    name, state, reason = params["AlarmName"], params["StateValue"], params["StateReason"]
    data = params.get("StateReasonData")
    if data is not None:
        try:
            json.loads(data)
        except ValueError:
            raise AwsError("InvalidFormat", "StateReasonData is not valid JSON.") from None
    for _ in range(20):
        res = ctx.store.get(records.KIND_ALARM, ctx.region, name)
        if res is None:
            raise not_found([name])
        now = ctx.now()
        new = {**records.transition(res.status, state, reason, data, now),
               records.HELD_UNTIL: now + records.HOLD_SECONDS}
        alarm_type = records.COMPOSITE if records.is_composite(res) else records.METRIC
        try:
            with ctx.store.transaction():
                ctx.store.update(res, status=new)
                records.add_history(ctx.store, ctx.region, name, alarm_type, "StateUpdate",
                                    f"Alarm updated from {res.status.get(records.STATE)} to {state}",
                                    records.state_history(res, res.status, new), now)
            return {}
        except VersionConflict:
            continue  # the evaluator wrote meanwhile: set the state over its latest
    raise shared.validation(f"The alarm {name} kept changing; try again.")
