"""The HTTP client every network backend uses to reach its upstream: one pooled aiohttp session.

Why not httpx here: on the request path the client's cost is the gateway's overhead, and
httpx's connection pool scans its connections on every request. Measured on this machine
(``bench/upstream_client.py``: one worker, a fast loopback upstream) httpx spent 0.64 ms of
CPU per request at concurrency 1 and 2.2 ms at 64; aiohttp's pooled session 0.20 and
0.09 ms. httpx stays the client of everything off the hot path (admin, TSA, tests).

The session is created lazily inside the running event loop, on first use. Failures are
raised as :class:`TransportError` (with ``timeout`` set when a deadline passed), which each
backend maps onto :mod:`backends.errors`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

KEEPALIVE_SECONDS = 4.0
"""Below uvicorn's (and so vLLM's) 5 s idle timeout, so a socket the server is closing is not reused."""


class TransportError(Exception):
    """The upstream could not be reached, or the connection broke or timed out."""

    def __init__(self, detail: str, *, timeout: bool = False) -> None:
        super().__init__(detail)
        self.timeout = timeout


@dataclass(slots=True)
class UpstreamResponse:
    """A whole (non-streamed) answer."""

    status: int
    reason: str
    content: bytes


class UpstreamStream:
    """A streamed answer: the status at once, the body as it arrives."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.reason = response.reason or ""

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive (any split; the caller frames them)."""
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _transport_error(exc) from exc

    async def read(self) -> bytes:
        """The rest of the body (for an error answer)."""
        try:
            return await self._response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _transport_error(exc) from exc


class UpstreamClient:
    """HTTP/1.1 keep-alive calls to one upstream, with connect and read deadlines.

    ``read_timeout`` bounds each wait for bytes (as httpx's read timeout does), not the whole
    call, so long streams are fine as long as they keep sending.
    """

    def __init__(
        self,
        headers: Mapping[str, str],
        connect_timeout: float,
        read_timeout: float,
        max_connections: int,
    ) -> None:
        self._headers = dict(headers)
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            raise TransportError("the client is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, keepalive_timeout=KEEPALIVE_SECONDS, ttl_dns_cache=60
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=self._headers,
                timeout=self._timeout,
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def request(
        self, method: str, url: str, body: bytes | None = None, *, read_timeout: float | None = None
    ) -> UpstreamResponse:
        """Send one request and read the whole answer."""
        timeout = self._timeout if read_timeout is None else _shorter(self._timeout, read_timeout)
        session = self._open()
        try:
            async with session.request(method, url, data=body, timeout=timeout, allow_redirects=False) as response:
                content = await response.read()
                return UpstreamResponse(response.status, response.reason or "", content)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _transport_error(exc) from exc

    @asynccontextmanager
    async def stream(self, method: str, url: str, body: bytes | None = None) -> AsyncIterator[UpstreamStream]:
        """Send one request; the answer's body is read inside the ``async with``."""
        session = self._open()
        try:
            response = await session.request(method, url, data=body, allow_redirects=False)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _transport_error(exc) from exc
        try:
            yield UpstreamStream(response)
        finally:
            response.release()

    async def aclose(self) -> None:
        """Close the pool; later calls fail with ``TransportError``."""
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None


def _shorter(timeout: aiohttp.ClientTimeout, read: float) -> aiohttp.ClientTimeout:
    connect = min(timeout.connect or read, read)
    return aiohttp.ClientTimeout(total=None, connect=connect, sock_read=min(timeout.sock_read or read, read))


def _transport_error(exc: BaseException) -> TransportError:
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return TransportError(detail, timeout=isinstance(exc, asyncio.TimeoutError))
