"""The router's cost: pgbench select-only through a router endpoint vs directly to the instance, in the
same run, interleaved (goal ≥ 0.85 of direct TPS on this 2-core machine), with latency.

A real `kura up` makes a DB instance; a router process (kura.net.router, the one Multi-AZ endpoints
use) owns a loopback endpoint of its own whose target is the instance's address. As Kura runs it, the
router has the kernel steer each new connection to the postmaster's listening socket (series `router`;
its `counts` show how many were steered). A second router with steering off (KURA_ROUTER_STEER=off, as
where BPF is not allowed) forwards every byte itself (series `forwarding`). pgbench connects over TLS as
the master user every way.

When HAProxy is installed (`/usr/sbin/haproxy`; Kura does not need it), a third series goes through a
plain HAProxy TCP proxy to the same instance: the cost of a userspace proxy written in C on this machine,
for reference.

    python bench/endpoint_overhead.py [--quick] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import write_result
from kura.control.rds import nodes
from kura.net.router.control import RouterControl
from kura.net.router.table import Endpoint, Table
from tests.integration.test_rds_lifecycle import PASSWORD, create, describe, stop_leftovers
from tests.kura_fixture import KuraServer, free_port

HAPROXY = Path("/usr/sbin/haproxy")
_TPS = re.compile(r"tps = ([0-9.]+)")
_LAT = re.compile(r"latency average = ([0-9.]+) ms")


def pgbench(host: str, port: int, seconds: int, clients: int, *args: str) -> dict[str, float]:
    tool = str(nodes.engines()[0].tool("pgbench"))
    env = {**os.environ, "PGPASSWORD": PASSWORD, "PGSSLMODE": "require"}
    done = subprocess.run([tool, "-h", host, "-p", str(port), "-U", "master", *args, "-c", str(clients),
                           "-j", str(min(clients, 2)), "-T", str(seconds), "-n", "app"],
                          env=env, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-1000:])
    tps, lat = _TPS.search(done.stdout), _LAT.search(done.stdout)
    assert tps is not None and lat is not None, done.stdout
    return {"tps": float(tps.group(1)), "latency_ms": float(lat.group(1))}


def start_haproxy(where: Path, listen: tuple[str, int], target: tuple[str, int]) -> subprocess.Popen[bytes]:
    config = where / "haproxy.cfg"
    config.write_text("global\n  maxconn 1000\n  nbthread 1\ndefaults\n  mode tcp\n  timeout connect 1s\n"
                      "  timeout client 1h\n  timeout server 1h\nlisten reference\n"
                      f"  bind {listen[0]}:{listen[1]}\n  server primary {target[0]}:{target[1]}\n")
    proc = subprocess.Popen([str(HAPROXY), "-f", str(config), "-db"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return proc


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    rounds, seconds, clients = (2, 3, 4) if args.quick else (5, 10, 4)
    home = Path(tempfile.mkdtemp(prefix="kura-bench-router-"))
    server = KuraServer(home=home / "home", port=free_port(), env_extra={"KURA_RDS_POLL_SECONDS": "0.5"})
    (home / "home").mkdir()
    server.start()
    router = RouterControl(home / "router", workers=args.workers)
    forwarding = RouterControl(home / "forwarding", workers=args.workers)
    result: dict[str, Any] = {}
    reference: subprocess.Popen[bytes] | None = None
    try:
        rds = server.client("rds")
        create(rds, "bench-db", BackupRetentionPeriod=0, DBInstanceClass="db.m5.large")
        ep = describe(rds, "bench-db")["Endpoint"]
        direct = (str(ep["Address"]), int(ep["Port"]))
        listen = ("127.0.0.1", free_port())
        router.ensure()
        router.publish(Table((Endpoint("bench", listen, (direct,)),)))
        forwarded = ("127.0.0.1", free_port())
        os.environ["KURA_ROUTER_STEER"] = "off"  # inherited by the second router only
        try:
            forwarding.ensure()
        finally:
            del os.environ["KURA_ROUTER_STEER"]
        forwarding.publish(Table((Endpoint("bench", forwarded, (direct,)),)))
        time.sleep(1)
        subprocess.run([str(nodes.engines()[0].tool("pgbench")), "-i", "-s", "2", "-h", direct[0], "-p",
                        str(direct[1]), "-U", "master", "app"], check=True, capture_output=True,
                       env={**os.environ, "PGPASSWORD": PASSWORD, "PGSSLMODE": "require"})
        samples: dict[str, list[dict[str, float]]] = {"direct": [], "router": [], "forwarding": []}
        series = {"direct": direct, "router": listen, "forwarding": forwarded}
        if HAPROXY.exists():
            series["haproxy"] = ("127.0.0.1", free_port())
            samples["haproxy"] = []
            reference = start_haproxy(home, series["haproxy"], direct)
        order = list(series)
        for round_no in range(rounds):
            shift = round_no % len(order)  # no series always runs first
            for name in order[shift:] + order[:shift]:
                samples[name].append(pgbench(*series[name], seconds, clients, "-S"))
        best = {k: max(s["tps"] for s in v) for k, v in samples.items()}
        mean = {k: sum(s["tps"] for s in v) / len(v) for k, v in samples.items()}
        lat = {k: min(s["latency_ms"] for s in v) for k, v in samples.items()}
        ratio = round(mean["router"] / mean["direct"], 3)
        forwarding_ratio = round(mean["forwarding"] / mean["direct"], 3)
        reference_ratio = round(mean["haproxy"] / mean["direct"], 3) if "haproxy" in mean else None
        counts = router.stats()
        steered = int(counts.get("bench", {}).get("steered", 0))
        result = {"rounds": rounds, "seconds": seconds, "clients": clients, "workers": args.workers,
                  "samples": samples, "mean_tps": mean, "best_tps": best, "best_latency_ms": lat,
                  "ratio_mean_tps": ratio, "goal_ratio": 0.85, "forwarding_ratio_mean_tps": forwarding_ratio,
                  "haproxy_ratio_mean_tps": reference_ratio, "counts": counts,
                  "forwarding_counts": forwarding.stats(), "steered_connections": steered}
        summary = (f"endpoint_overhead: select-only TPS router/direct {ratio} (mean of {rounds}; "
                   f"{mean['router']:.0f} vs {mean['direct']:.0f} TPS; latency {lat['router']:.2f} vs "
                   f"{lat['direct']:.2f} ms; {steered} connections steered by the kernel); forwarding "
                   f"every byte in userspace: {forwarding_ratio} ({args.workers} worker(s))"
                   + (f"; HAProxy (C) for reference: {reference_ratio}" if reference_ratio else ""))
        write_result("endpoint_overhead_quick" if args.quick else "endpoint_overhead", result, summary)
    finally:
        if reference is not None:
            reference.terminate()
            reference.wait(10)
        router.stop()
        forwarding.stop()
        server.stop()
        stop_leftovers(server.home)
        subprocess.run(["rm", "-rf", str(home)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
