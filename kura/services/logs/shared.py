"""What the CloudWatch Logs handlers share: the log store, lookups, ARNs, errors and tokens."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from kura.api.errors import AwsError
from kura.metrics import logstore
from kura.metrics.logstore import Group, LogStore, Stream
from kura.services.registry import Ctx

SERVICE = "logs"
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                  2922, 3288, 3653)


def store(ctx: Ctx) -> LogStore:
    return logstore.for_home(ctx.env.settings.home)


def now_ms(ctx: Ctx) -> int:
    return int(ctx.now() * 1000)


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


def not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFoundException", message)


def exists(message: str) -> AwsError:
    return AwsError("ResourceAlreadyExistsException", message)


def group_arn(ctx: Ctx, name: str) -> str:
    return ctx.arn(f"log-group:{name}")


def stream_arn(ctx: Ctx, group: str, stream: str) -> str:
    return ctx.arn(f"log-group:{group}:log-stream:{stream}")


def name_of(ctx: Ctx, identifier: str) -> str:
    """A log group name from a name or an ARN (with or without the trailing `:*`)."""
    if not identifier.startswith("arn:"):
        return identifier
    parts = identifier.split(":", 6)
    if len(parts) < 7 or parts[2] != SERVICE or not parts[5] == "log-group":
        raise invalid(f"Invalid log group identifier: {identifier}")
    if parts[3] != ctx.region or parts[4] != ctx.account:
        raise not_found("The specified log group does not exist.")
    name = parts[6]
    return name[:-2] if name.endswith(":*") else name


def group(ctx: Ctx, params: dict[str, Any], *, key: str = "logGroupName") -> Group:
    """The group a request names by logGroupName or logGroupIdentifier (not both)."""
    name, ident = params.get(key), params.get("logGroupIdentifier")
    if name and ident:
        raise invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    if not name and not ident:
        raise invalid("Either logGroupName or logGroupIdentifier must be specified.")
    found = store(ctx).group(ctx.region, name or name_of(ctx, str(ident)))
    if found is None:
        raise not_found("The specified log group does not exist.")
    return found


def stream(ctx: Ctx, grp: Group, name: str) -> Stream:
    found = store(ctx).stream(grp.id, name)
    if found is None:
        raise not_found("The specified log stream does not exist.")
    return found


def encode(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()


def decode(token: str, kind: str) -> dict[str, Any]:
    """A token this service handed out (`kind` says which call's); anything else is invalid."""
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(value, dict) or value.get("k") != kind:
            raise ValueError(token)
        return value
    except (ValueError, binascii.Error) as exc:
        raise invalid("The specified nextToken is invalid.") from exc
