"""DescribeDBEngineVersions and DescribeOrderableDBInstanceOptions, from the engine catalogue.

Only the PostgreSQL versions installed on this host are listed: RDS's list is what you can launch,
and here that is what `kura engines install` (or the OS) put on the machine.
"""

from __future__ import annotations

from typing import Any

from kura.net import tls
from kura.services.common import filters
from kura.services.common.pagination import rds_page
from kura.services.ec2 import lookup
from kura.services.rds import catalogue, classes, errors, shared
from kura.services.rds import instance_validation as check
from kura.services.rds.catalogue import Version
from kura.services.registry import Ctx, operation


def _sort_key(version: str) -> str:
    return ".".join(f"{p:08d}" for p in catalogue.version_key(version))


def _matches_version(v: Version, wanted: str | None) -> bool:
    if wanted is None:
        return True
    return v.version == wanted or ("." not in wanted and str(v.major) == wanted)


def _view(v: Version, installed: list[Version]) -> dict[str, Any]:
    later = [u for u in installed if catalogue.version_key(u.version) > catalogue.version_key(v.version)]
    return {
        "Engine": catalogue.ENGINE,
        "EngineVersion": v.version,
        "MajorEngineVersion": str(v.major),
        "DBParameterGroupFamily": v.family,
        "DBEngineDescription": "PostgreSQL",
        "DBEngineVersionDescription": f"PostgreSQL {v.version} ({v.source or 'local'} build on this host)",
        "ValidUpgradeTarget": [{"Engine": catalogue.ENGINE, "EngineVersion": u.version,
                                "Description": f"PostgreSQL {u.version}", "AutoUpgrade": False,
                                "IsMajorVersionUpgrade": u.major != v.major} for u in later],
        "ExportableLogTypes": ["postgresql", "upgrade"],
        "SupportsLogExportsToCloudwatchLogs": True,
        "SupportsReadReplica": True,
        "SupportedEngineModes": ["provisioned"],
        "SupportedFeatureNames": [],
        "Status": "available",
        "SupportsParallelQuery": False,
        "SupportsGlobalDatabases": False,
        "SupportsBabelfish": False,
        "SupportsLimitlessDatabase": False,
        "SupportsCertificateRotationWithoutRestart": True,
        "SupportedCACertificateIdentifiers": sorted(tls.CA_IDENTIFIERS),
        "SupportsLocalWriteForwarding": False,
        "SupportsIntegrations": False,
        "TagList": [],
    }


_GETTERS: dict[str, filters.Getter] = {
    "engine": lambda v: catalogue.ENGINE,
    "engine-version": lambda v: [v.version, str(v.major)],
    "db-parameter-group-family": lambda v: v.family,
    "engine-mode": lambda v: "provisioned",
    "status": lambda v: "available",
}


@operation("rds", "DescribeDBEngineVersions")
def describe_db_engine_versions(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    installed = catalogue.versions(ctx.store)
    found = [v for v in installed if _matches_version(v, params.get("EngineVersion"))]
    if params.get("Engine") not in (None, catalogue.ENGINE):
        found = []
    family = params.get("DBParameterGroupFamily")
    if family is not None:
        found = [v for v in found if v.family == family]
    found = filters.apply(found, params.get("Filters"), _GETTERS)
    if params.get("DefaultOnly") and found:
        found = [found[-1]]  # the newest installed version is the default for new instances
    page, marker = rds_page(found, lambda v: _sort_key(v.version), params)
    return shared.with_marker({"DBEngineVersions": [_view(v, installed) for v in page]}, marker)


def _storage_options(kind: str) -> dict[str, Any]:
    low, high = check.STORAGE_RANGES[kind]
    out: dict[str, Any] = {"StorageType": kind, "MinStorageSize": low, "MaxStorageSize": high,
                           "SupportsIops": kind in ("io1", "io2", "gp3"),
                           "SupportsStorageThroughput": kind == "gp3", "SupportsStorageAutoscaling": True}
    if kind in ("io1", "io2"):
        out.update(MinIopsPerDbInstance=1000, MaxIopsPerDbInstance=256000)
    if kind == "gp3":
        out.update(MinIopsPerDbInstance=3000, MaxIopsPerDbInstance=64000,
                   MinStorageThroughputPerDbInstance=125, MaxStorageThroughputPerDbInstance=4000)
    return out


@operation("rds", "DescribeOrderableDBInstanceOptions")
def describe_orderable_db_instance_options(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("Filters"):
        raise errors.invalid(f"Unrecognized filter name: {params['Filters'][0].get('Name')}.")
    catalogue.check_engine(params["Engine"])
    versions = [v for v in catalogue.versions(ctx.store) if _matches_version(v, params.get("EngineVersion"))]
    wanted_class = params.get("DBInstanceClass")
    kinds = ("gp2", "gp3", "io1", "io2")
    zones = [{"Name": z} for z in lookup.availability_zones(ctx.region)]
    rows = []
    if params.get("LicenseModel") in (None, "postgresql-license") and params.get("Vpc") is not False:
        for v in versions:
            for cls in classes.all_classes():
                if wanted_class is not None and cls.name != wanted_class:
                    continue
                for kind in kinds:
                    key = f"{_sort_key(v.version)}|{cls.name}|{kind}"
                    rows.append((key, {"Engine": catalogue.ENGINE, "EngineVersion": v.version,
                                       "DBInstanceClass": cls.name, "LicenseModel": "postgresql-license",
                                       "AvailabilityZoneGroup": ctx.region, "AvailabilityZones": zones,
                                       "MultiAZCapable": True, "ReadReplicaCapable": True, "Vpc": True,
                                       "SupportsStorageEncryption": True, "SupportsEnhancedMonitoring": True,
                                       "SupportsIAMDatabaseAuthentication": True,
                                       "SupportsPerformanceInsights": True,
                                       "SupportedEngineModes": ["provisioned"],
                                       "SupportedNetworkTypes": ["IPV4"], "SupportsClusters": False,
                                       **_storage_options(kind)}))
    page, marker = rds_page(rows, lambda r: r[0], params)
    return shared.with_marker({"OrderableDBInstanceOptions": [r[1] for r in page]}, marker)
