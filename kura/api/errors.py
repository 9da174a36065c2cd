"""The API layer's one exception root. Every error a client sees is an AwsError."""

from __future__ import annotations


class AwsError(Exception):
    """An error answered to the client in the service's own protocol.

    `code` is the AWS error code (e.g. ``ResourceNotFoundException``), `status` the HTTP status,
    `sender_fault` decides Type=Sender/Receiver in query-protocol errors.
    """

    def __init__(self, code: str, message: str, status: int = 400, *, sender_fault: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.sender_fault = sender_fault

    def __repr__(self) -> str:
        return f"AwsError({self.code!r}, {self.message!r}, {self.status})"


def validation_error(message: str, code: str = "ValidationException") -> AwsError:
    return AwsError(code, message, 400)


def not_implemented(service: str, operation: str) -> AwsError:
    # Same shape AWS uses for an operation an endpoint does not support.
    return AwsError(
        "InvalidAction" if service in QUERY_SERVICES else "UnknownOperationException",
        f"kura does not implement {service}:{operation}",
        400,
    )


def internal_error() -> AwsError:
    return AwsError("InternalFailure", "The request processing has failed because of an unknown error.",
                    500, sender_fault=False)


QUERY_SERVICES = frozenset({"rds", "elasticache", "sts", "sns", "cloudformation", "ec2", "iam"})
