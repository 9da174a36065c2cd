"""Rotation in a real `kura up`, with the fake rotator loaded through KURA_PLUGINS; kill -9 mid-rotation."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kura_fixture import KuraServer, free_port

REPO = Path(__file__).resolve().parents[2]
PLUGIN = "tests.integration.test_secretsmanager_plugin"


def wait_for(cond: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no server log)"
            raise AssertionError(f"timed out waiting for {what}; server log:\n{tail}")
        time.sleep(0.05)


def read_trace(path: Path) -> list[tuple[str, int]]:
    if not path.exists():
        return []
    return [(step, int(pid)) for step, _, pid in (line.split() for line in path.read_text().splitlines())]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KuraServer]:
    home = tmp_path / "home"
    home.mkdir()
    srv = KuraServer(home=home, port=free_port(),
                     env_extra={"KURA_PLUGINS": PLUGIN, "PYTHONPATH": str(REPO)})
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _current(sm: Any, name: str) -> str:
    stages: dict[str, list[str]] = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    return next(v for v, s in stages.items() if "AWSCURRENT" in s)


def test_rotate_with_the_cli(server: KuraServer, tmp_path: Path) -> None:
    sm = server.client("secretsmanager")
    trace = tmp_path / "trace"
    name = "rotatable/app"
    sm.create_secret(Name=name, SecretString=json.dumps({"username": "app", "password": "old"}),
                     Tags=[{"Key": "trace", "Value": str(trace)}])
    out = server.aws("secretsmanager", "rotate-secret", "--secret-id", name,
                     "--rotation-rules", '{"ScheduleExpression": "rate(30 days)"}')
    log = tmp_path / f"kura-{server.port}.log"
    wait_for(lambda: _current(sm, name) == out["VersionId"], 30, "the rotation", log)
    assert [step for step, _ in read_trace(trace)] == ["create_secret", "set_secret", "test_secret",
                                                       "finish_secret"]
    value = json.loads(server.aws("secretsmanager", "get-secret-value", "--secret-id", name,
                                  "--query", "SecretString", "--output", "text"))
    assert value["username"] == "app" and value["password"] != "old"
    desc = sm.describe_secret(SecretId=name)
    assert desc["RotationEnabled"] is True and desc["RotationRules"]["ScheduleExpression"] == "rate(30 days)"
    assert desc["NextRotationDate"] > desc["LastRotatedDate"]
    previous = sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"]
    assert json.loads(previous)["password"] == "old"


def test_kill9_mid_rotation_then_up_finishes_it(server: KuraServer, tmp_path: Path) -> None:
    sm = server.client("secretsmanager")
    trace = tmp_path / "trace"
    name = "rotatable/kill9"
    sm.create_secret(Name=name, SecretString="old-password",
                     Tags=[{"Key": "trace", "Value": str(trace)}, {"Key": "sleep", "Value": "3"}])
    token = sm.rotate_secret(SecretId=name)["VersionId"]
    log = tmp_path / f"kura-{server.port}.log"
    assert server.proc is not None
    first = server.proc.pid
    wait_for(lambda: ("set_secret", first) in read_trace(trace), 30, "set_secret to start", log)
    server.kill9()

    server.start()
    assert server.proc is not None
    second = server.proc.pid
    sm = server.client("secretsmanager")
    wait_for(lambda: _current(sm, name) == token, 60, "the rotation to finish after restart", log)
    # create_secret was checkpointed before the kill: it never runs again; set_secret, interrupted, does.
    assert read_trace(trace) == [("create_secret", first), ("set_secret", first), ("set_secret", second),
                                 ("test_secret", second), ("finish_secret", second)]
    new = sm.get_secret_value(SecretId=name)["SecretString"]
    assert new != "old-password" and len(new) == 24
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "old-password"
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages[token] == ["AWSCURRENT"]  # AWSPENDING removed at finish
