"""The `rds.db-parameter-group` reconciler: tells the instances using a group that it changed.

The instance reconciler reads its group on every pass; this only makes that pass happen at once
after ModifyDBParameterGroup / ResetDBParameterGroup instead of at the next poll. It writes
`status.parameter_group_seen` (the digest of the group's Parameters) on each instance whose recorded
digest differs, which the runtime sees as a change of that instance. Nothing else is written.
"""

from __future__ import annotations

from typing import Any

from kura.control import steps
from kura.control.registry import reconciler
from kura.control.runtime import spec_hash
from kura.control.types import Outcome
from kura.env import Env
from kura.services.rds.records import KIND_INSTANCE, KIND_PARAMETER_GROUP, SOURCE_PARAMETER_GROUP
from kura.store.types import Resource

SEEN = "parameter_group_seen"


@reconciler
class DbParameterGroupReconciler:
    kind = KIND_PARAMETER_GROUP
    source_type = SOURCE_PARAMETER_GROUP

    def reconcile(self, env: Env, res: Resource) -> Outcome:
        digest = spec_hash(dict(res.spec.get("Parameters") or {}))

        def change(status: dict[str, Any]) -> dict[str, Any] | None:
            if status.get(SEEN) == digest:
                return None
            status[SEEN] = digest
            return status

        told = 0
        for inst in env.store.list(KIND_INSTANCE, res.region):
            if inst.spec.get("DBParameterGroupName") == res.id and inst.status.get(SEEN) != digest:
                steps.patch_status(env.store, inst, change)
                told += 1
        return Outcome(f"DB parameter group {res.id}: told {told} DB instances of its parameters")
