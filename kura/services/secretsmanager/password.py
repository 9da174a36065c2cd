"""GetRandomPassword, and the same generator for rotators that need fresh passwords."""

from __future__ import annotations

import secrets
import string
from typing import Any

from kura.services.registry import Ctx, operation
from kura.services.secretsmanager.names import SERVICE, invalid_parameter

PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"  # the 32 characters AWS documents


def random_password(
    length: int = 32,
    *,
    exclude_characters: str = "",
    exclude_numbers: bool = False,
    exclude_punctuation: bool = False,
    exclude_uppercase: bool = False,
    exclude_lowercase: bool = False,
    include_space: bool = False,
    require_each_included_type: bool = True,
) -> str:
    """A password of exactly `length` characters from a CSPRNG.

    With `require_each_included_type`, every character class still non-empty after the exclusions
    (lowercase, uppercase, digits, punctuation; space is never required) appears at least once.
    """
    excluded = set(exclude_characters)
    classes = [
        "" if exclude_lowercase else string.ascii_lowercase,
        "" if exclude_uppercase else string.ascii_uppercase,
        "" if exclude_numbers else string.digits,
        "" if exclude_punctuation else PUNCTUATION,
    ]
    classes = [c for c in ("".join(ch for ch in cls if ch not in excluded) for cls in classes) if c]
    space = " " if include_space and " " not in excluded else ""
    pool = "".join(classes) + space
    if not pool:
        raise invalid_parameter("The password can't be generated: every character type is excluded.")
    required = classes if require_each_included_type else []
    if len(required) > length:
        raise invalid_parameter(
            f"The password length {length} is too short to include each of the {len(required)} "
            "required character types."
        )
    chars = [secrets.choice(cls) for cls in required]
    chars += [secrets.choice(pool) for _ in range(length - len(chars))]
    # Shuffle so the required characters do not sit at predictable positions.
    for i in range(len(chars) - 1, 0, -1):
        j = secrets.randbelow(i + 1)
        chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


@operation(SERVICE, "GetRandomPassword")
def get_random_password(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    length = params.get("PasswordLength")
    return {"RandomPassword": random_password(
        32 if length is None else int(length),
        exclude_characters=params.get("ExcludeCharacters") or "",
        exclude_numbers=bool(params.get("ExcludeNumbers")),
        exclude_punctuation=bool(params.get("ExcludePunctuation")),
        exclude_uppercase=bool(params.get("ExcludeUppercase")),
        exclude_lowercase=bool(params.get("ExcludeLowercase")),
        include_space=bool(params.get("IncludeSpace")),
        require_each_included_type=params.get("RequireEachIncludedType", True) is not False,
    )}
