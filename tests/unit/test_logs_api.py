"""CloudWatch Logs handlers over a real log store (logs.db in a temporary home) with a fake clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kura.services.logs  # noqa: F401  (registers the handlers)
from kura.api.errors import AwsError
from kura.clock import FakeClock
from kura.config import Settings
from kura.crypto import MasterKey
from kura.env import Env
from kura.metrics import logstore
from kura.services.registry import Ctx, lookup
from kura.store.sqlite import SqliteStore

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
DAY_MS = 86_400_000


class Logs:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.clock = FakeClock()
        self.store = SqliteStore(home / "state.db", self.clock)
        self.env = Env(self.store, self.clock, Settings(home=home), ACCOUNT, MasterKey(os.urandom(32)))

    def __call__(self, op: str, region: str = REGION, **params: Any) -> dict[str, Any]:
        handler = lookup("logs", op)
        assert handler is not None, op
        return handler(Ctx(self.env, "logs", op, region, "req-1"), params)

    def error(self, op: str, **params: Any) -> AwsError:
        with pytest.raises(AwsError) as info:
            self(op, **params)
        return info.value

    @property
    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def put(self, group: str, stream: str, messages: list[str], at: int | None = None) -> dict[str, Any]:
        at = self.now_ms if at is None else at
        return self("PutLogEvents", logGroupName=group, logStreamName=stream,
                    logEvents=[{"timestamp": at + i, "message": m} for i, m in enumerate(messages)])


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[Logs]:
    api = Logs(tmp_path)
    try:
        yield api
    finally:
        logstore.close_home(tmp_path)
        api.store.close()


def test_groups_prefix_pattern_pages_and_errors(logs: Logs) -> None:
    for name in ("/aws/rds/instance/a/postgresql", "/aws/rds/instance/b/postgresql", "/app/web",
                 "RDSOSMetrics"):
        logs("CreateLogGroup", logGroupName=name)
    logs("CreateLogGroup", logGroupName="/app/web", region="us-west-2")  # another region: its own name
    assert logs.error("CreateLogGroup", logGroupName="/app/web").code == "ResourceAlreadyExistsException"

    def names(**params: Any) -> list[str]:
        return [g["logGroupName"] for g in logs("DescribeLogGroups", **params)["logGroups"]]

    assert names() == ["/app/web", "/aws/rds/instance/a/postgresql", "/aws/rds/instance/b/postgresql",
                       "RDSOSMetrics"]
    assert names(logGroupNamePrefix="/aws/rds/") == ["/aws/rds/instance/a/postgresql",
                                                     "/aws/rds/instance/b/postgresql"]
    assert names(logGroupNamePattern="osmetrics") == ["RDSOSMetrics"]  # case-insensitive substring
    assert logs.error("DescribeLogGroups", logGroupNamePrefix="/a",
                      logGroupNamePattern="b").code == "InvalidParameterException"
    first = logs("DescribeLogGroups", limit=3)
    assert len(first["logGroups"]) == 3 and first["nextToken"]
    rest = logs("DescribeLogGroups", limit=3, nextToken=first["nextToken"])
    assert [g["logGroupName"] for g in rest["logGroups"]] == ["RDSOSMetrics"] and "nextToken" not in rest
    group = logs("DescribeLogGroups", logGroupNamePrefix="/app")["logGroups"][0]
    assert group["arn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app/web:*"
    assert group["logGroupArn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app/web"
    assert "retentionInDays" not in group
    logs("DeleteLogGroup", logGroupName="/app/web")
    assert logs.error("DeleteLogGroup", logGroupName="/app/web").code == "ResourceNotFoundException"
    assert names(region="us-west-2") == ["/app/web"]


def test_streams_order_and_events_bookkeeping(logs: Logs) -> None:
    logs("CreateLogGroup", logGroupName="g")
    for name in ("b", "a", "c"):
        logs("CreateLogStream", logGroupName="g", logStreamName=name)
    assert logs.error("CreateLogStream", logGroupName="g", logStreamName="a").code == \
        "ResourceAlreadyExistsException"
    assert logs.error("CreateLogStream", logGroupName="nope", logStreamName="a").code == \
        "ResourceNotFoundException"
    logs.put("g", "c", ["one"], at=logs.now_ms - 3000)
    logs.put("g", "a", ["two"], at=logs.now_ms - 2000)
    logs.put("g", "b", ["three"], at=logs.now_ms - 1000)

    def order(**params: Any) -> list[str]:
        found = logs("DescribeLogStreams", logGroupName="g", **params)["logStreams"]
        return [s["logStreamName"] for s in found]

    assert order() == ["a", "b", "c"]
    assert order(descending=True) == ["c", "b", "a"]
    assert order(orderBy="LastEventTime", descending=True) == ["b", "a", "c"]
    assert logs.error("DescribeLogStreams", logGroupName="g", orderBy="LastEventTime",
                      logStreamNamePrefix="a").code == "InvalidParameterException"
    page = logs("DescribeLogStreams", logGroupName="g", orderBy="LastEventTime", descending=True, limit=2)
    assert [s["logStreamName"] for s in page["logStreams"]] == ["b", "a"]
    more = logs("DescribeLogStreams", logGroupName="g", orderBy="LastEventTime", descending=True, limit=2,
                nextToken=page["nextToken"])
    assert [s["logStreamName"] for s in more["logStreams"]] == ["c"] and "nextToken" not in more
    stream = logs("DescribeLogStreams", logGroupName="g", logStreamNamePrefix="a")["logStreams"][0]
    assert stream["firstEventTimestamp"] == stream["lastEventTimestamp"] == logs.now_ms - 2000
    assert stream["lastIngestionTime"] == logs.now_ms
    stored = logs("DescribeLogGroups")["logGroups"][0]["storedBytes"]
    assert stored == len("one") + len("two") + len("three") + 3 * 26
    logs("DeleteLogStream", logGroupName="g", logStreamName="a")
    assert order() == ["b", "c"]


def test_put_log_events_rules(logs: Logs) -> None:
    logs("CreateLogGroup", logGroupName="g")
    logs("CreateLogStream", logGroupName="g", logStreamName="s")
    now = logs.now_ms
    assert logs.error("PutLogEvents", logGroupName="g", logStreamName="nope",
                      logEvents=[{"timestamp": now, "message": "x"}]).code == "ResourceNotFoundException"
    unordered = [{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}]
    assert logs.error("PutLogEvents", logGroupName="g", logStreamName="s",
                      logEvents=unordered).code == "InvalidParameterException"
    out = logs("PutLogEvents", logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": now - 15 * DAY_MS, "message": "too old"},
        {"timestamp": now - 1000, "message": "kept"},
        {"timestamp": now + 3 * 3600 * 1000, "message": "too new"}])
    assert out["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0, "tooNewLogEventStartIndex": 2}
    got = logs("GetLogEvents", logGroupName="g", logStreamName="s", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["kept"]


def test_get_log_events_tokens(logs: Logs) -> None:
    logs("CreateLogGroup", logGroupName="g")
    logs("CreateLogStream", logGroupName="g", logStreamName="s")
    logs.put("g", "s", [f"m{i}" for i in range(10)], at=logs.now_ms - 10_000)

    def get(**params: Any) -> tuple[list[str], dict[str, Any]]:
        out = logs("GetLogEvents", logGroupName="g", logStreamName="s", **params)
        return [e["message"] for e in out["events"]], out

    tail, out = get(limit=3)  # by default the newest events, oldest first
    assert tail == ["m7", "m8", "m9"]
    assert get(limit=3, nextToken=out["nextBackwardToken"])[0] == ["m4", "m5", "m6"]
    end, same = get(nextToken=out["nextForwardToken"])
    assert end == [] and same["nextForwardToken"] == out["nextForwardToken"]  # the end: same token back
    head, out = get(limit=4, startFromHead=True)
    assert head == ["m0", "m1", "m2", "m3"]
    start, again = get(nextToken=out["nextBackwardToken"])
    assert start == [] and again["nextBackwardToken"] == out["nextBackwardToken"]
    assert get(nextToken=again["nextForwardToken"], limit=2)[0] == ["m0", "m1"]
    assert get(limit=4, nextToken=out["nextForwardToken"])[0] == ["m4", "m5", "m6", "m7"]
    window = get(startTime=logs.now_ms - 10_000 + 2, endTime=logs.now_ms - 10_000 + 5, startFromHead=True)[0]
    assert window == ["m2", "m3", "m4"]  # endTime is exclusive here
    logs.put("g", "s", ["later"])  # a follower's forward token sees what came after
    assert get(nextToken=same["nextForwardToken"])[0] == ["later"]
    assert logs.error("GetLogEvents", logGroupName="g", logStreamName="s",
                      nextToken="garbage").code == "InvalidParameterException"


def test_filter_log_events(logs: Logs) -> None:
    logs("CreateLogGroup", logGroupName="g")
    for name in ("db-1", "db-2", "other"):
        logs("CreateLogStream", logGroupName="g", logStreamName=name)
    base = logs.now_ms - 60_000
    logs.put("g", "db-1", ["LOG: ready", "ERROR: relation x does not exist"], at=base)
    logs.put("g", "db-2", ["FATAL: password authentication failed", "LOG: checkpoint"], at=base + 10)
    logs.put("g", "other", ['{"level": "ERROR", "ms": 12}'], at=base + 20)

    def messages(**params: Any) -> list[str]:
        return [e["message"] for e in logs("FilterLogEvents", logGroupName="g", **params)["events"]]

    assert messages(filterPattern="?ERROR ?FATAL") == ["ERROR: relation x does not exist",
                                                        "FATAL: password authentication failed",
                                                        '{"level": "ERROR", "ms": 12}']
    assert messages(filterPattern="{ $.ms < 100 }") == ['{"level": "ERROR", "ms": 12}']
    assert messages(logStreamNamePrefix="db-", filterPattern="LOG") == ["LOG: ready", "LOG: checkpoint"]
    assert messages(logStreamNames=["db-2"]) == ["FATAL: password authentication failed", "LOG: checkpoint"]
    assert messages(startTime=base + 1, endTime=base + 10) == ["ERROR: relation x does not exist",
                                                               "FATAL: password authentication failed"]
    assert messages(startFromHead=False, limit=2) == ['{"level": "ERROR", "ms": 12}', "LOG: checkpoint"]
    seen, token, ids = [], None, set()
    while True:
        page = logs("FilterLogEvents", logGroupName="g", limit=2, **({"nextToken": token} if token else {}))
        seen += [e["message"] for e in page["events"]]
        ids |= {e["eventId"] for e in page["events"]}
        assert all(e["logStreamName"] in ("db-1", "db-2", "other") for e in page["events"])
        token = page.get("nextToken")
        if not token:
            break
    assert len(seen) == len(ids) == 5
    assert logs.error("FilterLogEvents", logGroupName="g", logStreamNames=["a"],
                      logStreamNamePrefix="a").code == "InvalidParameterException"
    assert logs.error("FilterLogEvents", logGroupName="g",
                      filterPattern="{ $.x > }").code == "InvalidParameterException"
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:g:*"
    assert len(logs("FilterLogEvents", logGroupIdentifier=arn)["events"]) == 5


def test_retention_hides_then_deletes(logs: Logs) -> None:
    logs("CreateLogGroup", logGroupName="g")
    logs("CreateLogStream", logGroupName="g", logStreamName="s")
    logs.put("g", "s", ["two days old"], at=logs.now_ms - 2 * DAY_MS)
    logs.put("g", "s", ["fresh"])
    assert logs.error("PutRetentionPolicy", logGroupName="g", retentionInDays=2).code == \
        "InvalidParameterException"
    logs("PutRetentionPolicy", logGroupName="g", retentionInDays=1)
    assert logs("DescribeLogGroups")["logGroups"][0]["retentionInDays"] == 1
    out = logs("FilterLogEvents", logGroupName="g")
    assert [e["message"] for e in out["events"]] == ["fresh"]
    store = logstore.for_home(logs.home)
    grp = store.group(REGION, "g")
    assert grp is not None
    assert [e.message for e in store.events(group=grp.id, streams=None, start=0, end=None)] == ["fresh"]
    logs.clock.advance(2 * 86400)  # the fresh one ages out too: hidden at once, deleted by the sweep
    assert logs("FilterLogEvents", logGroupName="g")["events"] == []
    assert store.sweep(logs.now_ms) == 1
    assert store.events(group=grp.id, streams=None, start=0, end=None) == []
    logs("DeleteRetentionPolicy", logGroupName="g")
    assert "retentionInDays" not in logs("DescribeLogGroups")["logGroups"][0]


def test_tags_and_deletion_protection(logs: Logs) -> None:
    logs("CreateLogGroup", logGroupName="g", tags={"team": "db"}, deletionProtectionEnabled=True)
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:g"
    logs("TagResource", resourceArn=arn, tags={"env": "prod"})
    assert logs("ListTagsForResource", resourceArn=arn)["tags"] == {"team": "db", "env": "prod"}
    logs("UntagResource", resourceArn=arn, tagKeys=["team"])
    logs("TagLogGroup", logGroupName="g", tags={"cost": "1"})
    assert logs("ListTagsLogGroup", logGroupName="g")["tags"] == {"env": "prod", "cost": "1"}
    logs("UntagLogGroup", logGroupName="g", tags=["cost"])
    assert logs("ListTagsForResource", resourceArn=arn + ":*")["tags"] == {"env": "prod"}
    assert logs.error("ListTagsForResource",
                      resourceArn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:nope").code == \
        "ResourceNotFoundException"
    assert logs.error("DeleteLogGroup", logGroupName="g").code == "OperationAbortedException"
    logs("PutLogGroupDeletionProtection", logGroupIdentifier="g", deletionProtectionEnabled=False)
    logs("DeleteLogGroup", logGroupName="g")
