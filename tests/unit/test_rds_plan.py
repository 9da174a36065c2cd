"""The DB instance decider: desired + recorded + observed → one operation (pure, no processes)."""

from __future__ import annotations

from typing import Any

import pytest

from kura.control.rds import storage
from kura.control.rds.plan import Observed, Op, Step, allocated, plan
from kura.control.rds.settings import Desired
from kura.engines.postgres.types import NodeState

GIB = 1024**3
PARAMS = {"shared_buffers": "32768", "work_mem": "4096"}


def spec(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"DBInstanceIdentifier": "db1", "DBInstanceClass": "db.t3.micro", "Port": 5432,
                            "AllocatedStorage": 20, "desired": "available", "reboot_seq": 0,
                            "password_seq": 0, "CACertificateIdentifier": "rds-ca-rsa2048-g1",
                            "DBParameterGroupName": "default.postgres16"}
    return {**base, **changes}


def status(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "state": "available", "reboot_seq": 0, "password_seq": 0, "parameter_apply_status": "in-sync",
        "applied": {"DBInstanceClass": "db.t3.micro", "Port": 5432, "AllocatedStorage": 20,
                    "CACertificateIdentifier": "rds-ca-rsa2048-g1", "parameter_group": "default.postgres16",
                    "parameters": dict(PARAMS)},
    }
    return {**base, **changes}


def want(values: dict[str, str] | None = None, group: str = "default.postgres16",
         immediate: frozenset[str] = frozenset({"work_mem"})) -> Desired:
    return Desired(dict(PARAMS if values is None else values), immediate, group)


def seen(node: NodeState | None = NodeState.RUNNING, used: int = 5 * GIB, **kw: Any) -> Observed:
    return Observed(node, kw.pop("desired", want()), storage.Usage(kw.pop("alloc", 20), used, GIB), **kw)


def test_a_new_instance_is_created_with_every_step_in_order() -> None:
    found = plan(spec(), {}, Observed(None))
    assert found is not None and found.op is Op.CREATE
    assert found.steps[0] is Step.MARK and found.steps[-1] is Step.BACKING_UP
    order = [found.steps.index(s) for s in (Step.INIT, Step.START, Step.MASTER_USER, Step.DATABASE)]
    assert order == sorted(order)
    assert found.done["state"] == "available"


def test_an_adopted_running_instance_needs_nothing() -> None:
    assert plan(spec(), status(), seen()) is None


def test_a_dead_postmaster_is_recovered_but_not_when_stopped() -> None:
    found = plan(spec(), status(), seen(NodeState.STOPPED))
    assert found is not None and found.op is Op.RECOVER and found.done == {}
    assert plan(spec(desired="stopped"), status(state="stopped"), seen(NodeState.STOPPED)) is None
    assert plan(spec(), status(), seen(NodeState.UNRESPONSIVE)) is None  # busy is not dead


def test_delete_preempts_an_operation_in_progress() -> None:
    found = plan(spec(desired="deleted"), status(op={"name": "reboot", "step": 1}), seen())
    assert found is not None and found.op is Op.DELETE and found.abandon == "reboot"


def test_a_checkpointed_operation_is_resumed_first() -> None:
    found = plan(spec(reboot_seq=3), status(state="rebooting", op={"name": "reboot"}), seen())
    assert found is not None and found.op is Op.REBOOT and found.done["reboot_seq"] == 3


def test_stop_and_start() -> None:
    stop = plan(spec(desired="stopped"), status(), seen())
    assert stop is not None and stop.op is Op.STOP and stop.done == {"state": "stopped"}
    start = plan(spec(), status(state="stopped"), seen(NodeState.STOPPED))
    assert start is not None and start.op is Op.START and start.done == {"state": "available"}


def test_a_paused_serverless_member_is_left_down_until_started_or_rebooted() -> None:
    paused = {"paused": True, "capacity": 0.0}
    assert plan(spec(), status(serverless=paused), seen(NodeState.STOPPED)) is None  # no RECOVER
    reboot = plan(spec(reboot_seq=1), status(serverless=paused), seen(NodeState.STOPPED))
    assert reboot is not None and reboot.op is Op.REBOOT and reboot.done["serverless"] is None
    start = plan(spec(), status(state="stopped", serverless=paused), seen(NodeState.STOPPED))
    assert start is not None and start.op is Op.START and start.done["serverless"] is None


def test_reboot_comes_before_other_modifications() -> None:
    found = plan(spec(reboot_seq=1, DBInstanceClass="db.t3.large"), status(), seen())
    assert found is not None and found.op is Op.REBOOT


def test_class_or_port_change_restarts() -> None:
    for change in ({"DBInstanceClass": "db.t3.large"}, {"Port": 6543}):
        found = plan(spec(**change), status(), seen())
        assert found is not None and found.op is Op.MODIFY and Step.RESTART in found.steps


def test_dynamic_change_reloads_static_change_waits() -> None:
    found = plan(spec(), status(), seen(desired=want({**PARAMS, "work_mem": "8192"})))
    assert found is not None and found.op is Op.APPLY_PARAMETERS
    assert found.done == {"parameter_apply_status": "in-sync"} and Step.RESTART not in found.steps

    static = want({**PARAMS, "shared_buffers": "65536"})
    found = plan(spec(), status(), seen(desired=static))
    assert found is not None and found.op is Op.PENDING_REBOOT
    assert found.done == {"parameter_apply_status": "pending-reboot"}
    assert plan(spec(), status(parameter_apply_status="pending-reboot"), seen(desired=static)) is None

    both = want({"shared_buffers": "65536", "work_mem": "8192"})
    found = plan(spec(), status(), seen(desired=both))
    assert found is not None and found.op is Op.APPLY_PARAMETERS
    assert found.done == {"parameter_apply_status": "pending-reboot"}


def test_a_switched_parameter_group_waits_for_a_reboot_entirely() -> None:
    found = plan(spec(), status(), seen(desired=want({**PARAMS, "work_mem": "8192"}, group="custom")))
    assert found is not None and found.op is Op.PENDING_REBOOT


def test_refused_parameters_are_not_retried_until_they_change() -> None:
    bad = {**PARAMS, "work_mem": "oops"}
    assert plan(spec(), status(failed_parameters=bad), seen(desired=want(bad))) is None


def test_incompatible_parameters_wait_for_a_reboot() -> None:
    stuck = status(state="incompatible-parameters", failed_parameters=PARAMS)
    assert plan(spec(), stuck, seen(NodeState.STOPPED)) is None
    # Corrected parameters alone start nothing: RDS waits for the reboot.
    assert plan(spec(), stuck, seen(NodeState.STOPPED, desired=want({"shared_buffers": "1024"}))) is None
    asked = plan(spec(reboot_seq=1), stuck, seen(NodeState.STOPPED))
    assert asked is not None and asked.op is Op.REBOOT
    creating = {**stuck, "op": {"name": "create"}}
    assert plan(spec(), creating, seen()) is None


def test_master_password_changes() -> None:
    found = plan(spec(password_seq=1), status(), seen())
    assert found is not None and found.op is Op.SET_PASSWORD and found.done == {"password_seq": 1}
    found = plan(spec(ManageMasterUserPassword=True, MasterUserSecretArn="arn:s", password_seq=1), status(),
                 seen())
    assert found is not None and found.op is Op.MANAGE_PASSWORD
    found = plan(spec(password_seq=2), status(master_user_secret_arn="arn:s", password_seq=1), seen())
    assert found is not None and found.op is Op.UNMANAGE_PASSWORD


def test_storage_full_fences_and_more_storage_unfences() -> None:
    found = plan(spec(), status(), seen(used=20 * GIB))
    assert found is not None and found.op is Op.FENCE and found.done["state"] == "storage-full"
    fenced = status(state="storage-full", fenced=True)
    assert plan(spec(), fenced, seen(used=20 * GIB)) is None
    grow = plan(spec(AllocatedStorage=40), fenced, seen(used=20 * GIB))
    assert grow is not None and grow.op is Op.GROW_STORAGE and grow.target == 40
    after = {**fenced, "applied": {**fenced["applied"], "AllocatedStorage": 40}}
    unfence = plan(spec(AllocatedStorage=40), after, seen(used=20 * GIB, alloc=40))
    assert unfence is not None and unfence.op is Op.UNFENCE and unfence.done["state"] == "available"


@pytest.mark.parametrize(("alloc", "maximum", "growth", "target"), [
    (20, 100, 0.0, 30),  # +10 GiB at least
    (200, 1000, 0.0, 220),  # +10 %
    (20, 25, 0.0, 25),  # capped
    (20, 100, 4 * GIB, 48),  # predicted: 4 GiB/h for 7 h
])
def test_autoscaling_targets(alloc: int, maximum: int, growth: float, target: int) -> None:
    used = int(alloc * GIB * 0.95)
    found = plan(spec(AllocatedStorage=alloc, MaxAllocatedStorage=maximum),
                 status(applied={**status()["applied"], "AllocatedStorage": alloc}),
                 seen(used=used, alloc=alloc, growth=growth))
    assert found is not None and found.op is Op.GROW_STORAGE and found.target == target


def test_no_autoscaling_with_room_or_without_a_maximum() -> None:
    assert plan(spec(MaxAllocatedStorage=100), status(), seen(used=10 * GIB)) is None
    found = plan(spec(), status(), seen(used=int(19.5 * GIB)))
    assert found is None


def test_autoscaled_storage_stays_above_the_users_value() -> None:
    grown = status(applied={**status()["applied"], "AllocatedStorage": 30})
    assert allocated(spec(), grown) == 30
    assert allocated(spec(AllocatedStorage=50), grown) == 50


def test_a_failed_instance_waits_for_deletion() -> None:
    assert plan(spec(), status(state="failed"), seen()) is None
    found = plan(spec(desired="deleted"), status(state="failed"), seen())
    assert found is not None and found.op is Op.DELETE


def test_a_stopped_replica_whose_source_moved_refollows_instead_of_restarting_in_place() -> None:
    """A DB cluster's old writer, stopped by a failover and marked a replica of the new writer, must come
    back as a standby (refollow), never restarted in place as a primary."""
    replica = spec(ReadReplicaSourceDBInstanceIdentifier="new-writer")
    marked = status(role="replica", replica_of="db1")
    found = plan(replica, marked, seen(NodeState.STOPPED, source_alive=True, source_moved=True))
    assert found is not None and found.op is Op.REFOLLOW
    still = plan(replica, marked, seen(NodeState.STOPPED, source_alive=True, source_moved=False))
    assert still is not None and still.op is Op.RECOVER
