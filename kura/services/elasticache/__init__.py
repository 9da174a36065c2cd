"""ElastiCache for Redis: the API plane. Importing the package registers every handler."""

from kura.services.elasticache import (  # noqa: F401  (importing registers the handlers)
    cluster_lifecycle,
    clusters,
    engine_versions,
    parameter_groups,
    parameters,
    subnet_groups,
)
