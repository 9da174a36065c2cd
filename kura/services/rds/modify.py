"""ModifyDBInstance.

With ApplyImmediately the new values go into the spec now (the control plane applies them and the
instance shows `modifying`); without, the settings RDS defers wait in PendingModifiedValues for the
maintenance window. The settings RDS always applies at once (security groups, parameter group,
port, windows, flags, password) go into the spec either way, as on AWS.
"""

from __future__ import annotations

from typing import Any

from kura.services.rds import (
    automated_backups,
    catalogue,
    cluster_members,
    errors,
    insights,
    instance_network,
    master_secret,
    replicas,
    shared,
    views,
)
from kura.services.rds import instance_validation as check
from kura.services.rds.parameter_groups import find
from kura.services.rds.records import KIND_INSTANCE
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

MODIFIABLE = ("available", "backing-up", "storage-full", "incompatible-parameters", "modifying")
_REFUSED = {
    "NewDBInstanceIdentifier": "renaming DB instances (NewDBInstanceIdentifier) yet",
    "Engine": "changing the engine of a DB instance",
    "ReplicaMode": "mounted replicas (ReplicaMode, Oracle only)",
    "DisableDomain": "Kerberos authentication (DisableDomain)",
    "AwsBackupRecoveryPointArn": "AWS Backup recovery points",
    "AutomationMode": "RDS Custom automation modes", "ResumeFullAutomationModeMinutes": "RDS Custom",
    "UseDefaultProcessorFeatures": "processor features (Oracle only)",
    "OptionGroupName": "option groups other than the default",
}


class Change:
    """The spec being built, what waits for the maintenance window, and a line per change for the event."""

    def __init__(self, res: Resource, immediate: bool) -> None:
        self.spec = dict(res.spec)
        self.pending = dict(res.spec.get("PendingModifiedValues") or {})
        self.immediate = immediate
        self.notes: list[str] = []

    def now(self, key: str, value: Any) -> None:
        if self.spec.get(key) != value:
            self.spec[key] = value
            self.notes.append(f"{key}={value}")

    def deferred(self, key: str, value: Any, *, immediate: bool | None = None) -> None:
        """A setting RDS applies in the maintenance window unless ApplyImmediately."""
        at_once = self.immediate if immediate is None else immediate
        if at_once:
            self.pending.pop(key, None)
            self.now(key, value)
        elif self.spec.get(key) == value:
            self.pending.pop(key, None)
        else:
            self.pending[key] = value
            self.notes.append(f"{key}={value} (pending until the maintenance window)")


def _refuse(params: dict[str, Any], spec: dict[str, Any]) -> None:
    for name, what in _REFUSED.items():
        value = params.get(name)
        if value is None or (name == "OptionGroupName" and value == _option_group(spec)):
            continue
        if name == "Engine" and value == spec.get("Engine"):
            continue
        raise errors.not_implemented(what)
    check.refuse_unsupported({k: v for k, v in params.items() if k in check.UNSUPPORTED or k in (
        "NetworkType", "LicenseModel", "MasterUserAuthenticationType")})


def _replication(ctx: Ctx, res: Resource, params: dict[str, Any]) -> None:
    """What RDS for PostgreSQL refuses around read replicas: backups or a new master password on a
    replica (the password comes from its source), and turning off the backups of a replica's source."""
    retention = params.get("BackupRetentionPeriod")
    if views.replica_source(res.spec, res.status) is not None:
        if retention:
            raise errors.instance_state("DB Backups not supported on a read replica for engine postgres")
        if params.get("MasterUserPassword") is not None or params.get("ManageMasterUserPassword") \
                or params.get("RotateMasterUserPassword"):
            raise errors.combination(f"DB instance {res.id} is a read replica: its master user password is "
                                     "its source's. Change it on the source, or promote the replica first.")
    elif retention is not None:
        replicas.keep_backups(ctx, res, retention)


def _option_group(spec: dict[str, Any]) -> str:
    return f"default:postgres-{str(spec['EngineVersion']).split('.')[0]}"


def _engine_version(ctx: Ctx, c: Change, params: dict[str, Any]) -> None:
    wanted = params.get("EngineVersion")
    if wanted is None:
        return
    current = str(c.spec["EngineVersion"])
    major, version = catalogue.resolve_version(ctx.store, wanted)
    if catalogue.version_key(version) < catalogue.version_key(current):
        raise errors.combination(f"Cannot upgrade postgres from {current} to {version}")
    if major != int(current.split(".")[0]):
        raise errors.not_implemented(f"major version upgrades yet (from {current} to {version})")
    c.deferred("EngineVersion", version)


def _storage(c: Change, params: dict[str, Any], current: int) -> None:
    keys = ("AllocatedStorage", "StorageType", "Iops", "StorageThroughput", "MaxAllocatedStorage")
    if all(params.get(k) is None for k in keys):
        return
    allocated = params.get("AllocatedStorage", current)
    if allocated < current:
        raise errors.combination(f"Invalid storage size {allocated}: allocated storage can't be reduced "
                                 f"(it is {current} GiB).")
    if current < allocated < current * 1.1:
        raise errors.combination("The storage size must be increased by at least 10%.")
    kind = params.get("StorageType", c.spec["StorageType"])
    iops, throughput = params.get("Iops"), params.get("StorageThroughput")
    if iops is None and throughput is None:
        iops, throughput = check.kept_performance(c.spec, current, kind, allocated)
    max_allocated = params.get("MaxAllocatedStorage", c.spec.get("MaxAllocatedStorage"))
    settled = check.storage(kind, allocated, iops, throughput, max_allocated)
    for key in ("AllocatedStorage", "StorageType", "Iops", "StorageThroughput"):
        if settled[key] is not None or key in c.spec:
            c.deferred(key, settled[key])
    c.now("MaxAllocatedStorage", settled["MaxAllocatedStorage"])


def _deferrable(ctx: Ctx, res: Resource, c: Change, params: dict[str, Any]) -> None:
    if params.get("DBInstanceClass") is not None:
        check.instance_class(params["DBInstanceClass"], str(c.spec["EngineVersion"]))
        c.deferred("DBInstanceClass", params["DBInstanceClass"])
    _engine_version(ctx, c, params)
    _storage(c, params, views.allocated_storage(res.spec, res.status))
    if params.get("MultiAZ") is not None:
        c.deferred("MultiAZ", bool(params["MultiAZ"]))
    if params.get("CACertificateIdentifier") is not None:
        c.deferred("CACertificateIdentifier", check.ca_certificate(params["CACertificateIdentifier"]))
    retention = params.get("BackupRetentionPeriod")
    if retention is not None:
        check.backup_retention(retention)
        # Only turning backups on or off waits for the window; other retention changes apply at once.
        toggles = (retention == 0) != (int(c.spec.get("BackupRetentionPeriod", 0)) == 0)
        c.deferred("BackupRetentionPeriod", retention, immediate=None if toggles else True)
    group = params.get("DBSubnetGroupName")
    if group is not None and group.lower() != c.spec.get("DBSubnetGroupName"):
        raise errors.not_implemented("moving a DB instance to another DB subnet group")


def _network(ctx: Ctx, res: Resource, c: Change, params: dict[str, Any]) -> None:
    if params.get("VpcSecurityGroupIds") is not None:
        vpc = instance_network.vpc_of(ctx, res)
        groups = instance_network.security_groups(ctx, params["VpcSecurityGroupIds"], vpc)
        c.now("VpcSecurityGroupIds", groups)
    if params.get("DBPortNumber") is not None:
        check.port(params["DBPortNumber"])
        c.now("Port", params["DBPortNumber"])
    if params.get("PubliclyAccessible") is not None:
        c.now("PubliclyAccessible", bool(params["PubliclyAccessible"]))
    if params.get("DBParameterGroupName") is not None:
        group = find(ctx, params["DBParameterGroupName"])
        family = views.family(c.spec)
        if group.family != family:
            raise errors.combination(f"The parameter group {group.name} with DBParameterGroupFamily "
                                     f"{group.family} can't be used for this instance. Use a parameter group "
                                     f"with DBParameterGroupFamily {family}.")
        c.now("DBParameterGroupName", group.name)


def _operations(ctx: Ctx, c: Change, params: dict[str, Any]) -> None:
    if params.get("PreferredBackupWindow") is not None:
        check.backup_window(params["PreferredBackupWindow"])
        c.now("PreferredBackupWindow", params["PreferredBackupWindow"])
    if params.get("PreferredMaintenanceWindow") is not None:
        c.now("PreferredMaintenanceWindow", check.maintenance_window(params["PreferredMaintenanceWindow"]))
    for key in ("AutoMinorVersionUpgrade", "DeletionProtection", "CopyTagsToSnapshot"):
        if params.get(key) is not None:
            c.now(key, bool(params[key]))
    if params.get("EnableIAMDatabaseAuthentication") is not None:
        c.now("EnableIAMDatabaseAuthentication", bool(params["EnableIAMDatabaseAuthentication"]))
    if params.get("MonitoringInterval") is not None or params.get("MonitoringRoleArn") is not None:
        interval = params.get("MonitoringInterval", c.spec.get("MonitoringInterval", 0))
        role = params.get("MonitoringRoleArn", c.spec.get("MonitoringRoleArn"))
        check.monitoring(interval, role)
        c.now("MonitoringInterval", interval)
        c.now("MonitoringRoleArn", role if interval else None)
    _insights(ctx, c, params)
    exports = params.get("CloudwatchLogsExportConfiguration")
    if exports:
        current = list(c.spec.get("EnableCloudwatchLogsExports") or [])
        wanted = [t for t in current + list(exports.get("EnableLogTypes") or [])
                  if t not in (exports.get("DisableLogTypes") or [])]
        c.now("EnableCloudwatchLogsExports", check.log_exports(wanted, str(c.spec["EngineVersion"])))


def _insights(ctx: Ctx, c: Change, params: dict[str, Any]) -> None:
    for key, value in (insights.changed(ctx, c.spec, params) or {}).items():
        c.now(key, value)


def _credentials(ctx: Ctx, res: Resource, c: Change, params: dict[str, Any]) -> None:
    """Master password changes: a new sealed password, or a managed secret turned on or off."""
    manage, password = params.get("ManageMasterUserPassword"), params.get("MasterUserPassword")
    managed_now = bool(c.spec.get("ManageMasterUserPassword"))
    if params.get("RotateMasterUserPassword"):
        if not params.get("ApplyImmediately"):
            raise errors.combination("RotateMasterUserPassword requires ApplyImmediately.")
        if not managed_now or manage is False:
            raise errors.combination("RotateMasterUserPassword needs a master user password managed in "
                                     "Secrets Manager (ManageMasterUserPassword).")
        master_secret.rotate(ctx, str(c.spec["MasterUserSecretArn"]))
        c.notes.append("master user secret rotation requested")
    if params.get("MasterUserSecretKmsKeyId") and not (manage and not managed_now):
        raise errors.not_implemented("changing the KMS key of an existing master user secret")
    if manage and not managed_now:
        if password is not None:
            raise errors.combination("You can't specify MasterUserPassword when ManageMasterUserPassword is "
                                     "turned on.")
        key = check.kms_key(ctx, params.get("MasterUserSecretKmsKeyId"), master_secret.DEFAULT_KEY_ALIAS)
        secret = master_secret.create(ctx, username=str(c.spec["MasterUsername"]), kms_key_arn=key,
                                      tags=dict(c.spec.get("Tags") or {}))
        c.spec.pop("master_password_sealed", None)
        c.spec.update(ManageMasterUserPassword=True, MasterUserSecretArn=secret.arn,
                      MasterUserSecretKmsKeyId=secret.kms_key_arn)
        _password_changed(c, "master user password now managed in Secrets Manager")
        return
    if manage is False and managed_now:
        if password is None:
            raise errors.combination("Specify MasterUserPassword when turning off ManageMasterUserPassword.")
        master_secret.delete(ctx, str(c.spec.pop("MasterUserSecretArn")))
        c.spec.pop("MasterUserSecretKmsKeyId", None)
        c.spec["ManageMasterUserPassword"] = False
    elif password is not None and managed_now:
        raise errors.combination("You can't specify MasterUserPassword for a DB instance whose master user "
                                 "password is managed in Secrets Manager.")
    if password is not None:
        check.password(password)
        c.spec["master_password_sealed"] = master_secret.seal(ctx, shared.arn(ctx, KIND_INSTANCE, res.id),
                                                              password)
        _password_changed(c, "master user password change requested")


def _password_changed(c: Change, note: str) -> None:
    c.spec["password_seq"] = int(c.spec.get("password_seq", 0)) + 1
    c.notes.append(note)


@operation("rds", "ModifyDBInstance")
def modify_db_instance(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction():
        res = shared.get_instance(ctx, params["DBInstanceIdentifier"])
        _refuse(params, res.spec)
        if res.spec.get("DBClusterIdentifier"):
            cluster_members.check_modify(params)
        state = views.instance_status(res.spec, res.status)
        if state not in MODIFIABLE:
            raise errors.instance_state(f"Database instance is not in available state (it is {state}).")
        _replication(ctx, res, params)
        c = Change(res, bool(params.get("ApplyImmediately")))
        _deferrable(ctx, res, c, params)
        _network(ctx, res, c, params)
        _operations(ctx, c, params)
        _credentials(ctx, res, c, params)
        c.spec["PendingModifiedValues"] = c.pending
        res = ctx.store.update(res, spec=c.spec)
        automated_backups.follow(ctx.store, ctx.account, res)
        if c.notes:
            shared.record(ctx, KIND_INSTANCE, res.id, "Modification requested: " + ", ".join(c.notes),
                          "configuration change")
    return {"DBInstance": views.instance(res, ctx.account, ctx.store)}
