"""Measurements: the embedded time-series store (series.py), CloudWatch-style queries over it
(query.py: `statistics` is what alarms read), and the collectors that record into it."""

from kura.metrics.query import statistics as statistics

__all__ = ["statistics"]
