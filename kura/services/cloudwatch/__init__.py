"""CloudWatch metrics: PutMetricData, GetMetricStatistics, GetMetricData (with metric math) and ListMetrics
over the embedded series store (kura.metrics), where the collectors record AWS/RDS and AWS/ElastiCache;
alarms (metric, metric math and composite) evaluated by kura/control/cloudwatch, notifying SNS."""

from kura.services.cloudwatch import (  # noqa: F401  (importing registers the handlers)
    alarm_describe,
    alarm_ops,
    alarm_tags,
    alarms,
    data,
    listing,
    put,
    statistics,
)
