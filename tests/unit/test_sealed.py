"""Files sealed chunk by chunk: round trips, and every kind of damage is caught."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kura import sealed

KEY = (os.urandom(32), b"wrapped-key-blob")


def _write(path: Path, data: bytes, key: tuple[bytes, bytes] | None = KEY, context: bytes = b"ctx") -> None:
    with sealed.Writer(path, key, context) as out:
        for i in range(0, len(data), 1_000_000):
            out.write(data[i:i + 1_000_000])


def _read(path: Path, context: bytes = b"ctx") -> bytes:
    return b"".join(sealed.read(path, lambda wrapped: KEY[0], context))


@pytest.mark.parametrize("size", [0, 1, sealed.CHUNK, sealed.CHUNK + 1, 2 * sealed.CHUNK + 12345])
def test_round_trip(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    _write(tmp_path / "f", data)
    assert sealed.wrapped_key(tmp_path / "f") == KEY[1]
    assert _read(tmp_path / "f") == data
    assert size < 64 or data[:64] not in (tmp_path / "f").read_bytes()


def test_plain_files_pass_through(tmp_path: Path) -> None:
    _write(tmp_path / "p", b"plain bytes", key=None)
    assert sealed.wrapped_key(tmp_path / "p") is None
    assert _read(tmp_path / "p") == b"plain bytes"


def test_damage_is_caught(tmp_path: Path) -> None:
    data = os.urandom(2 * sealed.CHUNK + 10)
    _write(tmp_path / "f", data)
    raw = (tmp_path / "f").read_bytes()
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 1
    (tmp_path / "flip").write_bytes(bytes(flipped))
    with pytest.raises(sealed.SealedFileError):
        _read(tmp_path / "flip")
    # cut at a chunk boundary: the last chunk present does not say it is the last
    header = len(sealed.MAGIC) + 4 + len(KEY[1])
    first = int.from_bytes(raw[header:header + 4], "big")
    (tmp_path / "cut").write_bytes(raw[:header + 4 + first])
    with pytest.raises(sealed.SealedFileError):
        _read(tmp_path / "cut")
    with pytest.raises(sealed.SealedFileError):
        _read(tmp_path / "f", context=b"another file's context")


def test_an_interrupted_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), sealed.Writer(tmp_path / "f", KEY, b"ctx") as out:
        out.write(b"partial")
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
