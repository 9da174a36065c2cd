"""EC2 mechanics every handler of this package shares: kinds, IDs, errors, DryRun, pages, tags."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from kura.api.errors import AwsError
from kura.services.common import pagination
from kura.services.common import tags as common_tags

T = TypeVar("T")

KIND_VPC = "ec2.vpc"
KIND_SUBNET = "ec2.subnet"
KIND_SG = "ec2.security-group"

# EC2 IDs are a prefix and 17 hex digits; resources made before 2018 had 8, and AWS still accepts those.
_ID_BODY = re.compile(r"^[0-9a-f]{8}([0-9a-f]{9})?$")


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


def well_formed(prefix: str, value: str) -> bool:
    head, sep, body = value.partition("-")
    return bool(sep) and head == prefix and bool(_ID_BODY.match(body))


def dry_run(params: dict[str, Any]) -> None:
    """Called once a request is known to be valid: DryRun answers here instead of acting."""
    if params.get("DryRun"):
        raise AwsError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)


def missing(code: str, noun: str, ids: Sequence[str]) -> AwsError:
    """`The vpc ID 'vpc-1' does not exist` / `The vpc IDs 'vpc-1, vpc-2' do not exist`."""
    if len(ids) == 1:
        return AwsError(code, f"The {noun} ID '{ids[0]}' does not exist")
    return AwsError(code, f"The {noun} IDs '{', '.join(ids)}' do not exist")


def check_ids(prefix: str, ids: Iterable[str], malformed_code: str) -> list[str]:
    out: list[str] = []
    for value in ids:
        if not well_formed(prefix, value):
            if prefix == "sg":
                raise AwsError(malformed_code, f'Invalid id: "{value}" (expecting "sg-...")')
            raise AwsError(malformed_code, f"The {_NOUNS.get(prefix, prefix)} ID '{value}' is malformed")
        if value not in out:
            out.append(value)
    return out


_NOUNS = {"vpc": "vpc", "subnet": "subnet", "sgr": "security group rule"}


def page(items: Sequence[T], key: Callable[[T], str], params: dict[str, Any]) -> tuple[list[T], str | None]:
    """NextToken/MaxResults as EC2 pages: without either, every item comes back at once."""
    ordered = sorted(items, key=key)
    token = params.get("NextToken")
    limit = params.get("MaxResults")
    if token is None and limit is None:
        return ordered, None
    if token:
        pagination.decode_token(token, "InvalidPaginationToken")  # a bad token is its own error
    return pagination.paginate(ordered, key, token, limit, default=1000, minimum=5, maximum=1000,
                               limit_name="MaxResults", error_code="InvalidParameterValue")


def with_token(out: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token:
        out["NextToken"] = token
    return out


def tag_specs(params: dict[str, Any], resource_type: str) -> dict[str, str]:
    """The tags a create call asks for; only the resource type the call creates is accepted."""
    result: dict[str, str] = {}
    for spec in params.get("TagSpecifications") or []:
        kind = spec.get("ResourceType")
        if kind != resource_type:
            raise AwsError("InvalidParameterValue",
                           f"'{kind}' is not a valid taggable resource type for this operation.")
        result = merge_tags(result, normalize_tags(spec.get("Tags")))
    return result


def normalize_tags(tags: Iterable[dict[str, Any]] | None) -> dict[str, str]:
    return common_tags.normalize(tags, "InvalidParameterValue")


def merge_tags(existing: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    try:
        return common_tags.merged(existing, new, "TagLimitExceeded")
    except AwsError as exc:
        raise AwsError("TagLimitExceeded", "The maximum number of Tags for a resource has been reached."
                       ) from exc


def tags_of(spec: dict[str, Any]) -> dict[str, str]:
    return dict(spec.get("Tags") or {})


def put_tags(out: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    """EC2 leaves `tagSet` out of a resource that has no tags."""
    if tags:
        out["Tags"] = common_tags.as_list(tags)
    return out


def flag(value: bool) -> str:
    """Boolean filter values as EC2 compares them."""
    return "true" if value else "false"
