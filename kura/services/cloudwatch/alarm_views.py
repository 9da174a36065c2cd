"""DescribeAlarms' MetricAlarm and CompositeAlarm shapes from stored alarms."""

from __future__ import annotations

from typing import Any

from kura.services.cloudwatch import alarm_records as records
from kura.store.types import Resource

_METRIC_FIELDS = ("AlarmDescription", "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Period",
                  "Unit", "Threshold", "ComparisonOperator", "TreatMissingData",
                  "EvaluateLowSampleCountPercentile", "Metrics")
_COMPOSITE_FIELDS = ("AlarmDescription", "AlarmRule", "ActionsSuppressor", "ActionsSuppressorWaitPeriod",
                     "ActionsSuppressorExtensionPeriod")


def _common(res: Resource, account: str) -> dict[str, Any]:
    spec, status = res.spec, res.status
    out: dict[str, Any] = {
        "AlarmName": res.id, "AlarmArn": records.alarm_arn(res.region, account, res.id),
        "AlarmConfigurationUpdatedTimestamp": spec["updated"],
        "ActionsEnabled": bool(spec.get("ActionsEnabled")),
        "OKActions": list(spec.get("OKActions") or []), "AlarmActions": list(spec.get("AlarmActions") or []),
        "InsufficientDataActions": list(spec.get("InsufficientDataActions") or []),
        "StateValue": status.get(records.STATE, "INSUFFICIENT_DATA"),
        "StateReason": status.get(records.REASON, records.INITIAL_REASON),
        "StateUpdatedTimestamp": status.get(records.UPDATED, spec["updated"]),
        "StateTransitionedTimestamp": status.get(records.TRANSITIONED, spec["updated"]),
    }
    if status.get(records.REASON_DATA):
        out["StateReasonData"] = status[records.REASON_DATA]
    return out


def metric_alarm(res: Resource, account: str) -> dict[str, Any]:
    out = _common(res, account)
    spec = res.spec
    out.update({k: spec[k] for k in _METRIC_FIELDS if spec.get(k) is not None})
    if not spec.get("Metrics"):
        out["Dimensions"] = list(spec.get("Dimensions") or [])
    out["EvaluationPeriods"] = spec["EvaluationPeriods"]
    out["DatapointsToAlarm"] = spec.get("DatapointsToAlarm") or spec["EvaluationPeriods"]
    out.setdefault("TreatMissingData", "missing")
    return out


def composite_alarm(res: Resource, account: str) -> dict[str, Any]:
    out = _common(res, account)
    out.update({k: res.spec[k] for k in _COMPOSITE_FIELDS if res.spec.get(k) is not None})
    suppressed = res.status.get("suppressed_by")
    out["ActionsSuppressedBy"] = suppressed or "None"
    if suppressed:
        out["ActionsSuppressedReason"] = f"Alarm is in {suppressed} state"
    return out


def view(res: Resource, account: str) -> dict[str, Any]:
    return composite_alarm(res, account) if records.is_composite(res) else metric_alarm(res, account)
