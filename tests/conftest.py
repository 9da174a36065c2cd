from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kura_fixture import KuraServer, free_port


@pytest.fixture(scope="session", autouse=True)
def _engine_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Template clusters and spares live in the session's own directory, not in ~/.cache."""
    import os

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
