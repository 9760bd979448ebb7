"""The floor for a Python gateway on this stack: a pass-through proxy with no features.

One Litestar route per endpoint and one pooled ``httpx.AsyncClient``; bodies and responses
pass through as bytes, streams chunk by chunk. Served the way ``gateway serve`` serves:
uvicorn with uvloop and httptools, one worker, no access log.

    python bench/bare_proxy.py --upstream http://127.0.0.1:18000/v1 --port 18001
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import httpx
from litestar import Litestar, Request, Response, get, post
from litestar.response import Stream


def create_app(upstream: str) -> Litestar:
    client = httpx.AsyncClient(
        base_url=upstream.rstrip("/"),
        headers={"content-type": "application/json"},
        timeout=httpx.Timeout(120.0, connect=5.0),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=200, keepalive_expiry=4.0),
    )

    async def relay(response: httpx.Response) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw():
                yield chunk
        finally:
            await response.aclose()

    @post("/v1/chat/completions", status_code=200)
    async def chat_completions(request: Request) -> Response:
        upstream_request = client.build_request("POST", "/chat/completions", content=await request.body())
        response = await client.send(upstream_request, stream=True)
        content_type = response.headers.get("content-type", "application/json")
        if content_type.startswith("text/event-stream"):
            return Stream(relay(response), status_code=response.status_code, media_type=content_type)
        body = await response.aread()
        await response.aclose()
        return Response(body, status_code=response.status_code, media_type=content_type)

    @get("/v1/models")
    async def models() -> Response:
        response = await client.get("/models")
        return Response(response.content, status_code=response.status_code, media_type="application/json")

    async def close_client() -> None:
        await client.aclose()

    # logging_config=None: Litestar's default config would put the root logger at INFO, and
    # httpx would then log every upstream request; a bare proxy logs nothing.
    return Litestar(
        route_handlers=[chat_completions, models], on_shutdown=[close_client], logging_config=None, debug=False
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="bare pass-through proxy (benchmark floor)")
    parser.add_argument("--upstream", required=True, help="upstream base URL, ending in /v1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18001)
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.upstream),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        workers=1,
        log_level="error",
        access_log=False,
    )


if __name__ == "__main__":
    main()
