"""Make sure a CUBIN is whole: CuPy's ``nvrtc.getCUBIN`` returns one byte less than NVRTC produced.

CuPy 14.2 (and earlier) reads the CUBIN into a buffer of ``nvrtcGetCUBINSize`` bytes and returns it as a C string,
dropping the last byte. A CUBIN is an ELF64 file that ends with its program header table or its section header
table; the dropped byte is then the most significant byte of the last entry's last field, ``p_align`` or
``sh_entsize``: 8-byte little-endian values that are small (alignments, entry sizes), so that byte is zero.
:func:`complete` checks the length the ELF header implies and restores exactly that missing zero byte; a file shorter
than that, or not an ELF64 file, is refused (never cached, never loaded).
"""

from __future__ import annotations

import struct

_ELF64_LE = b"\x7fELF\x02\x01"


def _tables_end(data: bytes) -> tuple[int, int]:
    """Where the program header table and the section header table of the ELF64 image ``data`` end."""
    if len(data) < 64 or not data.startswith(_ELF64_LE):
        raise ValueError("not a little-endian ELF64 image (CUBIN)")
    phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 0x36)
    return phoff + phentsize * phnum, shoff + shentsize * shnum


def expected_size(data: bytes) -> int:
    """The size the ELF64 header of ``data`` implies (the end of its last header table); ``ValueError`` when ``data``
    is not a little-endian ELF64 image."""
    return max(64, *_tables_end(data))


def complete(data: bytes) -> bytes:
    """``data`` with the byte CuPy's ``getCUBIN`` drops restored (unchanged when it is whole); ``ValueError`` when the
    image is otherwise truncated or not a CUBIN."""
    size = expected_size(data)
    if len(data) == size:
        return data
    if len(data) == size - 1 and size > 64:
        return data + b"\x00"  # the high byte of the last header's p_align or sh_entsize
    raise ValueError(f"CUBIN is {len(data)} bytes but its ELF header describes {size}")


def whole(data: bytes) -> bool:
    """Whether ``data`` is a CUBIN of exactly the size its ELF header describes."""
    try:
        return len(data) == expected_size(data)
    except ValueError:
        return False
