"""``POST /v1/chat/completions`` is answered in front of Litestar's layers, exactly as Litestar would answer it."""

from __future__ import annotations

import httpx
import pytest
from litestar.config.cors import CORSConfig

from gateway.app import create_app
from tests.gateway.harness import settings_for
from tests.gateway.test_chat_proxy import HELLO

EXACT = "/v1/chat/completions"
THROUGH_LITESTAR = "/v1/chat/completions/"


@pytest.fixture
def router_calls(stack) -> list[str]:
    """The paths of the requests that reached Litestar's own handler (its exception middleware and router)."""
    app = stack.gateway.app
    litestar_handler = app.asgi_handler
    seen: list[str] = []

    async def counting(scope, receive, send):
        seen.append(scope["path"])
        await litestar_handler(scope, receive, send)

    app.asgi_handler = counting
    yield seen
    app.asgi_handler = litestar_handler


def call(stack, path: str, method: str = "POST", body: bytes | dict | None = None, key: str | None = None):
    kwargs = {"json": body} if isinstance(body, dict) else {"content": body}
    headers = {"content-type": "application/json"}
    if key is not False:
        headers["authorization"] = f"Bearer {key or stack.key}"
    return httpx.request(method, f"{stack.gateway.url}{path}", headers=headers, timeout=10, **kwargs)


def test_the_exact_path_skips_litestar_and_other_spellings_do_not(stack, router_calls):
    answered = call(stack, EXACT, body={"model": "qwen", "messages": HELLO})
    assert answered.status_code == 200, answered.text
    assert router_calls == []
    assert call(stack, THROUGH_LITESTAR, body={"model": "qwen", "messages": HELLO}).status_code == 200
    assert router_calls == [THROUGH_LITESTAR]
    assert call(stack, "/v1/models", "GET").status_code == 200
    assert router_calls == [THROUGH_LITESTAR, "/v1/models"]


@pytest.mark.parametrize(
    ("method", "body", "key", "status"),
    [
        ("POST", {"model": "qwen", "messages": HELLO}, None, 200),
        ("POST", {"model": "qwen", "messages": HELLO}, False, 401),
        ("POST", {"model": "qwen", "messages": HELLO}, "pg-not-a-key", 401),
        ("POST", b'{"model": "qwen", "messages": [', None, 400),
        ("POST", {"model": "qwen", "messages": "hello"}, None, 400),
        ("POST", {"model": "no-such-model", "messages": HELLO}, None, 404),
        ("POST", "over the limit", None, 413),
        ("GET", None, None, 405),
    ],
)
def test_the_hot_path_answers_as_litestar_does(stack, router_calls, method, body, key, status):
    if body == "over the limit":
        body = b"x" * (stack.gateway.services.settings.max_body_bytes + 1)
    hot = call(stack, EXACT, method, body, key)
    framework = call(stack, THROUGH_LITESTAR, method, body, key)
    assert router_calls == [THROUGH_LITESTAR]
    assert hot.status_code == framework.status_code == status, (hot.text, framework.text)
    assert hot.headers["x-request-id"].startswith("req_") and framework.headers["x-request-id"].startswith("req_")
    assert hot.headers["x-request-id"] != framework.headers["x-request-id"]
    assert hot.headers.get("allow") == framework.headers.get("allow")
    assert hot.headers["content-type"] == framework.headers["content-type"]
    if status == 200:
        assert hot.json()["choices"][0]["message"] == framework.json()["choices"][0]["message"]
    else:
        assert hot.json() == framework.json()


def test_an_unexpected_error_is_the_same_openai_shaped_500(stack, router_calls, caplog):
    stack.gateway.services.chat.router = None  # any request now fails inside the handler with AttributeError
    hot = call(stack, EXACT, body={"model": "qwen", "messages": HELLO})
    framework = call(stack, THROUGH_LITESTAR, body={"model": "qwen", "messages": HELLO})
    assert hot.status_code == framework.status_code == 500
    assert hot.json() == framework.json()
    assert hot.json()["error"]["code"] == "internal_error"
    assert "x-request-id" in hot.headers


def test_an_app_with_app_wide_behaviour_the_hot_path_would_skip_is_refused(sqlite_url, tmp_path):
    def with_cors(config, services):
        config.cors_config = CORSConfig(allow_origins=["https://example.com"])

    with pytest.raises(RuntimeError, match="CORS"):
        create_app(settings_for(sqlite_url, tmp_path, []), extensions=[with_cors])
