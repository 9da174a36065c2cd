"""DescribeDBLogFiles and DownloadDBLogFilePortion over the instance's real PostgreSQL logs.

The control plane records the log directory in status["log_dir"]; every regular file there is shown
as `error/<name>` (RDS's naming, e.g. error/postgresql.log.2026-11-23-18). Markers are byte offsets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kura.services.common.pagination import rds_page
from kura.services.rds import errors, shared
from kura.services.registry import Ctx, operation

PREFIX = "error/"
MAX_BYTES = 1024 * 1024  # RDS truncates a portion at 1 MB
MAX_LINES = 10000  # and at 10,000 lines when NumberOfLines is not given


def _files(ctx: Ctx, ref: str) -> dict[str, Path]:
    res = shared.get_instance(ctx, ref)
    log_dir = res.status.get("log_dir")
    if not log_dir or not Path(log_dir).is_dir():
        return {}
    return {PREFIX + p.name: p for p in sorted(Path(log_dir).iterdir())
            if p.is_file() and not p.name.startswith(".")}


@operation("rds", "DescribeDBLogFiles")
def describe_db_log_files(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("Filters"):
        raise errors.invalid(f"Unrecognized filter name: {params['Filters'][0].get('Name')}.")
    rows: list[dict[str, Any]] = []
    for name, path in _files(ctx, params["DBInstanceIdentifier"]).items():
        try:
            info = path.stat()
        except FileNotFoundError:
            continue  # rotated away meanwhile
        rows.append({"LogFileName": name, "LastWritten": int(info.st_mtime * 1000), "Size": info.st_size})
    contains: str | None = params.get("FilenameContains")
    since, larger = params.get("FileLastWritten"), params.get("FileSize")
    rows = [r for r in rows if (not contains or contains in r["LogFileName"])
            and (since is None or r["LastWritten"] >= since) and (larger is None or r["Size"] >= larger)]
    page, marker = rds_page(rows, lambda r: str(r["LogFileName"]), params)
    return shared.with_marker({"DescribeDBLogFiles": page}, marker)


def _offset(marker: str, size: int) -> int:
    try:
        offset = int(marker.split(":")[-1])
    except ValueError as exc:
        raise errors.invalid(f"Invalid marker: {marker}") from exc
    if offset < 0:
        raise errors.invalid(f"Invalid marker: {marker}")
    return min(offset, size)


def _tail(path: Path, size: int, lines: int) -> tuple[bytes, int]:
    """The last `lines` lines (at most 1 MB) and the end offset."""
    with path.open("rb") as f:
        f.seek(max(0, size - MAX_BYTES))
        chunk = f.read(MAX_BYTES)
    if size > MAX_BYTES:  # the first line of the chunk is likely cut: drop it
        chunk = chunk.split(b"\n", 1)[1] if b"\n" in chunk else chunk
    kept = chunk.splitlines(keepends=True)[-lines:] if lines else []
    return b"".join(kept), size


def _forward(path: Path, size: int, offset: int, lines: int) -> tuple[bytes, int]:
    """Up to `lines` whole lines from `offset` (at most 1 MB) and where the next portion starts."""
    with path.open("rb") as f:
        f.seek(offset)
        chunk = f.read(MAX_BYTES)
    parts = chunk.splitlines(keepends=True)[:lines]
    if parts and not parts[-1].endswith(b"\n") and offset + len(chunk) < size and len(parts) > 1:
        parts = parts[:-1]  # a line cut by the 1 MB limit comes whole in the next portion
    data = b"".join(parts)
    return data, offset + len(data)


@operation("rds", "DownloadDBLogFilePortion")
def download_db_log_file_portion(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    name = params["LogFileName"]
    path = _files(ctx, params["DBInstanceIdentifier"]).get(name)
    lines = params.get("NumberOfLines")
    if lines is not None and lines < 0:
        raise errors.invalid(f"Invalid NumberOfLines: {lines}")
    try:
        if path is None:
            raise FileNotFoundError(name)
        size = path.stat().st_size
        marker = params.get("Marker")
        if marker is None:
            # Without a marker RDS returns the most recent lines, from the end of the file.
            data, end = _tail(path, size, MAX_LINES if lines is None else lines)
        else:
            data, end = _forward(path, size, _offset(marker, size), MAX_LINES if lines is None else lines)
    except FileNotFoundError as exc:
        raise errors.fault("DBLogFileNotFoundFault",
                           f"DBLog File: {name}, is not found on the DB instance") from exc
    return {"LogFileData": data.decode("utf-8", errors="replace"), "Marker": str(end),
            "AdditionalDataPending": end < size}
