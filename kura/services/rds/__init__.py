"""RDS for PostgreSQL: the API plane. Importing the package registers every handler."""

from kura.services.rds import (  # noqa: F401  (importing registers the handlers)
    certificates,
    engine_versions,
    events,
    instances,
    lifecycle,
    log_files,
    modify,
    parameter_groups,
    parameters,
    subnet_groups,
    tags,
)
