"""RDS for PostgreSQL: the API plane. Importing the package registers every handler."""

from kura.services.rds import (  # noqa: F401  (importing registers the handlers)
    automated_backups,
    certificates,
    cluster_endpoints,
    cluster_parameter_groups,
    cluster_snapshots,
    clusters,
    engine_versions,
    events,
    instances,
    lifecycle,
    log_files,
    modify,
    parameter_groups,
    parameters,
    replicas,
    restore,
    snapshot_attributes,
    snapshots,
    subnet_groups,
    tags,
)
