"""EC2 default network, VPCs and subnets: handlers called directly over a real SQLite store."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kura.services.ec2  # noqa: F401  (registers the handlers)
from kura.api.errors import AwsError
from kura.clock import FakeClock
from kura.config import Settings
from kura.crypto import MasterKey
from kura.env import Env
from kura.services.ec2 import zones
from kura.services.ec2.shared import KIND_SG, KIND_SUBNET, KIND_VPC
from kura.services.registry import Ctx, lookup
from kura.store.sqlite import SqliteStore

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"


class Ec2:
    """Calls EC2 handlers the way the gateway does, over a throwaway store."""

    def __init__(self, home: Path) -> None:
        self.clock = FakeClock()
        self.store = SqliteStore(home / "state.db", self.clock)
        self.env = Env(self.store, self.clock, Settings(home=home), ACCOUNT, MasterKey(os.urandom(32)))

    def __call__(self, op: str, region: str = REGION, **params: Any) -> dict[str, Any]:
        handler = lookup("ec2", op)
        assert handler is not None, op
        return handler(Ctx(self.env, "ec2", op, region, "req-1"), params)

    def error(self, op: str, region: str = REGION, **params: Any) -> AwsError:
        with pytest.raises(AwsError) as info:
            self(op, region, **params)
        return info.value

    def code(self, op: str, region: str = REGION, **params: Any) -> str:
        return self.error(op, region, **params).code

    def vpc(self, cidr: str = "10.0.0.0/16", **params: Any) -> dict[str, Any]:
        out: dict[str, Any] = self("CreateVpc", CidrBlock=cidr, **params)["Vpc"]
        return out

    def subnet(self, vpc_id: str, cidr: str, zone: str | None = None, **params: Any) -> dict[str, Any]:
        if zone:
            params["AvailabilityZone"] = zone
        out: dict[str, Any] = self("CreateSubnet", VpcId=vpc_id, CidrBlock=cidr, **params)["Subnet"]
        return out

    def group(self, name: str, vpc_id: str | None = None, **params: Any) -> str:
        if vpc_id:
            params["VpcId"] = vpc_id
        out = self("CreateSecurityGroup", GroupName=name, Description=f"{name} group", **params)
        return str(out["GroupId"])

    def describe_group(self, group_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self("DescribeSecurityGroups", GroupIds=[group_id])["SecurityGroups"][0]
        return found


def open_ec2(tmp_path: Path) -> Iterator[Ec2]:
    e = Ec2(tmp_path)
    yield e
    e.store.close()


# Shared with the other test_ec2_* modules, which register it under the same name.
ec2_fixture = pytest.fixture(name="ec2")(open_ec2)


def tags(item: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", [])}


# -- the default network ----------------------------------------------------------------------
def test_default_network_appears_on_first_use(ec2: Ec2) -> None:
    vpcs = ec2("DescribeVpcs")["Vpcs"]
    assert len(vpcs) == 1
    vpc = vpcs[0]
    assert vpc["IsDefault"] is True and vpc["CidrBlock"] == "172.31.0.0/16" and vpc["State"] == "available"
    assert vpc["OwnerId"] == ACCOUNT and vpc["VpcId"].startswith("vpc-") and len(vpc["VpcId"]) == 21
    subnets = sorted(ec2("DescribeSubnets")["Subnets"], key=lambda s: s["AvailabilityZone"])
    assert [s["AvailabilityZone"] for s in subnets] == [f"{REGION}{x}" for x in "acd"]
    assert [s["CidrBlock"] for s in subnets] == ["172.31.0.0/20", "172.31.16.0/20", "172.31.32.0/20"]
    assert all(s["DefaultForAz"] and s["MapPublicIpOnLaunch"] for s in subnets)
    assert [s["AvailabilityZoneId"] for s in subnets] == ["apne1-az4", "apne1-az1", "apne1-az2"]
    assert subnets[0]["AvailableIpAddressCount"] == 4096 - 5
    groups = ec2("DescribeSecurityGroups")["SecurityGroups"]
    assert [(g["GroupName"], g["VpcId"]) for g in groups] == [("default", vpc["VpcId"])]
    ingress = groups[0]["IpPermissions"]
    assert ingress[0]["IpProtocol"] == "-1" and "FromPort" not in ingress[0]
    assert ingress[0]["UserIdGroupPairs"] == [{"UserId": ACCOUNT, "GroupId": groups[0]["GroupId"]}]
    assert groups[0]["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]


def test_defaults_are_made_once_even_when_first_calls_race(ec2: Ec2) -> None:
    errors: list[BaseException] = []

    def first_call() -> None:
        try:
            ec2("DescribeVpcs")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(ec2.store.list(KIND_VPC, REGION)) == 1
    assert len(ec2.store.list(KIND_SUBNET, REGION)) == 3
    assert len(ec2.store.list(KIND_SG, REGION)) == 1


def test_regions_are_separate_scopes(ec2: Ec2) -> None:
    mine = ec2.vpc()
    east = ec2("DescribeVpcs", region="us-east-1")["Vpcs"]
    assert [v["IsDefault"] for v in east] == [True]
    assert mine["VpcId"] not in {v["VpcId"] for v in east}
    assert ec2.code("DescribeVpcs", region="us-east-1", VpcIds=[mine["VpcId"]]) == "InvalidVpcID.NotFound"
    zones_east = ec2("DescribeAvailabilityZones", region="us-east-1")["AvailabilityZones"]
    assert [z["ZoneName"] for z in zones_east] == ["us-east-1a", "us-east-1c", "us-east-1d"]
    assert all(z["ZoneId"].startswith("use1-az") for z in zones_east)


def test_deleted_default_vpc_stays_deleted(ec2: Ec2) -> None:
    default = ec2("DescribeVpcs")["Vpcs"][0]["VpcId"]
    for s in ec2("DescribeSubnets")["Subnets"]:
        ec2("DeleteSubnet", SubnetId=s["SubnetId"])
    ec2("DeleteVpc", VpcId=default)
    assert ec2("DescribeVpcs")["Vpcs"] == []
    assert ec2.code("CreateSecurityGroup", GroupName="x", Description="x") == "VPCIdNotSpecified"


# -- VPCs -------------------------------------------------------------------------------------
def test_create_vpc_with_tags_then_describe(ec2: Ec2) -> None:
    spec = [{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "auratime"}]}]
    created = ec2.vpc("10.0.0.7/16", TagSpecifications=spec)
    assert created["State"] == "pending" and created["CidrBlock"] == "10.0.0.0/16"
    assert tags(created) == {"Name": "auratime"}
    assert created["DhcpOptionsId"].startswith("dopt-")
    found = ec2("DescribeVpcs", VpcIds=[created["VpcId"]])["Vpcs"]
    assert found[0]["State"] == "available" and found[0]["IsDefault"] is False
    assert found[0]["CidrBlockAssociationSet"][0]["CidrBlockState"] == {"State": "associated"}
    groups = ec2("DescribeSecurityGroups", Filters=[{"Name": "vpc-id", "Values": [created["VpcId"]]}])
    assert [g["GroupName"] for g in groups["SecurityGroups"]] == ["default"]


@pytest.mark.parametrize(("cidr", "code"), [
    ("10.0.0.0/8", "InvalidVpc.Range"),
    ("10.0.0.0/29", "InvalidVpc.Range"),
    ("10.0.0.300/16", "InvalidParameterValue"),
    ("banana", "InvalidParameterValue"),
])
def test_create_vpc_checks_the_cidr(ec2: Ec2, cidr: str, code: str) -> None:
    assert ec2.code("CreateVpc", CidrBlock=cidr) == code


def test_create_vpc_edge_sizes_and_bad_tag_spec(ec2: Ec2) -> None:
    assert ec2.vpc("10.1.0.0/16")["CidrBlock"] == "10.1.0.0/16"
    assert ec2.vpc("10.2.0.0/28")["CidrBlock"] == "10.2.0.0/28"
    assert ec2.code("CreateVpc") == "MissingParameter"
    bad = [{"ResourceType": "subnet", "Tags": [{"Key": "a", "Value": "b"}]}]
    assert ec2.code("CreateVpc", CidrBlock="10.3.0.0/16", TagSpecifications=bad) == "InvalidParameterValue"


def test_describe_vpcs_errors_filters_and_pages(ec2: Ec2) -> None:
    made = [ec2.vpc(f"10.{i}.0.0/16")["VpcId"] for i in range(7)]
    assert ec2.code("DescribeVpcs", VpcIds=["vpc-nothex"]) == "InvalidVpcID.Malformed"
    err = ec2.error("DescribeVpcs", VpcIds=["vpc-0123456789abcdef0"])
    assert err.code == "InvalidVpcID.NotFound" and "vpc-0123456789abcdef0" in err.message
    only_default = ec2("DescribeVpcs", Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert len(only_default) == 1 and only_default[0]["CidrBlock"] == "172.31.0.0/16"
    legacy = ec2("DescribeVpcs", Filters=[{"Name": "isDefault", "Values": ["false"]}])["Vpcs"]
    assert len(legacy) == 7
    wild = ec2("DescribeVpcs", Filters=[{"Name": "cidr", "Values": ["10.3.*"]}])["Vpcs"]
    assert [v["VpcId"] for v in wild] == [made[3]]
    assert ec2.code("DescribeVpcs", Filters=[{"Name": "nope", "Values": ["x"]}]) == "InvalidParameterValue"
    seen: list[str] = []
    token: str | None = None
    while True:
        page = ec2("DescribeVpcs", MaxResults=5, **({"NextToken": token} if token else {}))
        assert len(page["Vpcs"]) <= 5
        seen += [v["VpcId"] for v in page["Vpcs"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted([*made, only_default[0]["VpcId"]]) and len(seen) == 8
    assert ec2.code("DescribeVpcs", MaxResults=5, NextToken="garbage!") == "InvalidPaginationToken"


def test_delete_vpc_refuses_while_it_has_dependencies(ec2: Ec2) -> None:
    vpc = ec2.vpc()["VpcId"]
    subnet = ec2.subnet(vpc, "10.0.1.0/24")["SubnetId"]
    group = ec2.group("app", vpc)
    err = ec2.error("DeleteVpc", VpcId=vpc)
    assert err.code == "DependencyViolation" and vpc in err.message
    ec2("DeleteSubnet", SubnetId=subnet)
    assert ec2.code("DeleteVpc", VpcId=vpc) == "DependencyViolation"
    ec2("DeleteSecurityGroup", GroupId=group)
    assert ec2.code("DeleteVpc", VpcId=vpc, DryRun=True) == "DryRunOperation"
    ec2("DeleteVpc", VpcId=vpc)
    assert ec2.code("DeleteVpc", VpcId=vpc) == "InvalidVpcID.NotFound"
    left = ec2("DescribeSecurityGroups", Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    assert left["SecurityGroups"] == []
    assert ec2.code("DeleteVpc", VpcId="vpc-123") == "InvalidVpcID.Malformed"


def test_dry_run_creates_nothing(ec2: Ec2) -> None:
    err = ec2.error("CreateVpc", CidrBlock="10.0.0.0/16", DryRun=True)
    assert (err.code, err.status) == ("DryRunOperation", 412)
    assert len(ec2("DescribeVpcs")["Vpcs"]) == 1
    # A request that would fail fails the same way with DryRun.
    assert ec2.code("CreateVpc", CidrBlock="10.0.0.0/8", DryRun=True) == "InvalidVpc.Range"


# -- subnets ----------------------------------------------------------------------------------
def test_create_subnets_as_seed_000_needs_them(ec2: Ec2) -> None:
    vpc = ec2.vpc()["VpcId"]
    a = ec2.subnet(vpc, "10.0.11.0/24", f"{REGION}a")
    c = ec2.subnet(vpc, "10.0.12.0/24", AvailabilityZoneId="apne1-az1")
    assert a["AvailabilityZone"] == f"{REGION}a" and a["AvailabilityZoneId"] == "apne1-az4"
    assert c["AvailabilityZone"] == f"{REGION}c"
    assert a["AvailableIpAddressCount"] == 251 and a["State"] == "available"
    assert a["DefaultForAz"] is False and a["MapPublicIpOnLaunch"] is False
    assert a["SubnetArn"] == f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{a['SubnetId']}"
    mine = ec2("DescribeSubnets", Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    assert {s["SubnetId"] for s in mine} == {a["SubnetId"], c["SubnetId"]}
    tiny = ec2.subnet(vpc, "10.0.13.0/28")
    assert tiny["AvailableIpAddressCount"] == 11
    assert tiny["AvailabilityZone"] == f"{REGION}d"  # the zone with the fewest subnets


@pytest.mark.parametrize(("cidr", "code"), [
    ("10.1.0.0/24", "InvalidSubnet.Range"),  # outside the VPC
    ("10.0.0.0/15", "InvalidSubnet.Range"),
    ("10.0.0.0/29", "InvalidSubnet.Range"),
    ("10.0.1.128/25", "InvalidSubnet.Conflict"),  # inside 10.0.1.0/24
    ("10.0.0.0/16", "InvalidSubnet.Conflict"),
    ("10.0.1", "InvalidParameterValue"),
])
def test_create_subnet_checks_the_cidr(ec2: Ec2, cidr: str, code: str) -> None:
    vpc = ec2.vpc()["VpcId"]
    ec2.subnet(vpc, "10.0.1.0/24")
    assert ec2.code("CreateSubnet", VpcId=vpc, CidrBlock=cidr) == code


def test_create_subnet_checks_zone_and_vpc(ec2: Ec2) -> None:
    vpc = ec2.vpc()["VpcId"]
    err = ec2.error("CreateSubnet", VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")
    assert err.code == "InvalidParameterValue" and f"{REGION}a, {REGION}c, {REGION}d" in err.message
    err = ec2.error("CreateSubnet", VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{REGION}b")
    assert err.code == "InvalidParameterValue"
    err = ec2.error("CreateSubnet", VpcId="vpc-0123456789abcdef0", CidrBlock="10.0.1.0/24")
    assert err.code == "InvalidVpcID.NotFound"
    other_region = ec2.error("CreateSubnet", region="us-east-1", VpcId=vpc, CidrBlock="10.0.1.0/24")
    assert other_region.code == "InvalidVpcID.NotFound"
    assert ec2.code("CreateSubnet", VpcId=vpc, CidrBlock="10.0.1.0/24", DryRun=True) == "DryRunOperation"
    assert ec2("DescribeSubnets", Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"] == []


def test_describe_subnets_filters_errors_and_pages(ec2: Ec2) -> None:
    vpc = ec2.vpc()["VpcId"]
    spec = [{"ResourceType": "subnet", "Tags": [{"Key": "tier", "Value": "private"}]}]
    made = [ec2.subnet(vpc, f"10.0.{i}.0/24", f"{REGION}{'acd'[i % 3]}", TagSpecifications=spec)["SubnetId"]
            for i in range(6)]

    def ids(*filters: tuple[str, list[str]]) -> set[str]:
        fs = [{"Name": n, "Values": v} for n, v in filters]
        return {s["SubnetId"] for s in ec2("DescribeSubnets", Filters=fs)["Subnets"]}

    assert ids(("tag:tier", ["private"])) == set(made)
    assert ids(("tag:tier", ["priv*"]), ("availability-zone", [f"{REGION}a"])) == {made[0], made[3]}
    assert ids(("cidr-block", ["10.0.2.0/24"])) == ids(("cidr", ["10.0.2.0/24"])) == {made[2]}
    assert len(ids(("default-for-az", ["true"]))) == 3 == len(ids(("defaultForAz", ["true"])))
    assert ids(("availability-zone-id", ["apne1-az1"]), ("vpc-id", [vpc])) == {made[1], made[4]}
    assert ids(("tag-key", ["tier"])) == set(made)
    assert ec2.code("DescribeSubnets", SubnetIds=["subnet-xyz"]) == "InvalidSubnetID.Malformed"
    err = ec2.error("DescribeSubnets", SubnetIds=[made[0], "subnet-0123456789abcdef0"])
    assert err.code == "InvalidSubnetID.NotFound" and "subnet-0123456789abcdef0" in err.message
    page1 = ec2("DescribeSubnets", MaxResults=5)
    page2 = ec2("DescribeSubnets", MaxResults=5, NextToken=page1["NextToken"])
    assert len(page1["Subnets"]) == 5 and len(page2["Subnets"]) == 4 and "NextToken" not in page2


def test_delete_subnet(ec2: Ec2) -> None:
    vpc = ec2.vpc()["VpcId"]
    subnet = ec2.subnet(vpc, "10.0.1.0/24")["SubnetId"]
    assert ec2.code("DeleteSubnet", SubnetId=subnet, DryRun=True) == "DryRunOperation"
    ec2("DeleteSubnet", SubnetId=subnet)
    assert ec2.code("DeleteSubnet", SubnetId=subnet) == "InvalidSubnetID.NotFound"
    assert ec2.code("DeleteSubnet", SubnetId="nope") == "InvalidSubnetID.Malformed"
    # The freed range can be used again.
    assert ec2.subnet(vpc, "10.0.1.0/24")["CidrBlock"] == "10.0.1.0/24"


# -- zones ------------------------------------------------------------------------------------
def test_describe_availability_zones(ec2: Ec2) -> None:
    found = ec2("DescribeAvailabilityZones")["AvailabilityZones"]
    assert [(z["ZoneName"], z["ZoneId"], z["State"], z["RegionName"]) for z in found] == [
        (f"{REGION}a", "apne1-az4", "available", REGION),
        (f"{REGION}c", "apne1-az1", "available", REGION),
        (f"{REGION}d", "apne1-az2", "available", REGION),
    ]
    picked = ec2("DescribeAvailabilityZones", ZoneNames=[f"{REGION}c"])["AvailabilityZones"]
    assert [z["ZoneName"] for z in picked] == [f"{REGION}c"]
    filtered = ec2("DescribeAvailabilityZones", Filters=[{"Name": "zone-id", "Values": ["apne1-az2"]}])
    assert [z["ZoneName"] for z in filtered["AvailabilityZones"]] == [f"{REGION}d"]
    state = ec2("DescribeAvailabilityZones", Filters=[{"Name": "state", "Values": ["available"]}])
    assert len(state["AvailabilityZones"]) == 3
    assert ec2.code("DescribeAvailabilityZones", ZoneNames=[f"{REGION}b"]) == "InvalidParameterValue"


@pytest.mark.parametrize(("region", "code"), [
    ("us-east-1", "use1"), ("ap-northeast-1", "apne1"), ("eu-west-2", "euw2"), ("eu-central-1", "euc1"),
    ("ap-southeast-2", "apse2"), ("us-gov-west-1", "usgw1"), ("sa-east-1", "sae1"),
])
def test_zone_ids_follow_the_aws_region_codes(region: str, code: str) -> None:
    assert zones.region_code(region) == code
    assert all(z.zone_id.startswith(f"{code}-az") for z in zones.zones(region))
