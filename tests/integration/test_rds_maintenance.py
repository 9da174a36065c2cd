"""ModifyDBInstance without ApplyImmediately waits for the maintenance window, then is applied."""

from __future__ import annotations

import datetime as dt

from tests.integration.test_rds_lifecycle import create, describe, pytestmark, wait_for, wait_status
from tests.kura_fixture import KuraServer

__all__ = ["pytestmark"]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _window_around_now() -> str:
    def fmt(t: dt.datetime) -> str:
        return f"{DAYS[t.weekday()]}:{t:%H:%M}"

    now = dt.datetime.now(dt.UTC)
    return f"{fmt(now - dt.timedelta(minutes=5))}-{fmt(now + dt.timedelta(minutes=55))}"


def test_pending_class_change_applied_in_the_window(server: KuraServer) -> None:
    rds = server.client("rds")
    create(rds, "maint-db")
    rds.modify_db_instance(DBInstanceIdentifier="maint-db", DBInstanceClass="db.t3.small",
                           ApplyImmediately=False)
    inst = describe(rds, "maint-db")
    assert inst["PendingModifiedValues"].get("DBInstanceClass") == "db.t3.small"
    assert inst["DBInstanceClass"] == "db.t3.micro"

    # Windows apply at once; one that covers now lets the scheduler carry out the deferred change.
    server.aws("rds", "modify-db-instance", "--db-instance-identifier", "maint-db",
               "--preferred-maintenance-window", _window_around_now())
    wait_for(lambda: describe(rds, "maint-db")["DBInstanceClass"] == "db.t3.small", 30,
             "the class change in the maintenance window")
    inst = wait_status(rds, "maint-db", "available")
    assert not inst["PendingModifiedValues"].get("DBInstanceClass")
    events = rds.describe_events(SourceIdentifier="maint-db", SourceType="db-instance", Duration=60)["Events"]
    assert any("maintenance window" in e["Message"] for e in events)
    rds.delete_db_instance(DBInstanceIdentifier="maint-db", SkipFinalSnapshot=True)
    rds.get_waiter("db_instance_deleted").wait(DBInstanceIdentifier="maint-db",
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 30})
