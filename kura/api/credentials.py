"""The installation's access key: generated once at first start, kept in a 0600 JSON file.

The file's keys (`aws_access_key_id`, `aws_secret_access_key`, `account_id`) are a contract: `kura env`
and the test fixture read them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

_ACCESS_KEY = re.compile(r"AKIA[A-Z0-9]{16}")
_SECRET_KEY = re.compile(r"[A-Za-z0-9/+]{40}")
_ACCOUNT_ID = re.compile(r"[0-9]{12}")

_UPPER_ALNUM = string.ascii_uppercase + string.digits
# Alphanumeric only (AWS also uses '/' and '+'): 238 bits are plenty, and nothing needs quoting.
_SECRET_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    account_id: str

    def __post_init__(self) -> None:
        if not _ACCESS_KEY.fullmatch(self.access_key_id):
            raise ValueError("access key id must be AKIA followed by 16 upper-case letters or digits")
        if not _SECRET_KEY.fullmatch(self.secret_access_key):
            raise ValueError("secret access key must be 40 characters")
        if not _ACCOUNT_ID.fullmatch(self.account_id):
            raise ValueError("account id must be 12 digits")

    def secret_for(self, access_key_id: str) -> str | None:
        """The secret of `access_key_id` if it is this installation's key (what sigv4.verify asks)."""
        return self.secret_access_key if access_key_id == self.access_key_id else None

    def to_json(self) -> str:
        return json.dumps(
            {
                "aws_access_key_id": self.access_key_id,
                "aws_secret_access_key": self.secret_access_key,
                "account_id": self.account_id,
            },
            indent=2,
        ) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Credentials:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("credentials file must hold a JSON object")
        return cls(
            access_key_id=str(data["aws_access_key_id"]),
            secret_access_key=str(data["aws_secret_access_key"]),
            account_id=str(data["account_id"]),
        )


def generate() -> Credentials:
    """Fresh random credentials. The account id never starts with 0, so tools that parse it as a
    number do not lose a digit."""
    return Credentials(
        access_key_id="AKIA" + "".join(secrets.choice(_UPPER_ALNUM) for _ in range(16)),
        secret_access_key="".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40)),
        account_id=secrets.choice("123456789") + "".join(secrets.choice(string.digits) for _ in range(11)),
    )


def load_or_create(path: Path) -> Credentials:
    """Read the credentials at `path`, creating them first if the file does not exist.

    Creation writes a private temporary file (O_EXCL, 0600 from the first byte) and publishes it
    with link(2), which fails if `path` exists: two processes starting at once agree on one key,
    and a reader never sees a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        _create(path, generate())
    return _read(path)


def _create(path: Path, creds: Credentials) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(creds.to_json())
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # another process won the race: its key is the key
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _read(path: Path) -> Credentials:
    # A file made readable by others (copied, restored from a backup) is tightened, not trusted as is.
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return Credentials.from_json(path.read_text(encoding="utf-8"))
