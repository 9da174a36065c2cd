"""ElastiCache LogDeliveryConfigurations (merge by LogType, what is shown) and the slow log's formats."""

from __future__ import annotations

import json

import pytest

from kura.api.errors import AwsError
from kura.control.elasticache.slow_log import command, message
from kura.services.elasticache.log_delivery import requested, slow_log_group, view

Conf = dict[str, object]


def conf(log_type: str = "slow-log", destination: str = "cloudwatch-logs", **extra: object) -> Conf:
    details = ({"CloudWatchLogsDetails": {"LogGroup": "/cache/slow"}} if destination == "cloudwatch-logs"
               else {"KinesisFirehoseDetails": {"DeliveryStream": "s"}})
    return {"LogType": log_type, "DestinationType": destination, "DestinationDetails": details, **extra}


def test_merged_by_log_type_and_removed_when_disabled() -> None:
    first = requested([conf(LogFormat="json"), conf("engine-log", "kinesis-firehose")], None)
    assert [(c["LogType"], c["LogFormat"]) for c in first] == [("slow-log", "json"), ("engine-log", "text")]
    second = requested([conf(LogFormat="text")], first)
    assert [(c["LogType"], c["LogFormat"]) for c in second] == [("slow-log", "text"), ("engine-log", "text")]
    assert requested([{"LogType": "engine-log", "Enabled": False}], second) == second[:1]
    assert slow_log_group(second) == ("/cache/slow", "text")
    shown = view(second)
    assert shown[0]["Status"] == "active" and shown[1]["Status"] == "error" and "not delivered" in \
        str(shown[1]["Message"])


@pytest.mark.parametrize("bad", [conf("audit-log"), conf(destination="s3"), conf(LogFormat="xml"),
                                 {"LogType": "slow-log", "DestinationType": "cloudwatch-logs"}])
def test_invalid_configurations_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(AwsError) as info:
        requested([bad], None)
    assert info.value.code == "InvalidParameterValue"


def test_slow_log_entry_formats() -> None:
    entry = [296, 1605631822, 30, ["GET", "secret-key"], "192.168.12.104:55452", "app"]
    assert command(["PING"]) == "PING" and command(["SET", "k", "v"]) == "SET ... (2 more arguments)"
    assert message("c1", entry, "text") == \
        "c1,0001,1605631822,30,GET ... (1 more arguments),192.168.12.104:55452,app"
    assert json.loads(message("c1", entry, "json")) == {
        "CacheClusterId": "c1", "CacheNodeId": "0001", "Id": 296, "Timestamp": 1605631822,
        "Duration (us)": 30, "Command": "GET ... (1 more arguments)", "ClientAddress": "192.168.12.104:55452",
        "ClientName": "app"}
