"""Rotation through a registered rotator, its checkpoints and schedule; scheduled deletion; managed secrets.

The rotator is the fake in tests/integration/test_secretsmanager_plugin.py: it implements the
Rotator protocol and owns the secrets named "rotatable/…".
"""

from __future__ import annotations

import calendar
import json
from pathlib import Path
from typing import Any

import pytest

from kura.control import registry
from kura.control.runtime import Runtime, Verdict
from kura.control.secrets import SecretReconciler
from kura.control.types import STATUS_OP, TemporaryError
from kura.services.secretsmanager import internal, schedule
from kura.services.secretsmanager.names import KIND, VALUE_KIND
from kura.store.types import Resource
from tests.integration import test_secretsmanager_plugin as fake
from tests.unit.test_secretsmanager import DAY, REGION, Sm, sm_fixture  # noqa: F401


def _res(sm: Sm, name: str) -> Resource:
    res = sm.store.get(KIND, REGION, name)
    assert res is not None
    return res


def _reconcile(sm: Sm, name: str) -> str:
    outcome = SecretReconciler().reconcile(sm.env, _res(sm, name))
    return f"{outcome.message} | {outcome.requeue_after}"


def _trace(path: Path) -> list[str]:
    return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []


def _rotatable(sm: Sm, tmp_path: Path, name: str = "rotatable/db", **tags: str) -> Path:
    trace = tmp_path / f"{name.replace('/', '_')}.trace"
    all_tags = [{"Key": "trace", "Value": str(trace)}] + [{"Key": k, "Value": v} for k, v in tags.items()]
    sm.create(name, json.dumps({"username": "app", "password": "old"}), Tags=all_tags)
    return trace


def test_reconciler_registered() -> None:
    assert any(isinstance(r, SecretReconciler) for r in registry.all_reconcilers())


def test_rotate_without_a_rotator(sm: Sm) -> None:
    sm.create("plain")
    err = sm.error("RotateSecret", SecretId="plain")
    assert err.code == "InvalidRequestException"
    assert err.message == "No Lambda rotation function ARN is associated with this secret."
    err = sm.error("RotateSecret", SecretId="plain",
                   RotationLambdaARN="arn:aws:lambda:us-east-1:123456789012:function:rot")
    assert err.code == "InvalidRequestException" and "Lambda" in err.message and "function:rot" in err.message
    assert "RotationEnabled" not in sm("DescribeSecret", SecretId="plain")  # nothing was recorded


def test_rotation_runs_the_four_steps_then_moves_labels(sm: Sm, tmp_path: Path) -> None:
    trace = _rotatable(sm, tmp_path)
    old = sm("GetSecretValue", SecretId="rotatable/db")["VersionId"]
    out = sm("RotateSecret", SecretId="rotatable/db", ClientRequestToken="t" * 36)
    assert out["VersionId"] == "t" * 36
    again = sm.error("RotateSecret", SecretId="rotatable/db")
    assert again.code == "InvalidRequestException" and "previous rotation isn't complete" in again.message
    assert sm("RotateSecret", SecretId="rotatable/db", ClientRequestToken="t" * 36) == out  # a retry

    assert _reconcile(sm, "rotatable/db") == \
        f"rotated secret rotatable/db: version {'t' * 36} is AWSCURRENT | None"
    assert _trace(trace) == ["create_secret", "set_secret", "test_secret", "finish_secret"]
    new = json.loads(sm.value("rotatable/db"))
    assert new["username"] == "app" and new["password"] != "old" and len(new["password"]) == 24
    assert json.loads(sm.value("rotatable/db", VersionStage="AWSPREVIOUS"))["password"] == "old"
    desc = sm("DescribeSecret", SecretId="rotatable/db")
    assert desc["VersionIdsToStages"] == {old: ["AWSPREVIOUS"], "t" * 36: ["AWSCURRENT"]}
    assert desc["LastRotatedDate"] == sm.clock.now() and desc["RotationEnabled"] is False
    assert STATUS_OP not in _res(sm, "rotatable/db").status
    assert _reconcile(sm, "rotatable/db") == "secret rotatable/db needs nothing | None"


def test_rotation_resumes_at_the_interrupted_step(sm: Sm, tmp_path: Path) -> None:
    trace = _rotatable(sm, tmp_path, fail="test_secret")
    sm("RotateSecret", SecretId="rotatable/db")
    with pytest.raises(TemporaryError) as info:
        _reconcile(sm, "rotatable/db")
    assert "failed in test_secret" in str(info.value)
    op = _res(sm, "rotatable/db").status[STATUS_OP]
    assert op["name"] == "rotate" and op["step_name"] == "test_secret"
    pending = json.loads(sm.value("rotatable/db", VersionStage="AWSPENDING"))["password"]
    sm("UntagResource", SecretId="rotatable/db", TagKeys=["fail"])
    assert _reconcile(sm, "rotatable/db").startswith("rotated secret rotatable/db")
    # create_secret and set_secret were checkpointed: only the interrupted step ran again.
    assert _trace(trace) == ["create_secret", "set_secret", "test_secret", "test_secret", "finish_secret"]
    assert json.loads(sm.value("rotatable/db"))["password"] == pending


def test_cancel_rotation_abandons_the_checkpoint(sm: Sm, tmp_path: Path) -> None:
    _rotatable(sm, tmp_path, fail="set_secret")
    token = sm("RotateSecret", SecretId="rotatable/db", RotationRules={"AutomaticallyAfterDays": 10})[
        "VersionId"]
    with pytest.raises(TemporaryError):
        _reconcile(sm, "rotatable/db")
    out = sm("CancelRotateSecret", SecretId="rotatable/db")
    assert out["VersionId"] == token
    assert _reconcile(sm, "rotatable/db") == "rotation of secret rotatable/db was cancelled | None"
    assert STATUS_OP not in _res(sm, "rotatable/db").status
    desc = sm("DescribeSecret", SecretId="rotatable/db")
    assert desc["RotationEnabled"] is False and desc["RotationRules"] == {"AutomaticallyAfterDays": 10}
    assert "NextRotationDate" not in desc
    assert desc["VersionIdsToStages"][token] == ["AWSPENDING"]  # left for the user, as on AWS
    # AWSPENDING on a version that is not current blocks a new rotation, as on AWS.
    assert sm.error("RotateSecret", SecretId="rotatable/db").code == "InvalidRequestException"


def test_scheduled_rotation(sm: Sm, tmp_path: Path) -> None:
    trace = _rotatable(sm, tmp_path)
    sm("RotateSecret", SecretId="rotatable/db", RotationRules={"AutomaticallyAfterDays": 7},
       RotateImmediately=False)
    desc = sm("DescribeSecret", SecretId="rotatable/db")
    assert desc["RotationEnabled"] is True and desc["NextRotationDate"] == sm.clock.now() + 7 * DAY
    assert _reconcile(sm, "rotatable/db") == f"secret rotatable/db needs nothing | {7 * DAY}"
    sm.clock.advance(7 * DAY)
    assert _reconcile(sm, "rotatable/db").startswith("rotated secret rotatable/db")
    assert _trace(trace) == ["create_secret", "set_secret", "test_secret", "finish_secret"]
    desc = sm("DescribeSecret", SecretId="rotatable/db")
    assert desc["LastRotatedDate"] == sm.clock.now()
    assert desc["NextRotationDate"] == sm.clock.now() + 7 * DAY


def test_runtime_drives_rotation_and_deletion(sm: Sm, tmp_path: Path) -> None:
    _rotatable(sm, tmp_path)
    runtime = Runtime(sm.env, [SecretReconciler()])
    runtime.run_due()
    sm("RotateSecret", SecretId="rotatable/db", RotationRules={"ScheduleExpression": "rate(10 days)"})
    handled = runtime.run_due()
    assert [h.verdict for h in handled] == [Verdict.SUCCEEDED]
    assert handled[0].outcome.startswith("rotated secret rotatable/db")
    assert len(sm("ListSecretVersionIds", SecretId="rotatable/db")["Versions"]) == 2

    sm("DeleteSecret", SecretId="rotatable/db", RecoveryWindowInDays=7)
    assert [h.outcome for h in runtime.run_due()] == ["secret rotatable/db is scheduled for deletion"]
    sm.clock.advance(7 * DAY)
    outcomes = [h.outcome for h in runtime.run_due()]
    assert outcomes == ["deleted secret rotatable/db: its recovery window ended"]
    assert sm.store.get(KIND, REGION, "rotatable/db") is None
    assert sm.store.list(VALUE_KIND, REGION) == []


def test_scheduled_deletion_and_restore_race(sm: Sm) -> None:
    sm.create("doomed")
    sm("DeleteSecret", SecretId="doomed", RecoveryWindowInDays=7)
    assert _reconcile(sm, "doomed") == f"secret doomed is scheduled for deletion | {7 * DAY}"
    stale = _res(sm, "doomed")
    sm("RestoreSecret", SecretId="doomed")
    sm.clock.advance(8 * DAY)
    # A pass that read the secret before the restore must not delete it.
    assert SecretReconciler().reconcile(sm.env, stale).message == "secret doomed was restored"
    assert sm.value("doomed") == "s3cr3t"


def test_schedule_expressions() -> None:
    t0 = calendar.timegm((2024, 3, 15, 10, 30, 0))  # a Friday
    day0 = t0 - t0 % DAY
    assert schedule.next_rotation({"AutomaticallyAfterDays": 3}, t0) == t0 + 3 * DAY
    assert schedule.next_rotation({"ScheduleExpression": "rate(2 days)"}, t0) == day0 + 2 * DAY
    assert schedule.next_rotation({"ScheduleExpression": "rate(6 hours)"}, t0) == t0 + 6 * 3600

    def at(*ymdhm: int) -> float:
        return float(calendar.timegm((*ymdhm, 0)))

    def nxt(expr: str) -> float | None:
        return schedule.next_rotation({"ScheduleExpression": expr}, t0)

    assert nxt("cron(0 16 * * ? *)") == at(2024, 3, 15, 16, 0)
    assert nxt("cron(0 8 * * ? *)") == at(2024, 3, 16, 8, 0)
    assert nxt("cron(0 4 ? * MON *)") == at(2024, 3, 18, 4, 0)
    assert nxt("cron(0 0 L * ? *)") == at(2024, 3, 31, 0, 0)
    assert nxt("cron(0 0 ? * 2#1 *)") == at(2024, 4, 1, 0, 0)  # first Monday
    assert nxt("cron(0 0 ? * 6L *)") == at(2024, 3, 29, 0, 0)  # last Friday
    assert nxt("cron(0/30 10 1,15 * ? *)") == at(2024, 4, 1, 10, 0)
    assert nxt("cron(0 0 1 JAN ? 2025)") == at(2025, 1, 1, 0, 0)
    recorded = schedule.validate({"ScheduleExpression": "rate(10 days)", "Duration": "3h"}, t0)
    assert recorded == {"ScheduleExpression": "rate(10 days)", "Duration": "3h", "AutomaticallyAfterDays": 10}
    bad: list[dict[str, Any]] = [{"AutomaticallyAfterDays": 1, "ScheduleExpression": "rate(1 day)"}, {},
           {"ScheduleExpression": "rate(2 hours)"}, {"ScheduleExpression": "cron(0 0 * * * *)"},
           {"ScheduleExpression": "cron(0 0 15W * ? *)"}, {"ScheduleExpression": "cron(99 0 * * ? *)"},
           {"ScheduleExpression": "cron(0 0 1 1 ? 1999)"}, {"ScheduleExpression": "every day"},
           {"AutomaticallyAfterDays": 1, "Duration": "25h"}]
    for rules in bad:
        with pytest.raises(Exception) as info:
            schedule.validate(rules, t0)
        assert getattr(info.value, "code", None) == "InvalidParameterException", rules


def test_managed_secret(sm: Sm) -> None:
    made = internal.create_managed_secret(sm.env, REGION, name="rds!db-1234", value='{"password":"p"}',
                                          owning_service="rds",
                                          rotation_rules={"ScheduleExpression": "rate(7 days)"})
    desc = sm("DescribeSecret", SecretId=made.arn)
    assert desc["OwningService"] == "rds" and desc["RotationEnabled"] is True
    assert desc["NextRotationDate"] == sm.clock.now() - sm.clock.now() % DAY + 7 * DAY
    assert sm.value("rds!db-1234") == '{"password":"p"}'
    assert internal.read_secret(sm.env, REGION, made.arn) == '{"password":"p"}'
    for op, extra in (("PutSecretValue", {"SecretString": "x"}), ("DeleteSecret", {}),
                      ("UpdateSecret", {"SecretString": "x"})):
        err = sm.error(op, SecretId=made.arn, **extra)
        assert err.code == "InvalidRequestException" and "managed by rds" in err.message
    assert [s["Name"] for s in sm("ListSecrets", Filters=[{"Key": "owning-service", "Values": ["rds"]}])[
        "SecretList"]] == ["rds!db-1234"]
    assert sm.error("CreateSecret", Name="rds!db-9", SecretString="x").code == "InvalidParameterException"
    internal.put_managed_value(sm.env, REGION, made.arn, '{"password":"q"}')
    assert sm.value(made.arn, VersionStage="AWSPREVIOUS") == '{"password":"p"}'
    internal.delete_managed_secret(sm.env, REGION, made.arn)
    assert sm.error("DescribeSecret", SecretId=made.arn).code == "ResourceNotFoundException"


def test_fake_rotator_is_registered() -> None:
    from kura.services.secretsmanager.rotation import get_rotator

    assert get_rotator(fake.NAME) is not None
