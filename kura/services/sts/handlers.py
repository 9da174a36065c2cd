"""STS handlers. Kura has one identity per installation: the account's root user."""

from __future__ import annotations

from typing import Any

from kura.services.registry import Ctx, operation


@operation("sts", "GetCallerIdentity")
def get_caller_identity(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    # As AWS answers for root credentials: the user id of root is the account id itself.
    return {
        "UserId": ctx.account,
        "Account": ctx.account,
        "Arn": f"arn:aws:iam::{ctx.account}:root",
    }
