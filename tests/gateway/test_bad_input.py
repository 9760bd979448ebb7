"""A user's mistake gets a clear OpenAI-shaped 4xx, never a 500 and never a hang."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.gateway.test_chat_proxy import HELLO


def post(stack, body: bytes | dict, **headers: str) -> httpx.Response:
    kwargs = {"json": body} if isinstance(body, dict) else {"content": body}
    return httpx.post(
        f"{stack.gateway.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {stack.key}", "content-type": "application/json", **headers},
        timeout=10,
        **kwargs,
    )


def error_of(response: httpx.Response) -> dict:
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


@pytest.mark.parametrize(
    "body, param, fragment",
    [
        (b'{"model": "qwen", "messages": [', None, "could not parse the JSON"),
        (b"[1, 2]", None, "must be a JSON object"),
        (b"", None, "body is empty"),
        ({"model": "qwen"}, "messages", "messages"),
        ({"messages": HELLO}, "model", "model"),
        ({"model": "qwen", "messages": "hello"}, "messages", "Expected `array`"),
        ({"model": "qwen", "messages": []}, "messages", "length"),
        ({"model": "qwen", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role", "wizard"),
        ({"model": "qwen", "messages": [{"content": "x"}]}, "messages[0].role", "role"),
        ({"model": "qwen", "messages": HELLO, "temperature": 5}, "temperature", "<= 2"),
        ({"model": "qwen", "messages": HELLO, "max_tokens": "ten"}, "max_tokens", "Expected `int"),
        ({"model": "qwen", "messages": HELLO, "n": 0}, "n", ">= 1"),
        ({"model": "qwen", "messages": HELLO, "stream": "yes"}, "stream", "Expected `bool"),
    ],
)
def test_malformed_requests_are_400_naming_the_field(stack, body, param, fragment):
    response = post(stack, body)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert fragment in error["message"]
    assert not stack.gpu1.bodies("chat"), "nothing reaches the upstream"


def test_a_body_over_the_limit_is_413(stack):
    limit = stack.gateway.services.settings.max_body_bytes
    response = post(stack, {"model": "qwen", "messages": [{"role": "user", "content": "x" * (limit + 10)}]})
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"


def test_an_unknown_model_is_404_in_openai_shape(stack):
    with pytest.raises(openai.NotFoundError) as caught:
        stack.gateway.openai(stack.key).chat.completions.create(model="gpt-9", messages=HELLO)
    assert caught.value.body == {
        "message": "The model 'gpt-9' does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }


def test_an_unknown_path_and_a_wrong_method_are_openai_shaped(stack):
    headers = {"authorization": f"Bearer {stack.key}"}
    missing = httpx.get(f"{stack.gateway.url}/v1/nothing-here", headers=headers)
    assert missing.status_code == 404 and error_of(missing)["type"] == "not_found_error"
    wrong = httpx.get(f"{stack.gateway.url}/v1/chat/completions", headers=headers)
    assert wrong.status_code == 405 and error_of(wrong)["message"]


def test_every_response_carries_a_request_id_even_errors(stack):
    response = post(stack, b"{")
    assert response.headers["x-request-id"].startswith("req_")
