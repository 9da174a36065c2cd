"""The reconciler in-process over a real store and real PostgreSQL: a create whose engine is missing
fails once (no crash loop); a create killed mid-way resumes at the interrupted step."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kura.clock import SystemClock
from kura.config import Settings
from kura.control.rds import actions, nodes
from kura.control.rds.catalog_publisher import publish
from kura.control.rds.instance import DbInstanceReconciler
from kura.control.rds.plan import Step
from kura.crypto import MasterKey
from kura.env import Env
from kura.services.rds.records import KIND_INSTANCE
from kura.store.sqlite import SqliteStore
from kura.store.types import Resource

pytestmark = pytest.mark.skipif(not nodes.engines(), reason="no PostgreSQL installed")
REGION = "ap-northeast-1"
ACCOUNT = "123456789012"


class Crash(BaseException):
    """Stands for Kura dying in the middle of a step (not an error the reconciler could catch)."""


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    settings = Settings(home=tmp_path / "home")
    settings.paths.ensure()
    store = SqliteStore(settings.paths.state_db)
    publish(store)
    made = Env(store=store, clock=SystemClock(), settings=settings, account=ACCOUNT,
               master_key=MasterKey(b"m" * 32))
    yield made
    for res in store.list(KIND_INSTANCE):
        node = nodes.node_for(made, res)
        if node is not None:
            node.stop()
    store.close()


def _instance(env: Env, ident: str, version: str) -> Resource:
    arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{ident}"
    sealed = base64.b64encode(env.master_key.seal(b"Master-pass-1", aad=arn.encode())).decode()
    spec: dict[str, Any] = {
        "DBInstanceIdentifier": ident, "Engine": "postgres", "EngineVersion": version,
        "DBInstanceClass": "db.t3.micro", "AllocatedStorage": 20, "MasterUsername": "master", "DBName": "app",
        "Port": 5432, "DBParameterGroupName": f"default.postgres{version.split('.')[0]}",
        "CACertificateIdentifier": "rds-ca-rsa2048-g1", "desired": "available", "reboot_seq": 0,
        "password_seq": 0, "ManageMasterUserPassword": False, "master_password_sealed": sealed,
    }
    return env.store.create(KIND_INSTANCE, REGION, ident, spec)


def _get(env: Env, ident: str) -> Resource:
    res = env.store.get(KIND_INSTANCE, REGION, ident)
    assert res is not None
    return res


def test_missing_engine_fails_the_create_once(env: Env) -> None:
    rec = DbInstanceReconciler()
    res = _instance(env, "nowhere", "99.1")
    out = rec.reconcile(env, res)
    assert out.requeue_after is None
    failed = _get(env, "nowhere")
    assert failed.status["state"] == "failed" and "op" not in failed.status
    assert "kura engines install 99" in failed.status["failure"]
    events = [e.message for e in env.store.events(REGION, source_id="nowhere")]
    assert events == [f"DB instance creation failed: {failed.status['failure']}"]
    assert rec.reconcile(env, failed).requeue_after is None  # nothing more: no crash loop
    assert len(env.store.events(REGION, source_id="nowhere")) == 1

    env.store.update(failed, spec={**failed.spec, "desired": "deleted"})
    rec.reconcile(env, _get(env, "nowhere"))
    assert env.store.get(KIND_INSTANCE, REGION, "nowhere") is None


def test_a_create_killed_mid_way_resumes_at_the_interrupted_step(env: Env, monkeypatch: Any) -> None:
    rec = DbInstanceReconciler()
    ran: list[str] = []
    for name, fn in list(actions.TABLE.items()):
        def traced(work: Any, ctx: Any, fn: Any = fn, name: Step = name) -> None:
            ran.append(name.value)
            if name is Step.DATABASE and ran.count(name.value) == 1:
                raise Crash("killed during the database step")
            fn(work, ctx)
        monkeypatch.setitem(actions.TABLE, name, traced)

    res = _instance(env, "resumed", nodes.engines()[0].version)
    with pytest.raises(Crash):
        rec.reconcile(env, res)
    halfway = _get(env, "resumed")
    assert halfway.status["op"]["step_name"] == "database" and halfway.status["state"] == "creating"

    rec.reconcile(env, halfway)
    done = _get(env, "resumed")
    assert done.status["state"] == "available" and "op" not in done.status
    assert ran.count("master-user") == 1 and ran.count("start") == 1 and ran.count("database") == 2
    node = nodes.node_for(env, done)
    assert node is not None
    assert node.execute("SELECT 1 FROM pg_database WHERE datname = 'app'") == [(1,)]
