"""Measurements: the embedded time-series store and what records into it."""
