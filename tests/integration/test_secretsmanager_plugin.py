"""A fake Rotator (it implements the rotation protocol; no Lambda, no database) for rotation tests.

Tests import it, and load it into a real `kura up` with KURA_PLUGINS. It owns the secrets whose
name starts with "rotatable/". Tags steer it:
  trace  path of a file that gets one line "<step> <token> <pid>" per step run
  sleep  seconds to sleep in set_secret (room for a kill -9 mid-rotation)
  fail   a step name that raises (a broken rotation)
The new value is the current JSON with a fresh "password" (or a fresh password if not JSON).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from kura.services.secretsmanager.rotation import (
    RotationContext,
    SecretInfo,
    random_password,
    register_rotator,
)

NAME = "test-fake"
PREFIX = "rotatable/"


def _trace(rot: RotationContext, step: str) -> None:
    tags = rot.secret.tags
    path = tags.get("trace")
    if path:
        with Path(path).open("a") as f:
            f.write(f"{step} {rot.token} {os.getpid()}\n")
    if tags.get("fail") == step:
        raise RuntimeError(f"the fake rotator was told to fail in {step}")


class FakeRotator:
    def owns(self, secret: SecretInfo) -> bool:
        return secret.name.startswith(PREFIX)

    def create_secret(self, rot: RotationContext) -> None:
        _trace(rot, "create_secret")
        if rot.pending_value() is not None:
            return  # idempotent: a re-run after a crash keeps the first new value
        current = rot.value()
        password = random_password(24, exclude_punctuation=True)
        try:
            doc = json.loads(current) if isinstance(current, str) else None
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            rot.put_pending(json.dumps({**doc, "password": password}))
        else:
            rot.put_pending(password)

    def set_secret(self, rot: RotationContext) -> None:
        _trace(rot, "set_secret")
        pause = rot.secret.tags.get("sleep")
        if pause:
            time.sleep(float(pause))

    def test_secret(self, rot: RotationContext) -> None:
        _trace(rot, "test_secret")
        if rot.pending_value() is None:
            raise RuntimeError("no AWSPENDING value to test")

    def finish_secret(self, rot: RotationContext) -> None:
        _trace(rot, "finish_secret")


register_rotator(NAME, FakeRotator())
