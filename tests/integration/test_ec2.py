"""The EC2 networking subset against a real Kura server, through the real AWS CLI and boto3."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.kura_fixture import KuraServer

SEED_REGION = "ap-northeast-1"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return str(info.value.response["Error"]["Code"])


def test_seed_000_prerequisites_through_the_cli(kura: KuraServer) -> None:
    """VPC_ID, PRIVATE_SUBNET_1A/1C, RDS_SG and REDIS_SG as the AuraTime team makes them."""

    def aws(*args: str) -> Any:
        return kura.aws("ec2", *args, region=SEED_REGION)

    vpc = aws("create-vpc", "--cidr-block", "10.0.0.0/16", "--tag-specifications",
              "ResourceType=vpc,Tags=[{Key=Name,Value=auratime-vpc},{Key=Project,Value=AuraTime}]",
              "--query", "Vpc.VpcId", "--output", "text")
    assert vpc.startswith("vpc-") and len(vpc) == 21
    aws("wait", "vpc-available", "--vpc-ids", vpc)
    subnet_a = aws("create-subnet", "--vpc-id", vpc, "--cidr-block", "10.0.11.0/24",
                   "--availability-zone", f"{SEED_REGION}a", "--query", "Subnet.SubnetId", "--output", "text")
    subnet_c = aws("create-subnet", "--vpc-id", vpc, "--cidr-block", "10.0.12.0/24",
                   "--availability-zone", f"{SEED_REGION}c", "--query", "Subnet.SubnetId", "--output", "text")
    aws("create-tags", "--resources", subnet_a, subnet_c, "--tags", "Key=Tier,Value=private")
    zones = aws("describe-subnets", "--filters", f"Name=vpc-id,Values={vpc}", "Name=tag:Tier,Values=private",
                "--query", "sort(Subnets[].AvailabilityZone)", "--output", "text")
    assert zones.split() == [f"{SEED_REGION}a", f"{SEED_REGION}c"]

    def group(name: str) -> str:
        return str(aws("create-security-group", "--group-name", name, "--description", f"AuraTime {name}",
                       "--vpc-id", vpc, "--query", "GroupId", "--output", "text"))

    backend, rds, redis = group("auratime-backend"), group("auratime-rds"), group("auratime-redis")
    for sg, port in ((rds, "5432"), (redis, "6379")):
        out = aws("authorize-security-group-ingress", "--group-id", sg, "--protocol", "tcp", "--port", port,
                  "--source-group", backend)
        assert out["Return"] is True
        assert out["SecurityGroupRules"][0]["SecurityGroupRuleId"].startswith("sgr-")
    query = "SecurityGroups[0].IpPermissions[0].[FromPort,UserIdGroupPairs[0].GroupId]"
    source = aws("describe-security-groups", "--group-ids", rds, "--query", query, "--output", "text")
    assert source.split() == ["5432", backend]
    described = aws("describe-security-groups", "--filters", f"Name=vpc-id,Values={vpc}")["SecurityGroups"]
    assert {g["GroupName"] for g in described} == {"default", "auratime-backend", "auratime-rds",
                                                   "auratime-redis"}
    # CIDR rules through the CLI shorthand, then revoked again.
    aws("authorize-security-group-ingress", "--group-id", rds, "--protocol", "tcp", "--port", "5432",
        "--cidr", "10.0.0.0/16")
    aws("revoke-security-group-ingress", "--group-id", rds, "--protocol", "tcp", "--port", "5432",
        "--cidr", "10.0.0.0/16")
    ranges = aws("describe-security-groups", "--group-ids", rds, "--query",
                 "SecurityGroups[0].IpPermissions[0].IpRanges")
    assert ranges == []


def test_default_network_and_zones(kura: KuraServer) -> None:
    ec2 = kura.client("ec2", region="eu-west-3")
    [vpc] = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert vpc["CidrBlock"] == "172.31.0.0/16" and vpc["IsDefault"] is True and vpc["State"] == "available"
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    assert sorted((s["AvailabilityZone"], s["CidrBlock"]) for s in subnets) == [
        ("eu-west-3a", "172.31.0.0/20"), ("eu-west-3c", "172.31.16.0/20"), ("eu-west-3d", "172.31.32.0/20")]
    assert all(s["AvailableIpAddressCount"] == 4091 for s in subnets)
    [default_sg] = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    assert default_sg["VpcId"] == vpc["VpcId"]
    found = kura.aws("ec2", "describe-availability-zones", "--query",
                     "AvailabilityZones[].[ZoneName,ZoneId,State]", "--output", "text", region="eu-west-3")
    assert [line.split() for line in found.splitlines()] == [
        ["eu-west-3a", "euw3-az1", "available"], ["eu-west-3c", "euw3-az2", "available"],
        ["eu-west-3d", "euw3-az3", "available"]]
    one = ec2.describe_availability_zones(Filters=[{"Name": "zone-name", "Values": ["*c"]}])
    assert [z["ZoneName"] for z in one["AvailabilityZones"]] == ["eu-west-3c"]


def test_region_isolation(kura: KuraServer) -> None:
    tokyo = kura.client("ec2", region=SEED_REGION)
    virginia = kura.client("ec2", region="us-east-1")
    vpc = tokyo.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    group = tokyo.create_security_group(GroupName=unique("iso"), Description="iso", VpcId=vpc)["GroupId"]
    assert vpc not in {v["VpcId"] for v in virginia.describe_vpcs()["Vpcs"]}
    assert error_code(lambda: virginia.describe_vpcs(VpcIds=[vpc])) == "InvalidVpcID.NotFound"
    assert error_code(lambda: virginia.describe_security_groups(GroupIds=[group])) == "InvalidGroup.NotFound"
    assert error_code(lambda: virginia.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")) == \
        "InvalidVpcID.NotFound"
    tokyo.delete_security_group(GroupId=group)
    tokyo.delete_vpc(VpcId=vpc)


def test_filters_tags_and_pagination(kura: KuraServer) -> None:
    ec2 = kura.client("ec2", region="eu-north-1")
    label = unique("page")
    spec = [{"ResourceType": "vpc", "Tags": [{"Key": "batch", "Value": label}]}]
    made = {ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16", TagSpecifications=spec)["Vpc"]["VpcId"]
            for i in range(12)}
    pages = ec2.get_paginator("describe_vpcs").paginate(
        Filters=[{"Name": "tag:batch", "Values": [label]}], PaginationConfig={"PageSize": 5})
    seen = [[v["VpcId"] for v in page["Vpcs"]] for page in pages]
    assert [len(p) for p in seen] == [5, 5, 2] and {v for p in seen for v in p} == made
    cli = kura.aws("ec2", "describe-vpcs", "--filters", f"Name=tag:batch,Values={label}", "--page-size", "5",
                   "--query", "length(Vpcs)", region="eu-north-1")
    assert cli == 12
    some = sorted(made)[:3]
    ec2.create_tags(Resources=some, Tags=[{"Key": "env", "Value": "prod"}])
    tagged = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["env"]},
                                        {"Name": "resource-type", "Values": ["vpc"]}])["Tags"]
    assert sorted(t["ResourceId"] for t in tagged) == some
    ec2.delete_tags(Resources=some[:1], Tags=[{"Key": "env"}])
    left = ec2.describe_vpcs(Filters=[{"Name": "tag:env", "Values": ["pr*"]}])["Vpcs"]
    assert sorted(v["VpcId"] for v in left) == some[1:]
    wild = ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.1?.0.0/16"]},
                                      {"Name": "tag:batch", "Values": [label]}])["Vpcs"]
    assert sorted(v["CidrBlock"] for v in wild) == ["10.10.0.0/16", "10.11.0.0/16"]
    for vpc in made:
        ec2.delete_vpc(VpcId=vpc)


def test_security_group_rules_round_trip(kura: KuraServer) -> None:
    ec2 = kura.client("ec2")
    group = ec2.create_security_group(GroupName=unique("rules"), Description="rules")["GroupId"]
    out = ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "203.0.113.0/24", "Description": "office"}],
         "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}]}],
        TagSpecifications=[{"ResourceType": "security-group-rule", "Tags": [{"Key": "why", "Value": "ssh"}]}])
    rule_ids = [r["SecurityGroupRuleId"] for r in out["SecurityGroupRules"]]
    assert len(rule_ids) == 2 and out["SecurityGroupRules"][0]["Tags"] == [{"Key": "why", "Value": "ssh"}]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])
    ingress = {r["SecurityGroupRuleId"] for r in rules["SecurityGroupRules"] if not r["IsEgress"]}
    assert ingress == set(rule_ids)
    [sg] = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"]
    assert sg["IpPermissions"][0]["IpRanges"] == [{"CidrIp": "203.0.113.0/24", "Description": "office"}]
    assert sg["IpPermissions"][0]["Ipv6Ranges"] == [{"CidrIpv6": "2001:db8::/32"}]
    assert sg["IpPermissionsEgress"][0]["IpProtocol"] == "-1"
    revoked = ec2.revoke_security_group_ingress(GroupId=group, SecurityGroupRuleIds=rule_ids)
    assert len(revoked["RevokedSecurityGroupRules"]) == 2
    egress = ec2.revoke_security_group_egress(GroupId=group, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert egress["Return"] is True
    ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    [sg] = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"]
    assert sg["IpPermissions"] == [] and sg["IpPermissionsEgress"][0]["FromPort"] == 443
    ec2.get_waiter("security_group_exists").wait(GroupIds=[group])
    assert ec2.delete_security_group(GroupId=group)["Return"] is True


def test_error_codes(kura: KuraServer) -> None:
    ec2 = kura.client("ec2", region="ca-central-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    name = unique("err")
    group = ec2.create_security_group(GroupName=name, Description="e", VpcId=vpc)["GroupId"]
    perm = [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=perm)
    ghost = "0123456789abcdef0"
    ghost_vpc, ghost_subnet, ghost_sg = f"vpc-{ghost}", f"subnet-{ghost}", f"sg-{ghost}"
    [default_sg] = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                         {"Name": "group-name", "Values": ["default"]}])[
        "SecurityGroups"]
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: ec2.describe_vpcs(VpcIds=[ghost_vpc]), "InvalidVpcID.NotFound"),
        (lambda: ec2.describe_vpcs(VpcIds=["vpc-zz"]), "InvalidVpcID.Malformed"),
        (lambda: ec2.describe_subnets(SubnetIds=[ghost_subnet]), "InvalidSubnetID.NotFound"),
        (lambda: ec2.describe_subnets(SubnetIds=["subnet-zz"]), "InvalidSubnetID.Malformed"),
        (lambda: ec2.describe_security_groups(GroupIds=[ghost_sg]), "InvalidGroup.NotFound"),
        (lambda: ec2.describe_security_groups(GroupIds=["sg-zz"]), "InvalidGroupId.Malformed"),
        (lambda: ec2.create_vpc(CidrBlock="10.0.0.0/8"), "InvalidVpc.Range"),
        (lambda: ec2.create_vpc(CidrBlock="nonsense"), "InvalidParameterValue"),
        (lambda: ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.128/25"), "InvalidSubnet.Conflict"),
        (lambda: ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.0.0/24"), "InvalidSubnet.Range"),
        (lambda: ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZone="ca-central-1z"),
         "InvalidParameterValue"),
        (lambda: ec2.delete_vpc(VpcId=vpc), "DependencyViolation"),
        (lambda: ec2.create_security_group(GroupName=name, Description="e", VpcId=vpc),
         "InvalidGroup.Duplicate"),
        (lambda: ec2.delete_security_group(GroupId=default_sg["GroupId"]), "CannotDelete"),
        (lambda: ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=perm),
         "InvalidPermission.Duplicate"),
        (lambda: ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[{**perm[0], "FromPort": 1}]),
         "InvalidPermission.NotFound"),
        (lambda: ec2.create_vpc(CidrBlock="10.5.0.0/16", DryRun=True), "DryRunOperation"),
        (lambda: ec2.delete_subnet(SubnetId=subnet, DryRun=True), "DryRunOperation"),
        (lambda: ec2.describe_vpcs(Filters=[{"Name": "bogus", "Values": ["1"]}]), "InvalidParameterValue"),
        (lambda: ec2.create_tags(Resources=[ghost_vpc], Tags=[{"Key": "a", "Value": "b"}]),
         "InvalidVpcID.NotFound"),
    ]
    assert [(i, error_code(call)) for i, (call, _) in enumerate(cases)] == [(i, c) for i, (_, c) in
                                                                          enumerate(cases)]
    assert error_code(lambda: ec2.delete_security_group(GroupId=ghost_sg)) == "InvalidGroup.NotFound"
    # The CLI reports the same codes.
    proc = kura.aws("ec2", "describe-vpcs", "--vpc-ids", ghost_vpc, region="ca-central-1", check=False)
    assert proc.returncode != 0 and "InvalidVpcID.NotFound" in proc.stderr
    ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_security_group(GroupId=group)
    ec2.delete_vpc(VpcId=vpc)
    assert error_code(lambda: ec2.delete_vpc(VpcId=vpc)) == "InvalidVpcID.NotFound"
