"""Installation credentials: formats, a 0600 file from the first byte, one key per home."""

from __future__ import annotations

import json
import os
import re
import stat
import threading
from pathlib import Path

import pytest

from kura.api import credentials
from kura.api.credentials import Credentials, load_or_create


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_formats() -> None:
    for _ in range(50):
        creds = credentials.generate()
        assert re.fullmatch(r"AKIA[A-Z0-9]{16}", creds.access_key_id)
        assert len(creds.secret_access_key) == 40
        assert re.fullmatch(r"[1-9][0-9]{11}", creds.account_id)


def test_generated_keys_differ() -> None:
    assert len({credentials.generate().secret_access_key for _ in range(20)}) == 20


def test_created_0600_with_the_contract_keys(tmp_path: Path) -> None:
    path = tmp_path / "home" / "credentials"
    creds = load_or_create(path)
    assert mode(path) == 0o600
    assert json.loads(path.read_text()) == {
        "aws_access_key_id": creds.access_key_id,
        "aws_secret_access_key": creds.secret_access_key,
        "account_id": creds.account_id,
    }
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "credentials"
        load_or_create(path)
    finally:
        os.umask(old)
    assert mode(path) == 0o600


def test_stable_across_loads(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    first = load_or_create(path)
    assert load_or_create(path) == first
    assert load_or_create(path) == Credentials.from_json(path.read_text())


def test_loosened_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    first = load_or_create(path)
    path.chmod(0o644)
    assert load_or_create(path) == first
    assert mode(path) == 0o600


def test_concurrent_first_starts_agree(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    results: list[Credentials] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        results.append(load_or_create(path))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert list(tmp_path.iterdir()) == [path]


def test_secret_for() -> None:
    creds = credentials.generate()
    assert creds.secret_for(creds.access_key_id) == creds.secret_access_key
    assert creds.secret_for("AKIA0000000000000000") is None


@pytest.mark.parametrize(("field", "value"), [
    ("access_key_id", "AKIAshort"),
    ("access_key_id", "ASIA" + "A" * 16),
    ("secret_access_key", "x" * 39),
    ("account_id", "12345678901"),
    ("account_id", "12345678901a"),
])
def test_invalid_values_are_refused(field: str, value: str) -> None:
    good = credentials.generate()
    fields = {"access_key_id": good.access_key_id, "secret_access_key": good.secret_access_key,
              "account_id": good.account_id, field: value}
    with pytest.raises(ValueError):
        Credentials(**fields)


def test_corrupt_file_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text("{}")
    with pytest.raises((ValueError, KeyError)):
        load_or_create(path)
    assert path.read_text() == "{}"
