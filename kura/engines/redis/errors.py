"""The Redis adapter's exceptions: one root, so the control plane can catch them all."""

from __future__ import annotations


class RedisEngineError(Exception):
    """Something the Redis adapter could not do; the message is fit for an ElastiCache event."""


class EngineNotInstalled(RedisEngineError):
    """The requested Redis major is not installed here."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StartError(RedisEngineError):
    """redis-server did not come up; the message carries the end of its log."""


class NotRunning(RedisEngineError):
    """The node has no running redis-server to talk to."""


class InvalidSettings(RedisEngineError):
    """Redis rejected a setting; `errors` maps the directive to Redis's reason."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class SnapshotError(RedisEngineError):
    """BGSAVE failed or did not finish in time."""
