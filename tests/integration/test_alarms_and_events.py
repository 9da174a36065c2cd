"""Alarms and RDS events notifying SNS, through a real `kura up` with a real DB instance: an RDS
event subscription forwards a reboot to an HTTP subscriber; alarms go OK → ALARM → OK on values sent
with PutMetricData and on the instance's own DatabaseConnections, the subscriber receiving
CloudWatch's signed JSON each time; seed 003's and 004's alarms made through the AWS CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.test_rds_lifecycle import connect, create, describe, running, wait_status
from tests.kura_fixture import KuraServer
from tests.sns_subscriber import Received, Subscriber, subscribed_topic, subscriber, verify

DB = "obs-db"


@pytest.fixture(scope="module")
def kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    with running(tmp_path_factory.mktemp("alarms") / "home") as server:
        yield server


@pytest.fixture(scope="module")
def instance(kura: KuraServer) -> dict[str, Any]:
    rds = kura.client("rds")
    create(rds, DB)
    return describe(rds, DB)


def _note(sub: Subscriber, timeout: float = 30.0) -> tuple[Received, dict[str, Any]]:
    got = sub.next_of("Notification", timeout)
    doc = got.doc
    verify(doc)
    return got, doc


def test_rds_event_reaches_the_subscribed_topic(kura: KuraServer, instance: dict[str, Any],
                                                seeded: object) -> None:
    rds = kura.client("rds")
    with subscriber() as sub:
        topic = subscribed_topic(kura.client("sns"), sub, "rds-events")
        made = kura.aws("rds", "create-event-subscription", "--subscription-name", "obs-events",
                        "--sns-topic-arn", topic, "--source-type", "db-instance", "--source-ids", DB,
                        "--event-categories", "availability", "failure",
                        "--tags", "Key=team,Value=db")["EventSubscription"]
        assert (made["Status"], made["SourceIdsList"], made["Enabled"]) == ("creating", [DB], True)
        first = _note(sub)[1]
        assert first["Subject"] == "RDS Notification Message" and "obs-events" in first["Message"]
        listed = rds.describe_event_subscriptions(SubscriptionName="obs-events")["EventSubscriptionsList"]
        assert listed[0]["Status"] == "active"
        assert listed[0]["EventSubscriptionArn"].endswith(":es:obs-events")
        tags = rds.list_tags_for_resource(ResourceName=listed[0]["EventSubscriptionArn"])["TagList"]
        assert tags == [{"Key": "team", "Value": "db"}]

        rds.reboot_db_instance(DBInstanceIdentifier=DB)
        wait_status(rds, DB, "available", timeout=60)
        # Two events, each its own message (a standard topic does not promise their order).
        bodies = {b["Event Message"]: b for b in (json.loads(_note(sub)[1]["Message"]) for _ in range(2))}
        assert set(bodies) == {"DB instance reboot requested", "DB instance restarted"}
        body = bodies["DB instance restarted"]
        assert (body["Event Source"], body["Source ID"]) == ("db-instance", DB)
        assert body["Event ID"].endswith("#RDS-EVENT-0006")
        assert body["Source ARN"] == instance["DBInstanceArn"]

        rds.modify_event_subscription(SubscriptionName="obs-events", EventCategories=["backup"])
        rds.remove_source_identifier_from_subscription(SubscriptionName="obs-events", SourceIdentifier=DB)
        changed = rds.add_source_identifier_to_subscription(SubscriptionName="obs-events",
                                                            SourceIdentifier=DB)["EventSubscription"]
        assert changed["EventCategoriesList"] == ["backup"] and changed["SourceIdsList"] == [DB]
        codes = []
        for call, kw in ((rds.create_event_subscription, {"SubscriptionName": "obs-events",
                                                          "SnsTopicArn": topic}),
                         (rds.create_event_subscription, {"SubscriptionName": "x",
                                                          "SnsTopicArn": topic + "9"}),
                         (rds.add_source_identifier_to_subscription, {"SubscriptionName": "obs-events",
                                                                      "SourceIdentifier": "nope"}),
                         (rds.create_event_subscription, {"SubscriptionName": "y", "SnsTopicArn": topic,
                                                          "SourceType": "db-instance",
                                                          "EventCategories": ["nonsense"]})):
            with pytest.raises(Exception) as info:
                call(**kw)
            codes.append(info.value.response["Error"]["Code"])  # type: ignore[attr-defined]
        assert codes == ["SubscriptionAlreadyExist", "SNSTopicArnNotFound", "SourceNotFound",
                         "SubscriptionCategoryNotFound"]
        deleted = rds.delete_event_subscription(SubscriptionName="obs-events")["EventSubscription"]
        assert deleted["Status"] == "deleting"
        assert rds.describe_event_subscriptions()["EventSubscriptionsList"] == []


def _alarm_notes(sub: Subscriber, count: int) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for _ in range(count):
        doc = _note(sub, timeout=45)[1]
        note = json.loads(doc["Message"])
        assert doc["Subject"] == f'{note["NewStateValue"]}: "{note["AlarmName"]}" in Asia Pacific (Tokyo)'
        out.setdefault(note["AlarmName"], []).append(note)
    return out


def test_alarms_ok_alarm_ok_on_real_data(kura: KuraServer, instance: dict[str, Any]) -> None:
    cw = kura.client("cloudwatch")
    with subscriber() as sub:
        topic = subscribed_topic(kura.client("sns"), sub, "alarms")
        actions = {"AlarmActions": [topic], "OKActions": [topic]}
        cw.put_metric_alarm(AlarmName="queue-depth", Namespace="Shop", MetricName="QueueDepth",
                            Dimensions=[{"Name": "Queue", "Value": "orders"}], Statistic="Maximum", Period=10,
                            EvaluationPeriods=1, Threshold=100.0, ComparisonOperator="GreaterThanThreshold",
                            **actions)
        dims = [{"Name": "DBInstanceIdentifier", "Value": DB}]
        cw.put_metric_alarm(AlarmName="db-connections", Namespace="AWS/RDS",
                            MetricName="DatabaseConnections", Dimensions=dims, Statistic="Maximum", Period=10,
                            EvaluationPeriods=1, Threshold=6.0,
                            ComparisonOperator="GreaterThanOrEqualToThreshold", **actions)

        def depth(value: float) -> None:
            cw.put_metric_data(Namespace="Shop", MetricData=[{
                "MetricName": "QueueDepth", "Dimensions": [{"Name": "Queue", "Value": "orders"}],
                "Value": value, "StorageResolution": 1}])

        depth(3.0)
        first = _alarm_notes(sub, 2)  # both alarms: INSUFFICIENT_DATA -> OK
        assert {n[0]["NewStateValue"] for n in first.values()} == {"OK"}, first
        conns = [connect(instance) for _ in range(7)]
        try:
            depth(250.0)
            fired = _alarm_notes(sub, 2)
        finally:
            for conn in conns:
                conn.close()
        queue, db = fired["queue-depth"][0], fired["db-connections"][0]
        assert (queue["OldStateValue"], queue["NewStateValue"]) == ("OK", "ALARM")
        assert queue["NewStateReason"].startswith(
            "Threshold Crossed: 1 out of the last 1 datapoints [250.0 (")
        assert queue["Trigger"]["Statistic"] == "MAXIMUM" and queue["Trigger"]["Period"] == 10
        assert db["NewStateValue"] == "ALARM"
        assert db["Trigger"]["Dimensions"] == [{"value": DB, "name": "DBInstanceIdentifier"}]
        depth(7.0)
        back = _alarm_notes(sub, 2)
        assert {n[0]["NewStateValue"] for n in back.values()} == {"OK"}
    history = cw.describe_alarm_history(AlarmName="queue-depth", HistoryItemType="StateUpdate")
    assert [h["HistorySummary"] for h in history["AlarmHistoryItems"]][:2] == \
        ["Alarm updated from ALARM to OK", "Alarm updated from OK to ALARM"]
    cw.delete_alarms(AlarmNames=["queue-depth", "db-connections"])


GT, LT = "GreaterThanThreshold", "LessThanThreshold"
SEED_004 = [("langpont-rds-cpu-high", "CPUUtilization", "300", "2", "80", GT),
            ("langpont-rds-connections-high", "DatabaseConnections", "300", "2", "250", GT),
            ("langpont-rds-replica-lag", "ReplicaLag", "60", "5", "30", GT),
            ("langpont-rds-storage-low", "FreeStorageSpace", "300", "1", "10737418240", LT)]
SEED_003 = [("miyabi-prod-aurora-cpu-high", "CPUUtilization", "80"),
            ("miyabi-prod-aurora-acu-high", "ACUUtilization", "80"),
            ("miyabi-prod-aurora-connections-high", "DatabaseConnections", "800")]


@pytest.fixture(scope="module")
def seeded(kura: KuraServer, instance: dict[str, Any]) -> Iterator[tuple[str, list[Future[Any]]]]:
    """Seed 004's four alarms and seed 003's three as `aws cloudwatch put-metric-alarm` commands, run
    in the background from the module's start (each CLI run is seconds of Python start-up) while the
    other tests wait for their alarms."""
    topic = str(kura.client("sns").create_topic(Name="langpont-alerts")["TopicArn"])
    calls = [("cloudwatch", "put-metric-alarm", "--alarm-name", name, "--metric-name", metric,
              "--namespace", "AWS/RDS", "--statistic", "Average", "--period", period,
              "--evaluation-periods", periods, "--threshold", threshold, "--comparison-operator", op,
              "--dimensions", f"Name=DBInstanceIdentifier,Value={DB}", "--alarm-actions", topic)
             for name, metric, period, periods, threshold, op in SEED_004]
    calls += [("cloudwatch", "put-metric-alarm", "--alarm-name", name, "--metric-name", metric,
               "--namespace", "AWS/RDS", "--statistic", "Average", "--period", "300",
               "--evaluation-periods", "2", "--threshold", threshold,
               "--comparison-operator", "GreaterThanThreshold",
               "--dimensions", "Name=DBClusterIdentifier,Value=miyabi-prod-aurora-cluster",
               "--alarm-actions", topic, "--ok-actions", topic)
              for name, metric, threshold in SEED_003]
    with ThreadPoolExecutor(2) as pool:
        yield topic, [pool.submit(kura.aws, *args) for args in calls]


def test_seed_alarms_through_the_cli(kura: KuraServer, seeded: tuple[str, list[Future[Any]]]) -> None:
    topic, runs = seeded
    for run in runs:
        run.result(timeout=120)
    cw = kura.client("cloudwatch")
    found = kura.aws("cloudwatch", "describe-alarms", "--alarm-name-prefix", "langpont-")["MetricAlarms"]
    assert [a["AlarmName"] for a in found] == sorted(s[0] for s in SEED_004)
    assert {a["Threshold"] for a in found} == {80.0, 250.0, 30.0, 10737418240.0}
    assert all(a["AlarmActions"] == [topic] for a in found)
    for_metric = cw.describe_alarms_for_metric(MetricName="DatabaseConnections", Namespace="AWS/RDS")
    assert sorted(a["AlarmName"] for a in for_metric["MetricAlarms"]) == \
        ["langpont-rds-connections-high", "miyabi-prod-aurora-connections-high"]
    cw.set_alarm_state(AlarmName="langpont-rds-cpu-high", StateValue="ALARM", StateReason="drill")
    cpu = cw.describe_alarms(AlarmNames=["langpont-rds-cpu-high"])["MetricAlarms"][0]
    assert (cpu["StateValue"], cpu["StateReason"]) == ("ALARM", "drill")
    cw.delete_alarms(AlarmNames=[s[0] for s in SEED_004] + [s[0] for s in SEED_003])
    assert cw.describe_alarms()["MetricAlarms"] == []
