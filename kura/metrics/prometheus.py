"""The latest measurements in the Prometheus text exposition format (version 0.0.4), served at /metrics.

A CloudWatch metric becomes a gauge named after its namespace and name in snake case
(AWS/RDS CPUUtilization → aws_rds_cpu_utilization), its dimensions and region become labels
(db_instance_identifier="db1", region="us-east-1"); the collector's own cost is kura_metrics_collector_*.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

from kura.metrics import latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_BAD = re.compile(r"[^a-zA-Z0-9_]")
_SELF = {
    "ticks": ("kura_metrics_collector_ticks_total", "counter", "Seconds the collector has measured."),
    "cpu_seconds": ("kura_metrics_collector_cpu_seconds_total", "counter",
                    "CPU time the collector thread has used."),
    "instances": ("kura_metrics_collector_db_instances", "gauge", "DB instances measured in the last tick."),
    "cache_nodes": ("kura_metrics_collector_cache_nodes", "gauge", "Cache nodes measured in the last tick."),
    "last_tick_seconds": ("kura_metrics_collector_last_tick_seconds", "gauge",
                          "Wall time of the last collection tick."),
}


def snake(text: str) -> str:
    text = text.replace("IDs", "Ids")  # MaximumUsedTransactionIDs → …_transaction_ids
    return _BAD.sub("_", _CAMEL.sub("_", text)).lower().strip("_")


def metric_name(namespace: str, name: str) -> str:
    """Namespace lowercased as written (AWS/ElastiCache → aws_elasticache), the name in snake case."""
    out = f"{_BAD.sub('_', namespace).lower()}_{snake(name)}"
    return out if not out[0].isdigit() else f"_{out}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def render() -> str:
    values, counters = latest.snapshot()
    families: dict[str, list[str]] = defaultdict(list)
    units: dict[str, tuple[str, str]] = {}
    for v in values:
        name = metric_name(v.namespace, v.name)
        labels = [(snake(k), val) for k, val in v.dimensions] + [("region", v.region)]
        text = ",".join(f'{k}="{_escape(val)}"' for k, val in labels if val is not None)
        families[name].append(f"{name}{{{text}}} {_number(v.value)}")
        units[name] = (f"{v.namespace} {v.name}", v.unit)
    lines: list[str] = []
    for name in sorted(families):
        what, unit = units[name]
        lines += [f"# HELP {name} CloudWatch {what} ({unit}).", f"# TYPE {name} gauge", *families[name]]
    for key, (name, kind, text) in _SELF.items():
        if key in counters:
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name} {_number(counters[key])}"]
    return "\n".join(lines) + "\n"
