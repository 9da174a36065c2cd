"""The `kms.key` reconciler: deletes a key once its scheduled DeletionDate has passed.

ScheduleKeyDeletion only records the date; this finishes the job as AWS does when the waiting
period ends: the key record, its sealed key material and every alias pointing at it are removed in
one transaction, after which the key is not found and its ciphertexts cannot be decrypted again.
"""

from __future__ import annotations

from kura.control.registry import reconciler
from kura.control.types import Outcome
from kura.env import Env
from kura.services.kms.model import KIND_ALIAS, KIND_KEY, KeyState
from kura.store.types import Resource


def _delete_key(env: Env, res: Resource) -> Outcome:
    with env.store.transaction():
        # Re-read inside the transaction: a CancelKeyDeletion may have won the race.
        current = env.store.get(KIND_KEY, res.region, res.id)
        if current is None:
            return Outcome(f"KMS key {res.id} is already deleted")
        if current.spec.get("KeyState") != KeyState.PENDING_DELETION.value:
            return Outcome(f"KMS key {res.id} is no longer pending deletion")
        aliases = [a for a in env.store.list(KIND_ALIAS, res.region)
                   if a.spec.get("TargetKeyId") == res.id]
        for alias in aliases:
            env.store.delete(alias)
        env.store.delete(current)
    return Outcome(f"deleted KMS key {res.id} and its key material ({len(aliases)} aliases)")


@reconciler
class KmsKeyReconciler:
    kind = KIND_KEY
    source_type = "kms-key"

    def reconcile(self, env: Env, res: Resource) -> Outcome:
        state = res.spec.get("KeyState")
        if state != KeyState.PENDING_DELETION.value:
            return Outcome(f"KMS key {res.id} is {state}; nothing to do")
        due = float(res.spec["DeletionDate"])
        remaining = due - env.clock.now()
        if remaining > 0:
            return Outcome(f"KMS key {res.id} is pending deletion in {remaining:.0f}s",
                           requeue_after=remaining)
        return _delete_key(env, res)
