"""The CLI contract: up (foreground/detached), a second up, status, env, down — on a home of our own."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kura_fixture import free_port


def kura_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kura", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    yield home
    # Whatever a test left running on this home is stopped by its own pid.
    try:
        pid = json.loads((home / "runtime.json").read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def test_help_documents_every_command() -> None:
    res = kura_cli("--help")
    assert res.returncode == 0
    for command in ("up", "down", "status", "env"):
        assert command in res.stdout
    up_help = kura_cli("up", "--help").stdout
    for flag in ("--home", "--host", "--port", "--detach", "--auth"):
        assert flag in up_help


def test_up_detach_status_env_down(home: Path) -> None:
    port = free_port()
    res = kura_cli("up", "--home", str(home), "--port", str(port), "--detach")
    assert res.returncode == 0, res.stderr
    assert f"127.0.0.1:{port}" in res.stdout

    again = kura_cli("up", "--home", str(home), "--port", str(free_port()), "--detach")
    assert again.returncode == 1
    assert "already running" in again.stderr

    status = kura_cli("status", "--home", str(home))
    assert status.returncode == 0, status.stdout
    assert f"127.0.0.1:{port}" in status.stdout and "healthy" in status.stdout

    creds = json.loads((home / "credentials").read_text())
    assert (home / "credentials").stat().st_mode & 0o777 == 0o600
    assert len(creds["account_id"]) == 12

    # The README's `eval "$(kura env)"` then `aws …`: the virtualenv's CLI, not the system's first on
    # PATH (Debian's 2.9 ignores AWS_ENDPOINT_URL).
    script = (f'eval "$({sys.executable} -m kura env --home {home})"; '
              'aws sts get-caller-identity --output json')
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    clean.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                 PATH="/usr/local/bin:/usr/bin:/bin")
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=clean, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Account"] == creds["account_id"]

    down = kura_cli("down", "--home", str(home))
    assert down.returncode == 0, down.stderr
    assert kura_cli("status", "--home", str(home)).returncode == 3
    assert not (home / "runtime.json").exists()


def test_restart_after_kill9_keeps_state(home: Path) -> None:
    port = free_port()
    assert kura_cli("up", "--home", str(home), "--port", str(port), "--detach").returncode == 0
    env = _aws_env(home, port)
    created = subprocess.run([sys.executable, "-m", "awscli", "secretsmanager", "create-secret", "--name",
                              "kept/after/kill", "--secret-string", "v1"], env=env, capture_output=True,
                             text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    pid = json.loads((home / "runtime.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    _wait_gone(pid)

    assert kura_cli("up", "--home", str(home), "--port", str(port), "--detach").returncode == 0
    got = subprocess.run([sys.executable, "-m", "awscli", "secretsmanager", "get-secret-value", "--secret-id",
                          "kept/after/kill", "--query", "SecretString", "--output", "text"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == "v1"
    assert kura_cli("down", "--home", str(home)).returncode == 0


def _aws_env(home: Path, port: int) -> dict[str, str]:
    creds = json.loads((home / "credentials").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID=creds["aws_access_key_id"],
               AWS_SECRET_ACCESS_KEY=creds["aws_secret_access_key"], AWS_DEFAULT_REGION="ap-northeast-1",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    return env


def _wait_gone(pid: int) -> None:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ", 1)[1].startswith("Z"):
                    return
        except (OSError, IndexError):
            return
        time.sleep(0.05)
