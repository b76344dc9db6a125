"""A small keep-alive HTTP/1.1 client on asyncio streams.

The load generator shares two cores with the server it measures; httpx spends several times
more CPU per request than this, which would be taken from the API and tilt the comparison with
the bare Temporal client (whose work is in Rust). This sends prepared bytes and reads a
Content-Length body; it is all the API's JSON answers need.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any


class RawHttp:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._reader = self._writer = None

    async def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                      body: Any = None) -> tuple[int, bytes]:
        payload = b"" if body is None else (body if isinstance(body, bytes)
                                            else json.dumps(body).encode())
        lines = [f"{method} {path} HTTP/1.1", f"host: {self.host}:{self.port}"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body is not None:
            lines += ["content-type: application/json", f"content-length: {len(payload)}"]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
        for attempt in (0, 1):
            if self._writer is None:
                await self._connect()
            assert self._reader is not None and self._writer is not None
            try:
                self._writer.write(raw)
                return await self._read()
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _read(self) -> tuple[int, bytes]:
        assert self._reader is not None
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        length, close = 0, False
        for line in header_lines:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
            elif name == "transfer-encoding":
                raise RuntimeError("chunked answers are not expected from the API")
        body = await self._reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, body
