"""Provisioning: create-db-instance → available → first query, against the raw floor of the same engine.

The raw floor is `initdb` + `pg_ctl start -w` + a first query, run in the same benchmark. Also the memory
an idle instance costs (PSS of its postmaster and children) and how many idle instances fit in this
machine's memory, with a fleet of idle instances actually created and queried.

    python bench/provision.py [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import percentile, write_result
from kura.engines import osuser
from kura.engines.postgres.catalog import discover
from tests.kura_fixture import KuraServer, free_port

PASSWORD = "bench-password-1"


def _step(cmd: list[str], user: osuser.OsUser | None) -> None:
    done = osuser.run(cmd, user, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {done.stderr[-2000:]}")


def raw_floor(runs: int) -> dict[str, Any]:
    """initdb + pg_ctl start + first query, with the newest installed engine, as the engine user."""
    engine = discover()[0]
    user = osuser.engine_user()
    samples = []
    for _ in range(runs):
        tmp = Path(tempfile.mkdtemp(prefix="kura-floor-"))
        osuser.private_dir(tmp, user)
        osuser.grant_traverse(tmp, user)
        data, port = tmp / "data", free_port()
        t0 = time.perf_counter()
        _step([str(engine.tool("initdb")), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
               "--locale=C.UTF-8"], user)
        opts = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1"
        _step([str(engine.tool("pg_ctl")), "-D", str(data), "-w", "-l", str(tmp / "log"), "-o", opts,
               "start"], user)
        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres") as conn:
            conn.execute("SELECT 1").fetchone()
        samples.append(time.perf_counter() - t0)
        _step([str(engine.tool("pg_ctl")), "-D", str(data), "-m", "immediate", "-w", "stop"], user)
        shutil.rmtree(tmp)
    return {"engine": engine.version, "p50_s": round(percentile(samples, 50), 3),
            "samples_s": [round(s, 3) for s in samples]}


def _create(rds: Any, ident: str) -> None:
    rds.create_db_instance(DBInstanceIdentifier=ident, Engine="postgres", DBInstanceClass="db.t3.micro",
                           MasterUsername="bench", MasterUserPassword=PASSWORD, AllocatedStorage=20,
                           DBName="bench")


def _wait_available(rds: Any, ident: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inst = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
        if inst["DBInstanceStatus"] == "available":
            return dict(inst)
        if inst["DBInstanceStatus"] == "failed":
            raise RuntimeError(f"{ident} failed")
        time.sleep(0.02)
    raise TimeoutError(ident)


def _first_query(inst: dict[str, Any]) -> None:
    ep = inst["Endpoint"]
    with psycopg.connect(host=ep["Address"], port=ep["Port"], user="bench", password=PASSWORD,
                         dbname="bench", sslmode="require", connect_timeout=10) as conn:
        conn.execute("SELECT 1").fetchone()


def kura_runs(rds: Any, runs: int) -> dict[str, Any]:
    to_available, to_query = [], []
    for i in range(runs):
        ident = f"prov-{i}"
        t0 = time.perf_counter()
        _create(rds, ident)
        inst = _wait_available(rds, ident)
        to_available.append(time.perf_counter() - t0)
        _first_query(inst)
        to_query.append(time.perf_counter() - t0)
        rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)
    return {"available_p50_s": round(percentile(to_available, 50), 3),
            "first_query_p50_s": round(percentile(to_query, 50), 3),
            "available_s": [round(s, 3) for s in to_available],
            "first_query_s": [round(s, 3) for s in to_query]}


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_pss_kib(root: int) -> int:
    total = _pss_kib(root)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == root:
            total += _pss_kib(int(stat.parent.name))
    return total


def fleet(rds: Any, home: Path, count: int) -> dict[str, Any]:
    idents = [f"idle-{i}" for i in range(count)]
    for ident in idents:
        _create(rds, ident)
    instances = [_wait_available(rds, ident, timeout=600) for ident in idents]
    for inst in instances:
        _first_query(inst)
    time.sleep(5)  # let them settle to idle
    pss = []
    for pidfile in home.glob("data/rds/*/*/pgdata/postmaster.pid"):
        pss.append(_tree_pss_kib(int(pidfile.read_text().split()[0])))
    mem_total_kib = int(Path("/proc/meminfo").read_text().split()[1])
    per = sum(pss) / max(1, len(pss))
    for ident in idents:
        rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)
    return {"instances": count, "all_answered": True, "idle_pss_per_instance_mib": round(per / 1024, 1),
            "machine_memory_gib": round(mem_total_kib / 1024 / 1024, 1),
            "instances_that_fit": int(mem_total_kib * 0.9 / per) if per else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run for CI")
    args = parser.parse_args()
    runs, fleet_size = (3, 5) if args.quick else (10, 50)
    floor = raw_floor(runs)
    with tempfile.TemporaryDirectory(prefix="kura-bench-") as tmp:
        kura = KuraServer(home=Path(tmp) / "home", port=free_port())
        kura.start()
        try:
            rds = kura.client("rds")
            result = kura_runs(rds, runs)
            idle = fleet(rds, kura.home, fleet_size)
        finally:
            kura.stop()
    ratio = round(result["available_p50_s"] / floor["p50_s"], 2)
    goals = {"available_le_1_5_s": result["available_p50_s"] <= 1.5, "le_1_5x_floor": ratio <= 1.5,
             "fifty_idle_fit": (idle["instances_that_fit"] or 0) >= 50}
    summary = (f"provision{' (quick)' if args.quick else ''}: available p50 {result['available_p50_s']} s, "
               f"first query p50 {result['first_query_p50_s']} s, raw floor (initdb+start+query, "
               f"PostgreSQL {floor['engine']}) p50 {floor['p50_s']} s, ratio {ratio}; idle instance "
               f"{idle['idle_pss_per_instance_mib']} MiB PSS, {idle['instances']} idle instances answered, "
               f"~{idle['instances_that_fit']} fit; goals {goals}")
    write_result("provision" + ("_quick" if args.quick else ""),
                 {"runs": runs, "kura": result, "raw_floor": floor, "ratio_available_over_floor": ratio,
                  "idle": idle, "goals": goals}, summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
