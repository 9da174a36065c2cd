"""CreateVpc, DescribeVpcs, DeleteVpc."""

from __future__ import annotations

from typing import Any

from kura.api.errors import AwsError
from kura.services.common import filters
from kura.services.ec2 import cidrs, defaults, records, shared, views
from kura.services.ec2.shared import KIND_VPC
from kura.services.registry import Ctx, operation

_TENANCIES = ("default", "dedicated")


def _unsupported(params: dict[str, Any]) -> None:
    # Refuse loudly what Kura does not model rather than answer a VPC without it.
    if params.get("AmazonProvidedIpv6CidrBlock") or params.get("Ipv6CidrBlock") or params.get("Ipv6Pool") \
            or params.get("Ipv6IpamPoolId"):
        raise AwsError("InvalidParameterValue", "kura does not implement IPv6 CIDR blocks for VPCs.")
    if params.get("Ipv4IpamPoolId"):
        raise AwsError("InvalidParameterValue", "kura does not implement IPAM pools.")


@operation("ec2", "CreateVpc")
def create_vpc(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    dhcp = defaults.dhcp_options(ctx.store, ctx.region)
    _unsupported(params)
    text = params.get("CidrBlock")
    if not text:
        raise AwsError("MissingParameter", "Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided.")
    block = cidrs.vpc_block(text)
    tenancy = params.get("InstanceTenancy") or "default"
    if tenancy not in _TENANCIES:
        raise AwsError("InvalidParameterValue",
                       f"Value ({tenancy}) for parameter instanceTenancy is invalid.")
    tags = shared.tag_specs(params, "vpc")
    shared.dry_run(params)
    with ctx.store.transaction():
        res = records.create_vpc(ctx.store, ctx.region, str(block), is_default=False, dhcp=dhcp,
                                 tenancy=tenancy, tags=tags)
    # AWS answers the create while the VPC is still pending; it is available by the next describe.
    return {"Vpc": views.vpc(res, ctx.account, state="pending")}


def _getters(account: str) -> dict[str, filters.Getter]:
    return {
        "vpc-id": lambda v: v.id,
        "cidr": lambda v: v.spec["CidrBlock"],
        "cidr-block": lambda v: v.spec["CidrBlock"],
        "cidrBlock": lambda v: v.spec["CidrBlock"],
        "cidr-block-association.cidr-block": lambda v: v.spec["CidrBlock"],
        "cidr-block-association.association-id": lambda v: v.spec["AssociationId"],
        "cidr-block-association.state": lambda v: "associated",
        "dhcp-options-id": lambda v: v.spec["DhcpOptionsId"],
        "instance-tenancy": lambda v: v.spec["InstanceTenancy"],
        "is-default": lambda v: shared.flag(v.spec["IsDefault"]),
        "isDefault": lambda v: shared.flag(v.spec["IsDefault"]),
        "owner-id": lambda v: account,
        "state": lambda v: "available",
    }


@operation("ec2", "DescribeVpcs")
def describe_vpcs(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    defaults.ensure(ctx.store, ctx.region)
    ids = shared.check_ids("vpc", params.get("VpcIds") or [], "InvalidVpcID.Malformed")
    shared.dry_run(params)
    found = ctx.store.list(KIND_VPC, ctx.region)
    if ids:
        known = {v.id for v in found}
        absent = [i for i in ids if i not in known]
        if absent:
            raise shared.missing("InvalidVpcID.NotFound", "vpc", absent)
        found = [v for v in found if v.id in ids]
    found = filters.apply(found, params.get("Filters"), _getters(ctx.account),
                           wildcards=True, unknown_message=filters.EC2_UNKNOWN,
                          tags=lambda v: shared.tags_of(v.spec))
    items, token = shared.page(found, lambda v: v.id, params)
    return shared.with_token({"Vpcs": [views.vpc(v, ctx.account) for v in items]}, token)


@operation("ec2", "DeleteVpc")
def delete_vpc(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    defaults.ensure(ctx.store, ctx.region)
    with ctx.store.transaction():
        vpc = records.get_vpc(ctx.store, ctx.region, params["VpcId"])
        groups = records.groups_of(ctx.store, ctx.region, vpc.id)
        own = [g for g in groups if g.spec["GroupName"] != "default"]
        if records.subnets_of(ctx.store, ctx.region, vpc.id) or own or \
                records.dependents(ctx.store, ctx.region, vpc.id):
            raise AwsError("DependencyViolation",
                           f"The vpc '{vpc.id}' has dependencies and cannot be deleted.")
        shared.dry_run(params)
        for g in groups:  # the default group goes with its VPC
            ctx.store.delete(g)
        ctx.store.delete(vpc)
    return {}
