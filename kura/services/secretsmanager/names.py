"""Secret names, ARNs and the errors Secrets Manager answers, worded as AWS words them."""

from __future__ import annotations

import re
import secrets as _random
import string

from kura.api.errors import AwsError

SERVICE = "secretsmanager"
KIND = "secretsmanager.secret"  # one resource per secret, id = its name
VALUE_KIND = "secretsmanager.secret-value"  # one per version, id = "<arn>#<version id>"
DEFAULT_KEY_ALIAS = "alias/aws/secretsmanager"

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
PENDING = "AWSPENDING"

MAX_NAME = 512
MAX_VALUE_BYTES = 65_536
MAX_VERSIONS = 100
MAX_STAGES_PER_VERSION = 20

_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]+")
# Names of secrets other services manage ("rds!db-…") may also use "!", which users may not.
_MANAGED_NAME = re.compile(r"[A-Za-z0-9/_+=.@!-]+")
_SUFFIX_CHARS = string.ascii_letters + string.digits
_ARN = re.compile(
    r"arn:(?P<partition>[^:]+):secretsmanager:(?P<region>[^:]*):(?P<account>[^:]*):secret:(?P<rest>.+)"
)


# -- errors -----------------------------------------------------------------------------------
def not_found(message: str = "Secrets Manager can't find the specified secret.") -> AwsError:
    return AwsError("ResourceNotFoundException", message)


def invalid_parameter(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


def invalid_request(message: str) -> AwsError:
    return AwsError("InvalidRequestException", message)


def exists(message: str) -> AwsError:
    return AwsError("ResourceExistsException", message)


def marked_for_deletion() -> AwsError:
    return invalid_request(
        "You can't perform this operation on the secret because it was marked for deletion."
    )


# -- names and ARNs ---------------------------------------------------------------------------
def check_name(name: str, *, managed: bool = False) -> None:
    pattern = _MANAGED_NAME if managed else _NAME
    if not 1 <= len(name) <= MAX_NAME or not pattern.fullmatch(name):
        raise invalid_parameter(
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the "
            "following: -/_+=.@!"
        )


def new_arn(region: str, account: str, name: str) -> str:
    suffix = "".join(_random.choice(_SUFFIX_CHARS) for _ in range(6))
    return f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-{suffix}"


def candidate_names(secret_id: str, region: str, account: str) -> list[tuple[str, str | None]]:
    """The (name, full ARN or None) pairs a SecretId may denote, most specific first.

    A SecretId is a name, a full ARN (name + "-" + 6 random characters) or a partial ARN without
    the suffix. "…:secret:db-abcdef" is ambiguous (secret "db", or a secret named "db-abcdef"
    given by partial ARN), so both readings are returned and the caller keeps the one that exists.
    """
    m = _ARN.fullmatch(secret_id)
    if m is None:
        return [(secret_id, None)]
    if m["region"] != region or m["account"] != account:
        return []
    rest = m["rest"]
    found: list[tuple[str, str | None]] = []
    if len(rest) > 7 and rest[-7] == "-":
        found.append((rest[:-7], secret_id))
    found.append((rest, None))
    return found
