"""API latency and throughput: Kura vs moto's standalone server, side by side in one run.

Latency: sequential boto3 calls (p50/p99) of GetSecretValue, DescribeSecret and a describe call over
1,000 stored resources. Throughput: GetSecretValue requests signed once with botocore's SigV4 signer and
replayed over keep-alive connections from several client processes, so the client costs little.

    python bench/api_latency.py [--quick]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import MotoServer, summary_ms, write_result
from tests.kura_fixture import KuraServer, free_port

REGION = "ap-northeast-1"


def _clients(endpoint: str, key: str, secret: str) -> tuple[Any, Any]:
    cfg = Config(retries={"max_attempts": 1}, max_pool_connections=4)
    kw = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key,
              aws_secret_access_key=secret, config=cfg)
    return boto3.client("secretsmanager", **kw), boto3.client("ec2", **kw)


def _seed(sm: Any, ec2: Any, resources: int) -> dict[str, str]:
    sm.create_secret(Name="bench/app", SecretString='{"username":"app","password":"x"}')
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    vpc_id = vpc[0]["VpcId"] if vpc else ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    target = ""
    for i in range(resources):
        gid = ec2.create_security_group(GroupName=f"bench-{i}", Description="bench", VpcId=vpc_id)["GroupId"]
        if i == resources // 2:
            target = gid
    return {"group": target}


def _latency(sm: Any, ec2: Any, seeded: dict[str, str], n: int) -> dict[str, Any]:
    calls = {
        "GetSecretValue": lambda: sm.get_secret_value(SecretId="bench/app"),
        "DescribeSecret": lambda: sm.describe_secret(SecretId="bench/app"),
        "DescribeSecurityGroups(1 of N)": lambda: ec2.describe_security_groups(GroupIds=[seeded["group"]]),
    }
    out: dict[str, Any] = {}
    for name, call in calls.items():
        for _ in range(min(20, n)):
            call()  # warm up connections and caches
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            call()
            samples.append(time.perf_counter() - t0)
        out[name] = summary_ms(samples)
    return out


def _signed_get_secret(endpoint: str, key: str, secret: str) -> tuple[str, dict[str, str], bytes]:
    body = b'{"SecretId": "bench/app"}'
    req = AWSRequest(method="POST", url=endpoint + "/", data=body, headers={
        "X-Amz-Target": "secretsmanager.GetSecretValue",
        "Content-Type": "application/x-amz-json-1.1",
    })
    SigV4Auth(Credentials(key, secret), "secretsmanager", REGION).add_auth(req)
    return "/", dict(req.headers.items()), body


def _hammer(endpoint: str, path: str, headers: dict[str, str], body: bytes, seconds: float,
            queue: Any) -> None:
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    done = errors = 0
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status == 200:
            done += 1
        else:
            errors += 1
    conn.close()
    queue.put((done, errors))


def _throughput(endpoint: str, key: str, secret: str, clients: int, seconds: float) -> dict[str, Any]:
    path, headers, body = _signed_get_secret(endpoint, key, secret)
    queue: Any = mp.Queue()
    procs = [mp.Process(target=_hammer, args=(endpoint, path, headers, body, seconds, queue))
             for _ in range(clients)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get(timeout=seconds + 60) for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    ok = sum(r[0] for r in results)
    return {"clients": clients, "seconds": round(elapsed, 2), "requests": ok,
            "errors": sum(r[1] for r in results), "per_second": round(ok / seconds, 1)}


def run_target(name: str, endpoint: str, key: str, secret: str, args: argparse.Namespace
               ) -> dict[str, Any]:
    sm, ec2 = _clients(endpoint, key, secret)
    t0 = time.perf_counter()
    seeded = _seed(sm, ec2, args.resources)
    seed_s = time.perf_counter() - t0
    result = {"seed_seconds": round(seed_s, 2), "latency": _latency(sm, ec2, seeded, args.calls),
              "throughput_GetSecretValue": _throughput(endpoint, key, secret, args.clients, args.seconds)}
    print(f"  {name}: {result}", file=sys.stderr)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run for CI")
    args = parser.parse_args()
    args.calls = 100 if args.quick else 1000
    args.seconds = 2.0 if args.quick else 10.0
    args.resources = 200 if args.quick else 1000
    args.clients = 2

    with tempfile.TemporaryDirectory(prefix="kura-bench-") as tmp:
        kura = KuraServer(home=Path(tmp) / "home", port=free_port())
        kura.start()
        try:
            creds = kura.credentials()
            kura_res = run_target("kura", kura.endpoint, creds["aws_access_key_id"],
                                  creds["aws_secret_access_key"], args)
        finally:
            kura.stop()
    with MotoServer() as moto:
        moto_res = run_target("moto", moto.endpoint, "testing", "testing", args)

    ratios = {op: round(kura_res["latency"][op]["p50_ms"] / moto_res["latency"][op]["p50_ms"], 3)
              for op in kura_res["latency"]}
    tput = kura_res["throughput_GetSecretValue"]["per_second"]
    goals = {"p50_le_moto": all(r <= 1.0 for r in ratios.values()),
             "get_secret_value_ge_1000_per_s": tput >= 1000}
    summary = (f"api_latency{' (quick)' if args.quick else ''}: GetSecretValue p50 kura "
               f"{kura_res['latency']['GetSecretValue']['p50_ms']} ms vs moto "
               f"{moto_res['latency']['GetSecretValue']['p50_ms']} ms; p50 ratios kura/moto {ratios}; "
               f"kura {tput}/s vs moto {moto_res['throughput_GetSecretValue']['per_second']}/s "
               "GetSecretValue "
               f"({args.resources} stored resources); goals {goals}")
    write_result("api_latency" + ("_quick" if args.quick else ""),
                 {"args": vars(args), "kura": kura_res, "moto": moto_res, "p50_ratio_kura_over_moto": ratios,
                  "goals": goals}, summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
