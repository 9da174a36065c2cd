"""CI runs the short version of each benchmark: it must run end to end and write its result.

Speed goals are judged from the JSON, not asserted here (this machine is shared and noisy).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_quick(name: str, timeout: int = 600) -> dict[str, Any]:
    """Run bench/NAME.py --quick and return the JSON it wrote."""
    res = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), "--quick"],
                         capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:] + res.stdout[-2000:]
    return dict(json.loads((ROOT / "bench" / "results" / f"{name}_quick.json").read_text()))


def test_api_latency_quick() -> None:
    data = run_quick("api_latency")
    for target in ("kura", "moto"):
        tput = data[target]["throughput_GetSecretValue"]
        assert tput["errors"] == 0 and tput["requests"] > 0
        assert data[target]["latency"]["GetSecretValue"]["n"] == data["args"]["calls"]
    print(data["summary"])


def test_provision_quick() -> None:
    data = run_quick("provision", timeout=900)
    assert len(data["kura"]["available_s"]) == data["runs"]
    assert data["idle"]["all_answered"] and data["idle"]["idle_pss_per_instance_mib"] > 0
    print(data["summary"])


def test_elasticache_quick() -> None:
    data = run_quick("elasticache")
    assert len(data["create_to_available_s"]) == data["runs"] and data["failover_s"]
    print(data["summary"])


def test_backup_quick() -> None:
    data = run_quick("backup")
    assert data["base_backup"]["kura_snapshot_runs"] and data["base_backup"]["raw_pg_basebackup_runs"]
    assert data["point_in_time_restore"]["kura_runs"] and data["point_in_time_restore"]["raw_runs"]
    assert data["goals"]["restores_hold_the_target_state"]
    assert data["latest_restorable_time_lag"]["n"] > 0
    print(data["summary"])


def test_failover_quick() -> None:
    data = run_quick("failover")
    assert len(data["trials"]) == 3 and data["lost"] == 0 and data["acknowledged"] > 0
    print(data["summary"])


def test_endpoint_overhead_quick() -> None:
    data = run_quick("endpoint_overhead")
    assert all(len(samples) == data["rounds"] for samples in data["samples"].values())
    assert data["forwarding_counts"]["bench"]["total"] > 0  # the forwarding series went through a router
    print(data["summary"])


def test_replica_lag_quick() -> None:
    data = run_quick("replica_lag")
    assert data["samples"] > 0 and data["lag_max_s"] is not None
    print(data["summary"])


def test_serverless_quick() -> None:
    data = run_quick("serverless")
    if "skipped" in data:
        pytest.skip(data["skipped"])  # no writable cgroups here
    assert data["select_only_tps_at_acu"]["1"] > 0 and data["select_only_tps_at_acu"]["4"] > 0
    assert data["load_step"]["peak_acu"] > 0.5 and len(data["resume_to_first_query_s"]) == 1
    print(data["summary"])


def test_clone_quick() -> None:
    data = run_quick("clone")
    assert data["clone_runs"] and data["full_copy_runs"]
    rows = data["source"]["rows"]
    assert all(r["cluster_available_s"] > 0 for r in data["clone_runs"]) and rows > 0
    assert sum(data["clone_copy_methods"].values()) > 0  # the clone was copied file by file
    print(data["summary"])


def test_pi_overhead_quick() -> None:
    data = run_quick("pi_overhead")
    assert data["tps_on_mean"] > 0 and data["tps_off_mean"] > 0 and len(data["pair_ratios_on_to_off"]) == 2
    on = [r for r in data["rounds"] if r["pi"]]
    assert all(r["sampled_seconds"] > 0 and r["sampler_backends"] == 1 for r in on)  # the sampler ran
    assert not any(r["sampler_backends"] for r in data["rounds"] if not r["pi"])  # and stopped when off
    assert data["overhead_percent_by_cpu"] >= 0
    print(data["summary"])


def test_observability_quick() -> None:
    data = run_quick("observability")
    cost = data["collector"]
    assert cost["ticks"] > 0 and cost["collector_backends"] == cost["instances"] == data["args"]["instances"]
    for period in (60, 3600):
        assert data["get_metric_statistics"][f"period_{period}_basic"]["sample_count"] == 86_400
    print(data["summary"])
