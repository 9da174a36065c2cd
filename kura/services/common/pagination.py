"""Pagination as AWS does it: an opaque token that resumes after the last key returned.

Tokens carry the last key, not an offset, so pages stay right while resources come and go.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from kura.api.errors import AwsError

T = TypeVar("T")


def encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"k": key}).encode()).decode()


def decode_token(token: str, error_code: str) -> str:
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
        key = value["k"]
        if not isinstance(key, str):
            raise ValueError(token)
        return key
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise AwsError(error_code, f"Invalid pagination token: {token}") from exc


def paginate(
    items: Sequence[T],
    key: Callable[[T], str],
    token: str | None,
    limit: int | None,
    *,
    default: int,
    minimum: int = 1,
    maximum: int,
    limit_name: str = "MaxResults",
    error_code: str = "InvalidParameterValue",
) -> tuple[list[T], str | None]:
    """Sort `items` by `key` and return one page plus the token of the next (or None)."""
    if limit is None:
        limit = default
    if not minimum <= limit <= maximum:
        raise AwsError(
            error_code,
            f"Invalid value {limit} for {limit_name}: must be between {minimum} and {maximum}.",
        )
    ordered = sorted(items, key=key)
    if token:
        after = decode_token(token, error_code)
        ordered = [i for i in ordered if key(i) > after]
    page = ordered[:limit]
    more = len(ordered) > limit
    return page, (encode_token(key(page[-1])) if more and page else None)


def rds_page(
    items: Sequence[T], key: Callable[[T], str], params: dict[str, Any]
) -> tuple[list[T], str | None]:
    """RDS/ElastiCache style: Marker and MaxRecords (20–100, default 100)."""
    return paginate(items, key, params.get("Marker"), params.get("MaxRecords"), default=100,
                    minimum=20, maximum=100, limit_name="MaxRecords",
                    error_code="InvalidParameterValue")
