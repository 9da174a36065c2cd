"""Client tokens: the same token with the same request returns the first answer again."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from kura.api.errors import AwsError
from kura.services.registry import Ctx


def once(
    ctx: Ctx,
    token: str | None,
    params: dict[str, Any],
    run: Callable[[], dict[str, Any]],
    *,
    mismatch_code: str = "IdempotentParameterMismatch",
) -> dict[str, Any]:
    """Run `run` once per (operation, token); a retry with other parameters is refused."""
    if not token:
        return run()
    key = f"idem:{ctx.service}:{ctx.region}:{ctx.operation}:{token}"
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()
    with ctx.store.transaction():
        seen = ctx.store.get_value(key)
        if seen is not None:
            if seen["digest"] != digest:
                raise AwsError(mismatch_code,
                               "The client token was already used with different parameters.")
            return dict(seen["result"])
        result = run()
        ctx.store.set_value(key, {"digest": digest, "result": result, "at": ctx.now()})
    return result
