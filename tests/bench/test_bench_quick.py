"""CI runs the short version of each benchmark: it must run end to end and write its result.

Speed goals are judged from the JSON, not asserted here (this machine is shared and noisy).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_api_latency_quick() -> None:
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "api_latency.py"), "--quick"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    data = json.loads((ROOT / "bench" / "results" / "api_latency_quick.json").read_text())
    for target in ("kura", "moto"):
        tput = data[target]["throughput_GetSecretValue"]
        assert tput["errors"] == 0 and tput["requests"] > 0
        assert data[target]["latency"]["GetSecretValue"]["n"] == data["args"]["calls"]
    print(data["summary"])


def test_provision_quick() -> None:
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "provision.py"), "--quick"],
                         capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    data = json.loads((ROOT / "bench" / "results" / "provision_quick.json").read_text())
    assert len(data["kura"]["available_s"]) == data["runs"]
    assert data["idle"]["all_answered"] and data["idle"]["idle_pss_per_instance_mib"] > 0
    print(data["summary"])


def test_elasticache_quick() -> None:
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "elasticache.py"), "--quick"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    data = json.loads((ROOT / "bench" / "results" / "elasticache_quick.json").read_text())
    assert len(data["create_to_available_s"]) == data["runs"] and data["failover_s"]
    print(data["summary"])


def test_backup_quick() -> None:
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "backup.py"), "--quick"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    data = json.loads((ROOT / "bench" / "results" / "backup_quick.json").read_text())
    assert data["base_backup"]["kura_snapshot_runs"] and data["base_backup"]["raw_pg_basebackup_runs"]
    assert data["point_in_time_restore"]["kura_runs"] and data["point_in_time_restore"]["raw_runs"]
    assert data["goals"]["restores_hold_the_target_state"]
    assert data["latest_restorable_time_lag"]["n"] > 0
    print(data["summary"])


def test_failover_quick() -> None:
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "failover.py"), "--quick"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:] + res.stdout[-2000:]
    data = json.loads((ROOT / "bench" / "results" / "failover_quick.json").read_text())
    assert len(data["trials"]) == 3 and data["lost"] == 0 and data["acknowledged"] > 0
    print(data["summary"])
