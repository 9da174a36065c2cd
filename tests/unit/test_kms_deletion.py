"""The kms.key reconciler deletes a key when its DeletionDate passes (time from a FakeClock)."""

from __future__ import annotations

import pytest

from kura.control import registry
from kura.control.kms import KmsKeyReconciler
from kura.control.runtime import Runtime
from kura.services.kms import internal, model
from tests.unit.test_kms_keys import REGION, Kms, open_kms

kms_fixture = pytest.fixture(name="kms")(open_kms)

DAY = 86400


def _reconcile(kms: Kms, key_id: str) -> str:
    res = kms.store.get(model.KIND_KEY, REGION, key_id)
    assert res is not None
    outcome = KmsKeyReconciler().reconcile(kms.env, res)
    return f"{outcome.message} | {outcome.requeue_after}"


def test_registered_for_its_kind() -> None:
    assert any(isinstance(r, KmsKeyReconciler) for r in registry.all_reconcilers())
    assert KmsKeyReconciler.kind == "kms.key"


def test_key_is_deleted_when_the_date_passes(kms: Kms) -> None:
    key = kms.key()
    kms("CreateAlias", AliasName="alias/doomed", TargetKeyId=key["KeyId"])
    keep = kms.key()["KeyId"]
    kms("CreateAlias", AliasName="alias/kept", TargetKeyId=keep)
    _, _, blob = internal.generate_data_key(kms.env, REGION, key["KeyId"], default_alias="alias/aws/rds")
    assert _reconcile(kms, key["KeyId"]).endswith("Enabled; nothing to do | None")

    kms("ScheduleKeyDeletion", KeyId=key["KeyId"], PendingWindowInDays=7)
    assert _reconcile(kms, key["KeyId"]) == f"KMS key {key['KeyId']} is pending deletion in 604800s | " \
        f"{7 * DAY:.1f}"
    kms.clock.advance(7 * DAY - 1)
    assert _reconcile(kms, key["KeyId"]).endswith("| 1.0")
    kms.clock.advance(1)
    assert _reconcile(kms, key["KeyId"]) == \
        f"deleted KMS key {key['KeyId']} and its key material (1 aliases) | None"

    assert kms.store.get(model.KIND_KEY, REGION, key["KeyId"]) is None
    err = kms.error("DescribeKey", KeyId=key["KeyId"])
    assert err.code == "NotFoundException" and "does not exist" in err.message
    assert kms.error("Decrypt", CiphertextBlob=blob).code == "NotFoundException"
    assert [a["AliasName"] for a in kms("ListAliases")["Aliases"]] == ["alias/kept"]
    assert [k["KeyId"] for k in kms("ListKeys")["Keys"]] == [keep]


def test_cancelled_deletion_is_left_alone(kms: Kms) -> None:
    key_id = kms.key()["KeyId"]
    kms("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    stale = kms.store.get(model.KIND_KEY, REGION, key_id)
    assert stale is not None
    kms("CancelKeyDeletion", KeyId=key_id)
    kms.clock.advance(8 * DAY)
    # The runtime may hand over a snapshot read before the cancel: the reconciler re-reads.
    assert KmsKeyReconciler().reconcile(kms.env, stale).message == \
        f"KMS key {key_id} is no longer pending deletion"
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    kms("EnableKey", KeyId=key_id)
    assert kms("Encrypt", KeyId=key_id, Plaintext=b"x")["KeyId"].endswith(key_id)


def test_the_runtime_deletes_on_time(kms: Kms) -> None:
    runtime = Runtime(kms.env, [KmsKeyReconciler()])
    key_id = kms.key()["KeyId"]
    kms("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    [handled] = runtime.run_due()
    assert handled.id == key_id and handled.next_in == 7 * DAY
    kms.clock.advance(7 * DAY)
    assert [h.outcome for h in runtime.run_due()] == [
        f"deleted KMS key {key_id} and its key material (0 aliases)"]
    assert kms.error("DescribeKey", KeyId=key_id).code == "NotFoundException"
