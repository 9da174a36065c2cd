"""The `secretsmanager.secret` reconciler: scheduled deletion and rotation.

- A secret whose recovery window has ended is purged with its encrypted values.
- A rotation asked for by RotateSecret (spec rotation.pending = the new version id), or due by its
  schedule, runs as the checkpointed operation "rotate": the rotator's four steps, then the label
  move (AWSCURRENT to the new version, AWSPREVIOUS following, AWSPENDING removed). A kill -9 in
  the middle resumes at the interrupted step on the next start.
- CancelRotateSecret clears rotation.pending; a checkpointed rotation is then abandoned as is,
  leaving its AWSPENDING version for the user to inspect, as AWS does.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable

from kura.control import steps
from kura.control.registry import reconciler
from kura.control.types import STATUS_OP, Outcome, PermanentError, TemporaryError
from kura.env import Env
from kura.services.secretsmanager import ops, rotation
from kura.services.secretsmanager.model import Secret
from kura.services.secretsmanager.names import KIND
from kura.store.types import Resource

OP = "rotate"
STEP_NAMES = ("create_secret", "set_secret", "test_secret", "finish_secret")
NO_ROTATOR_DELAY = 60.0


def _purge(env: Env, res: Resource) -> Outcome:
    with env.store.transaction():
        # Re-read inside the transaction: a RestoreSecret may have won the race.
        current = env.store.get(KIND, res.region, res.id)
        if current is None:
            return Outcome(f"secret {res.id} is already deleted")
        secret = Secret.from_resource(current)
        if secret.deletion_date is None or secret.deletion_date > env.clock.now():
            return Outcome(f"secret {res.id} was restored")
        ops.purge(env, current, secret)
    return Outcome(f"deleted secret {res.id}: its recovery window ended")


def _abandon(env: Env, res: Resource) -> Resource:
    def change(status: dict[str, object]) -> dict[str, object] | None:
        return None if status.pop(STATUS_OP, None) is None else status

    return steps.patch_status(env.store, res, change) or res


def _start_scheduled(env: Env, res: Resource, secret: Secret) -> tuple[Resource, Secret]:
    """The schedule says rotate now: record it as RotateSecret would."""
    rot = dataclasses.replace(secret.rotation, pending=str(uuid.uuid4()))
    secret = secret.changed(env.clock.now(), rotation=rot)
    return ops.save(env, res, secret), secret


def _find_rotator(secret: Secret) -> rotation.Rotator:
    if secret.rotation.rotator:
        named = rotation.get_rotator(secret.rotation.rotator)
        if named is not None:
            return named
    found = rotation.rotator_for(rotation.SecretInfo.of(secret))
    if found is None:
        raise TemporaryError(f"no rotator is loaded that owns secret {secret.name}", NO_ROTATOR_DELAY)
    return found[1]


def _step(rot: rotation.RotationContext, name: str, call: Callable[[rotation.RotationContext], None],
          secret_name: str) -> steps.Step:
    def run(ctx: steps.StepContext) -> None:
        ctx.data["token"] = rot.token  # tells a later pass which rotation the checkpoint belongs to
        try:
            call(rot)
        except (TemporaryError, PermanentError):
            raise
        except Exception as exc:  # a rotator's failure: retried with backoff, visible in status
            raise TemporaryError(f"rotation of secret {secret_name} failed in {name}: {exc}") from exc
        if name == "create_secret" and rot.pending_value() is None:
            raise TemporaryError(f"rotation of secret {secret_name}: create_secret stored no AWSPENDING "
                                 f"version {rot.token}")
        if name == "finish_secret":
            rotation.complete(rot.env, rot.region, rot.secret_arn, rot.token)

    return steps.Step(name, run)


def _rotate(env: Env, res: Resource, secret: Secret, token: str) -> Outcome:
    rotator = _find_rotator(secret)
    rot = rotation.RotationContext(env, res.region, secret.arn, token)
    calls = (rotator.create_secret, rotator.set_secret, rotator.test_secret, rotator.finish_secret)
    plan = [_step(rot, name, call, secret.name) for name, call in zip(STEP_NAMES, calls, strict=True)]
    res = steps.apply(env, res, OP, plan)
    done = Secret.from_resource(res)
    return Outcome(f"rotated secret {secret.name}: version {token} is AWSCURRENT",
                   requeue_after=_until(env, done))


def _until(env: Env, secret: Secret) -> float | None:
    rot = secret.rotation
    if not rot.enabled or rot.next_rotation is None:
        return None
    return max(0.0, rot.next_rotation - env.clock.now())


@reconciler
class SecretReconciler:
    kind = KIND
    source_type = "secret"

    def reconcile(self, env: Env, res: Resource) -> Outcome:
        secret = Secret.from_resource(res)
        now = env.clock.now()
        if secret.deletion_date is not None:
            if secret.deletion_date <= now:
                return _purge(env, res)
            return Outcome(f"secret {secret.name} is scheduled for deletion",
                           requeue_after=secret.deletion_date - now)
        op = steps.OpState.of(res)
        pending = secret.rotation.pending
        if op is not None and (pending is None or op.data.get("token", pending) != pending):
            res = _abandon(env, res)
            if pending is None:
                return Outcome(f"rotation of secret {secret.name} was cancelled",
                               requeue_after=_until(env, secret))
        due = secret.rotation.next_rotation
        if pending is None and secret.rotation.enabled and due is not None and due <= now:
            res, secret = _start_scheduled(env, res, secret)
        if secret.rotation.pending is not None:
            return _rotate(env, res, secret, secret.rotation.pending)
        return Outcome(f"secret {secret.name} needs nothing", requeue_after=_until(env, secret))
