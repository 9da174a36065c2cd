"""CreateTags, DeleteTags, DescribeTags over VPCs, subnets, security groups and their rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kura.api.errors import AwsError
from kura.services.common import filters
from kura.services.ec2 import defaults, shared
from kura.services.ec2.shared import KIND_SG, KIND_SUBNET, KIND_VPC
from kura.services.registry import Ctx, operation
from kura.store.types import Resource, Store

# ID prefix → (store kind, resource type, error code stem, noun in messages)
_TYPES: dict[str, tuple[str, str, str, str]] = {
    "vpc": (KIND_VPC, "vpc", "InvalidVpcID", "vpc"),
    "subnet": (KIND_SUBNET, "subnet", "InvalidSubnetID", "subnet"),
    "sg": (KIND_SG, "security-group", "InvalidGroup", "security group"),
    "sgr": (KIND_SG, "security-group-rule", "InvalidSecurityGroupRuleId", "security group rule"),
}


@dataclass(frozen=True, slots=True)
class _Target:
    res: Resource
    rule_id: str | None  # set when the tagged thing is a rule inside the group `res`

    def tags(self) -> dict[str, str]:
        if self.rule_id is None:
            return shared.tags_of(self.res.spec)
        return dict(self._rule().get("Tags") or {})

    def _rule(self) -> dict[str, Any]:
        return next(r for r in self.res.spec["Rules"] if r["Id"] == self.rule_id)


def _find(store: Store, region: str, rid: str) -> _Target:
    prefix = rid.partition("-")[0]
    if prefix not in _TYPES or not shared.well_formed(prefix, rid):
        if prefix in _TYPES:
            malformed = "InvalidGroupId" if prefix == "sg" else _TYPES[prefix][2]
            raise AwsError(f"{malformed}.Malformed", f"The {_TYPES[prefix][3]} ID '{rid}' is malformed")
        raise AwsError("InvalidID", f"The ID '{rid}' is not valid")
    kind, _, stem, noun = _TYPES[prefix]
    if prefix == "sgr":
        group = next((g for g in store.list(KIND_SG, region) if any(r["Id"] == rid for r in g.spec["Rules"])),
                     None)
        if group is not None:
            return _Target(group, rid)
    else:
        found = store.get(kind, region, rid)
        if found is not None:
            return _Target(found, None)
    if prefix == "sg":
        raise AwsError("InvalidGroup.NotFound", f"The security group '{rid}' does not exist")
    raise shared.missing(f"{stem}.NotFound", noun, [rid])


def _save(store: Store, target: _Target, tags: dict[str, str]) -> None:
    # Re-read: one call may tag several rules of the same group, each save bumps its version.
    res = store.get(target.res.kind, target.res.region, target.res.id) or target.res
    if target.rule_id is None:
        store.update(res, spec={**res.spec, "Tags": tags})
        return
    rules = [{**r, "Tags": tags} if r["Id"] == target.rule_id else r for r in res.spec["Rules"]]
    store.update(res, spec={**res.spec, "Rules": rules})


@operation("ec2", "CreateTags")
def create_tags(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    defaults.ensure(ctx.store, ctx.region)
    new = shared.normalize_tags(params.get("Tags"))
    with ctx.store.transaction():
        targets = [_find(ctx.store, ctx.region, rid) for rid in params["Resources"]]
        merged = [shared.merge_tags(t.tags(), new) for t in targets]
        shared.dry_run(params)
        for rid, tags in zip(params["Resources"], merged, strict=True):
            _save(ctx.store, _find(ctx.store, ctx.region, rid), tags)
    return {}


def _remaining(existing: dict[str, str], wanted: list[dict[str, Any]] | None) -> dict[str, str]:
    """Without Tags every tag goes; a Key alone removes any value; Key+Value only that value."""
    if wanted is None:
        return {k: v for k, v in existing.items() if k.startswith("aws:")}
    out = dict(existing)
    for tag in wanted:
        key = tag.get("Key")
        if key in out and ("Value" not in tag or tag["Value"] is None or tag["Value"] == out[key]):
            del out[key]
    return out


@operation("ec2", "DeleteTags")
def delete_tags(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    defaults.ensure(ctx.store, ctx.region)
    with ctx.store.transaction():
        for rid in params["Resources"]:
            _find(ctx.store, ctx.region, rid)
        shared.dry_run(params)
        for rid in params["Resources"]:
            target = _find(ctx.store, ctx.region, rid)
            _save(ctx.store, target, _remaining(target.tags(), params.get("Tags")))
    return {}


@dataclass(frozen=True, slots=True)
class _Entry:
    resource_id: str
    resource_type: str
    key: str
    value: str
    all_tags: dict[str, str]  # the resource's tags, for the `tag:<key>` filter


def _entries(store: Store, region: str) -> list[_Entry]:
    out: list[_Entry] = []
    for kind, rtype in ((KIND_VPC, "vpc"), (KIND_SUBNET, "subnet"), (KIND_SG, "security-group")):
        for res in store.list(kind, region):
            tags = shared.tags_of(res.spec)
            out += [_Entry(res.id, rtype, k, v, tags) for k, v in tags.items()]
            for r in res.spec.get("Rules") or [] if kind == KIND_SG else []:
                rule_tags = dict(r.get("Tags") or {})
                out += [_Entry(r["Id"], "security-group-rule", k, v, rule_tags) for k, v in rule_tags.items()]
    return out


_GETTERS: dict[str, filters.Getter] = {
    "key": lambda e: e.key,
    "value": lambda e: e.value,
    "resource-id": lambda e: e.resource_id,
    "resource-type": lambda e: e.resource_type,
}


@operation("ec2", "DescribeTags")
def describe_tags(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    defaults.ensure(ctx.store, ctx.region)
    shared.dry_run(params)
    found = filters.apply(_entries(ctx.store, ctx.region), params.get("Filters"), _GETTERS,
                           wildcards=True, unknown_message=filters.EC2_UNKNOWN,
                          tags=lambda e: e.all_tags)
    items, token = shared.page(found, lambda e: f"{e.resource_id}\x00{e.key}", params)
    tags = [{"ResourceId": e.resource_id, "ResourceType": e.resource_type, "Key": e.key, "Value": e.value}
            for e in items]
    return shared.with_token({"Tags": tags}, token)
