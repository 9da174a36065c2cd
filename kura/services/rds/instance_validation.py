"""The checks CreateDBInstance and ModifyDBInstance share, with RDS's codes and wording."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from kura.api.errors import AwsError
from kura.net import tls
from kura.services.kms import internal as kms
from kura.services.rds import classes, errors
from kura.services.registry import Ctx

DEFAULT_CA = tls.DEFAULT_CA
LOG_EXPORTS = ("postgresql", "upgrade", "iam-db-auth-error")
MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)
# (min, max) GiB of RDS for PostgreSQL per storage type.
STORAGE_RANGES = {"gp2": (20, 65536), "gp3": (20, 65536), "io1": (100, 65536), "io2": (100, 65536),
                  "standard": (5, 3072)}
GP3_BASELINE_GIB = 400  # below it gp3 has a fixed 3000 IOPS / 125 MiB/s on PostgreSQL

# PostgreSQL's reserved key words and the roles RDS keeps for itself: not usable as names.
RESERVED = frozenset((
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both", "case",
    "cast", "check", "collate", "column", "constraint", "create", "current_catalog", "current_date",
    "current_role", "current_time", "current_timestamp", "current_user", "default", "deferrable",
    "desc", "distinct", "do", "else", "end", "except", "false", "fetch", "for", "foreign", "from",
    "grant", "group", "having", "in", "initially", "intersect", "into", "lateral", "leading", "limit",
    "localtime", "localtimestamp", "not", "null", "offset", "on", "only", "or", "order", "placing",
    "primary", "references", "returning", "select", "session_user", "some", "symmetric", "system_user",
    "table", "then", "to", "trailing", "true", "union", "unique", "user", "using", "variadic", "when",
    "where", "window", "with", "rdsadmin", "rdsrepladmin", "rds_superuser", "rds_replication",
    "rds_password", "rdstopmgr", "public",
))
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_PASSWORD = re.compile(r'^[\x21-\x7e]+$')
_BACKUP_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_MAINT_WINDOW = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)-"
                           r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)$", re.IGNORECASE)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEK = 7 * 24 * 60


def instance_class(name: str, engine_version: str) -> None:
    if name == classes.SERVERLESS:
        return  # its cluster must have a Serverless v2 capacity range (cluster_members checks it)
    if not classes.well_formed(name):
        raise errors.invalid(f"Invalid DB Instance class: {name}")
    if classes.lookup(name) is None:
        raise errors.combination(
            "RDS does not support creating a DB instance with the following combination: "
            f"DBInstanceClass={name}, Engine=postgres, EngineVersion={engine_version}, "
            "LicenseModel=postgresql-license. For supported combinations of instance class and database "
            "engine version, see the documentation.")


def password(value: str) -> None:
    if len(value) < 8 or len(value) > 128:
        raise errors.invalid("The parameter MasterUserPassword is not a valid password because it is "
                             f"{'shorter than 8' if len(value) < 8 else 'longer than 128'} characters.")
    if not _PASSWORD.match(value) or any(c in value for c in '/"@'):
        raise errors.invalid("The parameter MasterUserPassword is not a valid password. Only printable ASCII "
                             "characters besides '/', '@', '\"', ' ' may be used.")


def username(value: str) -> None:
    if not _NAME.match(value):
        raise errors.invalid("The parameter MasterUsername is not a valid identifier. Identifiers must begin "
                             "with a letter; must contain only ASCII letters, digits, and underscores; and "
                             "must be 1 to 63 characters long.")
    if value.lower() in RESERVED or value.lower().startswith("pg_"):
        raise errors.invalid(f"MasterUsername {value} cannot be used as it is a reserved word used by the "
                             "engine")


def db_name(value: str) -> None:
    if not _NAME.match(value):
        raise errors.invalid("DBName must begin with a letter and contain only alphanumeric characters and "
                             "underscores (at most 63).")
    if value.lower() in RESERVED or value.lower() in ("template0", "template1"):
        raise errors.invalid(f"DBName {value} cannot be used as it is a reserved word used by the engine")


def port(value: int) -> None:
    if not 1150 <= value <= 65535:
        raise errors.invalid(f"Invalid port {value}: the port must be between 1150 and 65535.")


def storage(storage_type: str, allocated: int, iops: int | None, throughput: int | None,
            max_allocated: int | None) -> dict[str, Any]:
    """Checked storage settings, with gp3's baseline IOPS and throughput filled in as RDS shows them."""
    if storage_type not in STORAGE_RANGES:
        raise errors.invalid(f"Invalid storage type: {storage_type}")
    low, high = STORAGE_RANGES[storage_type]
    if not low <= allocated <= high:
        raise errors.combination(
            f"Invalid storage size for engine name postgres and storage type {storage_type}: {allocated}")
    if max_allocated is not None and max_allocated != 0 and not allocated <= max_allocated <= high:
        raise errors.combination(
            f"Invalid max storage size for engine name postgres and storage type {storage_type}: "
            f"{max_allocated} (it must be between the allocated storage, {allocated}, and {high}).")
    if throughput is not None and storage_type != "gp3":
        raise errors.combination(f"Storage throughput can only be set for gp3 storage, not {storage_type}.")
    if storage_type in ("io1", "io2"):
        if iops is None or not 1000 <= iops <= 256000:
            raise errors.combination(f"Invalid IOPS for storage type {storage_type}: specify 1000 to 256000.")
    elif storage_type == "gp3":
        iops, throughput = _gp3(allocated, iops, throughput)
    elif iops is not None:
        raise errors.combination(f"Invalid storage type for IOPS: {storage_type}")
    out: dict[str, Any] = {"StorageType": storage_type, "AllocatedStorage": allocated, "Iops": iops,
                           "StorageThroughput": throughput,
                           "MaxAllocatedStorage": max_allocated or None}
    return out


def kept_performance(before: dict[str, Any], size_before: int, storage_type: str, allocated: int
                     ) -> tuple[int | None, int | None]:
    """The IOPS and throughput a storage change keeps when none are asked for: the current ones, unless
    the storage type changes or gp3 crosses its baseline size (its performance is then the new size's)."""
    if storage_type != before.get("StorageType"):
        return None, None
    if storage_type == "gp3" and min(size_before, allocated) < GP3_BASELINE_GIB:
        return None, None
    return before.get("Iops"), before.get("StorageThroughput")


def inherited_storage(source: dict[str, Any], size: int, given: dict[str, Any], what: str) -> dict[str, Any]:
    """AllocatedStorage, StorageType, Iops and StorageThroughput of an instance made from `source` (whose
    storage is `size` GiB): the source's unless `given` says otherwise, and never smaller."""
    allocated = int(given.get("AllocatedStorage", size))
    if allocated < size:
        raise errors.combination(f"The allocated storage of the {what} ({allocated} GiB) can't be less than "
                                 f"the source's ({size} GiB).")
    kind = str(given.get("StorageType") or source["StorageType"])
    iops, throughput = given.get("Iops"), given.get("StorageThroughput")
    if iops is None and throughput is None:
        iops, throughput = kept_performance(source, size, kind, allocated)
    return {"AllocatedStorage": allocated, "StorageType": kind, "Iops": iops, "StorageThroughput": throughput}


def _gp3(allocated: int, iops: int | None, throughput: int | None) -> tuple[int, int]:
    if allocated < GP3_BASELINE_GIB:
        if (iops is not None and iops != 3000) or (throughput is not None and throughput != 125):
            raise errors.combination("You can't specify IOPS or storage throughput for engine postgres and a "
                                     f"storage size less than {GP3_BASELINE_GIB}.")
        return 3000, 125
    iops = 12000 if iops is None else iops
    throughput = 500 if throughput is None else throughput
    if not 12000 <= iops <= 64000 or not 500 <= throughput <= 4000:
        raise errors.combination("For gp3 storage of 400 GiB or more, IOPS must be 12000 to 64000 and "
                                 "storage throughput 500 to 4000 MiB/s.")
    return iops, throughput


def backup_retention(days: int) -> None:
    if not 0 <= days <= 35:
        raise errors.invalid(f"Invalid backup retention period: {days}. It must be between 0 and 35 days.")


def backup_window(value: str) -> tuple[int, int]:
    """Minutes of the day (start, end)."""
    match = _BACKUP_WINDOW.match(value)
    if not match:
        raise errors.invalid(f"Invalid preferred backup window: {value}. "
                             "Use the format hh24:mi-hh24:mi (UTC).")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if (end - start) % (24 * 60) < 30:
        raise errors.invalid("The backup window must be at least 30 minutes.")
    return start, end


def maintenance_window(value: str) -> str:
    match = _MAINT_WINDOW.match(value)
    if not match:
        raise errors.invalid(f"Invalid preferred maintenance window: {value}. "
                             "Use the format ddd:hh24:mi-ddd:hh24:mi (UTC).")
    d1, h1, m1, d2, h2, m2 = match.groups()
    start = _DAYS.index(d1.lower()) * 1440 + int(h1) * 60 + int(m1)
    end = _DAYS.index(d2.lower()) * 1440 + int(h2) * 60 + int(m2)
    if (end - start) % _WEEK < 30:
        raise errors.invalid("The maintenance window must be at least 30 minutes.")
    return value.lower()


def default_windows(identifier: str) -> tuple[str, str]:
    """A stable 30-minute backup window and a maintenance window that does not overlap it."""
    seed = hashlib.sha256(identifier.encode()).digest()
    hour, half = seed[0] % 23, (seed[1] % 2) * 30
    backup = f"{hour:02d}:{half:02d}-{hour + (half + 30) // 60:02d}:{(half + 30) % 60:02d}"
    m_hour = (hour + 2 + seed[2] % 20) % 24
    day = _DAYS[seed[3] % 7]
    end_day = day if m_hour < 23 else _DAYS[(_DAYS.index(day) + 1) % 7]
    maintenance = f"{day}:{m_hour:02d}:{half:02d}-{end_day}:{(m_hour + 1) % 24:02d}:{half:02d}"
    return backup, maintenance


def monitoring(interval: int, role_arn: str | None) -> None:
    if interval not in MONITORING_INTERVALS:
        raise errors.invalid(f"Invalid MonitoringInterval: {interval}. "
                             "Valid values are 0, 1, 5, 10, 15, 30, 60.")
    if interval and not role_arn:
        raise errors.combination("A MonitoringRoleARN value is required if you specify a MonitoringInterval "
                                 "value other than 0.")


def pi_retention(days: int) -> None:
    if days not in (7, 731) and not (days % 31 == 0 and 1 <= days // 31 <= 23):
        raise errors.invalid("Invalid Performance Insights retention period. Valid values are: 7, month * 31 "
                             "(where month is 1-23), 731")


def log_exports(types: list[str], version: str) -> list[str]:
    bad = [t for t in types if t not in LOG_EXPORTS]
    if bad:
        raise errors.invalid(f"You cannot use the log types '{', '.join(bad)}' with engine version postgres "
                             f"{version}. For supported log types, see the documentation.")
    return list(dict.fromkeys(types))


def ca_certificate(identifier: str) -> str:
    if identifier not in tls.CA_IDENTIFIERS:
        raise errors.fault("CertificateNotFound", f"Certificate {identifier} not found.")
    return identifier


def kms_key(ctx: Ctx, ref: str | None, default_alias: str) -> str:
    """The key ARN; KMS failures become RDS's KMSKeyNotAccessibleFault, as RDS reports them."""
    try:
        return kms.resolve_key(ctx.env, ctx.region, ref, default_alias=default_alias)
    except AwsError as exc:
        raise errors.fault("KMSKeyNotAccessibleFault",
                           f"The specified KMS key [{ref or default_alias}] does not exist, is not enabled "
                           "or you do not have permissions to access it.") from exc


# Parameters of the wire model Kura cannot honour for RDS for PostgreSQL on this host.
UNSUPPORTED = {
    "DBSecurityGroups": "DB security groups (EC2-Classic); use VpcSecurityGroupIds",
    "Domain": "Kerberos authentication (Domain)", "DomainFqdn": "self-managed Active Directory",
    "DomainOu": "self-managed Active Directory", "DomainAuthSecretArn": "self-managed Active Directory",
    "DomainDnsIps": "self-managed Active Directory", "DomainIAMRoleName": "Kerberos authentication",
    "TdeCredentialArn": "TDE (an Oracle/SQL Server feature)", "Timezone": "Timezone (SQL Server only)",
    "ProcessorFeatures": "processor features (Oracle only)", "CustomIamInstanceProfile": "RDS Custom",
    "EnableCustomerOwnedIp": "RDS on Outposts", "DBSystemId": "RDS Custom for Oracle",
    "MultiTenant": "multi-tenant instances (Oracle only)", "DedicatedLogVolume": "dedicated log volumes",
    "AdditionalStorageVolumes": "additional storage volumes",
    "DBCapacityReservationIdentifier": "capacity reservations", "NcharCharacterSetName": "NCHAR (Oracle)",
}


def refuse_unsupported(params: dict[str, Any]) -> None:
    for name, what in UNSUPPORTED.items():
        value = params.get(name)
        if value not in (None, False, [], ""):
            raise errors.not_implemented(f"{what} ({name})")
    if params.get("BackupTarget", "region") != "region":
        raise errors.not_implemented("backups on Outposts (BackupTarget)")
    if params.get("NetworkType", "IPV4") != "IPV4":
        raise errors.not_implemented(f"NetworkType {params['NetworkType']} (IPv4 only)")
    if params.get("LicenseModel", "postgresql-license") != "postgresql-license":
        raise errors.invalid(f"Invalid license model {params['LicenseModel']} for postgres: "
                             "use postgresql-license.")
    if params.get("MasterUserAuthenticationType", "password") != "password":
        raise errors.not_implemented("IAM master user authentication (MasterUserAuthenticationType)")
