"""The pieces of kernel steering that need no kernel: instruction encoding, jump resolution, and the
/proc/net/tcp address form."""

from __future__ import annotations

import struct

from kura.net.router import bpf, steer


def test_jumps_resolve_to_their_labels() -> None:
    code = bpf.Asm().op(0x15, 0, 0, "end").ld_map(1, 7).op(0xb7, 0, imm=1).label("end").op(0x95).code()
    insns = [struct.unpack("<BBhi", code[i:i + 8]) for i in range(0, len(code), 8)]
    assert len(insns) == 5  # a map load takes two slots
    assert insns[0] == (0x15, 0, 3, 0)  # over the map load and the move, to the exit
    assert insns[1] == (0x18, 1 | (1 << 4), 0, 7)  # dst r1, src BPF_PSEUDO_MAP_FD, the map's fd
    assert insns[4][0] == 0x95


def test_the_program_counts_only_what_it_assigned() -> None:
    code = steer._program(3, 4, 5)
    insns = [struct.unpack("<BBhi", code[i:i + 8]) for i in range(0, len(code), 8)]
    calls = [imm for op, _, _, imm in insns if op == 0x85]
    assert calls == [1, 1, 124, 86, 1]  # lookup endpoint, lookup socket, assign, release, lookup count
    assert insns[-2] == (0xb7, 0, 0, 1) and insns[-1][0] == 0x95  # always SK_PASS: never drops


def test_proc_addresses_are_written_as_the_kernel_does() -> None:
    assert steer._proc_address(("127.0.0.1", 5432)) == "0100007F:1538"
