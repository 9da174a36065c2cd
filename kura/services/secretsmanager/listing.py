"""ListSecrets: Secrets Manager's own filters (prefix matching, "!" negation, "all"), sorting, pages.

Filter semantics: filters AND together. Within one filter, the plain values OR together (a secret
matches if one of them matches one of its attribute values by prefix), and every "!value" must
hold (no attribute value of the secret starts with it). `description` and `all` ignore case.
`all` splits the value into words as AWS does (at punctuation, case changes and letter/digit
boundaries) and matches them as prefixes of the words of the name, description, tag keys and
tag values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from kura.services.common.pagination import decode_token, encode_token
from kura.services.registry import Ctx, operation
from kura.services.secretsmanager import views
from kura.services.secretsmanager.model import Secret
from kura.services.secretsmanager.names import KIND, SERVICE, invalid_parameter

T = TypeVar("T")
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _attributes(key: str, s: Secret) -> list[str]:
    if key == "name":
        return [s.name]
    if key == "description":
        return [(s.description or "").lower()] if s.description else []
    if key == "tag-key":
        return list(s.tags)
    if key == "tag-value":
        return list(s.tags.values())
    if key == "primary-region":
        return [s.region]
    if key == "owning-service":
        return [s.owning_service] if s.owning_service else []
    if key == "all":
        texts = [s.name, s.description or "", *s.tags, *s.tags.values()]
        return [w for t in texts for w in words(t)]
    raise invalid_parameter(f"Invalid filter key: {key}")


def _prefix_hit(needles: list[str], attrs: list[str]) -> bool:
    return any(a.startswith(n) for n in needles for a in attrs)


def _filter_matches(key: str, wanted: list[str], s: Secret) -> bool:
    attrs = _attributes(key, s)
    positive: list[list[str]] = []
    for raw in wanted:
        negated = raw.startswith("!")
        text = raw[1:] if negated else raw
        needles = words(text) if key == "all" else [text.lower() if key == "description" else text]
        if negated and _prefix_hit(needles, attrs):
            return False
        if not negated:
            positive.append(needles)
    return not positive or any(_prefix_hit(n, attrs) for n in positive)


def matching(secrets: list[Secret], filters: list[dict[str, Any]] | None) -> list[Secret]:
    for f in filters or []:
        key, wanted = f.get("Key"), list(f.get("Values") or [])
        if not key or not wanted:
            raise invalid_parameter("A filter needs a Key and at least one value.")
        secrets = [s for s in secrets if _filter_matches(key, wanted, s)]
    return secrets


def all_secrets(ctx: Ctx, *, include_deleted: bool) -> list[Secret]:
    found = (Secret.from_resource(r) for r in ctx.store.list(KIND, ctx.region))
    return [s for s in found if include_deleted or s.deleted is None]


def page(items: Sequence[T], key: Callable[[T], str], token: str | None, limit: int,
         *, descending: bool = False) -> tuple[list[T], str | None]:
    """One page in `key` order (or reversed) and the token that resumes after its last item."""
    ordered = sorted(items, key=key, reverse=descending)
    if token:
        after = decode_token(token, "InvalidNextTokenException")
        ordered = [i for i in ordered if (key(i) < after if descending else key(i) > after)]
    chunk = ordered[:limit]
    return chunk, (encode_token(key(chunk[-1])) if len(ordered) > limit and chunk else None)


def _stamp(ts: float | None) -> str:
    return f"{ts or 0.0:020.6f}"


_SORT_KEYS: dict[str, Callable[[Secret], str]] = {
    "created-date": lambda s: f"{_stamp(s.created)}\n{s.name}",
    "last-changed-date": lambda s: f"{_stamp(s.last_changed)}\n{s.name}",
    "last-accessed-date": lambda s: f"{_stamp(s.last_accessed)}\n{s.name}",
    "name": lambda s: s.name,
}


@operation(SERVICE, "ListSecrets")
def list_secrets(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    secrets = matching(all_secrets(ctx, include_deleted=bool(params.get("IncludePlannedDeletion"))),
                       params.get("Filters"))
    key = _SORT_KEYS[params.get("SortBy") or "created-date"]
    chunk, token = page(secrets, key, params.get("NextToken"), params.get("MaxResults") or 100,
                        descending=params.get("SortOrder") == "desc")
    out: dict[str, Any] = {"SecretList": [views.list_entry(s) for s in chunk]}
    if token:
        out["NextToken"] = token
    return out
