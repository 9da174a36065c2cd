"""CloudWatch Logs: log groups, streams and events in Kura's own log store (kura.metrics.logstore),
filter patterns, retention and tags. RDS log exports and Enhanced Monitoring write into the same
store from the control plane."""

from kura.services.logs import (  # noqa: F401  (importing registers the handlers)
    events,
    groups,
    streams,
    tags,
)
