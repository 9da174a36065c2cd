"""Seed 004 (LangPont's RDS design): the instance, its parameter group and its security design through
the real AWS CLI, and the parameters observed in PostgreSQL with `SHOW` through psql.

The seed has no shell commands for these: it states the design as YAML, as `postgresql.conf`-style SQL
and as a CloudFormation template. Those texts are embedded verbatim (checked against the seed file) and
the CLI calls are derived from them:
- the instance: the YAML of インスタンス仕様 / エンジン設定 / 自動バックアップ設定 / 暗号化設定 and the
  CloudFormation instance's monitoring, network and tags. Not sent, and why: `PreferredBackupRetentionPeriod`
  is no RDS parameter; `CharacterSetName` is for Oracle and SQL Server (RDS answers "Character sets not
  supported on create" for the other engines) and a PostgreSQL database is UTF8 anyway (checked);
- the parameter group is created empty (CloudFormation's Family/Description) and the instance made with
  it; then the SQL section is applied to the running instance, translated as one does for a parameter
  group (RDS units: 8 kB pages, kB, seconds; booleans 1/0): dynamic parameters with
  ApplyMethod=immediate show at once, static ones with pending-reboot show after reboot-db-instance;
- `log_line_prefix` is fixed on RDS: the seed's value is refused (InvalidParameterValue);
- `ssl = on` and `password_encryption = scram-sha-256` are what RDS runs with already: checked by SHOW;
- the CloudFormation `Parameters` equal the SQL section in RDS units but for shared_buffers, whose
  "1GB in 8KB pages" is 1048576 pages = 8 GiB on a 4 GiB db.t3.medium: RDS puts such an instance in
  `incompatible-parameters` (test_cfn_shared_buffers_of_8_gib_is_incompatible).
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    PSQL,
    aws_error,
    delete_instance,
    describe,
    engine_version,
    psql,
    require_postgres16,
    show,
    wait_for,
    wait_status,
)
from tests.kura_fixture import KuraServer

SEED = next(iter(sorted(Path(__file__).resolve().parents[3].glob("shared/seeds/004_*.txt"))), None)
IDENT = "langpont-prod-db"  # as manual_backup.sh names it
GROUP = "langpont-postgres16-params"
SUBNET_GROUP = "prod-langpont-subnet-group"

# -- the seed's text ------------------------------------------------------------------------------------

SPEC_YAML = """\
# RDS PostgreSQL 16.x設定
DBInstanceClass: db.t3.medium
AllocatedStorage: 100 GB (初期)
MaxAllocatedStorage: 1000 GB (自動拡張)
StorageType: gp3
StorageEncrypted: true
KMSKeyId: alias/langpont-rds-key

# Multi-AZ設定
MultiAZ: true
PreferredBackupRetentionPeriod: 7
BackupRetentionPeriod: 7
PreferredMaintenanceWindow: sun:03:00-sun:04:00
"""

ENGINE_YAML = """\
Engine: postgres
EngineVersion: "16.1"
ParameterGroupName: langpont-postgres16-params
OptionGroupName: default:postgres-16

# 文字エンコーディング
DatabaseName: langpont
Port: 5432
CharacterSetName: UTF8
"""

BACKUP_YAML = """\
# RDS自動バックアップ
BackupRetentionPeriod: 7              # 7日間保持
PreferredBackupWindow: "03:00-04:00"  # UTC (日本時間12:00-13:00)
DeleteAutomatedBackups: false         # 削除時もバックアップ保持

# スナップショット設定
DBSnapshotIdentifier: langpont-manual-snapshot-$(date +%Y%m%d)
CopyTagsToSnapshot: true
"""

ENCRYPTION_YAML = """\
# RDS暗号化
StorageEncrypted: true
KmsKeyId: alias/langpont-rds-encryption
PerformanceInsightsEnabled: true
PerformanceInsightsKMSKeyId: alias/langpont-performance-insights

# SSL/TLS設定
SSLMode: require
rds.force_ssl: 1
"""

SQL_TUNING = """\
-- langpont-postgres16-params Parameter Group

-- メモリ設定 (db.t3.medium: 4GB RAM)
shared_buffers = 1GB                    -- RAM の 25%
work_mem = 16MB                         -- ソート・ハッシュ用メモリ
maintenance_work_mem = 256MB            -- VACUUM、INDEX作成用
effective_cache_size = 3GB              -- OS + PostgreSQL キャッシュ

-- 接続設定
max_connections = 300                   -- 最大同時接続数
superuser_reserved_connections = 3      -- スーパーユーザー予約

-- チェックポイント設定
checkpoint_timeout = 10min              -- チェックポイント間隔
checkpoint_completion_target = 0.9      -- チェックポイント分散
wal_buffers = 16MB                     -- WALバッファ

-- ロギング設定
log_destination = 'csvlog'             -- CSV形式ログ
log_min_duration_statement = 1000      -- 1秒以上のクエリをログ
log_line_prefix = '%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h '
log_checkpoints = on
log_connections = on
log_disconnections = on
log_lock_waits = on

-- 自動VACUUM設定
autovacuum = on
autovacuum_max_workers = 3
autovacuum_vacuum_threshold = 50
autovacuum_vacuum_scale_factor = 0.2
autovacuum_analyze_threshold = 50
autovacuum_analyze_scale_factor = 0.1

-- インデックス設定
random_page_cost = 1.1                 -- SSD最適化
effective_io_concurrency = 200         -- SSD並列I/O

-- JSON設定
default_text_search_config = 'pg_catalog.english'
"""

SQL_SECURITY = """\
-- セキュリティ強化パラメータ
ssl = on
ssl_prefer_server_ciphers = on
password_encryption = scram-sha-256

-- ログ設定（セキュリティ）
log_statement = 'ddl'                  -- DDL文のみログ
log_min_messages = WARNING             -- WARNING以上
"""

CFN_PARAMETER_GROUP = """\
      Family: postgres16
      Description: "LangPont PostgreSQL 16 parameters"
      Parameters:
        shared_buffers: "1048576"  # 1GB in 8KB pages
        work_mem: "16384"          # 16MB in KB
        maintenance_work_mem: "262144"  # 256MB in KB
        effective_cache_size: "393216"  # 3GB in 8KB pages
        max_connections: "300"
        log_min_duration_statement: "1000"
        autovacuum: "on"
"""

CFN_INSTANCE = """\
      # Monitoring
      MonitoringInterval: 60
      MonitoringRoleArn: !GetAtt RDSEnhancedMonitoringRole.Arn
      PerformanceInsightsEnabled: true
      
      Tags:
        - Key: Name
          Value: !Sub "${Environment}-langpont-database"
        - Key: Environment
          Value: !Ref Environment
"""  # noqa: W293 (the seed's blank line keeps its indentation)

PITR_SHOW = ("SHOW wal_level;              -- replica以上必要\n"
             "SHOW archive_mode;           -- on必要  \n"
             "SHOW max_wal_senders;        -- 3以上推奨\n")

# The security groups of セキュリティグループ設計: names and rule descriptions as the seed has them.
SG_TEXT = ["GroupName: langpont-rds-security-group",
           'GroupDescription: "LangPont RDS PostgreSQL Security Group"',
           "GroupName: langpont-application-security-group",
           'GroupDescription: "LangPont Application Security Group"',
           'Description: "From application servers"', 'Description: "Admin access from office"',
           'Description: "RDS internal communication"', "CidrIp: 203.0.113.0/24  # 管理者オフィスIP範囲"]

BLOCKS = [SPEC_YAML, ENGINE_YAML, BACKUP_YAML, ENCRYPTION_YAML, SQL_TUNING, SQL_SECURITY,
          CFN_PARAMETER_GROUP, CFN_INSTANCE, PITR_SHOW, *SG_TEXT]

# -- reading it -----------------------------------------------------------------------------------------


def yaml_values(block: str) -> dict[str, str]:
    out = {}
    for line in block.splitlines():
        m = re.match(r"^\s*([\w.]+): (.+)$", line)
        if m and not line.lstrip().startswith("#"):
            out[m[1]] = re.sub(r"\s+#.*$", "", m[2]).strip().strip('"')
    return out


def sql_values(block: str) -> dict[str, str]:
    out = {}
    for line in block.splitlines():
        m = re.match(r"^(\w+) = ('[^']*'|\S+)", line)
        if m:
            out[m[1]] = m[2].strip("'")
    return out


BYTES_PER_UNIT = {"shared_buffers": 8192, "effective_cache_size": 8192, "wal_buffers": 8192,
                  "work_mem": 1024, "maintenance_work_mem": 1024}  # RDS's units for these
SCALE = {"kB": 1024, "MB": 1024**2, "GB": 1024**3, "s": 1, "min": 60, "h": 3600}


def rds_value(name: str, value: str) -> str:
    """A postgresql.conf value as a parameter group takes it."""
    if value in ("on", "off"):
        return "1" if value == "on" else "0"
    m = re.fullmatch(r"(\d+)(kB|MB|GB)", value)
    if m:
        return str(int(m[1]) * SCALE[m[2]] // BYTES_PER_UNIT[name])
    m = re.fullmatch(r"(\d+)(s|min|h)", value)  # checkpoint_timeout: seconds
    if m:
        return str(int(m[1]) * SCALE[m[2]])
    return value.lower() if name == "log_min_messages" else value  # RDS lists enum values in lower case


FIXED = {"log_line_prefix"}  # RDS does not let it be changed
ALREADY = {"ssl", "password_encryption"}  # RDS runs with the seed's values already; not modifiable
SQL = {**sql_values(SQL_TUNING), **sql_values(SQL_SECURITY)}
WANTED = {k: rds_value(k, v) for k, v in SQL.items() if k not in FIXED | ALREADY}
# What `SHOW` prints for the seed's values: the value itself, but for these.
SHOWN = {**SQL, "log_min_duration_statement": "1s", "log_min_messages": "warning"}


def _group_arg(items: dict[str, str], method: str) -> list[str]:
    return [f"ParameterName={k},ParameterValue={v},ApplyMethod={method}" for k, v in items.items()]


# -- fixtures -------------------------------------------------------------------------------------------

def _rule(port: int, description: str, *, group: str | None = None, cidr: str | None = None,
          protocol: str = "tcp") -> dict[str, Any]:
    perm: dict[str, Any] = {"IpProtocol": protocol, "FromPort": port, "ToPort": port}
    if group:
        perm["UserIdGroupPairs"] = [{"GroupId": group, "Description": description}]
    else:
        perm["IpRanges"] = [{"CidrIp": cidr, "Description": description}]
    return perm


def _security_groups(ec2: Any, vpc: str) -> dict[str, str]:
    """セキュリティグループ設計 through the EC2 API: the RDS group's three 5432 rules (application group,
    admin office CIDR, itself) and the application group's rules, outbound narrowed as the seed has it."""
    def make(name: str, description: str) -> str:
        return str(ec2.create_security_group(GroupName=name, Description=description, VpcId=vpc)["GroupId"])

    rds = make("langpont-rds-security-group", "LangPont RDS PostgreSQL Security Group")
    app = make("langpont-application-security-group", "LangPont Application Security Group")
    ec2.authorize_security_group_ingress(GroupId=rds, IpPermissions=[
        _rule(5432, "From application servers", group=app),
        _rule(5432, "Admin access from office", cidr="203.0.113.0/24"),
        _rule(5432, "RDS internal communication", group=rds)])
    ec2.authorize_security_group_ingress(GroupId=app, IpPermissions=[
        _rule(80, "HTTP from internet", cidr="0.0.0.0/0"),
        _rule(443, "HTTPS from internet", cidr="0.0.0.0/0"),
        _rule(22, "SSH from admin network", cidr="203.0.113.0/24")])
    ec2.revoke_security_group_egress(GroupId=app, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.authorize_security_group_egress(GroupId=app, IpPermissions=[
        _rule(5432, "To RDS PostgreSQL", group=rds), _rule(443, "HTTPS to external APIs", cidr="0.0.0.0/0")])
    return {"rds": rds, "app": app}


def _network(server: KuraServer) -> dict[str, Any]:
    """The VPC side through boto3 (the seed states it as CloudFormation); the subnet group with the CLI."""
    ec2 = server.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.4.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.4.{i}.0/24",
                                 AvailabilityZone=f"ap-northeast-1{zone}")["Subnet"]["SubnetId"]
               for i, zone in ((11, "a"), (12, "c"), (13, "d"))]  # PrivateSubnet1..3
    server.aws("rds", "create-db-subnet-group", "--db-subnet-group-name", SUBNET_GROUP,
               "--db-subnet-group-description", "Subnet group for LangPont RDS", "--subnet-ids", *subnets,
               "--tags", "Key=Name,Value=prod-langpont-db-subnet-group")
    return {"vpc": vpc, "subnets": subnets, "groups": _security_groups(ec2, vpc)}


def _kms_alias(server: KuraServer, alias: str) -> str:
    kms = server.client("kms")
    key = kms.create_key(Description=alias)["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=alias, TargetKeyId=key)
    return str(key)


def create_args(ident: str, password: str, network: dict[str, Any], account: str) -> list[str]:
    """create-db-instance as the seed's YAML and CloudFormation instance describe it."""
    spec, engine = yaml_values(SPEC_YAML), yaml_values(ENGINE_YAML)
    backup, crypto, cfn = yaml_values(BACKUP_YAML), yaml_values(ENCRYPTION_YAML), yaml_values(CFN_INSTANCE)
    flags = []
    for flag, value in (("--multi-az", spec["MultiAZ"]), ("--storage-encrypted", spec["StorageEncrypted"]),
                        ("--copy-tags-to-snapshot", backup["CopyTagsToSnapshot"]),
                        ("--enable-performance-insights", crypto["PerformanceInsightsEnabled"])):
        assert value == "true"
        flags.append(flag)
    return [
        "rds", "create-db-instance", "--db-instance-identifier", ident,
        "--db-instance-class", spec["DBInstanceClass"],
        "--engine", engine["Engine"], "--engine-version", engine["EngineVersion"],
        "--allocated-storage", spec["AllocatedStorage"].split()[0],
        "--max-allocated-storage", spec["MaxAllocatedStorage"].split()[0],
        "--storage-type", spec["StorageType"], "--kms-key-id", spec["KMSKeyId"],
        "--backup-retention-period", spec["BackupRetentionPeriod"],
        "--preferred-backup-window", backup["PreferredBackupWindow"],
        "--preferred-maintenance-window", spec["PreferredMaintenanceWindow"],
        "--db-parameter-group-name", engine["ParameterGroupName"],
        "--option-group-name", engine["OptionGroupName"],
        "--db-name", engine["DatabaseName"], "--port", engine["Port"],
        "--master-username", "langpont_admin", "--master-user-password", password,
        "--db-subnet-group-name", SUBNET_GROUP, "--vpc-security-group-ids", network["groups"]["rds"],
        "--no-publicly-accessible",
        "--monitoring-interval", cfn["MonitoringInterval"],
        "--monitoring-role-arn", f"arn:aws:iam::{account}:role/rds-monitoring-role",
        "--performance-insights-kms-key-id", crypto["PerformanceInsightsKMSKeyId"],
        *flags,
        "--tags", "Key=Name,Value=prod-langpont-database", "Key=Environment,Value=prod",
    ]


@pytest.fixture(scope="module")
def langpont(rds_server: KuraServer) -> Iterator[dict[str, Any]]:
    require_postgres16(rds_server)
    account = rds_server.client("sts").get_caller_identity()["Account"]
    keys = {alias: _kms_alias(rds_server, alias)
            for alias in ("alias/langpont-rds-key", "alias/langpont-performance-insights")}
    network = _network(rds_server)
    cfn = yaml_values(CFN_PARAMETER_GROUP)
    rds_server.aws("rds", "create-db-parameter-group", "--db-parameter-group-name", GROUP,
                   "--db-parameter-group-family", cfn["Family"], "--description", cfn["Description"])
    password = secrets.token_urlsafe(18)  # CloudFormation's DBPassword: MinLength 12
    try:
        rds_server.aws(*create_args(IDENT, password, network, account))
        start = time.monotonic()
        rds_server.aws("rds", "wait", "db-instance-available", "--db-instance-identifier", IDENT)
        waited = time.monotonic() - start
        yield {"password": password, "keys": keys, "account": account, "waited": waited, **network}
    finally:
        delete_instance(rds_server, IDENT)


def _show(server: KuraServer, password: str, names: list[str]) -> dict[str, str]:
    return show(describe(server, IDENT), password, names, "langpont")


def _started(server: KuraServer, password: str) -> str:
    ep = describe(server, IDENT)["Endpoint"]
    return psql(ep["Address"], ep["Port"], "langpont_admin", password, "langpont",
                "SELECT pg_postmaster_start_time()").stdout.strip()


def _apply_status(server: KuraServer) -> str:
    return str(describe(server, IDENT)["DBParameterGroups"][0]["ParameterApplyStatus"])


# -- tests ----------------------------------------------------------------------------------------------

@pytest.mark.skipif(SEED is None, reason="the seed documents are not next to this checkout")
def test_embedded_text_is_the_seeds() -> None:
    assert SEED is not None
    text = SEED.read_text()
    for block in BLOCKS:
        assert block in text, block[:80]


def test_translation_of_the_sql_section_is_cloudformations() -> None:
    """The two forms of the design agree, but for shared_buffers: 1048576 pages are 8 GiB, not 1GB."""
    cfn = {k: rds_value(k, v) for k, v in yaml_values(CFN_PARAMETER_GROUP).items()
           if k not in ("Family", "Description")}
    assert {k: WANTED[k] for k in cfn if k != "shared_buffers"} == {k: v for k, v in cfn.items()
                                                                    if k != "shared_buffers"}
    assert WANTED["shared_buffers"] == "131072"  # 1GB in 8 kB pages
    assert int(cfn["shared_buffers"]) * 8192 == 8 * 1024**3


def test_instance_as_designed(langpont: dict[str, Any], rds_server: KuraServer) -> None:
    print(f"create-db-instance → wait db-instance-available: {langpont['waited']:.2f} s")
    assert langpont["waited"] < 40
    db = describe(rds_server, IDENT)
    running = require_postgres16(rds_server)
    assert (db["DBInstanceStatus"], db["Engine"], db["EngineVersion"]) == ("available", "postgres", running)
    assert db["DBInstanceClass"] == "db.t3.medium"
    assert (db["AllocatedStorage"], db["MaxAllocatedStorage"], db["StorageType"]) == (100, 1000, "gp3")
    assert db["StorageEncrypted"] is True and db["KmsKeyId"] == langpont["keys"]["alias/langpont-rds-key"]
    assert db["MultiAZ"] is True and db["BackupRetentionPeriod"] == 7
    assert (db["PreferredBackupWindow"], db["PreferredMaintenanceWindow"]) == ("03:00-04:00",
                                                                              "sun:03:00-sun:04:00")
    assert db["DBParameterGroups"][0]["DBParameterGroupName"] == GROUP
    assert db["OptionGroupMemberships"][0]["OptionGroupName"] == "default:postgres-16"
    assert (db["DBName"], db["Endpoint"]["Port"]) == ("langpont", 5432)
    assert db["MasterUsername"] == "langpont_admin"
    assert db["PubliclyAccessible"] is False and db["CopyTagsToSnapshot"] is True
    assert db["MonitoringInterval"] == 60
    assert db["MonitoringRoleArn"] == f"arn:aws:iam::{langpont['account']}:role/rds-monitoring-role"
    assert db["PerformanceInsightsEnabled"] is True
    assert db["PerformanceInsightsKMSKeyId"] == langpont["keys"]["alias/langpont-performance-insights"]
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == SUBNET_GROUP
    assert sorted(s["SubnetAvailabilityZone"]["Name"] for s in db["DBSubnetGroup"]["Subnets"]) == [
        "ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"]
    assert db["AvailabilityZone"] in ("ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d")
    tags = {t["Key"]: t["Value"] for t in db["TagList"]}
    assert tags == {"Name": "prod-langpont-database", "Environment": "prod"}
    messages = [e["Message"] for e in rds_server.aws("rds", "describe-events", "--source-type", "db-instance",
                                                      "--source-identifier", IDENT)["Events"]]
    assert any("16.1" in m and running in m for m in messages), messages
    # CharacterSetName: UTF8 — the database is UTF8 without asking.
    got = _show(rds_server, langpont["password"], ["server_encoding"])
    assert got == {"server_encoding": "UTF8"}


def test_security_design(langpont: dict[str, Any], rds_server: KuraServer) -> None:
    groups = langpont["groups"]
    db = describe(rds_server, IDENT)
    assert db["VpcSecurityGroups"] == [{"VpcSecurityGroupId": groups["rds"], "Status": "active"}]
    rules = rds_server.client("ec2").describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [groups["rds"]]}])["SecurityGroupRules"]
    inbound = {(r.get("ReferencedGroupInfo", {}).get("GroupId") or r.get("CidrIpv4"), r["Description"])
               for r in rules if not r["IsEgress"]}
    assert inbound == {(groups["app"], "From application servers"),
                       ("203.0.113.0/24", "Admin access from office"),
                       (groups["rds"], "RDS internal communication")}
    # 暗号化設定: rds.force_ssl 1 (as the seed sets it), SSLMode require; the SQL section's ssl settings.
    rds_server.aws("rds", "modify-db-parameter-group", "--db-parameter-group-name", GROUP, "--parameters",
                   *_group_arg({"rds.force_ssl": yaml_values(ENCRYPTION_YAML)["rds.force_ssl"]}, "immediate"))
    ep, password = db["Endpoint"], langpont["password"]
    plain = psql(ep["Address"], ep["Port"], "langpont_admin", password, "langpont", "SELECT 1",
                 sslmode="disable", check=False)
    assert plain.returncode != 0
    assert "no pg_hba.conf entry" in plain.stderr and "no encryption" in plain.stderr
    sslmode = yaml_values(ENCRYPTION_YAML)["SSLMode"]
    got = psql(ep["Address"], ep["Port"], "langpont_admin", password, "langpont",
               "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", "SHOW ssl",
               "SHOW password_encryption", "SHOW rds.force_ssl", sslmode=sslmode)
    assert got.stdout.split() == ["t", SQL["ssl"], SQL["password_encryption"], "1"]


def test_parameters_dynamic_at_once_static_after_reboot(langpont: dict[str, Any],
                                                        rds_server: KuraServer) -> None:
    password = langpont["password"]
    params = rds_server.client("rds").get_paginator("describe_db_parameters").paginate(
        DBParameterGroupName=GROUP)
    apply_type = {p["ParameterName"]: p["ApplyType"] for page in params for p in page["Parameters"]}
    dynamic = {k: v for k, v in WANTED.items() if apply_type[k] == "dynamic"}
    static = {k: v for k, v in WANTED.items() if apply_type[k] == "static"}
    assert set(static) == {"shared_buffers", "max_connections", "superuser_reserved_connections",
                           "wal_buffers", "autovacuum_max_workers"}
    names = sorted(WANTED)
    before = _show(rds_server, password, names)
    assert before["work_mem"] == "4MB" and before["log_connections"] == "off"  # the defaults
    assert before["max_connections"] != "300" and before["shared_buffers"] != "1GB"
    started = _started(rds_server, password)

    items = list(dynamic.items())
    for chunk in (dict(items[:20]), dict(items[20:])):  # at most 20 parameters a call
        if chunk:
            rds_server.aws("rds", "modify-db-parameter-group", "--db-parameter-group-name", GROUP,
                           "--parameters", *_group_arg(chunk, "immediate"))
    want_dynamic = {k: SHOWN[k] for k in dynamic}
    wait_for(lambda: _show(rds_server, password, sorted(dynamic)) == want_dynamic,
             20, "the dynamic parameters to show", pause=0.3)
    assert _started(rds_server, password) == started  # a reload, not a restart

    rds_server.aws("rds", "modify-db-parameter-group", "--db-parameter-group-name", GROUP, "--parameters",
                   *_group_arg(static, "pending-reboot"))
    wait_for(lambda: _apply_status(rds_server) == "pending-reboot", 20, "pending-reboot")
    assert _show(rds_server, password, sorted(static)) == {k: before[k] for k in sorted(static)}
    assert describe(rds_server, IDENT)["DBInstanceStatus"] == "available"

    status = rds_server.aws("rds", "reboot-db-instance", "--db-instance-identifier", IDENT)
    assert status["DBInstance"]["DBInstanceStatus"] == "rebooting"
    wait_status(rds_server, IDENT, "available")
    wait_for(lambda: _apply_status(rds_server) == "in-sync", 20, "in-sync after the reboot")
    after = _show(rds_server, password, names)
    assert after == {k: SHOWN[k] for k in names}
    assert _started(rds_server, password) != started
    user = rds_server.aws("rds", "describe-db-parameters", "--db-parameter-group-name", GROUP,
                          "--source", "user")["Parameters"]
    got = {p["ParameterName"]: p["ParameterValue"] for p in user}
    assert got.pop("rds.force_ssl", "1") == "1"  # set by test_security_design
    assert got == WANTED
    # 自動設定済み: what RDS already runs with, as the seed's security section wants it.
    assert _show(rds_server, password, ["ssl", "password_encryption", "log_line_prefix"]) == {
        "ssl": "on", "password_encryption": "scram-sha-256", "log_line_prefix": "%t:%r:%u@%d:[%p]:"}
    events = rds_server.aws("rds", "describe-events", "--source-type", "db-instance",
                            "--source-identifier", IDENT)["Events"]
    assert "DB instance restarted" in [e["Message"] for e in events]


def test_pitr_prerequisites(langpont: dict[str, Any], rds_server: KuraServer) -> None:
    """Point-in-Time Recovery's SHOWs, verbatim through psql's standard input."""
    ep = describe(rds_server, IDENT)["Endpoint"]
    out = subprocess.run([PSQL, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", ep["Address"], "-p",
                          str(ep["Port"]), "-U", "langpont_admin", "-d", "langpont"], input=PITR_SHOW,
                         env={"PGPASSWORD": langpont["password"], "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    wal_level, archive_mode, senders = out.stdout.split()
    assert wal_level == "replica" and int(senders) >= 3
    print(f"SHOW archive_mode: {archive_mode} (RDS shows on; WAL archiving is the backups issue's)")


def test_cfn_shared_buffers_of_8_gib_is_incompatible(langpont: dict[str, Any],
                                                     rds_server: KuraServer) -> None:
    """The CloudFormation template verbatim: shared_buffers 1048576 pages (8 GiB) on a 4 GiB class, which
    RDS refuses to start (shared memory over 90% of the class's memory): `incompatible-parameters`, a
    failure event, and RDS's way out (fix the group, reboot)."""
    cfn = yaml_values(CFN_PARAMETER_GROUP)
    group, ident = "langpont-cfn-params", "langpont-cfn-db"
    rds_server.aws("rds", "create-db-parameter-group", "--db-parameter-group-name", group,
                   "--db-parameter-group-family", cfn["Family"], "--description", cfn["Description"])
    values = {k: v for k, v in cfn.items() if k not in ("Family", "Description")}
    apply = {"shared_buffers": "pending-reboot", "max_connections": "pending-reboot"}
    rds_server.aws("rds", "modify-db-parameter-group", "--db-parameter-group-name", group, "--parameters",
                   *[f"ParameterName={k},ParameterValue={v},ApplyMethod={apply.get(k, 'immediate')}"
                     for k, v in values.items()])
    args = create_args(ident, langpont["password"], {"groups": langpont["groups"]}, langpont["account"])
    args[args.index(GROUP)] = group
    try:
        rds_server.aws(*args)
        db = wait_for(lambda: (d := describe(rds_server, ident))["DBInstanceStatus"] not in ("creating",)
                      and d, 60, "the instance to leave creating")
        assert db["DBInstanceStatus"] == "incompatible-parameters"
        events = rds_server.aws("rds", "describe-events", "--source-type", "db-instance",
                                "--source-identifier", ident)["Events"]
        assert any("parameters" in e["Message"] and "failure" in e["EventCategories"] for e in events), events
        # RDS's way out: fix the group, then reboot.
        rds_server.aws("rds", "modify-db-parameter-group", "--db-parameter-group-name", group, "--parameters",
                       "ParameterName=shared_buffers,ParameterValue=131072,ApplyMethod=pending-reboot")
        rds_server.aws("rds", "reboot-db-instance", "--db-instance-identifier", ident)
        assert show(wait_status(rds_server, ident, "available"), langpont["password"], ["shared_buffers"],
                    "langpont") == {"shared_buffers": "1GB"}
    finally:
        delete_instance(rds_server, ident)


def test_error_cases(langpont: dict[str, Any], rds_server: KuraServer) -> None:
    password = langpont["password"]
    base = create_args("langpont-err-db", password, {"groups": langpont["groups"]}, langpont["account"])

    def create_args_with(*changes: tuple[str, str]) -> list[str]:
        args = list(base)
        for flag, value in changes:
            args[args.index(flag) + 1] = value
        return args

    missing = next(m for m in (14, 13, 12, 17, 11) if engine_version(rds_server, m) is None)
    cases = {
        # The same identifier again.
        "duplicate": create_args_with(("--db-instance-identifier", IDENT)),
        # An instance class RDS does not have.
        "class": create_args_with(("--db-instance-class", "db.t3.mediun")),
        # A major version that is not installed: the message says how to install it.
        "version": create_args_with(("--engine-version", f"{missing}.1")),
        # RDS's minimum is 8 characters (CloudFormation's MinLength 12 is the template's own).
        "password": create_args_with(("--master-user-password", "Short1!")),
        # A KMS alias that does not exist.
        "kms": create_args_with(("--kms-key-id", "alias/langpont-missing")),
    }
    if engine_version(rds_server, 15) is not None:  # a parameter group of another family
        cases["family"] = create_args_with(("--engine-version", "15.2"),
                                           ("--option-group-name", "default:postgres-15"))
    with ThreadPoolExecutor(max_workers=4) as pool:  # independent calls; the CLI starts slowly
        errors = dict(zip(cases, pool.map(lambda a: aws_error(rds_server, *a), cases.values()), strict=True))
    assert "DBInstanceAlreadyExists" in errors["duplicate"]
    assert "InvalidParameterCombination" in errors["class"]
    assert "InvalidParameterCombination" in errors["version"]
    assert f"kura engines install {missing}" in errors["version"]
    assert "InvalidParameterValue" in errors["password"] and "shorter than 8" in errors["password"]
    assert "KMSKeyNotAccessibleFault" in errors["kms"]
    if "family" in errors:
        assert "InvalidParameterCombination" in errors["family"]
        assert "DBParameterGroupFamily" in errors["family"]
    rds = rds_server.client("rds")
    with pytest.raises(rds.exceptions.DBInstanceNotFoundFault):
        rds.describe_db_instances(DBInstanceIdentifier="langpont-err-db")

    # A subnet group in one zone only.
    ec2 = rds_server.client("ec2")
    subnets = [ec2.create_subnet(VpcId=langpont["vpc"], CidrBlock=cidr,
                                 AvailabilityZone="ap-northeast-1a")["Subnet"]["SubnetId"]
               for cidr in ("10.4.21.0/24", "10.4.22.0/24")]
    stderr = aws_error(rds_server, "rds", "create-db-subnet-group", "--db-subnet-group-name", "one-zone",
                       "--db-subnet-group-description", "one zone", "--subnet-ids", *subnets)
    assert "DBSubnetGroupDoesNotCoverEnoughAZs" in stderr

    # Parameter groups: the seed's log_line_prefix (fixed on RDS), a static parameter applied
    # immediately, and a value PostgreSQL refuses, with its reason.
    def modify_error(name: str, value: str, method: str) -> str:
        item = {"ParameterName": name, "ParameterValue": value, "ApplyMethod": method}
        return aws_error(rds_server, "rds", "modify-db-parameter-group", "--db-parameter-group-name", GROUP,
                         "--parameters", json.dumps([item]))

    with ThreadPoolExecutor(max_workers=3) as pool:
        prefix, static, value = pool.map(lambda a: modify_error(*a), [
            ("log_line_prefix", SQL["log_line_prefix"], "immediate"), ("max_connections", "300", "immediate"),
            ("work_mem", "12", "immediate")])
    assert "InvalidParameterValue" in prefix and "log_line_prefix cannot be modified" in prefix
    assert "InvalidParameterCombination" in static
    assert "InvalidParameterValue" in value and "outside the valid range" in value

    # Deletion protection.
    rds_server.aws("rds", "modify-db-instance", "--db-instance-identifier", IDENT, "--deletion-protection",
                   "--apply-immediately")
    try:
        stderr = aws_error(rds_server, "rds", "delete-db-instance", "--db-instance-identifier", IDENT,
                           "--skip-final-snapshot")
        assert "InvalidParameterCombination" in stderr
    finally:
        rds_server.aws("rds", "modify-db-instance", "--db-instance-identifier", IDENT,
                       "--no-deletion-protection", "--apply-immediately")
    assert describe(rds_server, IDENT)["DBInstanceStatus"] == "available"


def test_delete_keeping_automated_backups(langpont: dict[str, Any], rds_server: KuraServer) -> None:
    """Last: DeleteAutomatedBackups: false, as the seed's backup design has it; waited for to the end."""
    assert yaml_values(BACKUP_YAML)["DeleteAutomatedBackups"] == "false"
    out = rds_server.aws("rds", "delete-db-instance", "--db-instance-identifier", IDENT,
                         "--skip-final-snapshot", "--no-delete-automated-backups")
    assert out["DBInstance"]["DBInstanceStatus"] == "deleting"
    rds = rds_server.client("rds")
    # The same waiter as `aws rds wait db-instance-deleted` (test_seed000_rds runs that one), polling
    # every second: removing the data directory can outlast the CLI's first poll, and then its 30 s sleep.
    rds.get_waiter("db_instance_deleted").wait(DBInstanceIdentifier=IDENT,
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    with pytest.raises(rds.exceptions.DBInstanceNotFoundFault):
        rds.describe_db_instances(DBInstanceIdentifier=IDENT)
