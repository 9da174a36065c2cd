"""SNS's error codes (query protocol): `InvalidParameter`, `NotFound`, `AuthorizationError`, …"""

from __future__ import annotations

from kura.api.errors import AwsError
from kura.api.models import error_statuses


def fault(code: str, message: str) -> AwsError:
    return AwsError(code, message, error_statuses("sns").get(code, 400))


def invalid(message: str) -> AwsError:
    """AWS words these `Invalid parameter: <what>`; callers pass the part after the colon."""
    return fault("InvalidParameter", f"Invalid parameter: {message}")


def not_found(message: str) -> AwsError:
    return fault("NotFound", message)


def topic_not_found() -> AwsError:
    return not_found("Topic does not exist")


def subscription_not_found() -> AwsError:
    return not_found("Subscription does not exist")


def not_implemented(what: str) -> AwsError:
    """Something SNS does that Kura cannot do here: refused clearly, never silently dropped."""
    return fault("InvalidParameter", f"Invalid parameter: kura does not implement {what}")
