"""MLXBackend driving a real mlx-lm model: the tiny random-weight Qwen2 built locally by the test."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlx_lm")

from openai.types.chat import ChatCompletion, ChatCompletionChunk  # noqa: E402

from backends.errors import BackendUnavailable, ContextLengthExceeded, UpstreamRejected  # noqa: E402
from backends.mlx import MLXBackend  # noqa: E402
from backends.tiny_model import MARKER, build_tiny_model, is_tiny_model  # noqa: E402

MODEL = "tiny-qwen"
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Merhaba! İstanbul'da hava nasıl? Answer in one line."},
]
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


def body(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": MESSAGES, **extra}


@pytest.fixture(scope="module")
def tokenizer(tiny_model_path: Path) -> Any:
    from mlx_lm.utils import load_tokenizer

    return load_tokenizer(tiny_model_path)


@pytest.fixture
async def backend(tiny_model_path: Path, tmp_path: Path) -> AsyncIterator[MLXBackend]:
    mlx = MLXBackend("local-mlx", (MODEL,), str(tiny_model_path), tmp_path, max_tokens_default=24)
    await mlx.start()
    await mlx.wait_loaded(timeout=60)
    yield mlx
    await mlx.aclose()


async def collect(stream: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [chunk async for chunk in stream]


def streamed_text(chunks: list[dict[str, Any]], index: int = 0) -> str:
    return "".join(
        choice["delta"].get("content") or ""
        for chunk in chunks
        for choice in chunk["choices"]
        if choice["index"] == index
    )


# --- the tiny model itself ---------------------------------------------------------------


def test_build_is_deterministic_idempotent_and_repairs(tiny_model_path: Path, tmp_path: Path) -> None:
    started = time.perf_counter()
    built = build_tiny_model(tmp_path / "tiny")
    assert time.perf_counter() - started < 10
    assert built == tmp_path / "tiny" and is_tiny_model(built)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", MARKER):
        assert (built / name).read_bytes() == (tiny_model_path / name).read_bytes(), name

    stamp = {p.name: p.stat().st_mtime_ns for p in built.iterdir()}
    assert build_tiny_model(built) == built
    assert {p.name: p.stat().st_mtime_ns for p in built.iterdir()} == stamp

    (built / "model.safetensors").write_bytes(b"truncated")
    assert not is_tiny_model(built)
    build_tiny_model(built)
    assert is_tiny_model(built)
    assert (built / "model.safetensors").read_bytes() == (tiny_model_path / "model.safetensors").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]


def test_tiny_model_loads_in_mlx_lm_with_a_chatml_template(tiny_model_path: Path) -> None:
    from mlx_lm import generate, load

    marker = json.loads((tiny_model_path / MARKER).read_text())
    assert marker["paramgate_tiny_model"] is True and "random weights" in marker["description"]
    config = json.loads((tiny_model_path / "config.json").read_text())
    assert (config["model_type"], config["hidden_size"], config["num_hidden_layers"]) == ("qwen2", 64, 2)

    model, tokenizer = load(str(tiny_model_path))
    assert config["vocab_size"] == len(tokenizer)
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in tokenizer.eos_token_ids

    text = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=False)
    assert text == (
        "<|im_start|>system\nYou are terse.<|im_end|>\n"
        "<|im_start|>user\nMerhaba! İstanbul'da hava nasıl? Answer in one line.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    with_tools = tokenizer.apply_chat_template(
        MESSAGES, tools=[WEATHER_TOOL], add_generation_prompt=True, tokenize=False
    )
    assert '"get_weather"' in with_tools

    sample = "Çok güzel — ığüşöç İĞÜŞÖÇ 🙂 {json: [1, 2]}\n\tdone"
    ids = tokenizer.encode(sample, add_special_tokens=False)
    assert tokenizer.decode(ids) == sample
    im_start = tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert tokenizer.encode("<|im_start|>", add_special_tokens=False) == [im_start]

    assert generate(model, tokenizer, text, max_tokens=5)


# --- lifecycle ----------------------------------------------------------------------------


async def test_health_reports_loading_until_the_model_is_loaded(tiny_model_path: Path, tmp_path: Path) -> None:
    mlx = MLXBackend("local-mlx", (MODEL,), str(tiny_model_path), tmp_path)
    with pytest.raises(BackendUnavailable, match="loading"):
        await mlx.health()
    await mlx.start()
    await mlx.wait_loaded(timeout=60)
    await mlx.health()
    assert mlx.tiny is False
    assert mlx.describe_model(MODEL) == {
        "owned_by": "local-mlx",
        "paramgate": {"source": str(tiny_model_path), "tiny_random": False},
    }
    await mlx.aclose()
    with pytest.raises(BackendUnavailable, match="closed"):
        await mlx.health()
    with pytest.raises(BackendUnavailable):
        await mlx.chat(body(max_tokens=2))


async def test_chat_waits_for_a_load_it_starts_itself(tiny_model_path: Path, tmp_path: Path) -> None:
    mlx = MLXBackend("local-mlx", (MODEL,), str(tiny_model_path), tmp_path)
    try:
        result = await mlx.chat(body(max_tokens=3))
        assert result["usage"]["completion_tokens"] == 3
    finally:
        await mlx.aclose()


async def test_a_missing_model_folder_makes_the_backend_unavailable(tmp_path: Path) -> None:
    mlx = MLXBackend("local-mlx", (MODEL,), str(tmp_path / "no-such-model"), tmp_path)
    await mlx.start()
    with pytest.raises(BackendUnavailable, match="failed to load"):
        await mlx.wait_loaded(timeout=30)
    with pytest.raises(BackendUnavailable, match="failed to load"):
        await mlx.health()
    await mlx.aclose()


# --- hub fallback -------------------------------------------------------------------------


@pytest.fixture(params=["refused", "silent"])
def unreachable_hub(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point huggingface_hub at a loopback port that refuses connections, or accepts and never answers."""
    import huggingface_hub.constants

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        if request.param == "silent":
            sock.listen(16)
        else:
            sock.close()
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{port}")
        yield


async def test_unreachable_hub_falls_back_to_the_tiny_model(unreachable_hub: None, tmp_path: Path) -> None:
    import mlx_lm  # noqa: F401  (imported here so the timing below measures the fallback, not the import)

    mlx = MLXBackend("local-mlx", (MODEL,), "mlx-community/does-not-exist", tmp_path, hub_timeout_s=1.0)
    started = time.perf_counter()
    await mlx.start()
    await mlx.wait_loaded(timeout=30)
    assert time.perf_counter() - started < 5
    try:
        assert mlx.tiny is True
        assert is_tiny_model(tmp_path / "models" / "tiny-random-qwen2")
        described = mlx.describe_model(MODEL)
        assert described["owned_by"] == "local-mlx"
        assert described["paramgate"]["tiny_random"] is True
        assert described["paramgate"]["source"] == "mlx-community/does-not-exist"
        assert "random weights" in described["paramgate"]["note"]
        await mlx.health()
        result = await mlx.chat(body(max_tokens=4, temperature=0))
        assert result["usage"]["completion_tokens"] == 4
    finally:
        await mlx.aclose()


async def test_model_source_tiny_builds_the_tiny_model(tmp_path: Path) -> None:
    mlx = MLXBackend("local-mlx", (MODEL,), "tiny", tmp_path)
    await mlx.start()
    await mlx.wait_loaded(timeout=30)
    try:
        assert mlx.tiny is True
        assert is_tiny_model(tmp_path / "models" / "tiny-random-qwen2")
        assert mlx.describe_model(MODEL)["paramgate"]["tiny_random"] is True
    finally:
        await mlx.aclose()


# --- chat ---------------------------------------------------------------------------------


async def test_chat_is_an_openai_completion_with_real_usage(backend: MLXBackend, tokenizer: Any) -> None:
    result = await backend.chat(body(max_tokens=7, temperature=0.7, seed=1))
    completion = ChatCompletion.model_validate(result)
    assert completion.object == "chat.completion" and completion.model == MODEL
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "length"
    prompt = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True)
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == len(prompt)
    assert completion.usage.completion_tokens == 7
    assert completion.usage.total_tokens == len(prompt) + 7


async def test_chat_output_is_what_mlx_lm_generates(backend: MLXBackend, tiny_model_path: Path) -> None:
    from mlx_lm import generate, load

    model, tokenizer = load(str(tiny_model_path))
    prompt = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True)
    expected = generate(model, tokenizer, prompt, max_tokens=12)
    result = await backend.chat(body(max_tokens=12, temperature=0))
    assert result["choices"][0]["message"]["content"] == expected


async def test_max_tokens_default_and_max_completion_tokens(backend: MLXBackend) -> None:
    default = await backend.chat(body(temperature=0))
    assert default["usage"]["completion_tokens"] == 24
    preferred = await backend.chat(body(max_tokens=9, max_completion_tokens=3, temperature=0))
    assert preferred["usage"]["completion_tokens"] == 3
    assert preferred["choices"][0]["finish_reason"] == "length"


async def test_seed_and_temperature_zero_make_output_reproducible(backend: MLXBackend) -> None:
    async def text(**options: Any) -> str:
        result = await backend.chat(body(max_tokens=16, **options))
        return result["choices"][0]["message"]["content"]

    assert await text(seed=7) == await text(seed=7)
    assert await text(seed=7) != await text(seed=8)
    assert await text(temperature=0) == await text(temperature=0, seed=123)


async def test_n_generates_several_choices(backend: MLXBackend) -> None:
    result = await backend.chat(body(max_tokens=5, n=2, seed=3))
    completion = ChatCompletion.model_validate(result)
    assert [c.index for c in completion.choices] == [0, 1]
    assert completion.usage is not None and completion.usage.completion_tokens == 10


async def test_stop_strings_truncate_and_finish_with_stop(backend: MLXBackend) -> None:
    chunks = await collect(backend.chat_stream(body(max_tokens=16, temperature=0)))
    deltas = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    deltas = [d for d in deltas if d]
    full = "".join(deltas)
    assert len(deltas) >= 3
    boundary = len(deltas[0]) + len(deltas[1])
    stop = full[boundary - 1 : boundary + 1]
    expected = full[: full.index(stop)]

    result = await backend.chat(body(max_tokens=16, temperature=0, stop=[stop, "never-in-output"]))
    assert result["choices"][0]["message"]["content"] == expected
    assert result["choices"][0]["finish_reason"] == "stop"
    assert result["usage"]["completion_tokens"] < 16

    streamed = await collect(backend.chat_stream(body(max_tokens=16, temperature=0, stop=stop)))
    assert streamed_text(streamed) == expected
    assert [c["choices"][0]["finish_reason"] for c in streamed if c["choices"]][-1] == "stop"


async def test_tools_are_rendered_into_the_prompt(backend: MLXBackend) -> None:
    plain = await backend.chat(body(max_tokens=1))
    with_tools = await backend.chat(body(max_tokens=1, tools=[WEATHER_TOOL]))
    assert with_tools["usage"]["prompt_tokens"] > plain["usage"]["prompt_tokens"]


async def test_non_text_content_is_rejected(backend: MLXBackend) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    with pytest.raises(UpstreamRejected) as rejected:
        await backend.chat({"model": MODEL, "messages": [{"role": "user", "content": [image]}]})
    assert rejected.value.status == 400 and rejected.value.param == "messages[0].content"
    parts = [{"type": "text", "text": "Merhaba! "}, {"type": "text", "text": "How are you?"}]
    result = await backend.chat({"model": MODEL, "messages": [{"role": "user", "content": parts}], "max_tokens": 2})
    assert result["usage"]["completion_tokens"] == 2


async def test_prompt_longer_than_the_context_is_refused(backend: MLXBackend) -> None:
    long_messages = [{"role": "user", "content": "kelime " * 2500}]
    with pytest.raises(ContextLengthExceeded, match="maximum context length is 2048"):
        await backend.chat({"model": MODEL, "messages": long_messages})
    with pytest.raises(ContextLengthExceeded):
        await anext(aiter(backend.chat_stream({"model": MODEL, "messages": long_messages})))
    with pytest.raises(ContextLengthExceeded):
        await backend.chat(body(max_tokens=2040))
    assert (await backend.chat(body(max_tokens=2)))["usage"]["completion_tokens"] == 2


# --- streaming ----------------------------------------------------------------------------


async def test_stream_chunks_match_the_non_stream_output(backend: MLXBackend, tokenizer: Any) -> None:
    for options in ({"temperature": 0}, {"temperature": 1.0, "seed": 42}):
        chunks = await collect(backend.chat_stream(body(max_tokens=10, **options)))
        for chunk in chunks:
            ChatCompletionChunk.model_validate(chunk)
        assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
        assert chunks[-1]["choices"] == []
        assert chunks[-1]["usage"] == {
            "prompt_tokens": len(tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True)),
            "completion_tokens": 10,
            "total_tokens": len(tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True)) + 10,
        }
        assert chunks[-2]["choices"][0]["finish_reason"] == "length"
        assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-2])
        assert len({c["id"] for c in chunks}) == 1

        whole = await backend.chat(body(max_tokens=10, **options))
        assert streamed_text(chunks) == whole["choices"][0]["message"]["content"]


async def test_generation_is_serialised_and_an_early_closed_stream_frees_the_worker(backend: MLXBackend) -> None:
    started = time.perf_counter()
    await backend.chat(body(max_tokens=200, temperature=0))
    per_200_tokens = time.perf_counter() - started

    stream = backend.chat_stream(body(max_tokens=1900, temperature=0))
    async for chunk in stream:
        if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
            break
    follower = asyncio.create_task(backend.chat(body(max_tokens=3, temperature=0)))
    await asyncio.sleep(min(0.2, per_200_tokens))
    assert not follower.done(), "a second generation ran while the first was still generating"

    await stream.aclose()
    closed = time.perf_counter()
    result = await asyncio.wait_for(follower, timeout=30)
    waited = time.perf_counter() - closed
    assert result["usage"]["completion_tokens"] == 3
    assert waited < max(2.0, 3 * per_200_tokens), (waited, per_200_tokens)


async def test_concurrent_requests_give_the_sequential_results(backend: MLXBackend) -> None:
    sequential = [(await backend.chat(body(max_tokens=12, seed=s)))["choices"][0]["message"]["content"] for s in (5, 6)]
    streamed, whole = await asyncio.gather(
        collect(backend.chat_stream(body(max_tokens=12, seed=5))),
        backend.chat(body(max_tokens=12, seed=6)),
    )
    assert [streamed_text(streamed), whole["choices"][0]["message"]["content"]] == sequential


async def test_aclose_ends_a_running_stream(backend: MLXBackend) -> None:
    stream = backend.chat_stream(body(max_tokens=1900, temperature=0))
    await anext(stream)
    started = time.perf_counter()
    await backend.aclose()
    assert time.perf_counter() - started < 5
    with pytest.raises(BackendUnavailable):
        async for _ in stream:
            pass
    await stream.aclose()
