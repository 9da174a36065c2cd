"""CloudWatch alarms over a throwaway store: the handlers' rules, and the alarm reconciler driven by
hand with a fake clock over datapoints written into the series store — OK → ALARM → OK with the SNS
message queued for the topic, SetAlarmState, composite alarms, history, tags."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kura.services.cloudwatch
import kura.services.sns  # noqa: F401  (registers the handlers)
from kura.api.errors import AwsError
from kura.clock import FakeClock
from kura.config import Settings
from kura.control.cloudwatch.alarms import AlarmReconciler
from kura.crypto import MasterKey
from kura.env import Env
from kura.metrics import series
from kura.services.cloudwatch.alarm_records import KIND_ALARM
from kura.services.registry import Ctx, lookup
from kura.services.sns.records import KIND_DELIVERY
from kura.store.sqlite import SqliteStore

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
DIMS = [{"Name": "Service", "Value": "api"}]


class Cw:
    def __init__(self, home: Path) -> None:
        # The series store reads the real time, so the fake one starts there (on a minute boundary).
        self.clock = FakeClock(start=float(int(time.time()) // 60 * 60 - 60))
        self.store = SqliteStore(home / "state.db", self.clock)
        self.env = Env(self.store, self.clock, Settings(home=home), ACCOUNT, MasterKey(os.urandom(32)))
        self.home = home

    def call(self, service: str, op: str, **params: Any) -> dict[str, Any]:
        handler = lookup(service, op)
        assert handler is not None, op
        return handler(Ctx(self.env, service, op, REGION, "req"), params)

    def __call__(self, op: str, **params: Any) -> dict[str, Any]:
        return self.call("cloudwatch", op, **params)

    def code(self, op: str, **params: Any) -> str:
        with pytest.raises(AwsError) as info:
            self(op, **params)
        return info.value.code

    def put(self, value: float, at: float, name: str = "Latency") -> None:
        series.for_home(self.home).put([series.Point("App", name, {"Service": "api"}, value, "None", at,
                                                     REGION)])

    def reconcile(self, name: str) -> dict[str, Any]:
        res = self.store.get(KIND_ALARM, REGION, name)
        assert res is not None
        AlarmReconciler().reconcile(self.env, res)
        found = self.store.get(KIND_ALARM, REGION, name)
        assert found is not None
        return found.status

    def topic(self) -> str:
        arn = str(self.call("sns", "CreateTopic", Name="alarms")["TopicArn"])
        self.call("sns", "Subscribe", TopicArn=arn, Protocol="email", Endpoint="ops@example.com")
        token = next(d.spec["Token"] for d in self.store.list(KIND_DELIVERY))
        self.call("sns", "ConfirmSubscription", TopicArn=arn, Token=token)
        for d in self.store.list(KIND_DELIVERY):
            self.store.delete(d)
        return arn

    def notes(self) -> list[dict[str, Any]]:
        found = [json.loads(d.spec["Message"]) | {"_subject": d.spec.get("Subject")}
                 for d in self.store.list(KIND_DELIVERY) if d.spec["Type"] == "Notification"]
        for d in self.store.list(KIND_DELIVERY):
            self.store.delete(d)
        return found


@pytest.fixture
def cw(tmp_path: Path) -> Iterator[Cw]:
    made = Cw(tmp_path)
    yield made
    series.close_home(tmp_path)
    made.store.close()


def _alarm(cw: Cw, topic: str, **extra: Any) -> None:
    params: dict[str, Any] = {"AlarmName": "latency-high", "MetricName": "Latency", "Namespace": "App",
                              "Statistic": "Average", "Dimensions": DIMS, "Period": 10,
                              "EvaluationPeriods": 2, "DatapointsToAlarm": 2, "Threshold": 100.0,
                              "ComparisonOperator": "GreaterThanThreshold", "AlarmActions": [topic],
                              "OKActions": [topic], "AlarmDescription": "p50 latency", **extra}
    cw("PutMetricAlarm", **params)


def test_ok_alarm_ok_with_the_cloudwatch_message(cw: Cw) -> None:
    topic = cw.topic()
    _alarm(cw, topic)
    t0 = cw.clock.now()
    assert cw.reconcile("latency-high")["StateValue"] == "INSUFFICIENT_DATA"
    for i in range(20):
        cw.put(20.0, t0 + i)
    cw.clock.advance(20)
    status = cw.reconcile("latency-high")
    assert status["StateValue"] == "OK"
    assert cw.notes()[0]["NewStateValue"] == "OK"
    for i in range(20, 40):
        cw.put(500.0, t0 + i)
    cw.clock.advance(20)
    status = cw.reconcile("latency-high")
    assert status["StateValue"] == "ALARM"
    assert status["StateReason"].startswith("Threshold Crossed: 2 out of the last 2 datapoints [500.0 (")
    (note,) = cw.notes()
    assert note["_subject"] == 'ALARM: "latency-high" in Asia Pacific (Tokyo)'
    assert (note["AlarmName"], note["OldStateValue"]) == ("latency-high", "OK")
    assert note["NewStateValue"] == "ALARM"
    assert note["AWSAccountId"] == ACCOUNT and note["Region"] == "Asia Pacific (Tokyo)"
    assert note["Trigger"] == {
        "MetricName": "Latency", "Namespace": "App", "StatisticType": "Statistic", "Statistic": "AVERAGE",
        "Unit": None, "Dimensions": [{"value": "api", "name": "Service"}], "Period": 10,
        "EvaluationPeriods": 2, "DatapointsToAlarm": 2, "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 100.0, "TreatMissingData": "missing", "EvaluateLowSampleCountPercentile": ""}
    assert note["AlarmArn"] == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:latency-high"
    assert note["StateChangeTime"].endswith("+0000") and note["AlarmActions"] == [topic]
    assert cw.reconcile("latency-high")["StateValue"] == "ALARM" and cw.notes() == []  # no news, no message
    for i in range(40, 60):
        cw.put(30.0, t0 + i)
    cw.clock.advance(20)
    assert cw.reconcile("latency-high")["StateValue"] == "OK"
    assert [n["NewStateValue"] for n in cw.notes()] == ["OK"]

    history = cw("DescribeAlarmHistory", AlarmName="latency-high")["AlarmHistoryItems"]
    kinds = [h["HistoryItemType"] for h in history]
    assert kinds[0] == "Action" and kinds[-1] == "ConfigurationUpdate" and kinds.count("StateUpdate") == 3
    states = cw("DescribeAlarmHistory", AlarmName="latency-high", HistoryItemType="StateUpdate",
                ScanBy="TimestampAscending")["AlarmHistoryItems"]
    assert [h["HistorySummary"] for h in states] == ["Alarm updated from INSUFFICIENT_DATA to OK",
                                                     "Alarm updated from OK to ALARM",
                                                     "Alarm updated from ALARM to OK"]
    assert json.loads(states[1]["HistoryData"])["newState"]["stateValue"] == "ALARM"


def test_set_alarm_state_holds_then_data_decide(cw: Cw) -> None:
    topic = cw.topic()
    _alarm(cw, topic, EvaluationPeriods=1, DatapointsToAlarm=1)
    t0 = cw.clock.now()
    for i in range(10):
        cw.put(1.0, t0 + i)
    cw.clock.advance(10)
    assert cw.reconcile("latency-high")["StateValue"] == "OK"
    cw.notes()
    cw("SetAlarmState", AlarmName="latency-high", StateValue="ALARM", StateReason="testing the pager")
    status = cw.reconcile("latency-high")
    assert (status["StateValue"], status["StateReason"]) == ("ALARM", "testing the pager")
    assert [n["NewStateReason"] for n in cw.notes()] == ["testing the pager"]
    cw.clock.advance(11)
    assert cw.reconcile("latency-high")["StateValue"] == "OK"
    assert [n["NewStateValue"] for n in cw.notes()] == ["OK"]
    assert cw.code("SetAlarmState", AlarmName="nope", StateValue="OK", StateReason="x") == "ResourceNotFound"
    assert cw.code("SetAlarmState", AlarmName="latency-high", StateValue="OK", StateReason="x",
                   StateReasonData="{bad") == "InvalidFormat"
    cw("DisableAlarmActions", AlarmNames=["latency-high"])
    cw("SetAlarmState", AlarmName="latency-high", StateValue="ALARM", StateReason="quiet")
    cw.reconcile("latency-high")
    assert cw.notes() == []  # actions disabled


def test_composite_alarm_follows_its_children(cw: Cw) -> None:
    topic = cw.topic()
    _alarm(cw, topic, AlarmActions=[], OKActions=[])
    _alarm(cw, topic, AlarmName="errors-high", MetricName="Errors", AlarmActions=[], OKActions=[])
    rule = 'ALARM("latency-high") AND NOT ALARM(errors-high)'
    cw("PutCompositeAlarm", AlarmName="slow-not-failing", AlarmRule=rule, AlarmActions=[topic])
    assert cw.reconcile("slow-not-failing")["StateValue"] == "OK"
    cw("SetAlarmState", AlarmName="latency-high", StateValue="ALARM", StateReason="slow")
    status = cw.reconcile("slow-not-failing")
    assert status["StateValue"] == "ALARM" and "latency-high transitioned to ALARM" in status["StateReason"]
    (note,) = cw.notes()
    assert note["AlarmRule"] == rule and note["TriggeringChildren"][0]["State"]["Value"] == "ALARM"
    found = cw("DescribeAlarms", AlarmTypes=["CompositeAlarm", "MetricAlarm"], StateValue="ALARM")
    assert [a["AlarmName"] for a in found["CompositeAlarms"]] == ["slow-not-failing"]
    assert [a["AlarmName"] for a in found["MetricAlarms"]] == ["latency-high"]
    children = cw("DescribeAlarms", ChildrenOfAlarmName="slow-not-failing")["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in children) == ["errors-high", "latency-high"]
    parents = cw("DescribeAlarms", ParentsOfAlarmName="errors-high", AlarmTypes=["CompositeAlarm"])
    assert [a["AlarmName"] for a in parents["CompositeAlarms"]] == ["slow-not-failing"]
    assert cw.code("PutCompositeAlarm", AlarmName="c2", AlarmRule="ALARM(missing)") == "ValidationError"
    assert cw.code("PutCompositeAlarm", AlarmName="c2", AlarmRule="ALARM(x") == "ValidationError"


def test_put_metric_alarm_rules(cw: Cw) -> None:
    base: dict[str, Any] = {"AlarmName": "a", "MetricName": "M", "Namespace": "App", "Statistic": "Average",
                            "Period": 60, "EvaluationPeriods": 1, "Threshold": 1.0,
                            "ComparisonOperator": "GreaterThanThreshold"}
    assert cw.code("PutMetricAlarm", **{**base, "Period": 45}) == "InvalidParameterValue"
    assert cw.code("PutMetricAlarm", **{**base, "ExtendedStatistic": "p99"}) == "InvalidParameterCombination"
    assert cw.code("PutMetricAlarm", **{**base, "DatapointsToAlarm": 2}) == "ValidationError"
    assert cw.code("PutMetricAlarm", **{**base, "EvaluationPeriods": 1441}) == "ValidationError"
    assert cw.code("PutMetricAlarm", **{**base, "ComparisonOperator": "GreaterThanUpperThreshold"}) == \
        "InvalidParameterValue"
    ec2_stop = ["arn:aws:automate:ap-northeast-1:ec2:stop"]
    assert cw.code("PutMetricAlarm", **{**base, "AlarmActions": ec2_stop}) == "InvalidParameterValue"
    no_stat = {k: v for k, v in base.items() if k != "Statistic"}
    cw("PutMetricAlarm", **no_stat, ExtendedStatistic="p99", Tags=[{"Key": "team", "Value": "db"}])
    arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:a"
    assert cw("ListTagsForResource", ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "db"}]
    cw("TagResource", ResourceARN=arn, Tags=[{"Key": "env", "Value": "prod"}])
    cw("UntagResource", ResourceARN=arn, TagKeys=["team"])
    assert cw("ListTagsForResource", ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]
    for_metric = cw("DescribeAlarmsForMetric", MetricName="M", Namespace="App")["MetricAlarms"]
    assert [a["ExtendedStatistic"] for a in for_metric] == ["p99"]
    assert cw("DescribeAlarmsForMetric", MetricName="M", Namespace="App", Period=300)["MetricAlarms"] == []
    math = {k: v for k, v in base.items() if k not in ("MetricName", "Namespace", "Statistic", "Period")}
    queries = [{"Id": "m1", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "M"}, "Period": 60,
                                           "Stat": "Sum"}, "ReturnData": False},
               {"Id": "e1", "Expression": "m1 / 60", "ReturnData": True}]
    cw("PutMetricAlarm", **{**math, "AlarmName": "rate"}, Metrics=queries)
    listed = cw("DescribeAlarms", AlarmNamePrefix="r")["MetricAlarms"]
    assert [a["Metrics"][1]["Expression"] for a in listed] == ["m1 / 60"]
    assert cw.code("DeleteAlarms", AlarmNames=["a", "nope"]) == "ResourceNotFound"
    cw("DeleteAlarms", AlarmNames=["a", "rate"])
    assert cw("DescribeAlarms")["MetricAlarms"] == []


def test_percentile_and_metric_math_alarms(cw: Cw) -> None:
    common: dict[str, Any] = {"EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanThreshold"}
    cw("PutMetricAlarm", AlarmName="p90", MetricName="Latency", Namespace="App", Dimensions=DIMS, Period=10,
       ExtendedStatistic="p90", Threshold=50.0, **common)
    queries = [{"Id": "m1", "ReturnData": False,
                "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Latency", "Dimensions": DIMS},
                               "Period": 10, "Stat": "Sum"}},
               {"Id": "e1", "Expression": "m1 / PERIOD(m1)", "Label": "per second", "ReturnData": True}]
    cw("PutMetricAlarm", AlarmName="rate", Metrics=queries, Threshold=30.0, **common)
    t0 = cw.clock.now()
    for i in range(10):  # nine fast requests and one slow one: p90 is 10, the sum 10 × 9 + 400 = 490
        cw.put(400.0 if i == 0 else 10.0, t0 + i)
    cw.clock.advance(10)
    p90, rate = cw.reconcile("p90"), cw.reconcile("rate")
    assert p90["StateValue"] == "OK" and json.loads(p90["StateReasonData"])["recentDatapoints"] == [10.0]
    assert rate["StateValue"] == "ALARM" and json.loads(rate["StateReasonData"])["recentDatapoints"] == [49.0]
