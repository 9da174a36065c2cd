"""What an alarm's state change sends: the JSON message CloudWatch publishes to SNS topics (metric
and composite forms), and running the actions of one transition, each recorded in the history."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from typing import Any

import botocore.session

from kura.env import Env
from kura.metrics import alarm_rule
from kura.services.cloudwatch import alarm_records as records
from kura.services.sns import fanout
from kura.services.sns.records import parse_arn
from kura.store.types import Resource

log = logging.getLogger("kura.control.cloudwatch")

ACTION_KEYS = {"ALARM": "AlarmActions", "OK": "OKActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}
SUBJECT_MAX = 100  # SNS's limit on a subject


@functools.cache
def region_name(region: str) -> str:
    """"Asia Pacific (Tokyo)" for ap-northeast-1, as CloudWatch names regions in its messages."""
    for partition in botocore.session.get_session().get_data("endpoints")["partitions"]:
        found = partition["regions"].get(region)
        if found and found.get("description"):
            return str(found["description"])
    return region


def stamp(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _dims(raw: list[dict[str, str]] | None) -> list[dict[str, str]]:
    return [{"value": d["Value"], "name": d["Name"]} for d in raw or []]


def trigger(spec: dict[str, Any]) -> dict[str, Any]:
    common = {"EvaluationPeriods": spec["EvaluationPeriods"],
              "DatapointsToAlarm": spec.get("DatapointsToAlarm") or spec["EvaluationPeriods"],
              "ComparisonOperator": spec["ComparisonOperator"], "Threshold": float(spec["Threshold"]),
              "TreatMissingData": spec.get("TreatMissingData") or "missing",
              "EvaluateLowSampleCountPercentile": spec.get("EvaluateLowSampleCountPercentile") or ""}
    if spec.get("Metrics"):
        metrics = []
        for q in spec["Metrics"]:
            entry: dict[str, Any] = {"Id": q["Id"], "ReturnData": bool(q.get("ReturnData", True))}
            if q.get("Label"):
                entry["Label"] = q["Label"]
            if q.get("Expression"):
                entry["Expression"] = q["Expression"]
            else:
                ms = q["MetricStat"]
                entry["MetricStat"] = {"Metric": {"Dimensions": _dims(ms["Metric"].get("Dimensions")),
                                                  "MetricName": ms["Metric"]["MetricName"],
                                                  "Namespace": ms["Metric"]["Namespace"]},
                                       "Period": ms["Period"], "Stat": ms["Stat"]}
            metrics.append(entry)
        return {"Period": spec["math_period"], **common, "Metrics": metrics}
    out: dict[str, Any] = {"MetricName": spec["MetricName"], "Namespace": spec["Namespace"]}
    if spec.get("Statistic"):
        out.update(StatisticType="Statistic", Statistic=str(spec["Statistic"]).upper())
    else:
        out.update(StatisticType="ExtendedStatistic", ExtendedStatistic=spec["ExtendedStatistic"])
    out.update(Unit=spec.get("Unit"), Dimensions=_dims(spec.get("Dimensions")), Period=spec["Period"],
               **common)
    return out


def message(env: Env, res: Resource, change: dict[str, Any]) -> dict[str, Any]:
    """The notification of one transition, as CloudWatch writes it."""
    spec = res.spec
    out: dict[str, Any] = {
        "AlarmName": res.id, "AlarmDescription": spec.get("AlarmDescription"), "AWSAccountId": env.account,
        "AlarmConfigurationUpdatedTimestamp": stamp(spec["updated"]), "NewStateValue": change["new"],
        "NewStateReason": change["reason"], "StateChangeTime": stamp(change["time"]),
        "Region": region_name(res.region), "AlarmArn": records.alarm_arn(res.region, env.account, res.id),
        "OldStateValue": change["old"], "OKActions": list(spec.get("OKActions") or []),
        "AlarmActions": list(spec.get("AlarmActions") or []),
        "InsufficientDataActions": list(spec.get("InsufficientDataActions") or [])}
    if records.is_composite(res):
        out["AlarmRule"] = spec["AlarmRule"]
        out["TriggeringChildren"] = change.get("children") or []
    else:
        out["Trigger"] = trigger(spec)
    return out


def subject(res: Resource, state: str) -> str:
    text = f'{state}: "{res.id}" in {region_name(res.region)}'
    return text if len(text) <= SUBJECT_MAX else text[:SUBJECT_MAX - 3] + "..."


def suppressed(env: Env, res: Resource) -> str | None:
    """The state of a composite alarm's ActionsSuppressor when it holds the actions back (ALARM)."""
    suppressor = res.spec.get("ActionsSuppressor")
    if not suppressor:
        return None
    found = env.store.get(records.KIND_ALARM, res.region, alarm_rule.alarm_name(suppressor))
    state = found.status.get(records.STATE) if found else None
    return "Alarm" if state == "ALARM" else None


def run_actions(env: Env, res: Resource, change: dict[str, Any]) -> int:
    """Publish the transition to the SNS topics of its new state; returns how many were notified."""
    if not res.spec.get("ActionsEnabled", True) or suppressed(env, res):
        return 0
    body = json.dumps(message(env, res, change), separators=(",", ":"))
    alarm_type = records.COMPOSITE if records.is_composite(res) else records.METRIC
    done = 0
    for arn in res.spec.get(ACTION_KEYS[change["new"]]) or []:
        topic = parse_arn(arn)
        message_id = None
        if topic is not None and topic.account == env.account:
            message_id = fanout.publish(env.store, topic.region, topic.account, topic.topic,
                                        fanout.Outgoing(body, subject(res, change["new"])), env.clock.now())
        ok = message_id is not None
        summary = f"{'Successfully executed' if ok else 'Failed to execute'} action {arn}"
        data: dict[str, Any] = {"actionState": "Succeeded" if ok else "Failed", "notificationResource": arn,
                                "stateUpdateTimestamp": int(change["time"] * 1000)}
        if ok:
            data["publishedMessage"] = {"messageId": message_id}
        else:
            data["error"] = "Topic does not exist"
        records.add_history(env.store, res.region, res.id, alarm_type, "Action", summary, data,
                            env.clock.now())
        log.info('component=alarms alarm=%s outcome="%s"', res.id, summary)
        done += ok
    return done
