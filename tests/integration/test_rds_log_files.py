"""DescribeDBLogFiles / DownloadDBLogFilePortion serve the real PostgreSQL logs, via boto3 and the AWS CLI."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from tests.integration.test_rds_lifecycle import (
    connect,
    create,
    describe,
    pytestmark,
)
from tests.kura_fixture import KuraServer

__all__ = ["pytestmark"]


def test_a_logged_error_is_downloadable(server: KuraServer) -> None:
    rds = server.client("rds")
    create(rds, "logs-db")
    marker = f"no_such_table_{uuid.uuid4().hex[:8]}"
    with connect(describe(rds, "logs-db")) as conn, pytest.raises(psycopg.errors.UndefinedTable):
        conn.execute(f"SELECT * FROM {marker}")

    files = rds.describe_db_log_files(DBInstanceIdentifier="logs-db")["DescribeDBLogFiles"]
    names = [f["LogFileName"] for f in files]
    assert names and all(f["Size"] >= 0 and f["LastWritten"] > 0 for f in files)
    deadline = time.monotonic() + 10
    text = ""
    while marker not in text and time.monotonic() < deadline:  # the logging collector writes shortly after
        text = "".join(
            rds.download_db_log_file_portion(DBInstanceIdentifier="logs-db", LogFileName=name,
                                             Marker="0").get("LogFileData", "") for name in names)
        time.sleep(0.2)
    assert f'relation "{marker}" does not exist' in text

    cli = server.aws("rds", "describe-db-log-files", "--db-instance-identifier", "logs-db")
    assert {f["LogFileName"] for f in cli["DescribeDBLogFiles"]} >= set(names)
    rds.delete_db_instance(DBInstanceIdentifier="logs-db", SkipFinalSnapshot=True)
    rds.get_waiter("db_instance_deleted").wait(DBInstanceIdentifier="logs-db",
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 30})
