"""RDS's faults, with the HTTP status botocore's model gives each (404 for the NotFound faults)."""

from __future__ import annotations

from kura.api.errors import AwsError
from kura.api.models import error_statuses


def fault(code: str, message: str) -> AwsError:
    return AwsError(code, message, error_statuses("rds").get(code, 400))


def invalid(message: str) -> AwsError:
    return fault("InvalidParameterValue", message)


def combination(message: str) -> AwsError:
    return fault("InvalidParameterCombination", message)


def instance_not_found(ident: str) -> AwsError:
    return fault("DBInstanceNotFound", f"DBInstance {ident} not found.")


def parameter_group_not_found(name: str) -> AwsError:
    return fault("DBParameterGroupNotFound", f"DBParameterGroup not found: {name}")


def subnet_group_not_found(name: str) -> AwsError:
    return fault("DBSubnetGroupNotFoundFault", f"DBSubnetGroup {name} not found.")


def instance_state(message: str) -> AwsError:
    return fault("InvalidDBInstanceState", message)


def snapshot_not_found(ident: str) -> AwsError:
    return fault("DBSnapshotNotFound", f"DBSnapshot {ident} not found.")


def snapshot_exists(ident: str) -> AwsError:
    return fault("DBSnapshotAlreadyExists",
                 f"Cannot create the snapshot because a snapshot with the identifier {ident} already exists.")


def snapshot_state(message: str) -> AwsError:
    return fault("InvalidDBSnapshotState", message)


def automated_backup_not_found(ref: str) -> AwsError:
    return fault("DBInstanceAutomatedBackupNotFound", f"Automated backup {ref} not found.")


def not_implemented(what: str) -> AwsError:
    """A parameter Kura accepts on the wire but cannot honour: refused clearly, never ignored."""
    return combination(f"kura does not implement {what}.")
