"""The TWS API socket framing: every message is a 4-byte big-endian length followed by
NUL-terminated text fields. Prices travel as decimal strings, booleans as "1"/"0"."""

import asyncio
import struct
from decimal import Decimal

SERVER_VERSION = 176
UNSET = ""


def encode(fields) -> bytes:
    """One framed message from a list of field values."""
    text = "".join(f"{_text(value)}\0" for value in fields).encode()
    return struct.pack(">I", len(text)) + text


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    size = struct.unpack(">I", await reader.readexactly(4))[0]
    return await reader.readexactly(size)


async def read_fields(reader: asyncio.StreamReader) -> list[str]:
    payload = (await read_frame(reader)).decode(errors="backslashreplace")
    fields = payload.split("\0")
    return fields[:-1] if fields and fields[-1] == "" else fields


async def read_handshake(reader: asyncio.StreamReader) -> str:
    """The client opens with b"API\\0" and a framed "v<min>..<max>" version range."""
    prefix = await reader.readexactly(4)
    if prefix != b"API\0":
        raise ConnectionError(f"not a TWS API client (opened with {prefix!r})")
    return (await read_frame(reader)).decode()
