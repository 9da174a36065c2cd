"""EC2 tagging operations and the lookup API that RDS and ElastiCache use."""

from __future__ import annotations

import pytest

from kura.api.errors import AwsError
from kura.services.ec2 import lookup
from kura.store.types import Store
from tests.unit.test_ec2_vpcs import REGION, Ec2, ec2_fixture, tags

__all__ = ["ec2_fixture"]


def test_create_describe_delete_tags_across_resource_types(ec2: Ec2) -> None:
    vpc = ec2.vpc()["VpcId"]
    subnet = ec2.subnet(vpc, "10.0.1.0/24")["SubnetId"]
    group = ec2.group("db", vpc)
    rule = ec2("AuthorizeSecurityGroupIngress", GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}
    ])["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    ec2("CreateTags", Resources=[vpc, subnet, group, rule],
        Tags=[{"Key": "Project", "Value": "AuraTime"}, {"Key": "Empty"}])
    assert tags(ec2("DescribeVpcs", VpcIds=[vpc])["Vpcs"][0]) == {"Project": "AuraTime", "Empty": ""}
    assert tags(ec2.describe_group(group)) == {"Project": "AuraTime", "Empty": ""}
    found = ec2("DescribeTags", Filters=[{"Name": "key", "Values": ["Project"]}])["Tags"]
    assert {(t["ResourceId"], t["ResourceType"]) for t in found} == {
        (vpc, "vpc"), (subnet, "subnet"), (group, "security-group"), (rule, "security-group-rule")}
    typed = ec2("DescribeTags", Filters=[{"Name": "resource-type", "Values": ["subnet"]}])["Tags"]
    assert {t["Key"] for t in typed} == {"Project", "Empty"}
    by_tag = ec2("DescribeTags", Filters=[{"Name": "tag:Project", "Values": ["Aura*"]},
                                          {"Name": "resource-id", "Values": [vpc]}])["Tags"]
    assert len(by_tag) == 2
    page = ec2("DescribeTags", MaxResults=5)
    rest = ec2("DescribeTags", MaxResults=5, NextToken=page["NextToken"])
    assert len(page["Tags"]) == 5 and len(rest["Tags"]) == 3
    ec2("DeleteTags", Resources=[vpc], Tags=[{"Key": "Project", "Value": "other"}])  # value differs: kept
    assert "Project" in tags(ec2("DescribeVpcs", VpcIds=[vpc])["Vpcs"][0])
    ec2("DeleteTags", Resources=[vpc], Tags=[{"Key": "Project"}])
    assert tags(ec2("DescribeVpcs", VpcIds=[vpc])["Vpcs"][0]) == {"Empty": ""}
    ec2("DeleteTags", Resources=[subnet, rule])
    assert "Tags" not in ec2("DescribeSubnets", SubnetIds=[subnet])["Subnets"][0]
    assert ec2("DescribeTags", Filters=[{"Name": "resource-id", "Values": [rule]}])["Tags"] == []


def test_tag_errors(ec2: Ec2) -> None:
    vpc = ec2.vpc()["VpcId"]
    tag = [{"Key": "a", "Value": "b"}]
    assert ec2.code("CreateTags", Resources=["i-0123456789abcdef0"], Tags=tag) == "InvalidID"
    assert ec2.code("CreateTags", Resources=["vpc-0123456789abcdef0"], Tags=tag) == "InvalidVpcID.NotFound"
    assert ec2.code("CreateTags", Resources=["vpc-x"], Tags=tag) == "InvalidVpcID.Malformed"
    assert ec2.code("CreateTags", Resources=["subnet-0123456789abcdef0"], Tags=tag) == \
        "InvalidSubnetID.NotFound"
    assert ec2.code("CreateTags", Resources=["sg-0123456789abcdef0"], Tags=tag) == "InvalidGroup.NotFound"
    assert ec2.code("CreateTags", Resources=[vpc], Tags=[{"Key": "aws:x", "Value": "1"}]) == \
        "InvalidParameterValue"
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    assert ec2.code("CreateTags", Resources=[vpc], Tags=many) == "TagLimitExceeded"
    # All or nothing: one unknown resource leaves the others untouched.
    assert ec2.code("CreateTags", Resources=[vpc, "vpc-0123456789abcdef0"], Tags=tag) == \
        "InvalidVpcID.NotFound"
    assert ec2.code("CreateTags", Resources=[vpc], Tags=tag, DryRun=True) == "DryRunOperation"
    assert "Tags" not in ec2("DescribeVpcs", VpcIds=[vpc])["Vpcs"][0]
    assert ec2.code("DescribeTags", Filters=[{"Name": "bogus", "Values": ["x"]}]) == "InvalidParameterValue"


def test_tags_are_region_scoped(ec2: Ec2) -> None:
    vpc = ec2.vpc()["VpcId"]
    assert ec2.code("CreateTags", region="us-east-1", Resources=[vpc],
                     Tags=[{"Key": "a", "Value": "b"}]) == "InvalidVpcID.NotFound"


# -- lookup -----------------------------------------------------------------------------------
def test_lookup_defaults_and_records(ec2: Ec2) -> None:
    store = ec2.store
    lookup.ensure_defaults(store, "eu-west-1")
    default = lookup.default_vpc(store, "eu-west-1")
    assert default is not None and default.is_default and default.cidr_block == "172.31.0.0/16"
    subnets = lookup.default_subnets(store, "eu-west-1")
    assert [s.availability_zone for s in subnets] == ["eu-west-1a", "eu-west-1c", "eu-west-1d"]
    assert all(s.vpc_id == default.id and s.default_for_az for s in subnets)
    group = lookup.default_security_group(store, "eu-west-1")
    assert group.is_default and group.vpc_id == default.id
    assert group.ingress[0].group_id == group.id and group.egress[0].cidr_ipv4 == "0.0.0.0/0"
    assert lookup.availability_zones(REGION) == [f"{REGION}a", f"{REGION}c", f"{REGION}d"]
    assert lookup.zone_id(REGION, f"{REGION}a") == "apne1-az4"
    assert lookup.zone_id(REGION, f"{REGION}b") is None


def test_lookup_subnets_and_groups(ec2: Ec2) -> None:
    vpc = ec2.vpc()["VpcId"]
    a = ec2.subnet(vpc, "10.0.1.0/24", f"{REGION}a")["SubnetId"]
    c = ec2.subnet(vpc, "10.0.2.0/24", f"{REGION}c")["SubnetId"]
    found = lookup.get_subnets(ec2.store, REGION, [c, a, c])
    assert [s.id for s in found] == [c, a]
    assert found[0].availability_zone == f"{REGION}c" and found[0].available_ip_address_count == 251
    with pytest.raises(lookup.NetworkLookupError) as info:
        lookup.get_subnets(ec2.store, REGION, [a, "subnet-0123456789abcdef0", "junk"])
    assert info.value.kind == "subnet" and info.value.missing == ("subnet-0123456789abcdef0", "junk")
    with pytest.raises(lookup.NetworkLookupError):
        lookup.get_subnets(ec2.store, "us-east-1", [a])  # another region's subnet
    backend = ec2.group("backend", vpc)
    db = ec2.group("db", vpc)
    ec2("AuthorizeSecurityGroupIngress", GroupId=db, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": backend}]}])
    [group] = lookup.get_security_groups(ec2.store, REGION, [db])
    assert group.name == "db" and group.vpc_id == vpc and not group.is_default
    assert [(r.protocol, r.from_port, r.to_port, r.group_id) for r in group.ingress] == \
        [("tcp", 5432, 5432, backend)]
    with pytest.raises(lookup.NetworkLookupError) as groups_info:
        lookup.get_security_groups(ec2.store, REGION, ["sg-0123456789abcdef0"])
    assert groups_info.value.kind == "security-group"
    assert lookup.default_security_group(ec2.store, REGION, vpc).vpc_id == vpc
    assert lookup.get_vpc(ec2.store, REGION, vpc).is_default is False


def test_registered_dependents_block_deletes(ec2: Ec2) -> None:
    vpc = ec2.vpc()["VpcId"]
    subnet = ec2.subnet(vpc, "10.0.1.0/24")["SubnetId"]
    group = ec2.group("db", vpc)
    in_use = {subnet, group}

    def rds_uses(store: Store, region: str, resource_id: str) -> str | None:
        return "db-instance auratime" if region == REGION and resource_id in in_use else None

    lookup.register_dependents(rds_uses)
    try:
        assert ec2.code("DeleteSubnet", SubnetId=subnet) == "DependencyViolation"
        assert ec2.code("DeleteSecurityGroup", GroupId=group) == "DependencyViolation"
        in_use.clear()
        ec2("DeleteSubnet", SubnetId=subnet)
        ec2("DeleteSecurityGroup", GroupId=group)
    finally:
        from kura.services.ec2 import records

        records._DEPENDENTS.remove(rds_uses)


def test_lookup_accepts_a_ctx(ec2: Ec2) -> None:
    from kura.services.registry import Ctx

    ctx = Ctx(ec2.env, "rds", "CreateDBSubnetGroup", "sa-east-1", "req")
    lookup.ensure_defaults(ctx, ctx.region)
    assert lookup.default_vpc(ec2.store, "sa-east-1") is not None
    with pytest.raises(AwsError):
        ec2("DescribeVpcs", region="sa-east-1", VpcIds=["vpc-0123456789abcdef0"])
