"""The `cloudwatch.alarm` reconciler: evaluates each alarm on its schedule and runs the actions of
every state change.

A metric alarm is evaluated every 10 s (every second when its period is 10 or 30 s) over ranges that
end on period boundaries (minute boundaries for longer periods), so a period still running is never
judged; a composite alarm re-reads its children every second. A change of state is written with a
transition number; its actions (SNS notifications) run afterwards and the number they ran for is
written too, so a Kura killed in between notifies on restart (at least once, as SNS delivers).
After SetAlarmState the evaluator leaves the state alone for a while, as CloudWatch's next
evaluation does.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from kura.control.cloudwatch import alarm_data, alarm_notify
from kura.control.registry import reconciler
from kura.control.steps import patch_status
from kura.control.types import Outcome
from kura.env import Env
from kura.metrics import alarm_eval, alarm_rule, expr
from kura.metrics.alarm_eval import Decision, State
from kura.services.cloudwatch import alarm_records as records
from kura.store.types import Resource, VersionConflict

log = logging.getLogger("kura.control.cloudwatch")

STANDARD_EVERY = 10.0
HIGH_RESOLUTION_EVERY = 1.0
COMPOSITE_EVERY = 1.0
PRUNE_EVERY = 3600.0

_pruned: dict[str, float] = {}
_prune_lock = threading.Lock()


def interval(res: Resource) -> float:
    if records.is_composite(res):
        return COMPOSITE_EVERY
    period = int(res.spec.get("math_period") or res.spec.get("Period") or 60)
    return HIGH_RESOLUTION_EVERY if period < 60 else STANDARD_EVERY


def _seq(status: dict[str, Any], key: str = records.TRANSITION) -> int:
    value = status.get(key)
    return int(value.get("seq", 0) if isinstance(value, dict) else value or 0)


def metric_decision(env: Env, res: Resource, now: float) -> Decision | None:
    rule = alarm_data.rule_of(res.spec)
    step = alarm_data.step_of(rule.period)
    end = float(int(now) // step * step)
    start, _ = alarm_eval.window(rule, end)
    try:
        points = alarm_data.datapoints(env.settings.home, res.region, res.spec, start, end)
    except expr.MathError as exc:
        log.warning('component=alarms alarm=%s outcome="metric math failed: %s"', res.id, exc)
        return None
    current = State(res.status.get(records.STATE, "INSUFFICIENT_DATA"))
    return alarm_eval.evaluate(rule, points, end, current)


def composite_decision(env: Env, res: Resource) -> tuple[Decision, list[dict[str, Any]]]:
    node = alarm_rule.parse(res.spec["AlarmRule"])
    children = {name: env.store.get(records.KIND_ALARM, res.region, name) for name in alarm_rule.alarms(node)}
    states = {n: str(c.status.get(records.STATE)) for n, c in children.items() if c is not None}
    state = State.ALARM if alarm_rule.holds(node, states) else State.OK
    found = [c for c in children.values() if c is not None]
    trig: list[dict[str, Any]] = [{"Arn": records.alarm_arn(c.region, env.account, c.id),
             "State": {"Value": c.status.get(records.STATE),
                       "Timestamp": alarm_notify.stamp(float(c.status.get(records.TRANSITIONED, 0.0)))}}
            for c in found if state is not State.ALARM or c.status.get(records.STATE) == "ALARM"]
    # The reason names the child that moved last among those that make the new state.
    movers = [c for c in found if state is not State.ALARM or c.status.get(records.STATE) == "ALARM"] or found
    latest = max(movers, key=lambda c: float(c.status.get(records.TRANSITIONED, 0.0)), default=None)
    if latest is None:
        reason = f"The alarm rule evaluated to {state is State.ALARM}."
    else:
        when = alarm_notify.stamp(float(latest.status.get(records.TRANSITIONED, 0.0)))
        reason = (f"{records.alarm_arn(latest.region, env.account, latest.id)} transitioned to "
                  f"{latest.status.get(records.STATE)} at {when}")
    data = {"triggeringAlarms": [{"arn": t["Arn"], "state": {"value": t["State"]["Value"]}} for t in trig]}
    return Decision(state, reason, data), trig


def _transition(env: Env, res: Resource, decision: Decision, children: list[dict[str, Any]] | None,
                now: float) -> Resource:
    """Write the new state unless someone else (SetAlarmState) moved the alarm meanwhile."""
    seq0 = _seq(res.status)
    written: dict[str, Any] = {}

    def change(status: dict[str, Any]) -> dict[str, Any] | None:
        if _seq(status) != seq0 or float(status.get(records.HELD_UNTIL, 0.0)) > now:
            return None
        new = records.transition(status, decision.state.value, decision.reason, decision.reason_data, now)
        if children is not None:
            new[records.TRANSITION]["children"] = children
        new.pop(records.HELD_UNTIL, None)
        written.update(old=status, new=new)
        return new

    newest = patch_status(env.store, res, change) or res
    if written:
        alarm_type = records.COMPOSITE if records.is_composite(res) else records.METRIC
        records.add_history(env.store, res.region, res.id, alarm_type, "StateUpdate",
                            f"Alarm updated from {written['old'].get(records.STATE)} to "
                            f"{decision.state.value}",
                            records.state_history(res, written["old"], written["new"]), now)
    return newest


def _notify(env: Env, res: Resource) -> Resource:
    """Run the actions of a transition that has not had them yet."""
    change = res.status.get(records.TRANSITION)
    if not isinstance(change, dict) or int(change["seq"]) <= _seq(res.status, records.NOTIFIED):
        return res
    sent = alarm_notify.run_actions(env, res, change)
    suppressed = alarm_notify.suppressed(env, res) if records.is_composite(res) else None

    def mark(status: dict[str, Any]) -> dict[str, Any] | None:
        if _seq(status, records.NOTIFIED) >= int(change["seq"]):
            return None
        return {**status, records.NOTIFIED: int(change["seq"]), "suppressed_by": suppressed}

    log.info('component=alarms alarm=%s outcome="%s -> %s, %d topic(s) notified"', res.id, change["old"],
             change["new"], sent)
    return patch_status(env.store, res, mark) or res


def _prune(env: Env, region: str, now: float) -> None:
    with _prune_lock:
        if now - _pruned.get(region, 0.0) < PRUNE_EVERY:
            return
        _pruned[region] = now
    horizon = now - records.HISTORY_DAYS * 86400
    for item in env.store.list(records.KIND_HISTORY, region):
        if float(item.spec.get("Timestamp", 0.0)) < horizon:
            with contextlib.suppress(VersionConflict):
                env.store.delete(item)


@reconciler
class AlarmReconciler:
    kind = records.KIND_ALARM
    source_type = "cloudwatch-alarm"

    def reconcile(self, env: Env, res: Resource) -> Outcome:
        now = env.clock.now()
        every = interval(res)
        res = _notify(env, res)
        state = res.status.get(records.STATE, "INSUFFICIENT_DATA")
        held = float(res.status.get(records.HELD_UNTIL, 0.0)) - now
        if held > 0:
            return Outcome(f"{state}, set by SetAlarmState: evaluated again in {held:.0f}s",
                           requeue_after=min(held, every))
        children = None
        if records.is_composite(res):
            decision, children = composite_decision(env, res)
        else:
            found = metric_decision(env, res, now)
            if found is None:
                return Outcome(f"{state}: the metric math expression could not be evaluated",
                               requeue_after=every)
            decision = found
        if decision.state.value != state:
            res = _notify(env, _transition(env, res, decision, children, now))
        _prune(env, res.region, now)
        return Outcome(f"{res.status.get(records.STATE)}: {res.status.get(records.REASON)}",
                       requeue_after=every)
