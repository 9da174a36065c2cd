from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kura_fixture import KuraServer, free_port


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`slow` tests (long chaos and benchmark runs, each with a short version that always runs) run only
    with KURA_SLOW=1 (`make test-all`): `make test`, which CI runs, keeps within its time budget."""
    if os.environ.get("KURA_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with KURA_SLOW=1 (make test-all)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _engine_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Template clusters and spares live in the session's own directory, not in ~/.cache."""
    previous = os.environ.get("KURA_CACHE_DIR")
    os.environ["KURA_CACHE_DIR"] = str(tmp_path_factory.mktemp("engine-cache"))
    yield
    if previous is None:
        os.environ.pop("KURA_CACHE_DIR", None)
    else:
        os.environ["KURA_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def kura(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuraServer]:
    """One real Kura server (subprocess, SigV4 on) shared by the session's tests."""
    home = tmp_path_factory.mktemp("kura") / "home"
    server = KuraServer(home=home, port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_kura(tmp_path: Path) -> Iterator[KuraServer]:
    """A server of the test's own, for tests that restart or kill it."""
    server = KuraServer(home=tmp_path / "home", port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
