"""ElastiCache's faults, with the HTTP status botocore's model gives each (404 for most NotFound faults)."""

from __future__ import annotations

from kura.api.errors import AwsError
from kura.api.models import error_statuses


def fault(code: str, message: str) -> AwsError:
    return AwsError(code, message, error_statuses("elasticache").get(code, 400))


def invalid(message: str) -> AwsError:
    return fault("InvalidParameterValue", message)


def combination(message: str) -> AwsError:
    return fault("InvalidParameterCombination", message)


def cluster_not_found(ident: str) -> AwsError:
    return fault("CacheClusterNotFound", f"CacheCluster not found: {ident}")


def group_not_found(ident: str) -> AwsError:
    return fault("ReplicationGroupNotFoundFault", f"ReplicationGroup {ident} not found.")


def parameter_group_not_found(name: str) -> AwsError:
    return fault("CacheParameterGroupNotFound", f"CacheParameterGroup {name} not found.")


def subnet_group_not_found(name: str) -> AwsError:
    return fault("CacheSubnetGroupNotFoundFault", f"CacheSubnetGroup {name} not found.")


def snapshot_not_found(name: str) -> AwsError:
    return fault("SnapshotNotFoundFault", f"Snapshot {name} not found.")


def cluster_state(message: str) -> AwsError:
    return fault("InvalidCacheClusterState", message)


def group_state(message: str) -> AwsError:
    return fault("InvalidReplicationGroupState", message)


def not_supported(what: str) -> AwsError:
    """A request Kura understands but cannot honour yet: refused clearly, never ignored."""
    return combination(f"kura does not support {what} yet.")
