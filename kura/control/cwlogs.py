"""What Kura's services deliver into CloudWatch Logs from the control plane: RDS log exports, RDS
Enhanced Monitoring and ElastiCache slow logs, started and stopped with Kura (one of each per home)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from kura.control.elasticache.slow_log import Poller
from kura.control.rds.enhanced_monitoring import Monitor
from kura.control.rds.log_exports import Follower
from kura.env import Env
from kura.metrics import logstore


class _Part(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


_running: dict[Path, list[_Part]] = {}


def start(env: Env) -> None:
    parts: list[_Part] = [Follower(env), Monitor(env), Poller(env)]
    _running[env.settings.home] = parts
    for part in parts:
        part.start()


def stop(env: Env) -> None:
    for part in _running.pop(env.settings.home, []):
        part.stop()
    logstore.close_home(env.settings.home)
