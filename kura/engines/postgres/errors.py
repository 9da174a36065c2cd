"""The adapter's exceptions: one root, so the control plane can catch them all."""

from __future__ import annotations


class PgError(Exception):
    """Something the PostgreSQL adapter could not do; the message is fit for an RDS event."""


class EngineNotInstalled(PgError):
    """The requested major is not installed here; the message says how to install it."""

    def __init__(self, major: int, message: str) -> None:
        super().__init__(message)
        self.major = major
        self.message = message


class TemplateError(PgError):
    """The engine's template cluster could not be created (initdb or the settings probe failed)."""


class StartError(PgError):
    """The postmaster did not come up; the message carries the end of its log."""


class NotRunning(PgError):
    """The node has no running postmaster to talk to."""


class InvalidSettings(PgError):
    """PostgreSQL rejected a setting; `errors` maps the parameter name to PostgreSQL's reason."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
