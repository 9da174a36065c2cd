"""ElastiCache for Redis: the API plane. Importing the package registers every handler."""

from kura.services.elasticache import (  # noqa: F401  (importing registers the handlers)
    cluster_lifecycle,
    clusters,
    engine_versions,
    events,
    group_lifecycle,
    parameter_groups,
    parameters,
    replica_count,
    replication_groups,
    snapshots,
    subnet_groups,
    tags,
)
