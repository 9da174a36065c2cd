"""Where RDS backups live and how they are sealed.

    $KURA_HOME/backups/rds/<region>/<DbiResourceId>/   one automated backup (outlives its instance)
        base/<backup-id>.tar       base backups: tar with the WAL fetched in, and a manifest
        wal/<segment>              archived WAL; <segment>.partial: the last, incomplete one
        key                        the wrapped data key (encrypted instances only)
    $KURA_HOME/backups/rds/<region>/snapshots/<id>.tar   manual snapshots (each with its own data key)

The WAL being received right now is the instance's (data/rds/<region>/<id>/wal-stream, beside pg_wal):
a segment moves into the backup storage, sealed, as soon as it is complete. For StorageEncrypted
instances every file here is sealed (kura.sealed) under a data key of the instance's KMS key, so
disabling that key makes restores fail with KMS's error.
"""

from __future__ import annotations

import fcntl
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from kura import sealed
from kura.control.rds import nodes
from kura.engines.postgres import backup
from kura.env import Env
from kura.services.kms import internal as kms

KMS_ALIAS = "alias/aws/rds"
_keys: dict[tuple[str, str], tuple[bytes, bytes]] = {}  # (region, dbi) → (data key, wrapped)
_keys_lock = threading.Lock()


def root(env: Env, region: str) -> Path:
    """The region's backup storage; $KURA_HOME/backups is 0700 (backups are data, like pgdata)."""
    top = env.settings.paths.home / "backups"
    if not top.is_dir():
        top.mkdir(mode=0o700, parents=True, exist_ok=True)
    return top / "rds" / region


def stream_dir(env: Env, region: str, instance_id: str) -> Path:
    return nodes.layout(env, region, instance_id).base / "wal-stream"


def snapshot_file(env: Env, region: str, ident: str) -> Path:
    safe = ident.replace(":", "_")  # automated names carry "rds:"
    return root(env, region) / "snapshots" / f"{safe}.tar"


def snapshot_context(ident: str) -> bytes:
    return f"kura rds snapshot {ident}".encode()


def unwrapper(env: Env, region: str) -> Callable[[bytes], bytes]:
    return lambda wrapped: kms.decrypt_data_key(env, region, wrapped)[1]


def new_key(env: Env, region: str, kms_key: str | None) -> tuple[bytes, bytes]:
    """A fresh data key (plain, wrapped) under `kms_key` (None: the AWS managed alias/aws/rds)."""
    _, plain, wrapped = kms.generate_data_key(env, region, kms_key, default_alias=KMS_ALIAS)
    return plain, wrapped


class Area:
    """One automated backup's files."""

    def __init__(self, env: Env, region: str, dbi: str) -> None:
        self.env, self.region, self.dbi = env, region, dbi
        self.dir = root(env, region) / dbi
        self.base = self.dir / "base"
        self.wal = self.dir / "wal"

    def context(self, name: str) -> bytes:
        return f"kura rds backup {self.dbi} {name}".encode()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """One writer at a time (the backup reconciler, an instance's delete archiving its last WAL)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def key(self, encrypted: bool, kms_key: str | None) -> tuple[bytes, bytes] | None:
        if not encrypted:
            return None
        with _keys_lock:
            found = _keys.get((self.region, self.dbi))
            if found is not None:
                return found
            path = self.dir / "key"
            if path.exists():
                wrapped = path.read_bytes()
                found = (unwrapper(self.env, self.region)(wrapped), wrapped)
            else:
                found = new_key(self.env, self.region, kms_key)
                self.dir.mkdir(parents=True, exist_ok=True)
                path.write_bytes(found[1])
            _keys[(self.region, self.dbi)] = found
            return found

    def archive(self, stream: backup.Streamer, key: tuple[bytes, bytes] | None, final: bool = False) -> int:
        """Move complete received segments into wal/ (sealed); with `final`, the .partial too (the
        instance is going away). The number of files archived."""
        self.wal.mkdir(parents=True, exist_ok=True)
        moved = 0
        for src in stream.files():
            self._store(src, self.wal / src.name, key)
            src.unlink()
            moved += 1
        partial = stream.partial()
        if final and partial is not None:
            self._store(partial, self.wal / partial.name, key)
            moved += 1
        return moved

    def _store(self, src: Path, dest: Path, key: tuple[bytes, bytes] | None) -> None:
        with open(src, "rb") as f, sealed.Writer(dest, key, self.context(dest.name)) as out:
            while chunk := f.read(sealed.CHUNK):
                out.write(chunk)

    def stage(self, dest: Path, first: str, live: backup.Streamer | None) -> str | None:
        """Copy (opened) every WAL file from segment `first` on into `dest`, for recovery to read; the
        latest partial segment (the live stream's, else the archived one) under its full name. The
        name of the last segment staged."""
        dest.mkdir(parents=True, exist_ok=True)
        unwrap = unwrapper(self.env, self.region)
        names = sorted(p.name for p in self.wal.iterdir()) if self.wal.is_dir() else []
        full = sorted(n for n in names if backup.SEGMENT.match(n) and n[8:] >= first[8:])
        for name in [*(n for n in names if n.endswith(".history")), *full]:
            sealed.copy_out(self.wal / name, dest / name, unwrap, self.context(name))
        last = full[-1] if full else None
        for src in live.files() if live is not None else []:  # complete, not archived yet (disk full)
            if backup.SEGMENT.match(src.name) and src.name not in full and src.name[8:] >= first[8:]:
                shutil.copyfile(src, dest / src.name)
                last = max(last or src.name, src.name)
                full.append(src.name)
        partial = live.partial() if live is not None else None
        if partial is not None:
            seg = partial.name.removesuffix(".partial")
            if seg not in full:
                shutil.copyfile(partial, dest / seg)
                last = seg
        else:
            archived = sorted(n for n in names if n.endswith(".partial"))
            tail = archived[-1].removesuffix(".partial") if archived else None
            if tail is not None and tail not in full and tail[8:] >= first[8:]:
                sealed.copy_out(self.wal / archived[-1], dest / tail, unwrap, self.context(archived[-1]))
                last = tail
        return last

    def drop_wal_before(self, segment: str) -> int:
        """Remove archived WAL no kept base backup needs (segments before `segment`)."""
        removed = 0
        for path in list(self.wal.iterdir()) if self.wal.is_dir() else []:
            name = path.name.removesuffix(".partial")
            if backup.SEGMENT.match(name) and name[8:] < segment[8:]:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.dir.rglob("*") if p.is_file()) if self.dir.is_dir() else 0

    def remove(self) -> None:
        with _keys_lock:
            _keys.pop((self.region, self.dbi), None)
        shutil.rmtree(self.dir, ignore_errors=True)
