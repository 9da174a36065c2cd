"""Tags as every AWS service keeps them: a list of {Key, Value}, at most 50, keys unique."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kura.api.errors import AwsError

MAX_TAGS = 50


def normalize(tags: Iterable[dict[str, Any]] | None, error_code: str = "InvalidParameterValue",
              *, key_name: str = "Key", value_name: str = "Value") -> dict[str, str]:
    """Tag list → ordered dict, checking what AWS checks (length, reserved prefix)."""
    out: dict[str, str] = {}
    for tag in tags or []:
        key = tag.get(key_name)
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            raise AwsError(error_code, "Tag keys must be 1 to 128 characters long.")
        if key.lower().startswith("aws:"):
            raise AwsError(error_code, f"Tag key '{key}' uses the reserved prefix 'aws:'.")
        value = tag.get(value_name) or ""
        if len(value) > 256:
            raise AwsError(error_code, f"The value of tag '{key}' is longer than 256 characters.")
        out[key] = value
    return out


def merged(existing: dict[str, str], new: dict[str, str], error_code: str = "InvalidParameterValue"
           ) -> dict[str, str]:
    result = {**existing, **new}
    if len(result) > MAX_TAGS:
        raise AwsError(error_code, f"A resource can have at most {MAX_TAGS} tags.")
    return result


def without(existing: dict[str, str], keys: Iterable[str]) -> dict[str, str]:
    drop = set(keys)
    return {k: v for k, v in existing.items() if k not in drop}


def as_list(tags: dict[str, str], *, key_name: str = "Key", value_name: str = "Value"
            ) -> list[dict[str, str]]:
    return [{key_name: k, value_name: v} for k, v in tags.items()]
