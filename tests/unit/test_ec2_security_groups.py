"""Security groups and their rules, handlers called directly over a real SQLite store."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_ec2_vpcs import ACCOUNT, REGION, Ec2, ec2_fixture, tags

__all__ = ["ec2_fixture"]


def tcp(port: int, **source: Any) -> dict[str, Any]:
    perm: dict[str, Any] = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port}
    if "cidr" in source:
        perm["IpRanges"] = [{"CidrIp": source["cidr"]}]
    if "group" in source:
        perm["UserIdGroupPairs"] = [{"GroupId": source["group"]}]
    if "cidr6" in source:
        perm["Ipv6Ranges"] = [{"CidrIpv6": source["cidr6"]}]
    return perm


def test_seed_000_groups_with_rules_from_a_backend_group(ec2: Ec2) -> None:
    vpc = ec2.vpc()["VpcId"]
    backend = ec2.group("auratime-backend", vpc)
    rds = ec2.group("auratime-rds", vpc)
    redis = ec2.group("auratime-redis", vpc)
    out = ec2("AuthorizeSecurityGroupIngress", GroupId=rds, IpPermissions=[tcp(5432, group=backend)])
    assert out["Return"] is True
    [rule] = out["SecurityGroupRules"]
    assert rule["SecurityGroupRuleId"].startswith("sgr-") and rule["IsEgress"] is False
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 5432, 5432)
    assert rule["ReferencedGroupInfo"] == {"GroupId": backend, "UserId": ACCOUNT}
    assert rule["GroupOwnerId"] == ACCOUNT
    ec2("AuthorizeSecurityGroupIngress", GroupId=redis, IpPermissions=[tcp(6379, group=backend)])
    described = ec2.describe_group(rds)
    assert described["IpPermissions"] == [{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [], "Ipv6Ranges": [],
        "PrefixListIds": [], "UserIdGroupPairs": [{"UserId": ACCOUNT, "GroupId": backend}],
    }]
    assert described["IpPermissionsEgress"][0]["IpProtocol"] == "-1"
    assert described["SecurityGroupArn"] == f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{rds}"
    found = ec2("DescribeSecurityGroups",
                Filters=[{"Name": "ip-permission.group-id", "Values": [backend]}])["SecurityGroups"]
    assert {g["GroupId"] for g in found} == {rds, redis}
    by_port = ec2("DescribeSecurityGroups",
                  Filters=[{"Name": "ip-permission.from-port", "Values": ["6379"]}])["SecurityGroups"]
    assert [g["GroupId"] for g in by_port] == [redis]
    named = ec2("DescribeSecurityGroups",
                Filters=[{"Name": "ip-permission.group-name", "Values": ["auratime-backend"]}])
    assert len(named["SecurityGroups"]) == 2


def test_create_security_group_rules_and_errors(ec2: Ec2) -> None:
    vpc = ec2.vpc()["VpcId"]
    spec = [{"ResourceType": "security-group", "Tags": [{"Key": "Project", "Value": "AuraTime"}]}]
    out = ec2("CreateSecurityGroup", GroupName="app", Description="App tier", VpcId=vpc,
              TagSpecifications=spec)
    assert out["GroupId"].startswith("sg-") and tags(out) == {"Project": "AuraTime"}
    err = ec2.error("CreateSecurityGroup", GroupName="app", Description="again", VpcId=vpc)
    assert err.code == "InvalidGroup.Duplicate" and vpc in err.message
    assert ec2.code("CreateSecurityGroup", GroupName="default", Description="d", VpcId=vpc) == \
        "InvalidGroup.Duplicate"
    assert ec2.code("CreateSecurityGroup", GroupName="sg-app", Description="x") == "InvalidParameterValue"
    assert ec2.code("CreateSecurityGroup", GroupName="app", Description="caf\u00e9") == \
        "InvalidParameterValue"
    assert ec2.code("CreateSecurityGroup", GroupName="x", Description="x",
                     VpcId="vpc-0123456789abcdef0") == "InvalidVpcID.NotFound"
    assert ec2.code("CreateSecurityGroup", GroupName="y", Description="y", DryRun=True) == \
        "DryRunOperation"
    # Same name in another VPC (the default one) is fine.
    other = ec2.group("app")
    assert ec2.describe_group(other)["VpcId"] != vpc


def test_describe_security_groups_by_name_id_and_errors(ec2: Ec2) -> None:
    vpc = ec2.vpc()["VpcId"]
    in_default = ec2.group("web")
    in_vpc = ec2.group("db", vpc)
    by_name = ec2("DescribeSecurityGroups", GroupNames=["web"])["SecurityGroups"]
    assert [g["GroupId"] for g in by_name] == [in_default]
    err = ec2.error("DescribeSecurityGroups", GroupNames=["db"])  # names reach the default VPC only
    assert err.code == "InvalidGroup.NotFound" and "default VPC" in err.message
    assert ec2.code("DescribeSecurityGroups", GroupIds=["sg-zzz"]) == "InvalidGroupId.Malformed"
    err = ec2.error("DescribeSecurityGroups", GroupIds=[in_vpc, "sg-0123456789abcdef0"])
    assert err.code == "InvalidGroup.NotFound" and "sg-0123456789abcdef0" in err.message
    fs = [{"Name": "group-name", "Values": ["d*"]}, {"Name": "vpc-id", "Values": [vpc]}]
    assert {g["GroupName"] for g in ec2("DescribeSecurityGroups", Filters=fs)["SecurityGroups"]} == \
        {"db", "default"}
    for i in range(6):
        ec2.group(f"extra-{i}", vpc)
    page = ec2("DescribeSecurityGroups", MaxResults=5)
    rest = ec2("DescribeSecurityGroups", MaxResults=5, NextToken=page["NextToken"])
    assert len(page["SecurityGroups"]) + len(rest["SecurityGroups"]) == 10
    assert "NextToken" not in rest


def test_delete_security_group(ec2: Ec2) -> None:
    vpc = ec2.vpc()["VpcId"]
    source = ec2.group("source", vpc)
    sink = ec2.group("sink", vpc)
    ec2("AuthorizeSecurityGroupIngress", GroupId=sink, IpPermissions=[tcp(80, group=source)])
    err = ec2.error("DeleteSecurityGroup", GroupId=source)
    assert err.code == "DependencyViolation" and source in err.message
    default = ec2("DescribeSecurityGroups", Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                     {"Name": "group-name", "Values": ["default"]}])
    default_id = default["SecurityGroups"][0]["GroupId"]
    assert ec2.code("DeleteSecurityGroup", GroupId=default_id) == "CannotDelete"
    assert ec2.code("DeleteSecurityGroup", GroupName="default") == "CannotDelete"
    assert ec2.code("DeleteSecurityGroup", GroupId=sink, DryRun=True) == "DryRunOperation"
    assert ec2("DeleteSecurityGroup", GroupId=sink) == {"Return": True, "GroupId": sink}
    ec2("DeleteSecurityGroup", GroupId=source)
    assert ec2.code("DeleteSecurityGroup", GroupId=source) == "InvalidGroup.NotFound"
    assert ec2.code("DeleteSecurityGroup") == "MissingParameter"
    named = ec2.group("named")
    ec2("DeleteSecurityGroup", GroupName="named")
    assert ec2.code("DescribeSecurityGroups", GroupIds=[named]) == "InvalidGroup.NotFound"


def test_authorize_cidr_rules_and_duplicates(ec2: Ec2) -> None:
    group = ec2.group("web")
    perms = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
              "IpRanges": [{"CidrIp": "10.0.0.7/16", "Description": "office"}, {"CidrIp": "0.0.0.0/0"}],
              "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]
    out = ec2("AuthorizeSecurityGroupIngress", GroupId=group, IpPermissions=perms)
    assert [r.get("CidrIpv4") or r.get("CidrIpv6") for r in out["SecurityGroupRules"]] == \
        ["10.0.0.0/16", "0.0.0.0/0", "::/0"]
    assert out["SecurityGroupRules"][0]["Description"] == "office"
    perm = ec2.describe_group(group)["IpPermissions"][0]
    assert perm["IpRanges"] == [{"CidrIp": "10.0.0.0/16", "Description": "office"}, {"CidrIp": "0.0.0.0/0"}]
    assert perm["Ipv6Ranges"] == [{"CidrIpv6": "::/0"}]
    again = [tcp(443, cidr="10.0.9.9/16")]
    err = ec2.error("AuthorizeSecurityGroupIngress", GroupId=group, IpPermissions=again)
    assert err.code == "InvalidPermission.Duplicate"
    assert 'peer: 10.0.0.0/16, TCP, from port: 443, to port: 443, ALLOW' in err.message
    # A rejected request changes nothing, even the parts that were new.
    both = [tcp(22, cidr="1.2.3.4/32"), tcp(443, cidr="0.0.0.0/0")]
    assert ec2.code("AuthorizeSecurityGroupIngress", GroupId=group, IpPermissions=both) == \
        "InvalidPermission.Duplicate"
    assert len(ec2.describe_group(group)["IpPermissions"]) == 1


def test_authorize_legacy_flat_params_and_group_name(ec2: Ec2) -> None:
    ec2.group("web")
    out = ec2("AuthorizeSecurityGroupIngress", GroupName="web", IpProtocol="tcp", FromPort=22, ToPort=22,
              CidrIp="203.0.113.0/24")
    assert out["SecurityGroupRules"][0]["CidrIpv4"] == "203.0.113.0/24"
    ec2.group("lb")
    out = ec2("AuthorizeSecurityGroupIngress", GroupName="web", SourceSecurityGroupName="lb")
    assert sorted(r["IpProtocol"] for r in out["SecurityGroupRules"]) == ["icmp", "tcp", "udp"]
    ec2("AuthorizeSecurityGroupIngress", GroupName="web", IpPermissions=[
        {"IpProtocol": "6", "FromPort": 80, "ToPort": 81, "UserIdGroupPairs": [{"GroupName": "lb"}]}])
    web = ec2("DescribeSecurityGroups", GroupNames=["web"])["SecurityGroups"][0]
    assert {(p["IpProtocol"], p.get("FromPort")) for p in web["IpPermissions"]} == \
        {("tcp", 22), ("icmp", -1), ("tcp", 0), ("udp", 0), ("tcp", 80)}


@pytest.mark.parametrize(("perm", "code"), [
    ({"IpProtocol": "tcp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, "InvalidParameterValue"),
    ({"IpProtocol": "tcp", "FromPort": 90, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
     "InvalidParameterValue"),
    ({"IpProtocol": "tcp", "FromPort": 1, "ToPort": 70000, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
     "InvalidParameterValue"),
    ({"IpProtocol": "bogus", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, "InvalidParameterValue"),
    ({"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "1.2.3/8"}]},
     "InvalidParameterValue"),
    ({"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2}, "MissingParameter"),
    ({"FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, "MissingParameter"),
    (tcp(1, group="sg-0123456789abcdef0"), "InvalidGroup.NotFound"),
    (tcp(1, group="nope"), "InvalidGroupId.Malformed"),
    ({"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "PrefixListIds": [{"PrefixListId": "pl-12345678"}]},
     "InvalidPrefixListId.NotFound"),
])
def test_authorize_rejects_bad_permissions(ec2: Ec2, perm: dict[str, Any], code: str) -> None:
    group = ec2.group("web")
    assert ec2.code("AuthorizeSecurityGroupIngress", GroupId=group, IpPermissions=[perm]) == code


def test_authorize_target_errors(ec2: Ec2) -> None:
    perms = [tcp(1, cidr="0.0.0.0/0")]
    assert ec2.code("AuthorizeSecurityGroupIngress", IpPermissions=perms) == "MissingParameter"
    assert ec2.code("AuthorizeSecurityGroupIngress", GroupId="sg-0123456789abcdef0",
                     IpPermissions=perms) == "InvalidGroup.NotFound"
    assert ec2.code("AuthorizeSecurityGroupIngress", GroupId="sg-1",
                     IpPermissions=perms) == "InvalidGroupId.Malformed"
    assert ec2.code("AuthorizeSecurityGroupIngress", GroupName="ghost",
                     IpPermissions=perms) == "InvalidGroup.NotFound"
    group = ec2.group("web")
    assert ec2.code("AuthorizeSecurityGroupIngress", GroupId=group) == "MissingParameter"
    assert ec2.code("AuthorizeSecurityGroupIngress", GroupId=group, IpPermissions=perms,
                     DryRun=True) == "DryRunOperation"
    assert len(ec2.describe_group(group)["IpPermissions"]) == 0
    other_vpc = ec2.group("far", ec2.vpc()["VpcId"])
    err = ec2.error("AuthorizeSecurityGroupIngress", GroupId=group, IpPermissions=[tcp(1, group=other_vpc)])
    assert err.code == "InvalidGroup.NotFound" and "different networks" in err.message


def test_protocols_and_ports_are_normalized(ec2: Ec2) -> None:
    group = ec2.group("web")
    perms = [{"IpProtocol": "-1", "FromPort": 5, "ToPort": 9, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
             {"IpProtocol": "ICMP", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
             {"IpProtocol": "47", "FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]
    rules = ec2("AuthorizeSecurityGroupIngress", GroupId=group, IpPermissions=perms)["SecurityGroupRules"]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in rules] == \
        [("-1", -1, -1), ("icmp", -1, -1), ("47", -1, -1)]
    ingress = ec2.describe_group(group)["IpPermissions"]
    assert "FromPort" not in ingress[0] and ingress[1]["FromPort"] == -1


def test_revoke_by_permission_and_by_rule_id(ec2: Ec2) -> None:
    vpc = ec2.vpc()["VpcId"]
    group = ec2.group("db", vpc)
    added = ec2("AuthorizeSecurityGroupIngress", GroupId=group,
                IpPermissions=[tcp(5432, cidr="10.0.0.0/16"), tcp(6379, cidr="10.0.0.0/16")])
    first, second = (r["SecurityGroupRuleId"] for r in added["SecurityGroupRules"])
    miss = [tcp(5433, cidr="10.0.0.0/16")]
    err = ec2.error("RevokeSecurityGroupIngress", GroupId=group, IpPermissions=miss)
    assert err.code == "InvalidPermission.NotFound"  # a non-default VPC refuses a miss
    out = ec2("RevokeSecurityGroupIngress", GroupId=group, IpPermissions=[tcp(5432, cidr="10.0.0.0/16")])
    assert out["Return"] is True
    assert [r["SecurityGroupRuleId"] for r in out["RevokedSecurityGroupRules"]] == [first]
    out = ec2("RevokeSecurityGroupIngress", GroupId=group, SecurityGroupRuleIds=[second])
    assert out["RevokedSecurityGroupRules"][0]["CidrIpv4"] == "10.0.0.0/16"
    assert ec2.describe_group(group)["IpPermissions"] == []
    assert ec2.code("RevokeSecurityGroupIngress", GroupId=group,
                     SecurityGroupRuleIds=[second]) == "InvalidSecurityGroupRuleId.NotFound"
    assert ec2.code("RevokeSecurityGroupIngress", GroupId=group,
                     SecurityGroupRuleIds=["sgr-x"]) == "InvalidSecurityGroupRuleId.Malformed"
    assert ec2.code("RevokeSecurityGroupIngress", GroupId=group) == "MissingParameter"


def test_revoke_in_default_vpc_reports_what_it_missed(ec2: Ec2) -> None:
    group = ec2.group("web")
    ec2("AuthorizeSecurityGroupIngress", GroupId=group, IpPermissions=[tcp(80, cidr="0.0.0.0/0")])
    out = ec2("RevokeSecurityGroupIngress", GroupId=group,
              IpPermissions=[tcp(80, cidr="0.0.0.0/0"), tcp(81, cidr="0.0.0.0/0")])
    assert len(out["RevokedSecurityGroupRules"]) == 1
    assert out["UnknownIpPermissions"][0]["FromPort"] == 81


def test_egress_rules(ec2: Ec2) -> None:
    group = ec2.group("db", ec2.vpc()["VpcId"])
    all_out = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    assert ec2.code("AuthorizeSecurityGroupEgress", GroupId=group, IpPermissions=[all_out]) == \
        "InvalidPermission.Duplicate"
    ec2("RevokeSecurityGroupEgress", GroupId=group, IpPermissions=[all_out])
    assert ec2.describe_group(group)["IpPermissionsEgress"] == []
    out = ec2("AuthorizeSecurityGroupEgress", GroupId=group, IpPermissions=[tcp(443, cidr="0.0.0.0/0")])
    assert out["SecurityGroupRules"][0]["IsEgress"] is True
    assert ec2.describe_group(group)["IpPermissions"] == []
    # Ingress revoke does not see egress rules.
    assert ec2.code("RevokeSecurityGroupIngress", GroupId=group,
                     IpPermissions=[tcp(443, cidr="0.0.0.0/0")]) == "InvalidPermission.NotFound"


def test_describe_security_group_rules(ec2: Ec2) -> None:
    group = ec2.group("web")
    spec = [{"ResourceType": "security-group-rule", "Tags": [{"Key": "why", "Value": "https"}]}]
    added = ec2("AuthorizeSecurityGroupIngress", GroupId=group, IpPermissions=[tcp(443, cidr="0.0.0.0/0")],
                TagSpecifications=spec)["SecurityGroupRules"][0]
    assert tags(added) == {"why": "https"}
    mine = ec2("DescribeSecurityGroupRules", Filters=[{"Name": "group-id", "Values": [group]}])
    assert {r["IsEgress"] for r in mine["SecurityGroupRules"]} == {True, False}
    one = ec2("DescribeSecurityGroupRules", SecurityGroupRuleIds=[added["SecurityGroupRuleId"]])
    assert one["SecurityGroupRules"] == [added]
    by_tag = ec2("DescribeSecurityGroupRules", Filters=[{"Name": "tag:why", "Values": ["https"]}])
    assert [r["SecurityGroupRuleId"] for r in by_tag["SecurityGroupRules"]] == [added["SecurityGroupRuleId"]]
    assert ec2.code("DescribeSecurityGroupRules",
                     SecurityGroupRuleIds=["sgr-0123456789abcdef0"]) == "InvalidSecurityGroupRuleId.NotFound"
