"""`Filters` as RDS, ElastiCache and EC2 take them: [{Name, Values}], AND across names, OR within."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from kura.api.errors import AwsError

T = TypeVar("T")
EC2_UNKNOWN = "The filter '{name}' is invalid"
Getter = Callable[[Any], Iterable[str] | str | None]


def _values(got: Iterable[str] | str | None) -> list[str]:
    if got is None:
        return []
    if isinstance(got, str):
        return [got]
    return [str(v) for v in got]


def apply(
    items: Sequence[T],
    filters: list[dict[str, Any]] | None,
    getters: dict[str, Getter],
    *,
    wildcards: bool = False,
    tags: Callable[[T], dict[str, str]] | None = None,
    error_code: str = "InvalidParameterValue",
    name_key: str = "Name",
    unknown_message: str = "Unrecognized filter name: {name}.",
) -> list[T]:
    """Keep the items that match every filter. Unknown filter names are an error, as on AWS.

    With `tags`, the EC2 forms `tag:<key>` and `tag-key` work too. With `wildcards`, values may use
    `*` and `?` (EC2 does; RDS does not).
    """
    result = list(items)
    for f in filters or []:
        name = f.get(name_key, "")
        wanted = [str(v) for v in f.get("Values") or []]
        get = _getter(name, getters, tags, error_code, unknown_message)
        result = [i for i in result if _matches(_values(get(i)), wanted, wildcards)]
    return result


def _getter(name: str, getters: dict[str, Getter], tags: Callable[[Any], dict[str, str]] | None,
            error_code: str, unknown_message: str) -> Getter:
    if tags is not None:
        if name.startswith("tag:"):
            tag_key = name[4:]
            return lambda item: tags(item).get(tag_key)
        if name == "tag-key":
            return lambda item: list(tags(item))
        if name == "tag-value":
            return lambda item: list(tags(item).values())
    if name in getters:
        return getters[name]
    raise AwsError(error_code, unknown_message.format(name=name))


def _matches(have: list[str], wanted: list[str], wildcards: bool) -> bool:
    if wildcards:
        return any(fnmatch.fnmatchcase(h, w) for h in have for w in wanted)
    return bool(set(have) & set(wanted))
