"""The Aurora DB cluster API on a throwaway store: what CreateDBCluster records and refuses, members'
refusals, ModifyDBCluster's capacity range, DeleteDBCluster's rules."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_rds_instances import PASSWORD, Rds, rds_fixture

__all__ = ["rds_fixture"]


def make(rds: Rds, ident: str = "c1", **params: Any) -> dict[str, Any]:
    base = {"Engine": "aurora-postgresql", "MasterUsername": "admin_user", "MasterUserPassword": PASSWORD,
            **params}
    out: dict[str, Any] = rds("CreateDBCluster", DBClusterIdentifier=ident, **base)["DBCluster"]
    return out


def test_create_records_the_cluster(rds: Rds) -> None:
    made = make(rds, DatabaseName="app", EngineVersion="16.4", StorageEncrypted=True,
                ServerlessV2ScalingConfiguration={"MinCapacity": 0, "MaxCapacity": 4})
    assert (made["Status"], made["Engine"]) == ("creating", "aurora-postgresql")
    assert made["EngineVersion"] == "16.4"
    assert made["DBClusterParameterGroup"] == "default.aurora-postgresql16"
    assert made["DbClusterResourceId"].startswith("cluster-") and made["StorageEncrypted"]
    assert made["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.0, "MaxCapacity": 4.0,
                                                        "SecondsUntilAutoPause": 300}
    assert made["DBClusterArn"].endswith(":cluster:c1") and made["DBClusterMembers"] == []
    assert rds.code("CreateDBCluster", DBClusterIdentifier="c1", Engine="aurora-postgresql",
                    MasterUsername="admin_user", MasterUserPassword=PASSWORD) == "DBClusterAlreadyExistsFault"
    listed = rds("DescribeDBClusters", Filters=[{"Name": "engine", "Values": ["aurora-postgresql"]}])
    assert [c["DBClusterIdentifier"] for c in listed["DBClusters"]] == ["c1"]


@pytest.mark.parametrize(("params", "code", "words"), [
    ({"Engine": "aurora-mysql"}, "InvalidParameterCombination", "aurora-postgresql"),
    ({"Engine": "postgres"}, "InvalidParameterCombination", "Multi-AZ DB clusters"),
    ({"EngineMode": "serverless"}, "InvalidParameterCombination", "EngineMode"),
    ({"ServerlessV2ScalingConfiguration": {"MinCapacity": 0.3, "MaxCapacity": 2}}, "InvalidParameterValue",
     "0.5 ACU"),
    ({"ServerlessV2ScalingConfiguration": {"MinCapacity": 4, "MaxCapacity": 2}}, "InvalidParameterValue",
     "at least MinCapacity"),
    ({"ServerlessV2ScalingConfiguration": {"MinCapacity": 0, "MaxCapacity": 2, "SecondsUntilAutoPause": 60}},
     "InvalidParameterValue", "between 300 and 86400"),
    ({"BackupRetentionPeriod": 0}, "InvalidParameterValue", "1 to 35"),
    ({"MasterUserPassword": None}, "InvalidParameterValue", "MasterUserPassword"),
    ({"DBClusterParameterGroupName": "mine"}, "DBClusterParameterGroupNotFound", "mine"),
])
def test_create_refusals(rds: Rds, params: dict[str, Any], code: str, words: str) -> None:
    base = {"Engine": "aurora-postgresql", "MasterUsername": "admin_user", "MasterUserPassword": PASSWORD}
    err = rds.error("CreateDBCluster", DBClusterIdentifier="c1",
                    **{k: v for k, v in {**base, **params}.items() if v is not None})
    assert (err.code, words in err.message) == (code, True), err.message


def test_members_take_the_cluster_settings(rds: Rds) -> None:
    make(rds, DatabaseName="app")
    member = {"DBClusterIdentifier": "c1", "Engine": "aurora-postgresql", "DBInstanceClass": "db.r6g.large"}
    assert rds.code("CreateDBInstance", DBInstanceIdentifier="m1", MasterUsername="x", **member) == \
        "InvalidParameterCombination"
    assert rds.code("CreateDBInstance", DBInstanceIdentifier="m1", **{**member, "Engine": "postgres"}) == \
        "InvalidParameterCombination"
    assert rds.code("CreateDBInstance", DBInstanceIdentifier="m1",
                    **{**member, "DBInstanceClass": "db.serverless"}) == "InvalidParameterCombination"
    rds("CreateDBParameterGroup", DBParameterGroupName="rds16", DBParameterGroupFamily="postgres16",
        Description="an RDS group")
    rds("CreateDBParameterGroup", DBParameterGroupName="aurora16",
        DBParameterGroupFamily="aurora-postgresql16", Description="an Aurora instance group")
    assert rds.code("CreateDBInstance", DBInstanceIdentifier="m1", DBParameterGroupName="rds16",
                    **member) == "InvalidParameterCombination"  # Aurora's take aurora-postgresql groups
    writer = rds("CreateDBInstance", DBInstanceIdentifier="m1", DBParameterGroupName="aurora16",
                 **member)["DBInstance"]
    assert writer["DBParameterGroups"][0]["DBParameterGroupName"] == "aurora16"
    assert rds.code("CreateDBInstance", DBInstanceIdentifier="solo", Engine="postgres", MasterUsername="x",
                    MasterUserPassword=PASSWORD, DBInstanceClass="db.t3.micro", AllocatedStorage=20,
                    DBParameterGroupName="aurora16") == "InvalidParameterCombination"
    assert (writer["DBClusterIdentifier"], writer["Engine"], writer["DBName"]) == ("c1", "aurora-postgresql",
                                                                                   "app")
    assert (writer["StorageType"], writer["AllocatedStorage"], writer["MasterUsername"]) == ("aurora", 1,
                                                                                             "admin_user")
    assert rds.code("ModifyDBInstance", DBInstanceIdentifier="m1", BackupRetentionPeriod=3) == \
        "InvalidParameterCombination"
    assert rds.code("StopDBInstance", DBInstanceIdentifier="m1") == "InvalidParameterCombination"
    assert rds("DescribeDBClusters", DBClusterIdentifier="c1")["DBClusters"][0]["DBClusterMembers"] == [
        {"DBInstanceIdentifier": "m1", "IsClusterWriter": True, "DBClusterParameterGroupStatus": "in-sync",
         "PromotionTier": 1}]
    assert rds.code("DeleteDBCluster", DBClusterIdentifier="c1", SkipFinalSnapshot=True) == \
        "InvalidDBClusterStateFault"


def test_modify_and_delete(rds: Rds) -> None:
    make(rds, DeletionProtection=True)
    out = rds("ModifyDBCluster", DBClusterIdentifier="c1", ApplyImmediately=True,
              ServerlessV2ScalingConfiguration={"MinCapacity": 1.0, "MaxCapacity": 4.0})["DBCluster"]
    assert out["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 1.0, "MaxCapacity": 4.0}
    assert rds.code("DeleteDBCluster", DBClusterIdentifier="c1", SkipFinalSnapshot=True) == \
        "InvalidParameterCombination"
    rds("ModifyDBCluster", DBClusterIdentifier="c1", DeletionProtection=False)
    deleted = rds("DeleteDBCluster", DBClusterIdentifier="c1", SkipFinalSnapshot=True)["DBCluster"]
    assert deleted["Status"] == "deleting"
    assert rds.code("DescribeDBClusters", DBClusterIdentifier="nope") == "DBClusterNotFoundFault"


def test_cluster_parameter_groups(rds: Rds) -> None:
    made = rds("CreateDBClusterParameterGroup", DBClusterParameterGroupName="seed001",
               DBParameterGroupFamily="aurora-postgresql16", Description="audit")["DBClusterParameterGroup"]
    assert made["DBClusterParameterGroupArn"].endswith(":cluster-pg:seed001")
    assert rds.code("CreateDBClusterParameterGroup", DBClusterParameterGroupName="x",
                    DBParameterGroupFamily="postgres16", Description="d") == "InvalidParameterValue"
    rds("ModifyDBClusterParameterGroup", DBClusterParameterGroupName="seed001", Parameters=[
        {"ParameterName": "log_min_duration_statement", "ParameterValue": "1000", "ApplyMethod": "immediate"},
        {"ParameterName": "shared_preload_libraries", "ParameterValue": "pg_stat_statements",
         "ApplyMethod": "pending-reboot"}])
    assert rds.code("ModifyDBClusterParameterGroup", DBClusterParameterGroupName="seed001", Parameters=[
        {"ParameterName": "nosuch", "ParameterValue": "1"}]) == "InvalidParameterValue"
    default = "default.aurora-postgresql16"
    assert rds.code("ModifyDBClusterParameterGroup", DBClusterParameterGroupName=default,
                    Parameters=[{"ParameterName": "work_mem", "ParameterValue": "1024"}]) == \
        "InvalidParameterValue"
    user = rds("DescribeDBClusterParameters", DBClusterParameterGroupName="seed001", Source="user")
    assert {p["ParameterName"]: p["ParameterValue"] for p in user["Parameters"]} == {
        "log_min_duration_statement": "1000", "shared_preload_libraries": "pg_stat_statements"}
    rds("CopyDBClusterParameterGroup", SourceDBClusterParameterGroupIdentifier="seed001",
        TargetDBClusterParameterGroupIdentifier="copy", TargetDBClusterParameterGroupDescription="copy")
    rds("ResetDBClusterParameterGroup", DBClusterParameterGroupName="copy", ResetAllParameters=True)
    assert not rds("DescribeDBClusterParameters", DBClusterParameterGroupName="copy", Source="user")[
        "Parameters"]
    names = [g["DBClusterParameterGroupName"] for g in rds("DescribeDBClusterParameterGroups")[
        "DBClusterParameterGroups"]]
    assert {"default.aurora-postgresql16", "seed001", "copy"} <= set(names)
    assert rds.code("CreateDBCluster", DBClusterIdentifier="c1", Engine="aurora-postgresql",
                    EngineVersion="15.4", MasterUsername="admin_user", MasterUserPassword=PASSWORD,
                    DBClusterParameterGroupName="seed001") == "InvalidParameterCombination"
    cluster = make(rds, DBClusterParameterGroupName="seed001", EngineVersion="16.4")
    assert cluster["DBClusterParameterGroup"] == "seed001"
    assert rds.code("DeleteDBClusterParameterGroup", DBClusterParameterGroupName="seed001") == \
        "InvalidDBParameterGroupState"
    rds("DeleteDBClusterParameterGroup", DBClusterParameterGroupName="copy")
    assert rds.code("DescribeDBClusterParameterGroups", DBClusterParameterGroupName="copy") == \
        "DBClusterParameterGroupNotFound"
