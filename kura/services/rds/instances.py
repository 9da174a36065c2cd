"""CreateDBInstance and DescribeDBInstances.

CreateDBInstance validates, writes the desired instance and answers `creating` at once; the RDS
reconciler (control plane) makes the real PostgreSQL server.
"""

from __future__ import annotations

from typing import Any

from kura.services.common import filters
from kura.services.common import tags as tagging
from kura.services.common.pagination import rds_page
from kura.services.rds import (
    automated_backups,
    catalogue,
    classes,
    cluster_members,
    errors,
    insights,
    instance_network,
    master_secret,
    shared,
    views,
)
from kura.services.rds import instance_validation as check
from kura.services.rds.parameter_groups import default_name, find
from kura.services.rds.records import KIND_INSTANCE
from kura.services.registry import Ctx, operation
from kura.store.types import Resource

DEFAULT_PORT = 5432


def refuse(params: dict[str, Any]) -> None:
    """What a DB instance outside a DB cluster can't be (cluster members are checked by cluster_members)."""
    catalogue.check_engine(params["Engine"])
    if params.get("DBInstanceClass") == classes.SERVERLESS and not params.get("DBClusterIdentifier"):
        raise errors.combination("The db.serverless DB instance class is for the DB instances of Aurora DB "
                                 "clusters: name the cluster with DBClusterIdentifier.")
    check.refuse_unsupported(params)


def credentials(ctx: Ctx, owner_arn: str, params: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    """MasterUsername and the password: a managed secret, or sealed bound to `owner_arn` (the instance's
    or the DB cluster's)."""
    user = params.get("MasterUsername")
    if not user:
        raise errors.invalid("The parameter MasterUsername must be provided and must not be blank.")
    check.username(user)
    password = params.get("MasterUserPassword")
    if params.get("ManageMasterUserPassword"):
        if password is not None:
            raise errors.combination("You can't specify MasterUserPassword when ManageMasterUserPassword is "
                                     "turned on.")
        key = check.kms_key(ctx, params.get("MasterUserSecretKmsKeyId"), master_secret.DEFAULT_KEY_ALIAS)
        secret = master_secret.create(ctx, username=user, kms_key_arn=key, tags=tags)
        return {"MasterUsername": user, "ManageMasterUserPassword": True, "MasterUserSecretArn": secret.arn,
                "MasterUserSecretKmsKeyId": secret.kms_key_arn}
    if params.get("MasterUserSecretKmsKeyId"):
        raise errors.combination("MasterUserSecretKmsKeyId needs ManageMasterUserPassword.")
    if not password:
        raise errors.invalid("The parameter MasterUserPassword must be provided and must not be blank.")
    check.password(password)
    sealed = master_secret.seal(ctx, owner_arn, password)
    return {"MasterUsername": user, "ManageMasterUserPassword": False, "master_password_sealed": sealed}


def _storage(params: dict[str, Any]) -> dict[str, Any]:
    allocated = params.get("AllocatedStorage")
    if allocated is None:
        raise errors.invalid("The parameter AllocatedStorage must be provided and must not be blank.")
    kind = params.get("StorageType") or ("io1" if params.get("Iops") else "gp2")
    return check.storage(kind, int(allocated), params.get("Iops"), params.get("StorageThroughput"),
                         params.get("MaxAllocatedStorage"))


def encryption(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    encrypted = params.get("StorageEncrypted")
    if params.get("KmsKeyId") and encrypted is False:
        raise errors.combination("A KmsKeyId needs StorageEncrypted: turn on storage encryption.")
    if not (encrypted or params.get("KmsKeyId")):
        return {"StorageEncrypted": False}
    return {"StorageEncrypted": True, "KmsKeyId": check.kms_key(ctx, params.get("KmsKeyId"), "alias/aws/rds")}


def _operations(ctx: Ctx, ident: str, params: dict[str, Any]) -> dict[str, Any]:
    """Backups, windows, monitoring and Performance Insights settings."""
    retention = params.get("BackupRetentionPeriod", 1)
    check.backup_retention(retention)
    backup, maintenance = check.default_windows(ident)
    backup = params.get("PreferredBackupWindow") or backup
    check.backup_window(backup)
    maintenance = check.maintenance_window(params.get("PreferredMaintenanceWindow") or maintenance)
    interval = params.get("MonitoringInterval", 0)
    check.monitoring(interval, params.get("MonitoringRoleArn"))
    out: dict[str, Any] = {
        "BackupRetentionPeriod": retention, "PreferredBackupWindow": backup,
        "PreferredMaintenanceWindow": maintenance, "MonitoringInterval": interval,
        "MonitoringRoleArn": params.get("MonitoringRoleArn") if interval else None,
        **insights.settings(ctx, params),
    }
    return out


def _engine(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    major, version = catalogue.resolve_version(ctx.store, params.get("EngineVersion"))
    check.instance_class(params["DBInstanceClass"], version)
    option_group = params.get("OptionGroupName")
    if option_group is not None and option_group != f"default:postgres-{major}":
        raise errors.fault("OptionGroupNotFoundFault",
                           f"Specified OptionGroupName: {option_group} not found.")
    charset = params.get("CharacterSetName")
    if charset is not None and charset.upper().replace("-", "") != "UTF8":
        raise errors.invalid(f"Invalid CharacterSetName {charset}: "
                             "kura creates PostgreSQL databases in UTF8.")
    aurora = bool(params.get("DBClusterIdentifier"))
    group = find(ctx, params.get("DBParameterGroupName") or default_name(major, aurora))
    if group.family != catalogue.family_of(major, aurora):
        raise errors.combination(f"The parameter group {group.name} with DBParameterGroupFamily "
                                 f"{group.family} can't be used for this instance. Use a parameter group "
                                 f"with DBParameterGroupFamily {catalogue.family_of(major, aurora)}.")
    port = params.get("Port", DEFAULT_PORT)
    check.port(port)
    if params.get("DBName") is not None:
        check.db_name(params["DBName"])
    return {"Engine": "postgres", "EngineVersion": version, "DBInstanceClass": params["DBInstanceClass"],
            "DBParameterGroupName": group.name, "Port": port, "DBName": params.get("DBName"),
            "CharacterSetName": "UTF8" if charset else None, "LicenseModel": "postgresql-license",
            "EnableCloudwatchLogsExports": check.log_exports(params.get("EnableCloudwatchLogsExports") or [],
                                                             version)}


def settings(ctx: Ctx, ident: str, params: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    """Everything the spec of a new instance holds but its credentials: CreateDBInstance's and the
    restores', which pass the source's values as defaults in `params`."""
    spec: dict[str, Any] = {"DBInstanceIdentifier": ident, **_engine(ctx, params), **_storage(params)}
    spec.update(instance_network.placement(ctx, params))
    spec.update(_operations(ctx, ident, params))
    spec.update(encryption(ctx, params))
    spec.update({
        "MultiAZ": bool(params.get("MultiAZ")),
        "AutoMinorVersionUpgrade": params.get("AutoMinorVersionUpgrade", True),
        "DeletionProtection": bool(params.get("DeletionProtection")),
        "CopyTagsToSnapshot": bool(params.get("CopyTagsToSnapshot")),
        "CACertificateIdentifier": check.ca_certificate(params.get("CACertificateIdentifier")
                                                        or check.DEFAULT_CA),
        "EnableIAMDatabaseAuthentication": bool(params.get("EnableIAMDatabaseAuthentication")),
        "NetworkType": "IPV4", "Tags": tags, "DbiResourceId": shared.new_resource_id(),
        "InstanceCreateTime": ctx.now(), "PendingModifiedValues": {},
        "desired": "available", "reboot_seq": 0, "password_seq": 0,
    })
    return spec


def check_new(ctx: Ctx, ident: str) -> None:
    if ctx.store.get(KIND_INSTANCE, ctx.region, ident) is not None:
        raise errors.fault("DBInstanceAlreadyExists", "DB instance already exists")


def insert(ctx: Ctx, spec: dict[str, Any], message: str, category: str) -> Resource:
    """Store a new instance with its automated backup record and its event (in the caller's transaction)."""
    ident = str(spec["DBInstanceIdentifier"])
    res = ctx.store.create(KIND_INSTANCE, ctx.region, ident, {k: v for k, v in spec.items() if v is not None})
    automated_backups.start(ctx.store, ctx.account, res)
    shared.record(ctx, KIND_INSTANCE, ident, message, category)
    return res


def insert_copy(ctx: Ctx, ident: str, params: dict[str, Any], tags: dict[str, str], master_username: str,
                extra: dict[str, Any], message: str, category: str) -> Resource:
    """Check, build and store an instance whose data comes from another (a restore, a read replica):
    `params` has the source's values filled in; the master user comes with the data, keeping the
    password it has there (none is sealed). `extra` says where the data comes from."""
    refuse(params)
    spec = settings(ctx, ident, params, tags)
    spec.update({"MasterUsername": master_username, "ManageMasterUserPassword": False, **extra})
    return insert(ctx, spec, message, category)


@operation("rds", "CreateDBInstance")
def create_db_instance(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    ident = shared.check_identifier(params["DBInstanceIdentifier"], "DBInstanceIdentifier")
    if params.get("DBClusterIdentifier"):
        with ctx.store.transaction():
            res = cluster_members.create(ctx, params)
        return {"DBInstance": views.instance(res, ctx.account, ctx.store)}
    refuse(params)
    tags = tagging.normalize(params.get("Tags"))
    with ctx.store.transaction():
        check_new(ctx, ident)
        spec = settings(ctx, ident, params, tags)
        # Credentials last: a managed secret is made only once everything else checked out.
        spec.update(credentials(ctx, shared.arn(ctx, KIND_INSTANCE, ident), params, tags))
        res = insert(ctx, spec, "DB instance creation requested", "creation")
    return {"DBInstance": views.instance(res, ctx.account, ctx.store)}


def _getters(ctx: Ctx) -> dict[str, filters.Getter]:
    return {
        "db-instance-id": lambda r: [r.id, shared.arn(ctx, KIND_INSTANCE, r.id)],
        "dbi-resource-id": lambda r: r.spec.get("DbiResourceId"),
        "engine": lambda r: r.spec.get("Engine"),
        "db-cluster-id": lambda r: r.spec.get("DBClusterIdentifier"),
        "domain": lambda r: None,
    }


@operation("rds", "DescribeDBInstances")
def describe_db_instances(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    ref = params.get("DBInstanceIdentifier")
    found = [shared.get_instance(ctx, ref)] if ref else shared.instances(ctx)
    found = filters.apply(found, params.get("Filters"), _getters(ctx))
    page, marker = rds_page(found, lambda r: r.id, params)
    items = [views.instance(r, ctx.account, ctx.store) for r in page]
    return shared.with_marker({"DBInstances": items}, marker)
