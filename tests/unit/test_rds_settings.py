"""Instance class + parameter group + catalogue → settings and hba (pure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kura.control.rds import settings
from kura.engines.postgres.render import render_hba

GIB = 1024**3
CATALOGUE: dict[str, dict[str, Any]] = {
    "shared_buffers": {"default": "{DBInstanceClassMemory/32768}", "apply_type": "static"},
    "max_connections": {"default": "LEAST({DBInstanceClassMemory/9531392},5000)", "apply_type": "static"},
    "maintenance_work_mem": {"default": "GREATEST({DBInstanceClassMemory*1024/63963136},65536)",
                             "apply_type": "dynamic"},
    "max_worker_processes": {"default": "GREATEST(${DBInstanceVCPU*2},8)", "apply_type": "static"},
    "shared_preload_libraries": {"default": "pg_stat_statements", "apply_type": "static"},
    "work_mem": {"default": None, "apply_type": "dynamic"},
    "log_min_duration_statement": {"default": None, "apply_type": "dynamic"},
    "rds.force_ssl": {"default": "1", "apply_type": "dynamic"},
    "data_directory": {"default": None, "apply_type": "static", "is_modifiable": False},
}


def size(memory: int = GIB) -> settings.Sizing:
    return settings.Sizing(memory, 2, 20, 5432)


def test_formulas_resolve_with_the_class_memory() -> None:
    got = settings.desired(CATALOGUE, "default.postgres16", {}, size(4 * GIB), 16).values
    assert got["shared_buffers"] == str(4 * GIB // 32768)  # 8 kB pages: a quarter of the memory
    assert got["max_connections"] == str(4 * GIB // 9531392)
    assert got["maintenance_work_mem"] == str(4 * GIB * 1024 // 63963136)
    assert got["max_worker_processes"] == "8"
    assert got["shared_preload_libraries"] == "pg_stat_statements"
    assert got["rds.force_ssl"] == "1"
    assert "work_mem" not in got  # PostgreSQL's own default stays


def test_the_class_memory_is_capped_to_a_share_of_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.MEMORY_ENV, raising=False)
    assert settings.sizing("db.t3.micro", 24 * GIB).memory == GIB  # below the cap: the class's own
    assert settings.sizing("db.r6g.16xlarge", 24 * GIB).memory == 24 * GIB // 16
    assert settings.sizing("db.t3.micro", 2 * GIB).memory == settings.MIN_MEMORY
    monkeypatch.setenv(settings.MEMORY_ENV, str(3 * GIB))
    assert settings.sizing("db.m5.4xlarge", 24 * GIB).memory == 3 * GIB


def test_user_values_win_and_formulas_in_them_resolve() -> None:
    user = {"work_mem": {"ParameterValue": "16384", "ApplyMethod": "immediate"},
            "shared_buffers": {"ParameterValue": "{DBInstanceClassMemory/16384}",
                               "ApplyMethod": "pending-reboot"},
            "data_directory": {"ParameterValue": "/elsewhere", "ApplyMethod": "pending-reboot"},
            "no_such_thing": {"ParameterValue": "1", "ApplyMethod": "immediate"}}
    want = settings.desired(CATALOGUE, "custom", user, size(), 16)
    assert want.values["work_mem"] == "16384"
    assert want.values["shared_buffers"] == str(GIB // 16384)
    assert "data_directory" not in want.values and "no_such_thing" not in want.values
    assert "work_mem" in want.immediate and "shared_buffers" not in want.immediate


def test_apply_method_pending_reboot_defers_a_dynamic_parameter() -> None:
    user = {"work_mem": {"ParameterValue": "16384", "ApplyMethod": "pending-reboot"},
            "log_min_duration_statement": {"ParameterValue": "1000", "ApplyMethod": "immediate"}}
    want = settings.desired(CATALOGUE, "custom", user, size(), 16)
    diff = settings.changes({}, want, same_group=True)
    assert "log_min_duration_statement" in diff.now and "work_mem" in diff.deferred
    assert "shared_buffers" in diff.deferred  # static


def test_changes_and_merge_round_trip() -> None:
    applied = {"work_mem": "4096", "log_min_duration_statement": "500", "shared_buffers": "1"}
    want = settings.Desired({"work_mem": "8192", "shared_buffers": "2"},
                            frozenset({"work_mem", "log_min_duration_statement"}), "g")
    diff = settings.changes(applied, want, same_group=True)
    assert diff.now == {"work_mem": "8192", "log_min_duration_statement": None}
    assert diff.deferred == {"shared_buffers": "2"}
    assert settings.merged(applied, diff.now) == {"work_mem": "8192", "shared_buffers": "1"}
    other_group = settings.changes(applied, want, same_group=False)
    assert not other_group.now and len(other_group.deferred) == 3


def test_nothing_published_falls_back_to_rds_defaults() -> None:
    got = settings.desired({}, "default.postgres14", {}, size(), 14).values
    assert got["shared_preload_libraries"] == "pg_stat_statements"
    assert got["rds.force_ssl"] == "0"  # on by default only from 15


def test_render_fences_and_forces_tls() -> None:
    tls = (Path("/c.crt"), Path("/c.key"), Path("/ca.pem"))
    config = settings.render({"rds.force_ssl": "1", "work_mem": "4096"}, address="127.10.0.1", port=5432,
                             tls=tls, fenced=True)
    assert config.settings["default_transaction_read_only"] == "on"
    assert config.ssl_cert == Path("/c.crt") and config.listen_address == "127.10.0.1"
    hba = render_hba(config.hba, force_ssl=True)
    assert "host  all" not in hba and "hostssl  all  all  0.0.0.0/0  scram-sha-256" in hba
    assert "hostssl  all  rdsadmin  0.0.0.0/0  reject" in hba
    plain = render_hba(settings.render({}, address="a", port=1, tls=tls, fenced=False).hba, force_ssl=False)
    assert "host  all  all  0.0.0.0/0  scram-sha-256" in plain
    assert "default_transaction_read_only" not in settings.render({}, address="a", port=1, tls=tls,
                                                                  fenced=False).settings


def test_the_storage_fence_overrides_the_parameter_group() -> None:
    catalogue = {**CATALOGUE, "default_transaction_read_only": {"default": None, "apply_type": "dynamic"}}
    user = {"default_transaction_read_only": {"ParameterValue": "0", "ApplyMethod": "immediate"}}
    values = settings.desired(catalogue, "g", user, size(), 16).values
    assert values["default_transaction_read_only"] == "0"
    tls = (Path("/c.crt"), Path("/c.key"), Path("/ca.pem"))
    fenced = settings.render(values, address="a", port=1, tls=tls, fenced=True)
    assert fenced.settings["default_transaction_read_only"] == "on"


def test_shared_memory_beyond_the_class_is_incompatible() -> None:
    assert settings.memory_bytes("131072", 8192) == GIB and settings.memory_bytes("2GB", 8192) == 2 * GIB
    assert settings.memory_bytes("lots", 8192) is None
    problem = settings.memory_problem({"shared_buffers": "1048576"}, "db.t3.medium")  # seed 004's 8 GiB
    assert problem is not None and "exceeds 90% of the 4 GiB" in problem
    assert settings.memory_problem({"shared_buffers": "131072"}, "db.t3.medium") is None
    # Checked against the class's own memory, not Kura's capped share of this host.
    assert settings.memory_problem({"shared_buffers": "4GB"}, "db.r6g.large") is None
