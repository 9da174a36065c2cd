"""LogDeliveryConfigurations of cache clusters and replication groups.

A request's entries are merged by LogType into what the resource has (`Enabled: false` removes one).
Kura delivers the slow log to CloudWatch Logs (kura/control/elasticache/slow_log.py); an engine log or a
Kinesis Data Firehose destination is kept and shown with Status `error` and a message saying so.
"""

from __future__ import annotations

from typing import Any

from kura.services.elasticache import errors

LOG_TYPES = ("slow-log", "engine-log")
DESTINATIONS = {"cloudwatch-logs": ("CloudWatchLogsDetails", "LogGroup"),
                "kinesis-firehose": ("KinesisFirehoseDetails", "DeliveryStream")}
FORMATS = ("text", "json")
DELIVERED = ("slow-log", "cloudwatch-logs")


def _entry(item: dict[str, Any]) -> dict[str, Any]:
    log_type, destination = item.get("LogType"), item.get("DestinationType")
    if log_type not in LOG_TYPES:
        raise errors.invalid(f"Invalid LogType {log_type}: use slow-log or engine-log.")
    if destination not in DESTINATIONS:
        raise errors.invalid(f"Invalid DestinationType {destination}: use cloudwatch-logs or "
                             "kinesis-firehose.")
    section, field = DESTINATIONS[destination]
    details = (item.get("DestinationDetails") or {}).get(section) or {}
    if not details.get(field):
        raise errors.invalid(f"DestinationDetails.{section}.{field} is required for {destination}.")
    log_format = item.get("LogFormat") or "text"
    if log_format not in FORMATS:
        raise errors.invalid(f"Invalid LogFormat {log_format}: use text or json.")
    return {"LogType": log_type, "DestinationType": destination,
            "DestinationDetails": {section: {field: details[field]}}, "LogFormat": log_format}


Configs = list[dict[str, Any]]


def requested(items: Configs | None, current: Configs | None) -> Configs:
    """The configurations after a Create/Modify request: `items` merged into `current` by LogType."""
    kept = {c["LogType"]: c for c in current or []}
    for item in items or []:
        if item.get("Enabled") is False:
            if item.get("LogType") not in LOG_TYPES:
                raise errors.invalid(f"Invalid LogType {item.get('LogType')}: use slow-log or engine-log.")
            kept.pop(str(item["LogType"]), None)
        else:
            entry = _entry(item)
            kept[entry["LogType"]] = entry
    return [kept[t] for t in LOG_TYPES if t in kept]


def view(configs: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    out = []
    for config in configs or []:
        shown = {k: config[k] for k in ("LogType", "DestinationType", "DestinationDetails", "LogFormat")}
        if (config["LogType"], config["DestinationType"]) == DELIVERED:
            shown["Status"] = "active"
        else:
            shown |= {"Status": "error", "Message": f"kura delivers only the slow log to CloudWatch Logs: "
                                                    f"{config['LogType']} to {config['DestinationType']} "
                                                    "is not delivered"}
        out.append(shown)
    return out


def slow_log_group(configs: list[dict[str, Any]] | None) -> tuple[str, str] | None:
    """(log group, format) of the slow log's CloudWatch Logs delivery, if one is configured."""
    for config in configs or []:
        if (config.get("LogType"), config.get("DestinationType")) == DELIVERED:
            group = config["DestinationDetails"]["CloudWatchLogsDetails"]["LogGroup"]
            return str(group), str(config.get("LogFormat") or "text")
    return None
