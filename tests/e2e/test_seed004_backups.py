"""Seed 004's バックアップ・復旧設計 through the real AWS CLI against Kura: `manual_backup.sh` run verbatim
by bash, the automated backups, point-in-time and snapshot restores (with the CLI's waiters), a snapshot
copied under the seed's backup key and shared, final snapshots, and the Point-in-Time Recovery SHOWs.

The instance is langpont-prod-db (the script's RDS_IDENTIFIER) as test_seed004_rds makes it, on a Kura of
this module's own (that module makes the same instance, aliases and subnet group on the shared server).

What the script's text does, and what the test adds around it:
- it is run as the file it is (`bash manual_backup.sh`, no `set -e`), its text checked against the seed;
- its clean-up compares SnapshotCreateTime ("2026-11-23T21:36:07.927Z") with CUTOFF_DATE ("20261024") as
  strings (JMESPath compares strings; the CLI leaves timestamps as the wire has them): '-' sorts before
  every digit, so every snapshot of the cutoff's year or earlier counts as "older than 30 days" — the
  script deletes today's snapshots, not the month-old ones. Kura takes a small instance's snapshot in
  well under a second, before the script's query runs, so a verbatim run on a real date deletes the
  snapshot it just made (on RDS it is still being taken then, without a SnapshotCreateTime yet, and the
  next run deletes it);
- so `date` is a shim on PATH answering `date -d '30 days ago' +%Y%m%d` with a chosen cutoff (everything
  else goes to the real date): the last day of last year for the first run (nothing is old: the
  comparison then lists nothing, as the author means), tomorrow to stand for "30 days later" (the
  snapshot of the first run is old);
- `--output text` prints the identifiers of a list on one line, tab-separated, and `read snapshot` takes
  the line whole: with two or more old snapshots the script asks to delete one identifier made of them
  all, RDS answers DBSnapshotNotFound and nothing is deleted (test_two_old_snapshots_are_one_identifier).
  The deletion branch works when exactly one snapshot is old, as in test_deletion_branch;
- the CLI's waiters sleep 30 s between polls: each (`wait db-instance-available`, `db-snapshot-available`,
  `db-snapshot-deleted`, `db-instance-deleted`) is called once boto3, polling faster, has seen the state,
  and so answers on its first poll. The restored instances are waited for side by side while the
  snapshot copy is made and shared.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from kura.config import Paths
from kura.server import stop_all_marker
from tests.e2e.conftest import (
    PSQL,
    aws_error,
    delete_instance,
    describe,
    instance_ids,
    psql,
    require_postgres16,
    shell_env,
    stop_postmasters,
    wait_for,
    wait_status,
)
from tests.e2e.test_seed004_rds import (
    BACKUP_YAML,
    CFN_PARAMETER_GROUP,
    GROUP,
    IDENT,
    PITR_SHOW,
    SUBNET_GROUP,
    _kms_alias,
    _network,
    create_args,
    yaml_values,
)
from tests.kura_fixture import KuraServer, free_port

SEED = next(iter(sorted(Path(__file__).resolve().parents[3].glob("shared/seeds/004_*.txt"))), None)

# -- the seed's text ------------------------------------------------------------------------------------

MANUAL_BACKUP_SH = r"""#!/bin/bash
# manual_backup.sh

# 設定
RDS_IDENTIFIER="langpont-prod-db"
SNAPSHOT_ID="langpont-manual-$(date +%Y%m%d-%H%M%S)"
REGION="ap-northeast-1"

# スナップショット作成
echo "Creating manual snapshot: $SNAPSHOT_ID"
aws rds create-db-snapshot \
    --db-instance-identifier "$RDS_IDENTIFIER" \
    --db-snapshot-identifier "$SNAPSHOT_ID" \
    --region "$REGION"

# スナップショット状況確認
aws rds describe-db-snapshots \
    --db-snapshot-identifier "$SNAPSHOT_ID" \
    --region "$REGION" \
    --query 'DBSnapshots[0].Status'

echo "Manual backup initiated: $SNAPSHOT_ID"

# 古いスナップショット削除（30日以上）
CUTOFF_DATE=$(date -d '30 days ago' +%Y%m%d)
aws rds describe-db-snapshots \
    --snapshot-type manual \
    --region "$REGION" \
    --query "DBSnapshots[?starts_with(DBSnapshotIdentifier, 'langpont-manual-') && SnapshotCreateTime < '$CUTOFF_DATE'].DBSnapshotIdentifier" \
    --output text | while read snapshot; do
    if [ -n "$snapshot" ]; then
        echo "Deleting old snapshot: $snapshot"
        aws rds delete-db-snapshot \
            --db-snapshot-identifier "$snapshot" \
            --region "$REGION"
    fi
done
"""  # noqa: E501 (the seed's query line)

# The deletion part: the script's settings and its last section, both as the seed has them.
DELETION_SH = (MANUAL_BACKUP_SH[:MANUAL_BACKUP_SH.index("# スナップショット作成")]
               + MANUAL_BACKUP_SH[MANUAL_BACKUP_SH.index("# 古いスナップショット削除"):])

# The end of 自動バックアップ設定 (test_seed004_rds's BACKUP_YAML is the part before it).
BACKUP_ENCRYPTION = """\
# 暗号化
StorageEncrypted: true
KmsKeyId: alias/langpont-backup-key
```
"""
BACKUP_KEY = yaml_values(BACKUP_ENCRYPTION)["KmsKeyId"]  # copies are sealed under it
COPY = "langpont-offsite-copy"  # a manual snapshot the clean-up must leave alone
PITR, FROM_SNAPSHOT = "langpont-pitr-db", "langpont-restored-db"


# -- the server and the instance -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    """A Kura of this module's own (SigV4 on, default settings), cleaned up as the shared one is."""
    home = tmp_path_factory.mktemp("e2e-backups") / "home"
    kura = KuraServer(home=home, port=free_port(), env_extra={"KURA_LOG_LEVEL": "DEBUG"})
    kura.start()
    try:
        yield kura
    finally:
        try:
            for ident in instance_ids(kura):
                delete_instance(kura, ident)
        finally:
            with contextlib.suppress(OSError):
                stop_all_marker(Paths(home)).touch()
            kura.stop()
            stop_postmasters(home)
            shutil.rmtree(home, ignore_errors=True)


def _sql(db: dict[str, Any], password: str, *commands: str) -> list[str]:
    ep = db["Endpoint"]
    done = psql(ep["Address"], ep["Port"], "langpont_admin", password, "langpont", *commands)
    return done.stdout.splitlines()


@pytest.fixture(scope="module")
def langpont(server: KuraServer) -> dict[str, Any]:
    """langpont-prod-db as test_seed004_rds creates it (the seed's YAML and CloudFormation), with a row
    written before any snapshot. The state the tests below hand on is kept here."""
    require_postgres16(server)
    account = server.client("sts").get_caller_identity()["Account"]
    keys = {alias: _kms_alias(server, alias)
            for alias in ("alias/langpont-rds-key", "alias/langpont-performance-insights", BACKUP_KEY)}
    network = _network(server)
    cfn = yaml_values(CFN_PARAMETER_GROUP)
    server.aws("rds", "create-db-parameter-group", "--db-parameter-group-name", GROUP,
               "--db-parameter-group-family", cfn["Family"], "--description", cfn["Description"])
    password = secrets.token_urlsafe(18)
    server.aws(*create_args(IDENT, password, network, account))
    db = wait_status(server, IDENT, "available")
    server.aws("rds", "wait", "db-instance-available", "--db-instance-identifier", IDENT)
    _sql(db, password, "CREATE TABLE notes (id int PRIMARY KEY, note text)",
         "INSERT INTO notes VALUES (1, 'before the snapshot')")
    return {"password": password, "keys": keys, "account": account, **network}


# -- running the script -----------------------------------------------------------------------------------

def run_script(server: KuraServer, tmp_path: Path, text: str, thirty_days_ago: str | None,
               ) -> subprocess.CompletedProcess[str]:
    """`bash manual_backup.sh` with the AWS CLI pointed at Kura; with `thirty_days_ago`, a `date` first on
    PATH answers `date -d '30 days ago' +%Y%m%d` with it and hands everything else to the real date."""
    tmp_path.mkdir(exist_ok=True)
    script = tmp_path / "manual_backup.sh"
    script.write_text(text)
    env = shell_env(server)
    if thirty_days_ago is not None:
        shim = tmp_path / "shim"
        shim.mkdir(exist_ok=True)
        real = shutil.which("date") or "/bin/date"
        (shim / "date").write_text(
            "#!/bin/bash\n"
            f"if [ \"$*\" = \"-d 30 days ago +%Y%m%d\" ]; then echo {thirty_days_ago}; exit 0; fi\n"
            f"exec {real} \"$@\"\n")
        (shim / "date").chmod(0o755)
        env["PATH"] = f"{shim}:{env['PATH']}"
    return subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)


def _day(delta: int) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=delta)).strftime("%Y%m%d")


def last_year_end() -> str:
    """A first run's cutoff: nothing is old yet (nothing is of last year)."""
    return f"{dt.datetime.now(dt.UTC).year - 1}1231"


def tomorrow() -> str:
    """"30 days later": every snapshot taken so far is old."""
    return _day(1)


def snapshot(server: KuraServer, ident: str) -> dict[str, Any] | None:
    rds = server.client("rds")
    try:
        return dict(rds.describe_db_snapshots(DBSnapshotIdentifier=ident)["DBSnapshots"][0])
    except rds.exceptions.DBSnapshotNotFoundFault:
        return None


def manual_snapshots(server: KuraServer) -> dict[str, str]:
    found = server.client("rds").describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    return {s["DBSnapshotIdentifier"]: s["Status"] for s in found}


def wait_snapshot(server: KuraServer, ident: str) -> dict[str, Any]:
    """Until boto3 sees it available, then the CLI's waiter (which then answers on its first poll)."""
    wait_for(lambda: (snapshot(server, ident) or {}).get("Status") == "available", 60, f"{ident} available")
    server.aws("rds", "wait", "db-snapshot-available", "--db-snapshot-identifier", ident)
    found = snapshot(server, ident)
    assert found is not None
    return found


def wait_instance(server: KuraServer, ident: str) -> dict[str, Any]:
    """Until boto3 sees it available, then `aws rds wait db-instance-available`."""
    wait_status(server, ident, "available", 120)
    server.aws("rds", "wait", "db-instance-available", "--db-instance-identifier", ident)
    return describe(server, ident)


def wait_snapshot_deleted(server: KuraServer, ident: str) -> None:
    wait_for(lambda: snapshot(server, ident) is None, 60, f"{ident} deleted")
    server.aws("rds", "wait", "db-snapshot-deleted", "--db-snapshot-identifier", ident)


ECHOED = ("Creating manual snapshot: ", "Manual backup initiated: ", "Deleting old snapshot: ")


def json_values(stdout: str) -> list[Any]:
    """The JSON documents the CLI printed between the script's echo lines."""
    text = "\n".join(line for line in stdout.splitlines() if not line.startswith(ECHOED))
    decoder, out, i = json.JSONDecoder(), [], 0
    while text[i:].strip():
        value, i = decoder.raw_decode(text, len(text) - len(text[i:].lstrip()))
        out.append(value)
    return out


# -- tests ----------------------------------------------------------------------------------------------

@pytest.mark.skipif(SEED is None, reason="the seed documents are not next to this checkout")
def test_embedded_text_is_the_seeds() -> None:
    assert SEED is not None
    text = SEED.read_text()
    assert BACKUP_YAML + "\n" + BACKUP_ENCRYPTION in text
    for block in (MANUAL_BACKUP_SH, PITR_SHOW):
        assert block in text, block[:80]
    assert DELETION_SH.startswith("#!/bin/bash\n# manual_backup.sh\n") and DELETION_SH.endswith("done\n")


def test_manual_backup_script(langpont: dict[str, Any], server: KuraServer, tmp_path: Path) -> None:
    """The whole script, on a first run (nothing is old yet): the snapshot it starts becomes available
    and its clean-up query runs and finds nothing to delete."""
    db = describe(server, IDENT)
    assert manual_snapshots(server) == {}
    done = run_script(server, tmp_path, MANUAL_BACKUP_SH, last_year_end())
    print(done.stdout)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    m = re.match(r"Creating manual snapshot: (langpont-manual-\d{8}-\d{6})\n", done.stdout)
    assert m, done.stdout
    ident = m[1]
    created, status = json_values(done.stdout)
    assert created["DBSnapshot"]["DBSnapshotIdentifier"] == ident
    assert created["DBSnapshot"]["Status"] == "creating"
    assert status in ("creating", "available")
    assert done.stdout.rstrip().endswith(f"Manual backup initiated: {ident}")
    assert "Deleting old snapshot" not in done.stdout

    snap = wait_snapshot(server, ident)
    assert (snap["Status"], snap["PercentProgress"], snap["SnapshotType"]) == ("available", 100, "manual")
    assert snap["DBInstanceIdentifier"] == IDENT and snap["DbiResourceId"] == db["DbiResourceId"]
    assert (snap["Engine"], snap["EngineVersion"]) == ("postgres", db["EngineVersion"])
    assert (snap["AllocatedStorage"], snap["StorageType"]) == (100, "gp3")
    assert snap["Encrypted"] and snap["KmsKeyId"] == db["KmsKeyId"]
    assert db["KmsKeyId"] == langpont["keys"]["alias/langpont-rds-key"]
    assert snap["TagList"] == db["TagList"]  # CopyTagsToSnapshot: true
    assert manual_snapshots(server) == {ident: "available"}
    langpont["first"] = ident


def _restored_as_asked(out: dict[str, Any], ident: str, langpont: dict[str, Any]) -> dict[str, Any]:
    db = out["DBInstance"]
    assert (db["DBInstanceIdentifier"], db["DBInstanceStatus"]) == (ident, "creating")
    assert (db["DBInstanceClass"], db["AllocatedStorage"], db["StorageType"]) == ("db.t3.medium", 100, "gp3")
    assert (db["DBName"], db["MasterUsername"]) == ("langpont", "langpont_admin")
    assert db["StorageEncrypted"] and db["KmsKeyId"] == langpont["keys"]["alias/langpont-rds-key"]
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == SUBNET_GROUP
    return dict(db)


def _notes(db: dict[str, Any], password: str) -> list[str]:
    return _sql(db, password, "SELECT note FROM notes ORDER BY id")


def test_automated_backups_and_restores(langpont: dict[str, Any], server: KuraServer) -> None:
    """describe-db-instance-automated-backups; restore-db-instance-to-point-in-time
    --use-latest-restorable-time and restore-db-instance-from-db-snapshot, each waited for by
    `aws rds wait db-instance-available`; meanwhile copy-db-snapshot under the seed's backup key and
    modify-db-snapshot-attribute / describe-db-snapshot-attributes on the copy."""
    password, first = langpont["password"], langpont["first"]
    db = describe(server, IDENT)
    _sql(db, password, "INSERT INTO notes VALUES (2, 'after the snapshot')")
    written = time.time()

    backups = server.aws("rds", "describe-db-instance-automated-backups", "--db-instance-identifier",
                         IDENT)["DBInstanceAutomatedBackups"]
    assert len(backups) == 1, backups
    ab = backups[0]
    assert (ab["Status"], ab["DBInstanceIdentifier"], ab["DbiResourceId"]) == ("active", IDENT,
                                                                               db["DbiResourceId"])
    assert ab["DBInstanceArn"] == db["DBInstanceArn"]
    assert (ab["BackupRetentionPeriod"], ab["PreferredBackupWindow"]) == (7, "03:00-04:00")
    assert ab["Encrypted"] and ab["KmsKeyId"] == db["KmsKeyId"]
    assert (ab["Engine"], ab["EngineVersion"]) == ("postgres", db["EngineVersion"])
    assert (ab["AllocatedStorage"], ab["StorageType"], ab["MasterUsername"]) == (100, "gp3", "langpont_admin")
    assert ab["DBInstanceAutomatedBackupsArn"].startswith(
        f"arn:aws:rds:{server.region}:{langpont['account']}:auto-backup:ab-")
    window = ab["RestoreWindow"]
    assert window["EarliestTime"] <= window["LatestTime"]  # ISO 8601 strings in UTC
    automated = server.aws("rds", "describe-db-snapshots", "--db-instance-identifier", IDENT,
                           "--snapshot-type", "automated")["DBSnapshots"]
    assert automated and all(s["DBSnapshotIdentifier"].startswith(f"rds:{IDENT}-") for s in automated)
    langpont["automated"] = [s["DBSnapshotIdentifier"] for s in automated]

    wait_for(lambda: describe(server, IDENT)["LatestRestorableTime"].timestamp() >= written, 30,
             "the latest restorable time to pass the second row")
    placement = ["--db-subnet-group-name", SUBNET_GROUP,
                 "--vpc-security-group-ids", langpont["groups"]["rds"]]
    out = server.aws("rds", "restore-db-instance-to-point-in-time", "--source-db-instance-identifier", IDENT,
                     "--target-db-instance-identifier", PITR, "--use-latest-restorable-time", *placement)
    _restored_as_asked(out, PITR, langpont)
    out = server.aws("rds", "restore-db-instance-from-db-snapshot", "--db-snapshot-identifier", first,
                     "--db-instance-identifier", FROM_SNAPSHOT, *placement)
    assert _restored_as_asked(out, FROM_SNAPSHOT, langpont)["TagList"] == db["TagList"]  # the snapshot's

    with ThreadPoolExecutor(max_workers=2) as pool:
        waiters: list[Future[dict[str, Any]]] = [pool.submit(wait_instance, server, ident)
                                                 for ident in (PITR, FROM_SNAPSHOT)]
        _copy_and_share(server, langpont, first)
        for waiter in waiters:
            assert waiter.result(timeout=150)["StorageEncrypted"]
    assert _notes(describe(server, PITR), password) == ["before the snapshot", "after the snapshot"]
    assert _notes(describe(server, FROM_SNAPSHOT), password) == ["before the snapshot"]
    _sql(describe(server, FROM_SNAPSHOT), password, "INSERT INTO notes VALUES (3, 'restored')")  # writable


def _copy_and_share(server: KuraServer, langpont: dict[str, Any], first: str) -> None:
    keys = langpont["keys"]
    out = server.aws("rds", "copy-db-snapshot", "--source-db-snapshot-identifier", first,
                     "--target-db-snapshot-identifier", COPY, "--kms-key-id", BACKUP_KEY, "--copy-tags")
    copy = out["DBSnapshot"]
    assert (copy["DBSnapshotIdentifier"], copy["Status"]) == (COPY, "creating")
    assert copy["SnapshotType"] == "manual"
    assert copy["Encrypted"] and copy["KmsKeyId"] == keys[BACKUP_KEY]
    source = snapshot(server, first)
    assert source is not None
    assert copy["SourceDBSnapshotIdentifier"] == source["DBSnapshotArn"]
    assert copy["TagList"] == source["TagList"]
    done = wait_snapshot(server, COPY)
    assert done["OriginalSnapshotCreateTime"] == source["OriginalSnapshotCreateTime"]

    def attributes(*args: str) -> list[str]:
        result = server.aws("rds", *args, "--db-snapshot-identifier", COPY)["DBSnapshotAttributesResult"]
        assert result["DBSnapshotIdentifier"] == COPY
        (attribute,) = result["DBSnapshotAttributes"]
        assert attribute["AttributeName"] == "restore"
        return list(attribute["AttributeValues"])

    assert attributes("describe-db-snapshot-attributes") == []
    other = "123456789012"
    assert attributes("modify-db-snapshot-attribute", "--attribute-name", "restore",
                      "--values-to-add", other) == [other]
    assert attributes("describe-db-snapshot-attributes") == [other]
    stderr = aws_error(server, "rds", "modify-db-snapshot-attribute", "--db-snapshot-identifier", COPY,
                       "--attribute-name", "restore", "--values-to-add", "all")
    assert "InvalidParameterValue" in stderr  # an encrypted snapshot can't be public
    assert attributes("modify-db-snapshot-attribute", "--attribute-name", "restore",
                      "--values-to-remove", other) == []


def test_deletion_branch(langpont: dict[str, Any], server: KuraServer, tmp_path: Path) -> None:
    """The deletion part "30 days later": the first run's snapshot is the only old langpont-manual-* one
    and goes; the copy (another name) and the automated snapshots stay."""
    first = langpont["first"]
    assert manual_snapshots(server) == {first: "available", COPY: "available"}
    done = run_script(server, tmp_path, DELETION_SH, tomorrow())
    print(done.stdout)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.startswith(f"Deleting old snapshot: {first}\n")
    (deleted,) = json_values(done.stdout)
    assert (deleted["DBSnapshot"]["DBSnapshotIdentifier"], deleted["DBSnapshot"]["Status"]) == (first,
                                                                                               "deleting")
    wait_snapshot_deleted(server, first)
    assert manual_snapshots(server) == {COPY: "available"}
    automated = {s["DBSnapshotIdentifier"] for s in server.client("rds").describe_db_snapshots(
        DBInstanceIdentifier=IDENT, SnapshotType="automated")["DBSnapshots"]}
    assert set(langpont["automated"]) <= automated


def test_two_old_snapshots_are_one_identifier(langpont: dict[str, Any], server: KuraServer,
                                             tmp_path: Path) -> None:
    """With two old snapshots the clean-up reads one line, "a<TAB>b", and asks to delete that: RDS has
    no such snapshot and both stay. The seed's snapshot name (DBSnapshotIdentifier of the backup YAML)
    and a second run of the script make the two. The real `date` does the same on any day but in
    January: its cutoff is of this year, so today's snapshots are "older" than it."""
    named = subprocess.run(["bash", "-c", "echo langpont-manual-snapshot-$(date +%Y%m%d)"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert yaml_values(BACKUP_YAML)["DBSnapshotIdentifier"] == "langpont-manual-snapshot-$(date +%Y%m%d)"
    server.aws("rds", "create-db-snapshot", "--db-instance-identifier", IDENT,
               "--db-snapshot-identifier", named)
    done = run_script(server, tmp_path, MANUAL_BACKUP_SH, last_year_end())
    assert done.returncode == 0 and "Deleting old snapshot" not in done.stdout, done.stdout + done.stderr
    m = re.match(r"Creating manual snapshot: (\S+)\n", done.stdout)
    assert m
    second = m[1]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda ident: wait_snapshot(server, ident), (named, second)))

    runs: dict[str, str | None] = {"a-day-ahead": tomorrow(), "the-real-date": None}
    with ThreadPoolExecutor(max_workers=2) as pool:
        done_by = dict(zip(runs, pool.map(
            lambda why: run_script(server, tmp_path / why, DELETION_SH, runs[why]), runs), strict=True))
    for why, done in done_by.items():
        print(f"{why}:\n{done.stdout}{done.stderr}")
        if runs[why] is None and _day(-30)[:4] != str(dt.datetime.now(dt.UTC).year):
            assert done.stdout == "" and done.returncode == 0  # January: last year's cutoff lists nothing
            continue
        m = re.fullmatch(r"Deleting old snapshot: (\S+)\t(\S+)\n", done.stdout)
        assert m and {m[1], m[2]} == {named, second}, (why, done.stdout)
        assert "DBSnapshotNotFound" in done.stderr and done.returncode != 0, why
    assert manual_snapshots(server) == {COPY: "available", named: "available", second: "available"}

    def delete(ident: str) -> None:  # one at a time, as the script means to
        out = server.aws("rds", "delete-db-snapshot", "--db-snapshot-identifier", ident)
        assert out["DBSnapshot"]["Status"] == "deleting"
        wait_snapshot_deleted(server, ident)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(delete, (named, second)))
    assert manual_snapshots(server) == {COPY: "available"}


def test_pitr_show(langpont: dict[str, Any], server: KuraServer) -> None:
    """Point-in-Time Recovery's SHOWs, verbatim through psql's standard input; printed, not judged:
    RDS shows archive_mode on (it archives WAL), Kura streams the WAL to its backup storage instead."""
    ep = describe(server, IDENT)["Endpoint"]
    out = subprocess.run([PSQL, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", ep["Address"], "-p",
                          str(ep["Port"]), "-U", "langpont_admin", "-d", "langpont"], input=PITR_SHOW,
                         env={"PGPASSWORD": langpont["password"], "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    shown = dict(zip(("wal_level", "archive_mode", "max_wal_senders"), out.stdout.split(), strict=True))
    print(f"PITR SHOWs on Kura: {shown} (the seed expects wal_level replica, archive_mode on, "
          "max_wal_senders >= 3)")


def test_delete_with_final_snapshots(langpont: dict[str, Any], server: KuraServer) -> None:
    """delete-db-instance --final-db-snapshot-identifier: the point-in-time restore, and langpont-prod-db
    itself keeping its automated backups (DeleteAutomatedBackups: false in the seed)."""
    rds = server.client("rds")
    prod = describe(server, IDENT)
    finals = {PITR: "langpont-pitr-db-final", IDENT: "langpont-prod-db-final"}
    calls: dict[str, Callable[[], Any]] = {
        PITR: lambda: server.aws("rds", "delete-db-instance", "--db-instance-identifier", PITR,
                                 "--final-db-snapshot-identifier", finals[PITR]),
        IDENT: lambda: server.aws("rds", "delete-db-instance", "--db-instance-identifier", IDENT,
                                  "--final-db-snapshot-identifier", finals[IDENT],
                                  "--no-delete-automated-backups"),
        FROM_SNAPSHOT: lambda: server.aws("rds", "delete-db-instance", "--db-instance-identifier",
                                          FROM_SNAPSHOT, "--skip-final-snapshot"),
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = dict(zip(calls, pool.map(lambda call: call(), calls.values()), strict=True))
    for ident, out in answers.items():
        assert (out["DBInstance"]["DBInstanceIdentifier"], out["DBInstance"]["DBInstanceStatus"]) == (
            ident, "deleting")
    for ident in calls:
        rds.get_waiter("db_instance_deleted").wait(DBInstanceIdentifier=ident,
                                                   WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    server.aws("rds", "wait", "db-instance-deleted", "--db-instance-identifier", IDENT)
    for ident, final in finals.items():
        snap = wait_snapshot(server, final)
        assert (snap["DBInstanceIdentifier"], snap["SnapshotType"]) == (ident, "manual")
        assert snap["Encrypted"] and snap["KmsKeyId"] == prod["KmsKeyId"]
        if ident == IDENT:
            assert snap["TagList"] == prod["TagList"]  # CopyTagsToSnapshot
    (retained,) = server.aws("rds", "describe-db-instance-automated-backups", "--db-instance-identifier",
                             IDENT)["DBInstanceAutomatedBackups"]
    assert (retained["Status"], retained["DbiResourceId"]) == ("retained", prod["DbiResourceId"])
    assert manual_snapshots(server) == {COPY: "available", **{f: "available" for f in finals.values()}}
