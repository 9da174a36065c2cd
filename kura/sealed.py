"""Files sealed chunk by chunk (AES-256-GCM under a data key), for backups too large to hold in memory.

    MAGIC | u32 len | wrapped data key | { u32 len | seal(chunk, aad = context | index | last) }*

The wrapped data key (a KMS ciphertext blob) travels in the header, so each file says which key opens
it. Each chunk's AAD binds its position and whether it is the last, so chunks cannot be reordered,
dropped or the file cut short without the read failing. A file without MAGIC is plain (an unencrypted
instance's backups are stored as they are, as on RDS).
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from kura import crypto

MAGIC = b"KURASEAL1\n"
CHUNK = 4 * 1024 * 1024
_LEN = struct.Struct(">I")


class SealedFileError(Exception):
    """A sealed file is damaged, cut short or not sealed under this context."""


def _aad(context: bytes, index: int, last: bool) -> bytes:
    return context + struct.pack(">QB", index, 1 if last else 0)


class Writer:
    """Write plain bytes; they land sealed (or plain when `key` is None) in `path`, via a temporary
    file renamed into place on close, so a reader never sees half a file."""

    def __init__(self, path: Path, key: tuple[bytes, bytes] | None, context: bytes) -> None:
        self.path = path
        self._tmp = path.with_name(f".{path.name}.tmp")
        self._file: BinaryIO = open(self._tmp, "wb")  # noqa: SIM115 (closed in close())
        self._key = key[0] if key else None
        self._context = context
        self._buf = bytearray()
        self._index = 0
        self.size = 0
        if key is not None:
            self._file.write(MAGIC + _LEN.pack(len(key[1])) + key[1])

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self._key is None:
            self._file.write(data)
            return
        self._buf += data
        while len(self._buf) > CHUNK:  # keep the last chunk back: only close() knows it is the last
            self._emit(bytes(self._buf[:CHUNK]), last=False)
            del self._buf[:CHUNK]

    def _emit(self, chunk: bytes, last: bool) -> None:
        assert self._key is not None
        sealed = crypto.seal(self._key, chunk, _aad(self._context, self._index, last))
        self._file.write(_LEN.pack(len(sealed)) + sealed)
        self._index += 1

    def close(self) -> None:
        if self._key is not None:
            self._emit(bytes(self._buf), last=True)
            self._buf.clear()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._tmp.rename(self.path)

    def abort(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def wrapped_key(path: Path) -> bytes | None:
    """The wrapped data key in a sealed file's header; None for a plain file."""
    with open(path, "rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            return None
        (size,) = _LEN.unpack(f.read(4))
        return f.read(size)


def read(path: Path, unwrap: Callable[[bytes], bytes], context: bytes) -> Iterator[bytes]:
    """The plain content of `path` in chunks; `unwrap` turns the header's wrapped key into the data
    key (a KMS decrypt: it raises when the key is disabled or gone)."""
    with open(path, "rb") as raw:
        f = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)
        if f.read(len(MAGIC)) != MAGIC:
            f.seek(0)
            while chunk := f.read(CHUNK):
                yield chunk
            return
        (size,) = _LEN.unpack(f.read(4))
        key = unwrap(f.read(size))
        index = 0
        while True:
            head = f.read(4)
            if len(head) < 4:
                raise SealedFileError(f"{path.name} is cut short after {index} chunks")
            (size,) = _LEN.unpack(head)
            sealed = f.read(size)
            last = f.peek(1)[:1] == b""
            try:
                chunk = crypto.unseal(key, sealed, _aad(context, index, last))
            except crypto.SealError as exc:
                raise SealedFileError(f"{path.name}: chunk {index} does not authenticate") from exc
            yield chunk
            if last:
                return
            index += 1


def copy_out(path: Path, dest: Path, unwrap: Callable[[bytes], bytes], context: bytes) -> int:
    """Write the plain content of `path` to `dest`; the number of bytes."""
    size = 0
    with open(dest, "wb") as out:
        for chunk in read(path, unwrap, context):
            out.write(chunk)
            size += len(chunk)
    return size
