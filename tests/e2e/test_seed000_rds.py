"""Seed 000, sections 1, 2, 4 (4.1) and 5, run by bash with the real AWS CLI, openssl, jq and psql.

The seed's commands are embedded character for character (test_embedded_text_is_the_seeds checks them
against the seed file) and run in one bash, in order, so that their variables flow as in a terminal.
What the test adds around them, and why:
- the prerequisites the seed takes from 910_AWS環境構築.md (VPC_ID, PRIVATE_SUBNET_1A/1C in
  ap-northeast-1a/1c, RDS_SG, REDIS_SG) are made through the EC2 API and exported first;
- `openssl rand -base64 32` can print '/', which RDS refuses in a master password (the seed would fail
  about one run in four): `openssl` is a shell function that runs the real openssl and turns '/' into
  '_' (the URL-safe base64 alphabet). test_slash_in_master_password_is_refused shows the refusal;
- psql prompts for the password in the seed (a person types it); here PGPASSWORD comes from the
  master secret, read the way the seed reads it (get-secret-value | jq -r .password), and
  PSQLRC sets ON_ERROR_STOP so that a failing statement fails the run instead of scrolling by;
- section 3 is ElastiCache (another issue): section 5 records REDIS_ENDPOINT/REDIS_PORT empty;
- the seed's `--deletion-protection` means deleting needs `modify-db-instance --no-deletion-protection
  --apply-immediately` first: test_delete_needs_deletion_protection_off does that with the CLI.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import aws_error, bash, delete_instance, describe, psql, require_postgres16
from tests.kura_fixture import KuraServer

SEED = next(iter(sorted(Path(__file__).resolve().parents[3].glob("shared/seeds/000_*.txt"))), None)
MIGRATION = Path(__file__).parent / "data" / "20260101_init.sql"
IDENT = "auratime-db"
WAIT_BOUND_S = 40.0  # the waiter sleeps 30 s between polls: under 40 s means one poll, at most two

# -- the seed's text ------------------------------------------------------------------------------------

S1_1 = r"""# RDSのマスターユーザー名とパスワードをSecrets Managerに保存
aws secretsmanager create-secret \
  --name auratime/rds/master \
  --description "RDS master credentials for AuraTime" \
  --secret-string '{
    "username": "auratime_admin",
    "password": "'$(openssl rand -base64 32)'"
  }' \
  --tags Key=Project,Value=AuraTime Key=Service,Value=RDS

# シークレットのARNを取得
RDS_SECRET_ARN=$(aws secretsmanager describe-secret \
  --secret-id auratime/rds/master \
  --query 'ARN' \
  --output text)
"""

S1_2 = r"""# アプリケーション用のデータベース認証情報
aws secretsmanager create-secret \
  --name auratime/rds/app \
  --description "RDS application credentials for AuraTime" \
  --secret-string '{
    "username": "auratime_app",
    "password": "'$(openssl rand -base64 32)'"
  }' \
  --tags Key=Project,Value=AuraTime Key=Service,Value=RDS

APP_SECRET_ARN=$(aws secretsmanager describe-secret \
  --secret-id auratime/rds/app \
  --query 'ARN' \
  --output text)
"""

S2_1 = r"""# DBサブネットグループの作成（プライベートサブネットに配置）
aws rds create-db-subnet-group \
  --db-subnet-group-name auratime-db-subnet-group \
  --db-subnet-group-description "DB subnet group for AuraTime" \
  --subnet-ids $PRIVATE_SUBNET_1A $PRIVATE_SUBNET_1C \
  --tags Key=Name,Value=auratime-db-subnet-group Key=Project,Value=AuraTime
"""

S2_2 = r"""# カスタムパラメータグループの作成（必要に応じて）
aws rds create-db-parameter-group \
  --db-parameter-group-name auratime-postgres16 \
  --db-parameter-group-family postgres16 \
  --description "Custom parameter group for AuraTime PostgreSQL 16" \
  --tags Key=Name,Value=auratime-postgres16 Key=Project,Value=AuraTime
"""

S2_3 = r"""# RDSインスタンスの作成（Multi-AZ構成）
RDS_INSTANCE_ID=$(aws rds create-db-instance \
  --db-instance-identifier auratime-db \
  --db-instance-class db.t3.medium \
  --engine postgres \
  --engine-version 16.4 \
  --master-username auratime_admin \
  --master-user-password $(aws secretsmanager get-secret-value --secret-id auratime/rds/master --query SecretString --output text | jq -r .password) \
  --allocated-storage 100 \
  --storage-type gp3 \
  --storage-encrypted \
  --kms-key-id alias/aws/rds \
  --db-name auratime \
  --db-subnet-group-name auratime-db-subnet-group \
  --vpc-security-group-ids $RDS_SG \
  --backup-retention-period 7 \
  --preferred-backup-window "03:00-04:00" \
  --preferred-maintenance-window "sun:04:00-sun:05:00" \
  --multi-az \
  --publicly-accessible \
  --no-publicly-accessible \
  --auto-minor-version-upgrade \
  --enable-performance-insights \
  --performance-insights-retention-period 7 \
  --deletion-protection \
  --tags Key=Name,Value=auratime-db Key=Project,Value=AuraTime \
  --query 'DBInstance.DBInstanceIdentifier' \
  --output text)

echo "RDS Instance ID: $RDS_INSTANCE_ID"
"""  # noqa: E501 (the seed's line)

S2_4_WAIT = r"""# RDSインスタンスが利用可能になるまで待機（約10-15分）
aws rds wait db-instance-available --db-instance-identifier $RDS_INSTANCE_ID
"""

S2_4_ENDPOINT = r"""# RDSエンドポイントを取得
RDS_ENDPOINT=$(aws rds describe-db-instances \
  --db-instance-identifier $RDS_INSTANCE_ID \
  --query 'DBInstances[0].Endpoint.Address' \
  --output text)

RDS_PORT=$(aws rds describe-db-instances \
  --db-instance-identifier $RDS_INSTANCE_ID \
  --query 'DBInstances[0].Endpoint.Port' \
  --output text)

echo "RDS Endpoint: $RDS_ENDPOINT:$RDS_PORT"
"""

S2_5 = r"""# ローカルマシンからRDSに接続してマイグレーションを実行
# （VPNまたは踏み台サーバー経由で接続する必要があります）

# 1. マイグレーションファイルを実行
psql -h $RDS_ENDPOINT -p $RDS_PORT -U auratime_admin -d auratime -f database/migrations/20260101_init.sql

# 2. アプリケーション用ユーザーの作成
psql -h $RDS_ENDPOINT -p $RDS_PORT -U auratime_admin -d auratime << EOF
-- アプリケーション用ユーザーの作成
CREATE USER auratime_app WITH PASSWORD '$(aws secretsmanager get-secret-value --secret-id auratime/rds/app --query SecretString --output text | jq -r .password)';

-- 権限の付与
GRANT CONNECT ON DATABASE auratime TO auratime_app;
GRANT USAGE ON SCHEMA public TO auratime_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO auratime_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO auratime_app;

-- 将来作成されるテーブルにも自動的に権限を付与
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO auratime_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO auratime_app;
EOF
"""  # noqa: E501 (the seed's line)

S2_6 = r"""# system-botユーザーの作成（監査ログ用）
psql -h $RDS_ENDPOINT -p $RDS_PORT -U auratime_admin -d auratime << EOF
-- system-botユーザーの作成（UUIDは固定値を使用）
INSERT INTO m_users (id, email, password_hash, created_at, updated_at, created_by, updated_by)
VALUES (
  gen_uuid_v7(),
  'system-bot@auratime.internal',
  '\$2a\$10\$dummy_hash_for_system_bot', -- 実際には使用されない
  NOW(),
  NOW(),
  NULL,
  NULL
) ON CONFLICT DO NOTHING;
EOF
"""

S4_1 = r"""# RDSへの接続テスト（VPNまたは踏み台サーバー経由）
psql -h $RDS_ENDPOINT -p $RDS_PORT -U auratime_admin -d auratime -c "SELECT version();"
"""

S5 = r"""# 環境変数ファイルに追加
cat >> aws-env-vars.sh << EOF
export RDS_ENDPOINT=$RDS_ENDPOINT
export RDS_PORT=$RDS_PORT
export RDS_SECRET_ARN=$RDS_SECRET_ARN
export APP_SECRET_ARN=$APP_SECRET_ARN
export REDIS_ENDPOINT=$REDIS_ENDPOINT
export REDIS_PORT=$REDIS_PORT
EOF

# 環境変数を読み込む
source aws-env-vars.sh
"""

BLOCKS = [S1_1, S1_2, S2_1, S2_2, S2_3, S2_4_WAIT + "\n" + S2_4_ENDPOINT, S2_5, S2_6, S4_1, S5]

# -- what the test adds (see the module's docstring) ----------------------------------------------------

# `openssl rand -base64 32` less '/', which RDS refuses in master passwords.
OPENSSL_WITHOUT_SLASH = "openssl() { command openssl \"$@\" | tr '/' '_'; }\n"

# psql's password (the seed leaves it to a prompt), read as the seed reads secrets.
MASTER_PASSWORD = ("export PGPASSWORD=\"$(aws secretsmanager get-secret-value --secret-id auratime/rds/master"
                   " --query SecretString --output text | jq -r .password)\"\n")

TIMER_START = "WAIT_T0=$(date +%s%N)\n"
TIMER_END = 'echo "WAITED_MS=$(( ($(date +%s%N) - WAIT_T0) / 1000000 ))"\n'

# Logging in as the application user with its own secret, then reading and writing m_users.
APP_LOGIN = r"""
APP_PASSWORD=$(aws secretsmanager get-secret-value --secret-id auratime/rds/app --query SecretString --output text | jq -r .password)
PGPASSWORD=$APP_PASSWORD psql -X -At -v ON_ERROR_STOP=1 -h $RDS_ENDPOINT -p $RDS_PORT -U auratime_app -d auratime \
  -c "SELECT 'APP_USER=' || current_user" \
  -c "SELECT 'APP_SEES=' || email || '|' || password_hash FROM m_users WHERE email = 'system-bot@auratime.internal'" \
  -c "INSERT INTO m_users (email, password_hash, created_by) SELECT 'alice@auratime.example', 'x', id FROM m_users WHERE email = 'system-bot@auratime.internal' RETURNING 'APP_INSERTED=' || id" \
  -c "INSERT INTO t_audit_logs (user_id, action) SELECT id, 'signup' FROM m_users WHERE email = 'alice@auratime.example' RETURNING 'APP_AUDIT=' || id" \
  -c "SELECT 'APP_COUNT=' || count(*) FROM m_users"
"""  # noqa: E501


def _prerequisites(server: KuraServer) -> dict[str, str]:
    """What 910_AWS環境構築.md leaves behind, made through the EC2 API: a VPC, private subnets in 1a and
    1c, the RDS and Redis security groups."""
    ec2 = server.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    out = {"VPC_ID": vpc}
    for name, cidr, zone in (("PRIVATE_SUBNET_1A", "10.0.11.0/24", "ap-northeast-1a"),
                             ("PRIVATE_SUBNET_1C", "10.0.12.0/24", "ap-northeast-1c")):
        out[name] = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
    for name, group, port in (("RDS_SG", "auratime-rds-sg", 5432), ("REDIS_SG", "auratime-redis-sg", 6379)):
        out[name] = ec2.create_security_group(GroupName=group, Description=f"AuraTime {group}",
                                              VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=out[name], IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])
    return out


def _script(prereq: dict[str, str]) -> str:
    exports = "".join(f"export {k}={v}\n" for k, v in prereq.items())
    return (
        exports + OPENSSL_WITHOUT_SLASH
        + S1_1 + S1_2
        + S2_1 + S2_2 + S2_3
        + TIMER_START + S2_4_WAIT + TIMER_END + S2_4_ENDPOINT
        + MASTER_PASSWORD + S2_5 + S2_6
        + S4_1
        + "REDIS_ENDPOINT=\nREDIS_PORT=\n" + S5
        + APP_LOGIN
        + 'echo "IDS=$RDS_INSTANCE_ID|$RDS_SECRET_ARN|$APP_SECRET_ARN"\n'
    )


@pytest.fixture(scope="module")
def seeded(rds_server: KuraServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Sections 1, 2, 4.1 and 5 run once, in order; the shell's output and the prerequisites."""
    if shutil.which("jq") is None or shutil.which("openssl") is None:
        pytest.skip("the seed needs jq and openssl (make install provides them)")
    require_postgres16(rds_server)
    work = tmp_path_factory.mktemp("seed000")  # the repository the seed runs in
    (work / "database" / "migrations").mkdir(parents=True)
    shutil.copy(MIGRATION, work / "database" / "migrations" / MIGRATION.name)
    (work / "psqlrc").write_text("\\set ON_ERROR_STOP on\n")
    prereq = _prerequisites(rds_server)
    try:
        proc = bash(rds_server, _script(prereq), work, PSQLRC=str(work / "psqlrc"))
        yield {"out": proc.stdout, "err": proc.stderr, "work": work, **prereq}
    finally:
        delete_instance(rds_server, IDENT)  # a no-op once the last test deleted it
        shutil.rmtree(work, ignore_errors=True)


def _marker(out: str, key: str) -> str:
    found = re.findall(rf"^{key}=(.*)$", out, re.M)
    assert found, f"no {key}= in the output:\n{out}"
    return str(found[-1])


def _secret_password(server: KuraServer, name: str) -> str:
    value = server.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    return str(json.loads(value)["password"])


# -- tests ----------------------------------------------------------------------------------------------

@pytest.mark.skipif(SEED is None, reason="the seed documents are not next to this checkout")
def test_embedded_text_is_the_seeds() -> None:
    assert SEED is not None
    text = SEED.read_text()
    for block in BLOCKS:
        assert block in text, block[:80]


def test_the_seed_runs_and_the_waiter_returns_at_once(seeded: dict[str, Any], rds_server: KuraServer) -> None:
    out = seeded["out"]
    assert "RDS Instance ID: auratime-db" in out
    endpoint = re.search(r"^RDS Endpoint: (127\.\d+\.\d+\.\d+):(\d+)$", out, re.M)
    assert endpoint, out
    assert endpoint[1] != "127.0.0.1" and endpoint[2] == "5432"  # its own loopback address, port kept
    waited = int(_marker(out, "WAITED_MS")) / 1000
    print(f"aws rds wait db-instance-available returned after {waited:.2f} s")
    assert waited < WAIT_BOUND_S
    # 4.1: PostgreSQL 16 answers (16.4 asked for; the newest installed 16 runs).
    version = require_postgres16(rds_server)
    assert re.search(rf"^ PostgreSQL {re.escape(version)} on ", out, re.M), out
    ident, rds_arn, app_arn = _marker(out, "IDS").split("|")
    assert ident == IDENT
    prefix = f"arn:aws:secretsmanager:{rds_server.region}:\\d{{12}}:secret:auratime/rds/"
    assert re.fullmatch(prefix + r"master-[A-Za-z0-9]{6}", rds_arn)
    assert re.fullmatch(prefix + r"app-[A-Za-z0-9]{6}", app_arn)
    # 5: the environment file holds what the later documents source.
    env_file = (seeded["work"] / "aws-env-vars.sh").read_text()
    assert f"export RDS_ENDPOINT={endpoint[1]}\n" in env_file and "export RDS_PORT=5432\n" in env_file
    assert f"export RDS_SECRET_ARN={rds_arn}\n" in env_file
    assert f"export APP_SECRET_ARN={app_arn}\n" in env_file


def test_secrets_hold_passwords_rds_accepts(seeded: dict[str, Any], rds_server: KuraServer) -> None:
    for name in ("auratime/rds/master", "auratime/rds/app"):
        password = _secret_password(rds_server, name)
        assert len(password) == 44 and password.endswith("=") and "/" not in password


def test_instance_is_what_the_seed_asked_for(seeded: dict[str, Any], rds_server: KuraServer) -> None:
    db = describe(rds_server, IDENT)
    assert db["DBInstanceStatus"] == "available"
    assert (db["Engine"], db["EngineVersion"]) == ("postgres", require_postgres16(rds_server))
    assert db["DBInstanceClass"] == "db.t3.medium" and db["MasterUsername"] == "auratime_admin"
    assert (db["AllocatedStorage"], db["StorageType"], db["StorageEncrypted"]) == (100, "gp3", True)
    assert ":key/" in db["KmsKeyId"]  # alias/aws/rds resolved to its key's ARN, as RDS shows it
    assert db["DBName"] == "auratime"
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == "auratime-db-subnet-group"
    assert db["DBSubnetGroup"]["VpcId"] == seeded["VPC_ID"]
    assert {s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"]} == {
        seeded["PRIVATE_SUBNET_1A"], seeded["PRIVATE_SUBNET_1C"]}
    assert db["AvailabilityZone"] in ("ap-northeast-1a", "ap-northeast-1c")
    assert db["VpcSecurityGroups"] == [{"VpcSecurityGroupId": seeded["RDS_SG"], "Status": "active"}]
    assert (db["BackupRetentionPeriod"], db["PreferredBackupWindow"]) == (7, "03:00-04:00")
    assert db["PreferredMaintenanceWindow"] == "sun:04:00-sun:05:00"
    assert db["MultiAZ"] is True and db["AutoMinorVersionUpgrade"] is True
    assert db["PubliclyAccessible"] is False  # --no-publicly-accessible comes last and wins
    assert db["PerformanceInsightsEnabled"] is True and db["PerformanceInsightsRetentionPeriod"] == 7
    assert db["DeletionProtection"] is True
    assert sorted(db["TagList"], key=lambda t: t["Key"]) == [{"Key": "Name", "Value": "auratime-db"},
                                                            {"Key": "Project", "Value": "AuraTime"}]
    # 2.2's group is made but the seed does not attach it: the instance has the family's default group.
    assert [g["DBParameterGroupName"] for g in db["DBParameterGroups"]] == ["default.postgres16"]
    rds = rds_server.client("rds")
    group = rds.describe_db_parameter_groups(
        DBParameterGroupName="auratime-postgres16")["DBParameterGroups"][0]
    assert (group["DBParameterGroupFamily"], group["Description"]) == (
        "postgres16", "Custom parameter group for AuraTime PostgreSQL 16")
    tags = rds.list_tags_for_resource(ResourceName=group["DBParameterGroupArn"])["TagList"]
    assert sorted(tags, key=lambda t: t["Key"]) == [{"Key": "Name", "Value": "auratime-postgres16"},
                                                   {"Key": "Project", "Value": "AuraTime"}]


def test_events_say_which_version_runs(seeded: dict[str, Any], rds_server: KuraServer) -> None:
    running = require_postgres16(rds_server)
    events = rds_server.aws("rds", "describe-events", "--source-type", "db-instance",
                            "--source-identifier", IDENT)["Events"]
    messages = [e["Message"] for e in events]
    assert any("16.4" in m and running in m for m in messages), messages
    assert "DB instance created" in messages
    assert all(e["SourceArn"].endswith(f":db:{IDENT}") for e in events)


def test_app_user_logs_in_with_its_secret(seeded: dict[str, Any], rds_server: KuraServer) -> None:
    out = seeded["out"]
    assert _marker(out, "APP_USER") == "auratime_app"
    # 2.6's row, its hash as the heredoc wrote it (the \$ escapes are the shell's)
    assert _marker(out, "APP_SEES") == "system-bot@auratime.internal|$2a$10$dummy_hash_for_system_bot"
    inserted = uuid.UUID(_marker(out, "APP_INSERTED"))
    assert inserted.version == 7  # gen_uuid_v7() from the migration, as the column default
    millis = int.from_bytes(inserted.bytes[:6], "big")
    assert abs(millis / 1000 - datetime.now(UTC).timestamp()) < 600
    assert int(_marker(out, "APP_AUDIT")) >= 1  # the identity sequence: GRANT USAGE ON ALL SEQUENCES
    assert _marker(out, "APP_COUNT") == "2"


def test_app_user_privileges_are_the_seeds(seeded: dict[str, Any], rds_server: KuraServer) -> None:
    db = describe(rds_server, IDENT)
    host, port = db["Endpoint"]["Address"], db["Endpoint"]["Port"]
    master = _secret_password(rds_server, "auratime/rds/master")
    app = _secret_password(rds_server, "auratime/rds/app")
    # ALTER DEFAULT PRIVILEGES: a table the master user makes later is the application's too.
    psql(host, port, "auratime_admin", master, "auratime",
         "CREATE TABLE m_tenants (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text)")
    got = psql(host, port, "auratime_app", app, "auratime",
               "INSERT INTO m_tenants (name) VALUES ('acme') RETURNING id", "SELECT name FROM m_tenants")
    assert got.stdout.split() == ["1", "acme"]
    # Only what was granted: no DDL in public (PostgreSQL 15+), no TRUNCATE, no other database's rights.
    refused = psql(host, port, "auratime_app", app, "auratime", "CREATE TABLE t (i int)", check=False)
    assert refused.returncode != 0 and "permission denied for schema public" in refused.stderr
    refused = psql(host, port, "auratime_app", app, "auratime", "TRUNCATE m_users CASCADE", check=False)
    assert refused.returncode != 0 and "permission denied" in refused.stderr
    # The master user is RDS's: not a superuser, but CREATEROLE, CREATEDB and rds_superuser.
    row = psql(host, port, "auratime_admin", master, "auratime",
               "SELECT rolsuper, rolcreaterole, rolcreatedb, pg_has_role('rds_superuser', 'member') "
               "FROM pg_roles WHERE rolname = current_user").stdout.strip()
    assert row == "f|t|t|t"


def test_slash_in_master_password_is_refused(seeded: dict[str, Any], rds_server: KuraServer) -> None:
    """Why the seed's `openssl rand -base64 32` runs without '/': RDS refuses it (InvalidParameterValue)."""
    stderr = aws_error(rds_server, "rds", "create-db-instance", "--db-instance-identifier", "auratime-slash",
                       "--db-instance-class", "db.t3.medium", "--engine", "postgres",
                       "--master-username", "auratime_admin", "--master-user-password",
                       "kE3r/vH9d0Yp+q2Lw8sTzA1bN4xJ6mC5fR7uI0oP9g=", "--allocated-storage", "100")
    assert "InvalidParameterValue" in stderr and "'/'" in stderr
    rds = rds_server.client("rds")
    with pytest.raises(rds.exceptions.DBInstanceNotFoundFault):
        rds.describe_db_instances(DBInstanceIdentifier="auratime-slash")


def test_delete_needs_deletion_protection_off(seeded: dict[str, Any], rds_server: KuraServer) -> None:
    """Last: the seed's instance is protected; the CLI way to delete it, waited for to the end."""
    stderr = aws_error(rds_server, "rds", "delete-db-instance", "--db-instance-identifier", IDENT,
                       "--skip-final-snapshot")
    assert "InvalidParameterCombination" in stderr
    assert describe(rds_server, IDENT)["DBInstanceStatus"] == "available"
    script = (
        f"aws rds modify-db-instance --db-instance-identifier {IDENT} --no-deletion-protection "
        "--apply-immediately --query 'DBInstance.DeletionProtection' --output text\n"
        f"aws rds delete-db-instance --db-instance-identifier {IDENT} --skip-final-snapshot "
        "--query 'DBInstance.DBInstanceStatus' --output text\n"
        "T0=$(date +%s%N)\n"
        f"aws rds wait db-instance-deleted --db-instance-identifier {IDENT}\n"
        'echo "WAITED_MS=$(( ($(date +%s%N) - T0) / 1000000 ))"\n'
    )
    out = bash(rds_server, script, seeded["work"]).stdout
    assert out.splitlines()[:2] == ["False", "deleting"]
    waited = int(_marker(out, "WAITED_MS")) / 1000
    print(f"aws rds wait db-instance-deleted returned after {waited:.2f} s")
    assert waited < WAIT_BOUND_S
    rds = rds_server.client("rds")
    with pytest.raises(rds.exceptions.DBInstanceNotFoundFault):
        rds.describe_db_instances(DBInstanceIdentifier=IDENT)
    assert not list(rds_server.home.glob(f"data/rds/*/{IDENT}"))  # the data directory went with it
