"""Settings and paths. Everything Kura keeps lives under one home directory."""

from __future__ import annotations

import enum
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
# Not us-east-1: the AWS CLI v1 (PyPI's awscli) sends RDS calls for us-east-1 to rds.amazonaws.com
# whatever AWS_ENDPOINT_URL says (its overridesslcommonname customization). The seeds' teams run in Tokyo.
DEFAULT_REGION = "ap-northeast-1"


_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "KIB": 1024, "M": 1024**2, "MB": 1024**2, "MIB": 1024**2,
          "G": 1024**3, "GB": 1024**3, "GIB": 1024**3}


def parse_bytes(text: str) -> int:
    """"2GiB", "512MiB", "1073741824" → bytes (binary units whatever the spelling)."""
    raw = text.strip().upper()
    number = raw.rstrip("KMGIB")
    unit = raw[len(number):]
    if unit not in _UNITS or not number:
        raise ValueError(f"not an amount of memory: {text!r} (say 2GiB, 512MiB or bytes)")
    value = int(float(number) * _UNITS[unit])
    if value <= 0:
        raise ValueError(f"not a positive amount of memory: {text!r}")
    return value


def _acu_memory() -> int:
    return parse_bytes(os.environ.get("KURA_ACU_MEMORY", "2GiB"))


def _acu_cpu() -> float:
    return float(os.environ.get("KURA_ACU_CPU", "0.5"))


class AuthMode(enum.Enum):
    SIGV4 = "sigv4"
    ANY = "any"


def default_home() -> Path:
    env = os.environ.get("KURA_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "kura"


@dataclass(frozen=True, slots=True)
class Paths:
    home: Path

    @property
    def state_db(self) -> Path:
        return self.home / "state.db"

    @property
    def credentials(self) -> Path:
        return self.home / "credentials"

    @property
    def master_key(self) -> Path:
        return self.home / "master.key"

    @property
    def pidfile(self) -> Path:
        return self.home / "kura.pid"

    @property
    def runtime(self) -> Path:
        """What the running server tells the CLI: its address, pid and start time (JSON)."""
        return self.home / "runtime.json"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def data(self) -> Path:
        return self.home / "data"

    def ensure(self) -> None:
        for d in (self.home, self.logs, self.data):
            d.mkdir(parents=True, exist_ok=True)
            # private, but keep the search bit (never read) granted to the engine user: running
            # postmasters open files under here by absolute path (a restart of Kura must not cut them off)
            d.chmod(0o700 | (d.stat().st_mode & stat.S_IXOTH))


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path = field(default_factory=default_home)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    auth: AuthMode = AuthMode.SIGV4
    default_region: str = DEFAULT_REGION
    # How often every reconciler re-examines all its resources even without a change.
    resync_seconds: float = 30.0
    # One Aurora capacity unit here: memory and CPU cores (AWS: about 2 GiB and the matching CPU share).
    acu_memory: int = field(default_factory=_acu_memory)
    acu_cpu: float = field(default_factory=_acu_cpu)

    @property
    def paths(self) -> Paths:
        return Paths(self.home)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"
