"""Engine discovery, RDS-style version resolution, and the parameter catalogue's shapes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kura.engines.postgres import catalog
from kura.engines.postgres.catalog import EngineNotInstalled, discover, resolve
from kura.engines.postgres.parameters import build_parameters, parse_describe_config
from kura.engines.postgres.types import PgEngine


def eng(version: str, source: str = "kura") -> PgEngine:
    return PgEngine(int(version.split(".")[0]), version, Path(f"/e/{version}/bin"), source)


ENGINES = [eng("15.18", "debian"), eng("16.15"), eng("16.9"), eng("14.22")]


def test_resolve_none_is_the_newest() -> None:
    assert resolve(ENGINES, None) == (eng("16.15"), None)


def test_resolve_exact_and_major() -> None:
    assert resolve(ENGINES, "16.9") == (eng("16.9"), None)
    assert resolve(ENGINES, "16") == (eng("16.15"), None)
    assert resolve(ENGINES, "15.18") == (eng("15.18", "debian"), None)


def test_resolve_missing_minor_runs_the_newest_minor_with_a_note() -> None:
    engine, note = resolve(ENGINES, "16.4")
    assert engine == eng("16.15")
    assert note == "Requested PostgreSQL 16.4; running 16.15, the newest installed minor of 16"


def test_resolve_missing_major_says_how_to_install() -> None:
    with pytest.raises(EngineNotInstalled) as info:
        resolve(ENGINES, "17.2")
    assert info.value.major == 17
    assert "kura engines install 17" in info.value.message
    assert "14, 15, 16" in info.value.message
    with pytest.raises(EngineNotInstalled):
        resolve([], None)
    with pytest.raises(ValueError):
        resolve(ENGINES, "sixteen")


def _fake_engine(root: Path, version: str) -> Path:
    """A directory whose bin/postgres answers --version like the real one."""
    bindir = root / f"postgresql-{version}" / "bin"
    bindir.mkdir(parents=True)
    script = bindir / "postgres"
    script.write_text(f"#!/bin/sh\necho 'postgres (PostgreSQL) {version}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return bindir


def test_discover_finds_kura_dirs_from_env_and_arguments(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KURA_HOME", str(tmp_path / "home"))
    _fake_engine(tmp_path / "env1", "17.9")
    _fake_engine(tmp_path / "extra", "18.3")
    monkeypatch.setenv("KURA_ENGINES_DIR", f"{tmp_path / 'env1'}:{tmp_path / 'missing'}")
    found = {e.version: e for e in discover([tmp_path / "extra"])}
    assert found["17.9"].source == "kura" and found["17.9"].major == 17
    assert found["18.3"].bindir == tmp_path / "extra" / "postgresql-18.3" / "bin"
    versions = [e.version for e in discover([tmp_path / "extra"])]
    assert versions == sorted(versions, key=catalog.version_key, reverse=True)


def test_discover_prefers_kura_managed_for_the_same_version(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KURA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(catalog, "DEBIAN_ROOT", tmp_path / "debian")
    _fake_engine(tmp_path / "kura", "15.18")
    debian_bin = tmp_path / "debian" / "15" / "bin"
    debian_bin.mkdir(parents=True)
    os.symlink(tmp_path / "kura" / "postgresql-15.18" / "bin" / "postgres", debian_bin / "postgres")
    same = [e for e in discover([tmp_path / "kura"]) if e.version == "15.18"]
    assert [e.source for e in same] == ["kura"]


def test_discover_finds_debians_postgresql() -> None:
    debian = [e for e in discover() if e.source == "debian"]
    if not Path("/usr/lib/postgresql").is_dir():
        pytest.skip("no Debian PostgreSQL on this machine")
    assert debian and all(e.bindir.parts[:4] == ("/", "usr", "lib", "postgresql") for e in debian)


DESCRIBE = "\n".join([
    "shared_buffers\tpostmaster\tResource Usage / Memory\tINTEGER\t0\t16\t1073741823\t"
    "Sets the number of shared memory buffers used by the server.\t",
    "log_min_messages\tsuperuser\tReporting and Logging / When to Log\tENUM\twarning\t\t\t"
    "Sets the message levels that are logged.\tEach level includes all the levels that follow it.",
    "fsync\tsighup\tWrite-Ahead Log / Settings\tBOOLEAN\tFALSE\t\t\tForces synchronization.\t",
    "random_page_cost\tuser\tQuery Tuning\tREAL\t0\t0\t1.79769e+308\tCost of a random page.\t",
    "search_path\tuser\tClient Connection Defaults\tSTRING\t\"$user\", public\t\t\tSchema order.\t",
    "shared_preload_libraries\tpostmaster\tPreloading\tSTRING\t\t\t\tLists shared libraries.\t",
])
SETTINGS: dict[str, dict[str, object]] = {
    "shared_buffers": {"unit": "8kB", "boot_val": "16384"},
    "log_min_messages": {"enumvals": ["debug1", "info", "warning", "error"], "boot_val": "warning"},
    "fsync": {"boot_val": "on"},
    "pg_stat_statements.max": {"context": "postmaster", "vartype": "integer", "min_val": "100",
                               "max_val": "1073741823", "boot_val": "5000",
                               "short_desc": "Sets the maximum number of statements tracked."},
}


def params() -> dict[str, dict[str, object]]:
    built = build_parameters(eng("16.15"), parse_describe_config(DESCRIBE), SETTINGS,
                             libraries=["pg_stat_statements", "auto_explain"])
    return {str(p["name"]): p for p in built}


def test_parameter_shapes() -> None:
    p = params()
    sb = p["shared_buffers"]
    assert (sb["apply_type"], sb["data_type"], sb["unit"], sb["allowed_values"]) == \
        ("static", "integer", "8kB", "16-1073741823")
    assert sb["default"] == "{DBInstanceClassMemory/32768}" and sb["source"] == "system"
    assert str(sb["description"]).startswith("(8kB) Sets the number")
    lm = p["log_min_messages"]
    assert (lm["apply_type"], lm["data_type"], lm["allowed_values"]) == \
        ("dynamic", "string", "debug1,info,warning,error")
    assert lm["default"] is None and lm["source"] == "engine-default" and lm["engine_default"] == "warning"
    assert (p["fsync"]["data_type"], p["fsync"]["allowed_values"], p["fsync"]["engine_default"]) == \
        ("boolean", "0,1", "1")
    assert p["fsync"]["is_modifiable"] is False
    assert (p["random_page_cost"]["data_type"], p["random_page_cost"]["allowed_values"]) == \
        ("float", "0-1.79769e+308")
    assert p["search_path"]["engine_default"] == '"$user", public'
    spl = p["shared_preload_libraries"]
    assert (spl["data_type"], spl["default"], spl["allowed_values"]) == \
        ("list", "pg_stat_statements", "pg_stat_statements,auto_explain")
    assert p["pg_stat_statements.max"]["apply_type"] == "static"
    assert p["rds.force_ssl"]["default"] == "1" and p["rds.force_ssl"]["apply_type"] == "dynamic"
    assert p["rds.logical_replication"]["apply_type"] == "static"


def test_force_ssl_default_follows_rds_per_major() -> None:
    old = build_parameters(eng("14.22"), [], {})
    assert {str(p["name"]): p["default"] for p in old}["rds.force_ssl"] == "0"
