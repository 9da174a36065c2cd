"""The few bpf(2) calls the router's steering needs, through ctypes (no compiler, no libbpf): maps,
loading one small program written as instructions, linking it to the network namespace. Linux only;
`BpfError` says why when the kernel or the process's privileges do not allow it."""

from __future__ import annotations

import ctypes
import os
import platform
import struct

_SYSCALLS = {"x86_64": (321, 434, 438), "aarch64": (280, 434, 438)}  # bpf, pidfd_open, pidfd_getfd
_ATTR_SIZE = 128

MAP_HASH, MAP_ARRAY, MAP_SOCKMAP = 1, 2, 15
PROG_SK_LOOKUP = 30
ATTACH_SK_LOOKUP = 36
_MAP_CREATE, _MAP_LOOKUP, _MAP_UPDATE, _MAP_DELETE, _PROG_LOAD, _LINK_CREATE = 0, 1, 2, 3, 5, 28


class BpfError(OSError):
    """The kernel refused (or this platform lacks) a call."""


_libc = ctypes.CDLL(None, use_errno=True)


def _numbers() -> tuple[int, int, int]:
    found = _SYSCALLS.get(platform.machine())
    if found is None:
        raise BpfError(f"no steering on {platform.machine()}")
    return found


def _syscall(number: int, *args: object) -> int:
    result = int(_libc.syscall(number, *args))
    if result < 0:
        err = ctypes.get_errno()
        raise BpfError(err, os.strerror(err))
    return result


def _bpf(cmd: int, attr: bytes) -> int:
    buf = ctypes.create_string_buffer(attr, _ATTR_SIZE)
    return _syscall(_numbers()[0], cmd, buf, _ATTR_SIZE)


def map_create(kind: int, key_size: int, value_size: int, entries: int) -> int:
    return _bpf(_MAP_CREATE, struct.pack("IIIII", kind, key_size, value_size, entries, 0))


def _elem(cmd: int, fd: int, key: bytes, value: ctypes.Array[ctypes.c_char] | None) -> None:
    k = ctypes.create_string_buffer(key, len(key))
    v = ctypes.addressof(value) if value is not None else 0
    _bpf(cmd, struct.pack("IIQQQ", fd, 0, ctypes.addressof(k), v, 0))


def map_update(fd: int, key: bytes, value: bytes) -> None:
    _elem(_MAP_UPDATE, fd, key, ctypes.create_string_buffer(value, len(value)))


def map_delete(fd: int, key: bytes) -> None:
    _elem(_MAP_DELETE, fd, key, None)


def map_lookup(fd: int, key: bytes, size: int) -> bytes:
    out = ctypes.create_string_buffer(size)
    _elem(_MAP_LOOKUP, fd, key, out)
    return out.raw


def prog_load(kind: int, attach: int, code: bytes, name: bytes) -> int:
    licence = ctypes.create_string_buffer(b"GPL")  # what the socket helpers require of a program
    insns = ctypes.create_string_buffer(code, len(code))
    log = ctypes.create_string_buffer(1 << 16)
    attr = struct.pack("IIQQIIQII16sII", kind, len(code) // 8, ctypes.addressof(insns),
                       ctypes.addressof(licence), 1, len(log), ctypes.addressof(log), 0, 0, name[:15], 0,
                       attach)
    try:
        return _bpf(_PROG_LOAD, attr)
    except BpfError as exc:
        raise BpfError(exc.errno, f"{exc.strerror}: {log.value.decode(errors='replace')[-400:]}") from None


def link_netns(prog: int, attach: int) -> int:
    netns = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        return _bpf(_LINK_CREATE, struct.pack("IIII", prog, netns, attach, 0))
    finally:
        os.close(netns)


def pidfd_open(pid: int) -> int:
    return _syscall(_numbers()[1], pid, 0)


def pidfd_getfd(pidfd: int, fd: int) -> int:
    """A duplicate, in this process, of another process's file descriptor (needs ptrace rights on it)."""
    return _syscall(_numbers()[2], pidfd, fd, 0)


class Asm:
    """eBPF instructions with named jump targets, resolved by `code()`."""

    def __init__(self) -> None:
        self.insns: list[tuple[int, int, int, int | str, int]] = []
        self.labels: dict[str, int] = {}

    def op(self, code: int, dst: int = 0, src: int = 0, off: int | str = 0, imm: int = 0) -> Asm:
        self.insns.append((code, dst, src, off, imm))
        return self

    def label(self, name: str) -> Asm:
        self.labels[name] = len(self.insns)
        return self

    def ld_map(self, dst: int, fd: int) -> Asm:
        return self.op(0x18, dst, 1, 0, fd).op(0)  # 64-bit immediate: a map fd, two slots

    def code(self) -> bytes:
        out = []
        for index, (code, dst, src, off, imm) in enumerate(self.insns):
            jump = self.labels[off] - index - 1 if isinstance(off, str) else off
            out.append(struct.pack("<BBhi", code, (src << 4) | dst, jump, imm))
        return b"".join(out)
