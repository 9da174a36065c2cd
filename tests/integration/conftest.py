from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_rds_lifecycle import make_server, stop_leftovers
from tests.kura_fixture import KuraServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KuraServer]:
    """A Kura of the test's own (fast RDS polling); its postmasters are stopped afterwards."""
    srv = make_server(tmp_path / "home")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        stop_leftovers(srv.home)
