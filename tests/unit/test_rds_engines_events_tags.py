"""Engine versions, orderable options, events, tags, log files and the instance class table."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from kura.services.rds import classes
from tests.unit.test_rds_instances import ACCOUNT, REGION, Rds, rds_fixture

__all__ = ["rds_fixture"]


# -- engine versions -------------------------------------------------------------------------------
def test_describe_db_engine_versions(rds: Rds) -> None:
    versions = rds("DescribeDBEngineVersions", Engine="postgres")["DBEngineVersions"]
    assert [(v["EngineVersion"], v["DBParameterGroupFamily"]) for v in versions] == [
        ("15.18", "postgres15"),
        ("16.11", "postgres16"),
    ]
    assert versions[0]["ValidUpgradeTarget"][0]["IsMajorVersionUpgrade"] is True
    assert versions[1]["ValidUpgradeTarget"] == [] and versions[1]["MajorEngineVersion"] == "16"
    assert (
        rds("DescribeDBEngineVersions", Engine="postgres", DefaultOnly=True)["DBEngineVersions"][0][
            "EngineVersion"
        ]
        == "16.11"
    )
    assert [
        v["EngineVersion"]
        for v in rds("DescribeDBEngineVersions", Engine="postgres", EngineVersion="15")["DBEngineVersions"]
    ] == ["15.18"]
    assert rds("DescribeDBEngineVersions", EngineVersion="16.4")["DBEngineVersions"] == []
    assert [
        v["EngineVersion"]
        for v in rds("DescribeDBEngineVersions", DBParameterGroupFamily="postgres16")["DBEngineVersions"]
    ] == ["16.11"]
    assert rds("DescribeDBEngineVersions", Engine="mysql")["DBEngineVersions"] == []


def test_orderable_options(rds: Rds) -> None:
    page = rds("DescribeOrderableDBInstanceOptions", Engine="postgres", DBInstanceClass="db.t3.medium")
    options = page["OrderableDBInstanceOptions"]
    assert {(o["EngineVersion"], o["StorageType"]) for o in options} == {
        (v, s) for v in ("15.18", "16.11") for s in ("gp2", "gp3", "io1", "io2")
    }
    everything = rds("DescribeOrderableDBInstanceOptions", Engine="postgres", EngineVersion="16.11")
    assert len(everything["OrderableDBInstanceOptions"]) == 100 and "Marker" in everything
    assert rds.code("DescribeOrderableDBInstanceOptions", Engine="mysql") == "InvalidParameterCombination"


def test_instance_classes() -> None:
    medium = classes.lookup("db.t3.medium")
    assert medium is not None and (medium.vcpus, medium.memory_gib) == (2, 4)
    r6g = classes.lookup("db.r6g.2xlarge")
    assert r6g is not None and (r6g.vcpus, r6g.memory_gib) == (8, 64)
    m6i = classes.lookup("db.m6i.32xlarge")
    assert m6i is not None and m6i.memory_bytes == 512 * 1024**3
    assert classes.lookup("db.m6g.32xlarge") is None and not classes.well_formed("m5.large")
    for family in ("t3", "t4g", "m5", "m6g", "m6i", "m7g", "r5", "r6g", "r6i", "r7g"):
        assert classes.lookup(f"db.{family}.large") is not None, family


# -- events --------------------------------------------------------------------------------------------
def test_describe_events_windows_filters_pagination(rds: Rds) -> None:
    start = rds.clock.now()
    rds.create("db1")
    rds.clock.advance(7200)
    rds.create("db2")
    rds(
        "CreateDBParameterGroup",
        DBParameterGroupName="pg",
        DBParameterGroupFamily="postgres16",
        Description="d",
    )
    recent = rds("DescribeEvents")["Events"]  # the past hour only
    assert [(e["SourceIdentifier"], e["SourceType"]) for e in recent] == [
        ("db2", "db-instance"),
        ("pg", "db-parameter-group"),
    ]
    assert recent[0]["SourceArn"] == f"arn:aws:rds:{REGION}:{ACCOUNT}:db:db2"
    assert len(rds("DescribeEvents", Duration=180)["Events"]) == 3
    since = datetime.fromtimestamp(start, UTC)
    assert len(rds("DescribeEvents", StartTime=since)["Events"]) == 3
    assert len(rds("DescribeEvents", StartTime=since, Duration=60)["Events"]) == 1
    assert (
        rds("DescribeEvents", SourceType="db-instance", SourceIdentifier="db1", Duration=600)["Events"][0][
            "Message"
        ]
        == "DB instance creation requested"
    )
    assert rds("DescribeEvents", EventCategories=["deletion"], Duration=600)["Events"] == []
    assert rds.code("DescribeEvents", SourceIdentifier="db1") == "InvalidParameterCombination"
    for i in range(25):
        rds(
            "ModifyDBParameterGroup",
            DBParameterGroupName="pg",
            Parameters=[{"ParameterName": "work_mem", "ParameterValue": str(1024 + i)}],
        )
    first = rds("DescribeEvents", SourceType="db-parameter-group", MaxRecords=20)
    rest = rds("DescribeEvents", SourceType="db-parameter-group", MaxRecords=20, Marker=first["Marker"])
    assert len(first["Events"]) + len(rest["Events"]) == 26


def test_event_categories(rds: Rds) -> None:
    maps = rds("DescribeEventCategories")["EventCategoriesMapList"]
    assert {m["SourceType"] for m in maps} == {"db-instance", "db-parameter-group", "db-snapshot",
                                              "db-cluster"}
    one = rds("DescribeEventCategories", SourceType="db-instance")["EventCategoriesMapList"]
    assert "creation" in one[0]["EventCategories"]
    assert rds.code("DescribeEventCategories", SourceType="db-proxy") == "InvalidParameterValue"


# -- tags ----------------------------------------------------------------------------------------------
def test_tags_by_arn(rds: Rds) -> None:
    arn = rds.create("db1", Tags=[{"Key": "Project", "Value": "AuraTime"}])["DBInstanceArn"]
    rds(
        "AddTagsToResource",
        ResourceName=arn,
        Tags=[{"Key": "Env", "Value": "prod"}, {"Key": "Project", "Value": "Kura"}],
    )
    tags = rds("ListTagsForResource", ResourceName=arn)["TagList"]
    assert {t["Key"]: t["Value"] for t in tags} == {"Project": "Kura", "Env": "prod"}
    rds("RemoveTagsFromResource", ResourceName=arn, TagKeys=["Project", "Absent"])
    assert rds("ListTagsForResource", ResourceName=arn)["TagList"] == [{"Key": "Env", "Value": "prod"}]
    assert rds.describe("db1")["TagList"] == [{"Key": "Env", "Value": "prod"}]
    missing = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:nope"
    assert rds.code("ListTagsForResource", ResourceName=missing) == "DBInstanceNotFound"
    assert (
        rds.code(
            "AddTagsToResource",
            ResourceName=f"arn:aws:rds:{REGION}:{ACCOUNT}:pg:nope",
            Tags=[{"Key": "a", "Value": "b"}],
        )
        == "DBParameterGroupNotFound"
    )
    assert (
        rds.code(
            "AddTagsToResource",
            ResourceName=f"arn:aws:rds:{REGION}:{ACCOUNT}:subgrp:nope",
            Tags=[{"Key": "a", "Value": "b"}],
        )
        == "DBSubnetGroupNotFoundFault"
    )
    assert rds.code("ListTagsForResource", ResourceName="db1") == "InvalidParameterValue"
    assert (
        rds.code("ListTagsForResource", ResourceName=f"arn:aws:rds:us-west-2:{ACCOUNT}:db:db1")
        == "InvalidParameterValue"
    )
    assert (
        rds.code("AddTagsToResource", ResourceName=arn, Tags=[{"Key": "aws:x", "Value": "1"}])
        == "InvalidParameterValue"
    )
    default_pg = f"arn:aws:rds:{REGION}:{ACCOUNT}:pg:default.postgres16"
    assert rds("ListTagsForResource", ResourceName=default_pg)["TagList"] == []


# -- log files -----------------------------------------------------------------------------------------
def _logs(rds: Rds, tmp_path: Path) -> Path:
    rds.create("db1")
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    rds.available("db1", log_dir=str(log_dir))
    return log_dir


def test_describe_db_log_files(rds: Rds, tmp_path: Path) -> None:
    assert (
        rds("DescribeDBLogFiles", DBInstanceIdentifier=rds.create("db0")["DBInstanceIdentifier"])[
            "DescribeDBLogFiles"
        ]
        == []
    )
    log_dir = _logs(rds, tmp_path)
    (log_dir / "postgresql.log.2026-11-23-17").write_text("old\n")
    os.utime(log_dir / "postgresql.log.2026-11-23-17", (1_700_000_000, 1_700_000_000))
    (log_dir / "postgresql.log.2026-11-23-18").write_text("line one\nline two\n")
    files = rds("DescribeDBLogFiles", DBInstanceIdentifier="db1")["DescribeDBLogFiles"]
    assert [(f["LogFileName"], f["Size"]) for f in files] == [
        ("error/postgresql.log.2026-11-23-17", 4),
        ("error/postgresql.log.2026-11-23-18", 18),
    ]
    assert files[0]["LastWritten"] == 1_700_000_000_000
    newer = rds("DescribeDBLogFiles", DBInstanceIdentifier="db1", FileLastWritten=1_700_000_001_000)
    assert [f["LogFileName"] for f in newer["DescribeDBLogFiles"]] == ["error/postgresql.log.2026-11-23-18"]
    assert len(rds("DescribeDBLogFiles", DBInstanceIdentifier="db1", FileSize=5)["DescribeDBLogFiles"]) == 1
    assert (
        len(
            rds("DescribeDBLogFiles", DBInstanceIdentifier="db1", FilenameContains="-17")[
                "DescribeDBLogFiles"
            ]
        )
        == 1
    )
    assert rds.code("DescribeDBLogFiles", DBInstanceIdentifier="nope") == "DBInstanceNotFound"


def test_download_db_log_file_portion(rds: Rds, tmp_path: Path) -> None:
    log_dir = _logs(rds, tmp_path)
    lines = [f"line {i}\n" for i in range(10)]
    (log_dir / "postgresql.log.2026-11-23-18").write_text("".join(lines))
    name = "error/postgresql.log.2026-11-23-18"
    whole = rds("DownloadDBLogFilePortion", DBInstanceIdentifier="db1", LogFileName=name)
    assert whole["LogFileData"] == "".join(lines) and whole["AdditionalDataPending"] is False
    tail = rds("DownloadDBLogFilePortion", DBInstanceIdentifier="db1", LogFileName=name, NumberOfLines=2)
    assert tail["LogFileData"] == "line 8\nline 9\n"
    marker, got = "0", ""
    while True:
        part = rds(
            "DownloadDBLogFilePortion",
            DBInstanceIdentifier="db1",
            LogFileName=name,
            Marker=marker,
            NumberOfLines=4,
        )
        got += part["LogFileData"]
        marker = part["Marker"]
        if not part["AdditionalDataPending"]:
            break
    assert got == "".join(lines)
    with (log_dir / "postgresql.log.2026-11-23-18").open("a") as f:
        f.write("line 10\n")
    more = rds("DownloadDBLogFilePortion", DBInstanceIdentifier="db1", LogFileName=name, Marker=marker)
    assert more["LogFileData"] == "line 10\n"
    for bad in ("error/../state.db", "postgresql.log.2026-11-23-18", "error/missing"):
        err = rds.error("DownloadDBLogFilePortion", DBInstanceIdentifier="db1", LogFileName=bad)
        assert err.code == "DBLogFileNotFoundFault" and err.status == 404
    assert (
        rds.code("DownloadDBLogFilePortion", DBInstanceIdentifier="db1", LogFileName=name, Marker="x")
        == "InvalidParameterValue"
    )
