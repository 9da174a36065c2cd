"""A real Kura server for tests: its own home, its own loopback port, stopped by its own pid."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

AWS_V2 = "/usr/bin/aws"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_port(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing answers on {host}:{port}")


@dataclass
class KuraServer:
    home: Path
    port: int
    host: str = "127.0.0.1"
    region: str = "ap-northeast-1"
    proc: subprocess.Popen[bytes] | None = None
    extra_args: list[str] = field(default_factory=list)
    env_extra: dict[str, str] = field(default_factory=dict)  # added to the server's environment

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def credentials(self) -> dict[str, str]:
        return dict(json.loads((self.home / "credentials").read_text()))

    @property
    def env(self) -> dict[str, str]:
        """Environment for the aws cli / boto3 pointing at this server."""
        creds = self.credentials()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID=creds["aws_access_key_id"],
            AWS_SECRET_ACCESS_KEY=creds["aws_secret_access_key"],
            AWS_DEFAULT_REGION=self.region,
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_PAGER="",
        )
        return env

    def client(self, service: str, region: str | None = None, **kw: Any) -> Any:
        creds = self.credentials()
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region or self.region,
            aws_access_key_id=kw.pop("aws_access_key_id", creds["aws_access_key_id"]),
            aws_secret_access_key=kw.pop("aws_secret_access_key", creds["aws_secret_access_key"]),
            config=Config(retries={"max_attempts": 1}, **kw),
        )

    def aws(self, *args: str, region: str | None = None, check: bool = True,
            stdin: str | None = None) -> Any:
        """Run the real AWS CLI; JSON output is parsed, text output returned stripped."""
        env = self.env
        if region:
            env["AWS_DEFAULT_REGION"] = region
        proc = subprocess.run(
            [sys.executable, "-m", "awscli", *args], env=env, capture_output=True, text=True,
            input=stdin, timeout=120,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        if not check:
            return proc
        out = proc.stdout.strip()
        if "--output" in args and args[args.index("--output") + 1] != "json":
            return out
        return json.loads(out) if out else None

    def aws_v2(self, *args: str) -> str:
        """Debian's AWS CLI v2 (`make test` installs it), for what v1 lacks (`aws logs tail`); this
        version predates AWS_ENDPOINT_URL, so the endpoint is given as an option. Its text output."""
        proc = subprocess.run([AWS_V2, "--endpoint-url", self.endpoint, *args], env=self.env,
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc.stdout

    def start(self) -> None:
        cmd = [sys.executable, "-m", "kura", "up", "--home", str(self.home), "--host", self.host,
               "--port", str(self.port), *self.extra_args]
        log = open(self.home.parent / f"kura-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env={**os.environ, **self.env_extra})
        log.close()
        try:
            wait_port(self.host, self.port)
        except TimeoutError:
            self.stop()
            raise

    def stop(self, sig: int = signal.SIGTERM, *, data_plane: bool = True) -> None:
        """Stop Kura; with SIGTERM also the database processes it runs (as `kura down --all`), so a
        test leaves no postmaster or redis-server behind. kill9() leaves them, as a crash does."""
        if self.proc is None:
            return
        if sig == signal.SIGTERM and data_plane and self.proc.poll() is None:
            (self.home / "stop-all.request").touch()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)
