"""The reconciler in-process over a real store and real PostgreSQL: a create whose engine is missing
fails once (no crash loop); a create killed mid-way resumes at the interrupted step; every kind of
change is carried out by one operation, after which the plan is empty (no decider loops)."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kura.clock import SystemClock
from kura.config import Settings
from kura.control.rds import actions, nodes
from kura.control.rds.catalog_publisher import publish
from kura.control.rds.instance import DbInstanceReconciler
from kura.control.rds.observe import observe
from kura.control.rds.plan import Step, plan
from kura.crypto import MasterKey
from kura.env import Env
from kura.services.rds.records import KIND_INSTANCE, KIND_PARAMETER_GROUP
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
        shutil.rmtree(nodes.layout(made, res.region, res.id).socket, ignore_errors=True)
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


def _converge(env: Env, ident: str, limit: int = 6) -> list[str]:
    """Reconcile until the plan is empty; the outcomes on the way (a decider loop fails the test)."""
    rec, outcomes = DbInstanceReconciler(), list[str]()
    for _ in range(limit):
        res = _get(env, ident)
        if plan(res.spec, res.status, observe(env, res)) is None:
            return outcomes
        outcomes.append(rec.reconcile(env, res).message)
    raise AssertionError(f"no convergence after {limit} passes: {outcomes}")


def _change(env: Env, ident: str, **spec: Any) -> None:
    res = _get(env, ident)
    env.store.update(res, spec={**res.spec, **spec})


def test_every_change_converges_in_one_operation(env: Env) -> None:
    version = nodes.engines()[0].version
    _instance(env, "steady", version)
    assert _converge(env, "steady") == ["created DB instance steady"]
    arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:steady"
    sealed = base64.b64encode(env.master_key.seal(b"Other-pass-2", aad=arn.encode())).decode()
    _change(env, "steady", master_password_sealed=sealed, password_seq=1)
    assert _converge(env, "steady") == ["reset the master password of DB instance steady"]
    _change(env, "steady", ManageMasterUserPassword=True, password_seq=2)
    assert len(_converge(env, "steady")) == 1 and _get(env, "steady").status["master_user_secret_arn"]
    _change(env, "steady", ManageMasterUserPassword=False, password_seq=3)
    assert len(_converge(env, "steady")) == 1 and not _get(env, "steady").status["master_user_secret_arn"]
    _change(env, "steady", DBInstanceClass="db.t3.small")
    assert len(_converge(env, "steady")) == 1
    env.store.create(KIND_PARAMETER_GROUP, REGION, "tuned", {
        "DBParameterGroupName": "tuned", "DBParameterGroupFamily": f"postgres{version.split('.')[0]}",
        "Parameters": {"work_mem": {"ParameterValue": "8192", "ApplyMethod": "immediate"},
                       "max_connections": {"ParameterValue": "50", "ApplyMethod": "pending-reboot"}}})
    _change(env, "steady", DBParameterGroupName="tuned")
    assert len(_converge(env, "steady")) == 1  # pending-reboot: a new group waits for the reboot
    _change(env, "steady", reboot_seq=1)
    assert _converge(env, "steady") == ["rebooted DB instance steady"]
    node = nodes.node_for(env, _get(env, "steady"))
    assert node is not None and node.execute("SHOW work_mem") == [("8MB",)]
    _change(env, "steady", desired="stopped")
    assert _converge(env, "steady") == ["stopped DB instance steady"]
    _change(env, "steady", desired="available")
    assert _converge(env, "steady") == ["started DB instance steady"]
    assert node.execute("SHOW max_connections") == [("50",)]
