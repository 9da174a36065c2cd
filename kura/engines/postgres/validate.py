"""Validating parameter values with the engine itself, so errors carry PostgreSQL's own reason.

`postgres -C name -c k=v …` parses every -c option exactly as the server would and stops at the first
invalid one with a FATAL naming it; we drop that one and ask again until the rest pass. No server and
no data directory are needed (a throwaway directory with an empty postgresql.conf), ~25 ms a round.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from kura.engines import osuser
from kura.engines.osuser import OsUser
from kura.engines.postgres.render import effective_settings
from kura.engines.postgres.types import PgEngine

_FATAL = re.compile(r"FATAL:\s+(.*)")
_HINT = re.compile(r"HINT:\s+(.*)")
_PARAM = re.compile(r'parameter "([^"]+)"')
_RDS_BOOLEANS = ("rds.force_ssl", "rds.logical_replication")
_BOOLEAN_WORDS = ("0", "1", "on", "off", "true", "false", "yes", "no")


def validate_settings(engine: PgEngine, settings: Mapping[str, str], run_as: OsUser | None
                      ) -> dict[str, str]:
    """Map each rejected parameter to PostgreSQL's reason; {} when all are valid."""
    errors = _check_rds(settings)
    pending = {k: v for k, v in effective_settings(settings).items()
               if k not in errors and not k.startswith("rds.")}
    errors |= _check_libraries(engine, pending.get("shared_preload_libraries"))
    if "shared_preload_libraries" in errors:
        pending.pop("shared_preload_libraries", None)
    if not pending:
        return errors
    scratch = Path(tempfile.mkdtemp(prefix="kura-validate-"))
    try:
        (scratch / "postgresql.conf").write_text("")
        osuser.chown_tree(scratch, run_as)
        osuser.grant_traverse(engine.bindir, run_as)
        for _ in range(len(pending)):
            name, reason = _first_error(engine, scratch, pending, run_as)
            if name is None:
                break
            errors[name] = reason
            pending.pop(name, None)
            if not pending:
                break
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return errors


def _first_error(engine: PgEngine, scratch: Path, settings: Mapping[str, str], run_as: OsUser | None
                 ) -> tuple[str | None, str]:
    args: list[str | Path] = [engine.tool("postgres"), "-D", scratch, "-C", next(iter(settings))]
    for name, value in settings.items():
        args += ["-c", f"{name}={value}"]
    done = osuser.run(args, run_as, timeout=30)
    if done.returncode == 0:
        return None, ""
    fatal = _FATAL.search(done.stderr)
    reason = fatal.group(1).strip() if fatal else done.stderr.strip()[-500:]
    hint = _HINT.search(done.stderr)
    if hint:
        reason += f" ({hint.group(1).strip()})"
    named = _PARAM.search(reason)
    name = named.group(1) if named and named.group(1) in settings else next(iter(settings))
    return name, reason


def _check_rds(settings: Mapping[str, str]) -> dict[str, str]:
    errors = {}
    for name in _RDS_BOOLEANS:
        value = settings.get(name)
        if value is not None and value.strip().lower() not in _BOOLEAN_WORDS:
            errors[name] = f'parameter "{name}" requires a Boolean value (0 or 1), not "{value}"'
    for name in settings:
        if name.startswith("rds.") and name not in _RDS_BOOLEANS:
            errors[name] = f'unrecognized configuration parameter "{name}"'
    return errors


def _check_libraries(engine: PgEngine, value: str | None) -> dict[str, str]:
    """Libraries are only loaded at server start, which `-C` does not reach: check the files."""
    if not value:
        return {}
    libdir = engine.bindir.parent / "lib"
    missing = [lib for lib in (p.strip().strip('"') for p in value.split(",")) if lib
               and not (libdir / f"{lib}.so").exists() and not Path(lib).is_absolute()]
    if not missing:
        return {}
    return {"shared_preload_libraries": f'could not access file "{missing[0]}": No such file or directory'}
