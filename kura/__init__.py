"""Kura: a self-hosted managed database service that speaks the AWS APIs."""

__version__ = "0.1.0"
