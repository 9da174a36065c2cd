"""DB parameter groups and their parameters, checked against the published engine catalogue."""

from __future__ import annotations

from typing import Any

import pytest

from kura.catalog import publish_postgres
from tests.unit.test_rds_instances import ACCOUNT, CATALOGUE, REGION, Rds, rds_fixture

__all__ = ["rds_fixture"]

# Seed 004's CloudFormation Parameters, verbatim.
SEED_004 = {
    "shared_buffers": "1048576",
    "work_mem": "16384",
    "maintenance_work_mem": "262144",
    "effective_cache_size": "393216",
    "max_connections": "300",
    "log_min_duration_statement": "1000",
    "autovacuum": "on",
}


def _group(rds: Rds, name: str = "pg", family: str = "postgres16") -> dict[str, Any]:
    out: dict[str, Any] = rds(
        "CreateDBParameterGroup", DBParameterGroupName=name, DBParameterGroupFamily=family, Description="d"
    )["DBParameterGroup"]
    return out


def _modify(rds: Rds, name: str, *items: tuple[str, str] | tuple[str, str, str]) -> dict[str, Any]:
    params = [
        {"ParameterName": i[0], "ParameterValue": i[1], **({"ApplyMethod": i[2]} if len(i) > 2 else {})}
        for i in items
    ]
    return rds("ModifyDBParameterGroup", DBParameterGroupName=name, Parameters=params)


def _values(rds: Rds, name: str, source: str | None = None) -> dict[str, Any]:
    extra = {"Source": source} if source else {}
    return {
        p["ParameterName"]: p
        for p in rds("DescribeDBParameters", DBParameterGroupName=name, **extra)["Parameters"]
    }


def test_create_describe_seed_000_and_defaults(rds: Rds) -> None:
    group = rds(
        "CreateDBParameterGroup",
        DBParameterGroupName="auratime-postgres16",
        DBParameterGroupFamily="postgres16",
        Description="Custom parameter group for AuraTime PostgreSQL 16",
        Tags=[{"Key": "Name", "Value": "auratime-postgres16"}, {"Key": "Project", "Value": "AuraTime"}],
    )["DBParameterGroup"]
    assert group == {
        "DBParameterGroupName": "auratime-postgres16",
        "DBParameterGroupFamily": "postgres16",
        "Description": "Custom parameter group for AuraTime PostgreSQL 16",
        "DBParameterGroupArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:pg:auratime-postgres16",
    }
    names = [g["DBParameterGroupName"] for g in rds("DescribeDBParameterGroups")["DBParameterGroups"]]
    assert names == ["auratime-postgres16", "default.aurora-postgresql15", "default.aurora-postgresql16",
                     "default.postgres15", "default.postgres16"]
    one = rds("DescribeDBParameterGroups", DBParameterGroupName="default.postgres16")["DBParameterGroups"]
    assert one[0]["Description"] == "Default parameter group for postgres16"
    assert rds.code("DescribeDBParameterGroups", DBParameterGroupName="nope") == "DBParameterGroupNotFound"
    assert (
        rds.code("DescribeDBParameterGroups", DBParameterGroupName="default.postgres14")
        == "DBParameterGroupNotFound"
    )
    tags = rds("ListTagsForResource", ResourceName=group["DBParameterGroupArn"])["TagList"]
    assert {t["Key"] for t in tags} == {"Name", "Project"}


@pytest.mark.parametrize(
    ("name", "family", "code", "words"),
    [
        ("pg", "postgres14", "InvalidParameterValue", "kura engines install 14"),
        ("pg", "mysql8.0", "InvalidParameterValue", "not a valid parameter group family"),
        ("1pg", "postgres16", "InvalidParameterValue", "not a valid identifier"),
        ("pg--x", "postgres16", "InvalidParameterValue", "not a valid identifier"),
        ("pg-", "postgres16", "InvalidParameterValue", "not a valid identifier"),
    ],
)
def test_create_errors(rds: Rds, name: str, family: str, code: str, words: str) -> None:
    err = rds.error(
        "CreateDBParameterGroup", DBParameterGroupName=name, DBParameterGroupFamily=family, Description="d"
    )
    assert err.code == code and words in err.message


def test_duplicate_and_family_follows_installed_majors(rds: Rds) -> None:
    _group(rds, "PG")
    assert (
        rds.code(
            "CreateDBParameterGroup",
            DBParameterGroupName="pg",
            DBParameterGroupFamily="postgres16",
            Description="d",
        )
        == "DBParameterGroupAlreadyExists"
    )
    newer = {"major": 17, "version": "17.2", "source": "kura", "parameters": CATALOGUE[0]["parameters"]}
    publish_postgres(rds.store, [*CATALOGUE, newer])
    assert _group(rds, "pg17", "postgres17")["DBParameterGroupFamily"] == "postgres17"


def test_modify_seed_004_values_and_describe_sources(rds: Rds) -> None:
    _group(rds, "langpont-postgres16-params")
    items = list(SEED_004.items())
    out = _modify(rds, "langpont-postgres16-params", *items)
    assert out == {"DBParameterGroupName": "langpont-postgres16-params"}
    user = _values(rds, "langpont-postgres16-params", "user")
    assert {n: p["ParameterValue"] for n, p in user.items()} == SEED_004
    assert user["shared_buffers"]["ApplyMethod"] == "pending-reboot"  # static
    assert user["work_mem"]["ApplyMethod"] == "immediate"  # dynamic
    assert user["work_mem"]["Source"] == "user" and user["work_mem"]["DataType"] == "integer"
    everything = _values(rds, "langpont-postgres16-params")
    assert everything["random_page_cost"]["Source"] == "engine-default"
    assert "ParameterValue" not in everything["random_page_cost"]
    system = _values(rds, "langpont-postgres16-params", "system")
    assert "data_directory" in system and system["data_directory"]["IsModifiable"] is False
    defaults = _values(rds, "default.postgres16")
    assert defaults["shared_buffers"]["ParameterValue"] == "{DBInstanceClassMemory/32768}"
    assert defaults["autovacuum"]["AllowedValues"] == "0,1"
    events = rds(
        "DescribeEvents", SourceType="db-parameter-group", SourceIdentifier="langpont-postgres16-params"
    )["Events"]
    assert "Updated parameter work_mem to 16384 with apply method immediate" in [e["Message"] for e in events]


def test_seed_004_sql_style_values_are_accepted(rds: Rds) -> None:
    _group(rds)
    _modify(
        rds,
        "pg",
        ("shared_buffers", "1GB"),
        ("work_mem", "16MB"),
        ("checkpoint_timeout", "10min"),
        ("wal_buffers", "16MB"),
        ("log_min_messages", "WARNING"),
        ("log_destination", "csvlog"),
        ("random_page_cost", "1.1"),
        ("rds.force_ssl", "1"),
        ("max_connections", "LEAST({DBInstanceClassMemory/9531392},5000)"),
        ("shared_preload_libraries", "pg_stat_statements,auto_explain"),
    )
    assert _values(rds, "pg", "user")["checkpoint_timeout"]["ParameterValue"] == "10min"
    # A parameter RDS pins may be "set" to the value it has anyway; nothing is recorded.
    _modify(rds, "pg", ("password_encryption", "scram-sha-256"))
    assert "password_encryption" not in _values(rds, "pg", "user")
    err = rds.error("ModifyDBParameterGroup", DBParameterGroupName="pg",
                    Parameters=[{"ParameterName": "password_encryption", "ParameterValue": "md5"}])
    assert err.code == "InvalidParameterValue" and "scram-sha-256" in err.message


@pytest.mark.parametrize(
    ("item", "code", "words"),
    [
        (("work_mem", "abc"), "InvalidParameterValue", "work_mem"),
        (("work_mem", "10"), "InvalidParameterValue", "outside the valid range"),
        (("work_mem", "16XB"), "InvalidParameterValue", "Valid units"),
        (("max_connections", "1.5"), "InvalidParameterValue", "integer"),
        (("max_connections", "12MB"), "InvalidParameterValue", "no unit"),
        (("max_connections", "{Bogus/3}"), "InvalidParameterValue", "Formulas may use"),
        (("checkpoint_timeout", "5s"), "InvalidParameterValue", "outside the valid range"),
        (("autovacuum", "maybe"), "InvalidParameterValue", "Boolean"),
        (("log_min_messages", "loud"), "InvalidParameterValue", "Allowed values"),
        (("shared_preload_libraries", "pg_cron"), "InvalidParameterValue", "Allowed values"),
        (("random_page_cost", "{DBInstanceVCPU}"), "InvalidParameterValue", "integer parameters only"),
        (
            ("no_such_param", "1"),
            "InvalidParameterValue",
            "Could not find parameter with name: no_such_param",
        ),
        (("data_directory", "/tmp"), "InvalidParameterValue", "cannot be modified"),
        (
            ("shared_buffers", "1024", "immediate"),
            "InvalidParameterCombination",
            "static parameter shared_buffers",
        ),
        (("work_mem", "1024", "later"), "InvalidParameterValue", "apply method"),
    ],
)
def test_modify_value_errors(rds: Rds, item: tuple[str, ...], code: str, words: str) -> None:
    _group(rds)
    with pytest.raises(Exception) as info:
        _modify(rds, "pg", item)  # type: ignore[arg-type]
    err = info.value
    assert getattr(err, "code", None) == code, err
    assert words in str(err)
    assert _values(rds, "pg", "user") == {}  # all or nothing


def test_modify_limits_and_default_groups(rds: Rds) -> None:
    _group(rds)
    many = [{"ParameterName": "work_mem", "ParameterValue": "1024"}] * 21
    assert (
        rds.code("ModifyDBParameterGroup", DBParameterGroupName="pg", Parameters=many)
        == "InvalidParameterValue"
    )
    err = rds.error(
        "ModifyDBParameterGroup",
        DBParameterGroupName="default.postgres16",
        Parameters=[{"ParameterName": "work_mem", "ParameterValue": "1024"}],
    )
    assert err.code == "InvalidParameterValue" and "default" in err.message
    assert (
        rds.code(
            "ModifyDBParameterGroup",
            DBParameterGroupName="nope",
            Parameters=[{"ParameterName": "work_mem", "ParameterValue": "1024"}],
        )
        == "DBParameterGroupNotFound"
    )
    err = rds.error("DeleteDBParameterGroup", DBParameterGroupName="default.postgres16")
    assert err.code == "InvalidDBParameterGroupState"


def test_reset(rds: Rds) -> None:
    _group(rds)
    _modify(rds, "pg", ("work_mem", "4096"), ("shared_buffers", "2048"), ("autovacuum", "0"))
    rds(
        "ResetDBParameterGroup",
        DBParameterGroupName="pg",
        Parameters=[{"ParameterName": "work_mem", "ApplyMethod": "immediate"}],
    )
    assert set(_values(rds, "pg", "user")) == {"shared_buffers", "autovacuum"}
    assert (
        rds.code(
            "ResetDBParameterGroup",
            DBParameterGroupName="pg",
            Parameters=[{"ParameterName": "shared_buffers", "ApplyMethod": "immediate"}],
        )
        == "InvalidParameterCombination"
    )
    rds("ResetDBParameterGroup", DBParameterGroupName="pg", ResetAllParameters=True)
    assert _values(rds, "pg", "user") == {}
    assert (
        rds.code("ResetDBParameterGroup", DBParameterGroupName="default.postgres16", ResetAllParameters=True)
        == "InvalidParameterValue"
    )


def test_copy_and_delete(rds: Rds) -> None:
    _group(rds)
    _modify(rds, "pg", ("work_mem", "4096"))
    copy = rds(
        "CopyDBParameterGroup",
        SourceDBParameterGroupIdentifier=f"arn:aws:rds:{REGION}:{ACCOUNT}:pg:pg",
        TargetDBParameterGroupIdentifier="pg-copy",
        TargetDBParameterGroupDescription="copy",
        Tags=[{"Key": "k", "Value": "v"}],
    )["DBParameterGroup"]
    assert copy["DBParameterGroupFamily"] == "postgres16" and copy["Description"] == "copy"
    assert _values(rds, "pg-copy", "user")["work_mem"]["ParameterValue"] == "4096"
    rds(
        "CopyDBParameterGroup",
        SourceDBParameterGroupIdentifier="default.postgres15",
        TargetDBParameterGroupIdentifier="from-default",
        TargetDBParameterGroupDescription="d",
    )
    assert (
        rds.code(
            "CopyDBParameterGroup",
            SourceDBParameterGroupIdentifier="pg",
            TargetDBParameterGroupIdentifier="pg-copy",
            TargetDBParameterGroupDescription="d",
        )
        == "DBParameterGroupAlreadyExists"
    )
    assert (
        rds.code(
            "CopyDBParameterGroup",
            SourceDBParameterGroupIdentifier="nope",
            TargetDBParameterGroupIdentifier="x",
            TargetDBParameterGroupDescription="d",
        )
        == "DBParameterGroupNotFound"
    )
    rds.create("db1", DBParameterGroupName="pg-copy")
    err = rds.error("DeleteDBParameterGroup", DBParameterGroupName="pg-copy")
    assert err.code == "InvalidDBParameterGroupState" and "db1" in err.message
    rds("DeleteDBParameterGroup", DBParameterGroupName="pg")
    assert rds.code("DeleteDBParameterGroup", DBParameterGroupName="pg") == "DBParameterGroupNotFound"


def test_describe_parameters_pagination_and_engine_defaults(rds: Rds) -> None:
    _group(rds)
    page = rds("DescribeDBParameters", DBParameterGroupName="pg", MaxRecords=20)
    assert len(page["Parameters"]) == 16 and "Marker" not in page
    assert (
        rds.code("DescribeDBParameters", DBParameterGroupName="pg", Source="bogus") == "InvalidParameterValue"
    )
    defaults = rds("DescribeEngineDefaultParameters", DBParameterGroupFamily="postgres15")["EngineDefaults"]
    assert defaults["DBParameterGroupFamily"] == "postgres15" and len(defaults["Parameters"]) == 16
    err = rds.error("DescribeEngineDefaultParameters", DBParameterGroupFamily="postgres13")
    assert err.code == "InvalidParameterValue" and "kura engines install 13" in err.message
