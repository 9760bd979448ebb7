"""MLX-LM running in this process (Apple Silicon, or CPU on Linux).

The model loads on a single worker thread after ``start()``; every generation runs on that
same thread, one at a time, because mlx is not safe for concurrent generation in one
process. Tokens cross from the thread to the event loop through an ``asyncio.Queue``; a
client that stops reading sets a cancel flag the thread checks after every token.

``model_source`` is a local folder, a Hugging Face repo id, or ``"tiny"``. A repo id that
is neither in the local Hugging Face cache nor reachable on the Hub (probed for a few
seconds at most) falls back to a tiny random-weight model built locally
(``backends.tiny_model``); ``MLXBackend.tiny`` and ``describe_model`` say so.

mlx, mlx_lm and huggingface_hub are imported only on the worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.base import Backend
from backends.mlx_adapters import AdapterCache, load_adapted_model
from backends.errors import BackendError, BackendUnavailable, ContextLengthExceeded, UpstreamRejected
from backends.openai_protocol import chat_chunk, chat_completion, usage
from backends.tiny_model import build_tiny_model

__all__ = ["TINY_SOURCE", "MLXBackend"]

log = logging.getLogger(__name__)

TINY_SOURCE = "tiny"
TINY_NOTE = "built locally with random weights; output is not meaningful"

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True, slots=True)
class _Loaded:
    model: Any
    tokenizer: Any
    context_length: int | None
    supports_tools: bool


@dataclass(frozen=True, slots=True)
class _Request:
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    max_tokens: int
    max_tokens_explicit: bool
    temperature: float
    top_p: float
    seed: int | None
    stop: tuple[str, ...]
    n: int


@dataclass(frozen=True, slots=True)
class _Started:
    prompt_tokens: int


@dataclass(frozen=True, slots=True)
class _Delta:
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class _Finished:
    index: int
    reason: str
    completion_tokens: int


_Event = _Started | _Delta | _Finished
_END = object()


class MLXBackend(Backend):
    """An mlx-lm model served in process; ``models[0]`` is the model id the gateway lists."""

    kind = "mlx"

    def __init__(
        self,
        name: str,
        models: tuple[str, ...],
        model_source: str,
        data_dir: Path,
        max_tokens_default: int = 256,
        *,
        load_wait_s: float = 60.0,
        hub_timeout_s: float = 3.0,
        max_loaded_adapters: int = 4,
    ) -> None:
        super().__init__(name, models)
        self.model_source = model_source
        self.data_dir = Path(data_dir)
        self.max_tokens_default = max_tokens_default
        self.load_wait_s = load_wait_s
        self.hub_timeout_s = hub_timeout_s
        self.tiny = model_source == TINY_SOURCE
        self.fallback_reason: str | None = None
        self.model_path: str | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._loading: asyncio.Task[None] | None = None
        self._loaded: _Loaded | None = None
        self._load_error: BaseException | None = None
        self._cancels: set[threading.Event] = set()
        self._closed = False
        self.adapter_paths: dict[str, Path] = {}
        self.adapters = AdapterCache(max_loaded_adapters)

    def set_adapters(self, paths: dict[str, Path]) -> None:
        """The LoRA adapters this backend serves: upstream model name → MLX adapter folder."""
        self.adapter_paths = dict(paths)

    @property
    def tiny_model_dir(self) -> Path:
        """Where the tiny random-weight fallback model is built."""
        return self.data_dir / "models" / "tiny-random-qwen2"

    async def start(self) -> None:
        """Begin loading the model on the worker thread and return at once."""
        if self._loading is not None or self._closed:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"mlx-{self.name}")
        self._loading = asyncio.create_task(self._load(), name=f"mlx-load-{self.name}")

    async def wait_loaded(self, timeout: float | None = None) -> None:
        """Wait until the model is loaded; raise ``BackendUnavailable`` if it failed or ``timeout`` passed."""
        await self._ready(self.load_wait_s if timeout is None else timeout)

    def count_prompt_tokens(self, body: dict[str, Any]) -> int | None:
        """The templated prompt's length in the loaded model's tokenizer (``None`` until loaded)."""
        loaded = self._loaded
        if loaded is None:
            return None
        try:
            return len(_prompt_tokens(loaded, _parse_request(body, self.max_tokens_default), self.name))
        except BackendError:
            return None

    async def health(self) -> None:
        """Return once the model is loaded; raise ``BackendUnavailable`` while loading or after a failure."""
        self._raise_if_unusable()
        if self._loaded is None:
            raise BackendUnavailable("loading", backend=self.name)

    async def aclose(self) -> None:
        """Stop any generation, shut the worker thread down and drop the model."""
        self._closed = True
        for cancel in list(self._cancels):
            cancel.set()
        executor, self._executor = self._executor, None
        if executor is not None:
            if self._loaded is not None:
                await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
            else:
                executor.shutdown(wait=False, cancel_futures=True)
        self._loaded = None

    def describe_model(self, model: str) -> dict[str, Any]:
        """``owned_by`` plus a ``paramgate`` block naming the source and whether it is the tiny random model."""
        info: dict[str, Any] = {"source": self.model_source, "tiny_random": self.tiny}
        if self.tiny:
            info["note"] = TINY_NOTE
            if self.fallback_reason:
                info["fallback_reason"] = self.fallback_reason
        return {"owned_by": self.name, "paramgate": info}

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """Generate a full ``chat.completion``; ``n`` choices are generated one after another."""
        texts: dict[int, list[str]] = {}
        finished: dict[int, _Finished] = {}
        prompt_tokens = 0
        async with contextlib.aclosing(self._events(body)) as events:
            async for event in events:
                if isinstance(event, _Started):
                    prompt_tokens = event.prompt_tokens
                elif isinstance(event, _Delta):
                    texts.setdefault(event.index, []).append(event.text)
                else:
                    finished[event.index] = event
        choices = [
            {
                "index": index,
                "message": {"role": "assistant", "content": "".join(texts.get(index, []))},
                "logprobs": None,
                "finish_reason": done.reason,
            }
            for index, done in sorted(finished.items())
        ]
        completion_tokens = sum(done.completion_tokens for done in finished.values())
        return chat_completion(
            id=_completion_id(),
            model=body.get("model") or self.models[0],
            choices=choices,
            usage=usage(prompt_tokens, completion_tokens),
        )

    async def chat_stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Yield a role chunk per choice, content deltas, a finish chunk per choice, then a usage chunk."""
        chunk_id, created = _completion_id(), int(time.time())
        model = body.get("model") or self.models[0]
        n = _choice_count(body)
        prompt_tokens = completion_tokens = 0

        def chunk(index: int, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return chat_chunk(id=chunk_id, model=model, created=created, choices=[choice])

        async with contextlib.aclosing(self._events(body)) as events:
            async for event in events:
                if isinstance(event, _Started):
                    prompt_tokens = event.prompt_tokens
                    for index in range(n):
                        yield chunk(index, {"role": "assistant", "content": ""})
                elif isinstance(event, _Delta):
                    yield chunk(event.index, {"content": event.text})
                else:
                    completion_tokens += event.completion_tokens
                    yield chunk(event.index, {}, event.reason)
        yield chat_chunk(
            id=chunk_id, model=model, created=created, choices=[], usage=usage(prompt_tokens, completion_tokens)
        )

    async def _load(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            loaded = await loop.run_in_executor(self._executor, self._load_sync)
        except Exception as exc:
            log.error("mlx backend %r: loading %r failed: %s", self.name, self.model_source, exc)
            self._load_error = exc
            return
        if not self._closed:
            self._loaded = loaded

    def _load_sync(self) -> _Loaded:
        from mlx_lm import load

        self.model_path = self._resolve_source()
        started = time.perf_counter()
        model, tokenizer, config = load(self.model_path, return_config=True)
        log.info("mlx backend %r: loaded %s in %.2fs", self.name, self.model_path, time.perf_counter() - started)
        return _Loaded(
            model=model,
            tokenizer=tokenizer,
            context_length=config.get("max_position_embeddings"),
            supports_tools=_template_mentions_tools(tokenizer),
        )

    def _resolve_source(self) -> str:
        source = self.model_source
        if source == TINY_SOURCE:
            return str(build_tiny_model(self.tiny_model_dir))
        if Path(source).expanduser().exists():
            return str(Path(source).expanduser())
        if not _REPO_ID.match(source):
            raise FileNotFoundError(f"model folder {source!r} does not exist")
        cached = _cached_snapshot(source)
        if cached is not None:
            return cached
        if _hub_reachable(source, self.hub_timeout_s):
            return source
        self.tiny = True
        self.fallback_reason = f"{source!r} is not in the local Hugging Face cache and the Hub is unreachable"
        log.warning("mlx backend %r: %s; serving a tiny random-weight model instead", self.name, self.fallback_reason)
        return str(build_tiny_model(self.tiny_model_dir))

    def _raise_if_unusable(self) -> None:
        if self._closed:
            raise BackendUnavailable("closed", backend=self.name)
        if self._load_error is not None:
            raise BackendUnavailable(f"model failed to load: {self._load_error}", backend=self.name)

    async def _ready(self, timeout: float) -> _Loaded:
        self._raise_if_unusable()
        if self._loaded is None:
            if self._loading is None:
                await self.start()
            assert self._loading is not None
            try:
                await asyncio.wait_for(asyncio.shield(self._loading), timeout)
            except TimeoutError:
                raise BackendUnavailable("model is still loading", backend=self.name) from None
            self._raise_if_unusable()
        assert self._loaded is not None
        return self._loaded

    async def _events(self, body: dict[str, Any]) -> AsyncIterator[_Event]:
        """Run one request on the worker thread and yield its events as they arrive."""
        loaded = await self._ready(self.load_wait_s)
        request = _parse_request(body, self.max_tokens_default)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()

        def emit(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:
                cancel.set()

        def on_done(future: asyncio.Future[None]) -> None:
            if future.cancelled():
                queue.put_nowait(BackendUnavailable("backend closed", backend=self.name))

        try:
            if self._executor is None:
                raise RuntimeError("no worker")
            adapter = self.adapter_paths.get(body.get("model") or "")
            job = loop.run_in_executor(self._executor, self._run_job, loaded, request, cancel, emit, adapter)
        except RuntimeError:
            raise BackendUnavailable("closed", backend=self.name) from None
        job.add_done_callback(on_done)
        self._cancels.add(cancel)
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancel.set()
            self._cancels.discard(cancel)

    def _run_job(
        self,
        loaded: _Loaded,
        request: _Request,
        cancel: threading.Event,
        emit: Callable[[Any], None],
        adapter: Path | None = None,
    ) -> None:
        try:
            if adapter is not None and not cancel.is_set():
                model = self.adapters.get(adapter, lambda folder: load_adapted_model(self.model_path, folder))
                loaded = _Loaded(model, loaded.tokenizer, loaded.context_length, loaded.supports_tools)
            if not cancel.is_set():
                _generate(loaded, request, cancel, emit, self.name)
        except BackendError as exc:
            emit(exc)
        except Exception as exc:
            log.exception("mlx backend %r: generation failed", self.name)
            emit(BackendUnavailable(f"generation failed: {exc}", backend=self.name))
        finally:
            emit(_END)


def _generate(
    loaded: _Loaded, request: _Request, cancel: threading.Event, emit: Callable[[Any], None], backend: str
) -> None:
    """The worker-thread side of one request: template, check the length, sample ``n`` choices."""
    import mlx.core as mx
    from mlx_lm.sample_utils import make_sampler

    prompt = _prompt_tokens(loaded, request, backend)
    max_tokens = _completion_budget(loaded.context_length, len(prompt), request, backend)
    emit(_Started(prompt_tokens=len(prompt)))
    if request.seed is not None:
        mx.random.seed(request.seed)
    sampler = make_sampler(request.temperature, request.top_p)
    for index in range(request.n):
        tokens, reason = _sample_choice(
            loaded, prompt, max_tokens, sampler, request.stop, cancel, lambda text: emit(_Delta(index, text))
        )
        if cancel.is_set():
            raise BackendUnavailable("generation cancelled", backend=backend)
        emit(_Finished(index=index, reason=reason, completion_tokens=tokens))


def _sample_choice(
    loaded: _Loaded,
    prompt: list[int],
    max_tokens: int,
    sampler: Any,
    stop: tuple[str, ...],
    cancel: threading.Event,
    on_text: Callable[[str], None],
) -> tuple[int, str]:
    """Generate one choice; return the number of tokens generated and the finish reason."""
    from mlx_lm import stream_generate

    scanner = _StopScanner(stop)
    tokens, reason = 0, "length"
    generator = stream_generate(loaded.model, loaded.tokenizer, prompt, max_tokens=max_tokens, sampler=sampler)
    try:
        for response in generator:
            if cancel.is_set():
                return tokens, "length"
            tokens = response.generation_tokens
            text, stopped = scanner.feed(response.text)
            if text:
                on_text(text)
            if stopped:
                return tokens, "stop"
            if response.finish_reason is not None:
                reason = response.finish_reason
    finally:
        generator.close()
    if tail := scanner.flush():
        on_text(tail)
    return tokens, reason


class _StopScanner:
    """Finds stop strings in streamed text, holding back any tail that could begin one."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = stops
        self.pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Return the text safe to emit now and whether a stop string was reached."""
        self.pending += text
        hits = [i for stop in self.stops if (i := self.pending.find(stop)) >= 0]
        if hits:
            out, self.pending = self.pending[: min(hits)], ""
            return out, True
        keep = self._partial_stop_length()
        cut = len(self.pending) - keep
        out, self.pending = self.pending[:cut], self.pending[cut:]
        return out, False

    def flush(self) -> str:
        """Return whatever is still held back."""
        out, self.pending = self.pending, ""
        return out

    def _partial_stop_length(self) -> int:
        longest = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(self.pending)), longest, -1):
                if self.pending.endswith(stop[:size]):
                    longest = size
                    break
        return longest


def _prompt_tokens(loaded: _Loaded, request: _Request, backend: str) -> list[int]:
    tokenizer = loaded.tokenizer
    if not getattr(tokenizer, "has_chat_template", False):
        lines = [f"{m['role']}: {m['content']}" for m in request.messages]
        return list(tokenizer.encode("\n".join([*lines, "assistant:"])))
    kwargs: dict[str, Any] = {"add_generation_prompt": True}
    if request.tools and loaded.supports_tools:
        kwargs["tools"] = request.tools
    try:
        return list(tokenizer.apply_chat_template(request.messages, **kwargs))
    except Exception as exc:
        message = f"messages do not fit the model's chat template: {exc}"
        raise UpstreamRejected(message, backend=backend, param="messages") from exc


def _completion_budget(context_length: int | None, prompt_tokens: int, request: _Request, backend: str) -> int:
    if not context_length:
        return request.max_tokens
    wanted = prompt_tokens + (request.max_tokens if request.max_tokens_explicit else 1)
    if wanted > context_length:
        raise ContextLengthExceeded(
            f"This model's maximum context length is {context_length} tokens. However, you requested "
            f"{wanted} tokens ({prompt_tokens} in the messages, {wanted - prompt_tokens} in the completion). "
            "Please reduce the length of the messages or completion.",
            backend=backend,
        )
    return min(request.max_tokens, context_length - prompt_tokens)


def _parse_request(body: dict[str, Any], max_tokens_default: int) -> _Request:
    """Read the sampling options this backend honours; other OpenAI fields are ignored."""
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    temperature = body.get("temperature")
    top_p = body.get("top_p")
    _require(max_tokens is None or (isinstance(max_tokens, int) and max_tokens >= 1), "max_tokens", "an integer >= 1")
    _require(temperature is None or _number_in(temperature, 0, 2), "temperature", "a number in [0, 2]")
    _require(top_p is None or _number_in(top_p, 0, 1), "top_p", "a number in [0, 1]")
    _require(body.get("seed") is None or isinstance(body["seed"], int), "seed", "an integer")
    messages = body.get("messages")
    _require(isinstance(messages, list) and len(messages) > 0, "messages", "a non-empty list")
    return _Request(
        messages=[_template_message(i, m) for i, m in enumerate(messages)],
        tools=body.get("tools") or None,
        max_tokens=max_tokens or max_tokens_default,
        max_tokens_explicit=max_tokens is not None,
        temperature=1.0 if temperature is None else float(temperature),
        top_p=1.0 if top_p is None else float(top_p),
        seed=body.get("seed"),
        stop=_stop_strings(body.get("stop")),
        n=_choice_count(body),
    )


def _choice_count(body: dict[str, Any]) -> int:
    n = body.get("n")
    _require(n is None or (isinstance(n, int) and 1 <= n <= 128), "n", "an integer in [1, 128]")
    return n or 1


def _stop_strings(stop: Any) -> tuple[str, ...]:
    if stop is None:
        return ()
    stops = [stop] if isinstance(stop, str) else stop
    all_strings = isinstance(stops, list) and all(isinstance(s, str) for s in stops)
    _require(all_strings, "stop", "a string or a list of strings")
    return tuple(s for s in stops if s)


def _template_message(index: int, message: Any) -> dict[str, Any]:
    """A copy of one message with its content flattened to text, as chat templates expect."""
    has_role = isinstance(message, dict) and isinstance(message.get("role"), str)
    _require(has_role, f"messages[{index}]", "an object with a role")
    content = message.get("content")
    if isinstance(content, list):
        text_only = all(isinstance(part, dict) and part.get("type") == "text" for part in content)
        _require(text_only, f"messages[{index}].content", "text (this backend supports text parts only)")
        content = "".join(str(part.get("text", "")) for part in content)
    _require(content is None or isinstance(content, str), f"messages[{index}].content", "a string or text parts")
    return {**message, "content": content or ""}


def _number_in(value: Any, low: float, high: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


def _require(ok: bool, param: str, what: str) -> None:
    if not ok:
        raise UpstreamRejected(f"'{param}' must be {what}", param=param)


def _template_mentions_tools(tokenizer: Any) -> bool:
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):
        template = " ".join(template.values())
    return isinstance(template, str) and "tools" in template


def _cached_snapshot(repo_id: str) -> str | None:
    """The local folder of ``repo_id`` in the Hugging Face cache, or ``None``."""
    try:
        from mlx_lm.utils import hf_repo_to_path

        return str(hf_repo_to_path(repo_id))
    except Exception:
        return None


def _hub_reachable(repo_id: str, timeout: float) -> bool:
    """Whether the Hugging Face Hub answers about ``repo_id`` within about ``timeout`` seconds.

    The probe runs on a daemon thread so that even a DNS lookup that hangs past the HTTP
    timeout cannot hold the caller (or interpreter exit) longer than ``timeout``.
    """
    answers: list[bool] = []
    probe = threading.Thread(
        target=lambda: answers.append(_ask_hub(repo_id, timeout)), name="hf-hub-probe", daemon=True
    )
    probe.start()
    probe.join(timeout + 0.5)
    return bool(answers) and answers[0]


def _ask_hub(repo_id: str, timeout: float) -> bool:
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError

        HfApi().model_info(repo_id, timeout=timeout)
    except ImportError:
        return False
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return status is not None and status < 500
    except Exception:
        return False
    return True


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"
