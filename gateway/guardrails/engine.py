"""The guardrail engine: one per process, shared by all requests; the policy comes with each call.

    engine = GuardrailEngine()            # cheap: nothing heavy is imported yet
    await engine.warm()                   # at startup: Presidio + the embedding model, in a thread

    verdict = await engine.check_input(policy, body["messages"])
    verdict.raise_for_block()             # 400 content_policy_violation
    upstream_messages = verdict.messages  # PII masked; the caller's list is untouched

    # non-streaming
    out = await engine.apply_output(policy, verdict.vault, answer_text)
    out.raise_for_block()
    answer_text = out.text                # placeholders restored (if reversible), new PII masked, disclaimers

    # streaming
    filt = engine.output_filter(policy, verdict.vault)
    async for delta in upstream:
        text = await filt.afeed(delta)    # raises OutputBlocked mid-stream
        if text: send(text)
    tail = await filt.afinish()           # held-back text + disclaimers: one last delta
    if tail: send(tail)

CPU-heavy work (Presidio on more than ``offload_chars`` characters, the embedding model, first
loads) runs in the engine's own small thread pool, so the event loop is never held for long;
small texts are checked inline, where a thread hop would cost more than the check.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gateway.guardrails.embeddings import EmbeddingModel
from gateway.guardrails.errors import GuardrailUnavailable, OutputBlocked
from gateway.guardrails.jailbreak import PatternDetector, SimilarityDetector
from gateway.guardrails.messages import TextSlot, replace_texts, text_slots
from gateway.guardrails.pii import DEFAULT_PHONE_REGIONS, PiiDetector, label_for, trigger_for
from gateway.guardrails.policy import GuardrailPolicy
from gateway.guardrails.streaming import OutputFilter
from gateway.guardrails.toxicity import ToxicityScorer
from gateway.guardrails.validators import ValidatorRegistry, ValidatorUnavailable
from gateway.guardrails.vault import Vault
from gateway.guardrails.verdicts import Flag, InputVerdict, OutputVerdict, blocked, digest

OFFLOAD_CHARS = 256


class GuardrailEngine:
    """Checks input messages and output text against a :class:`GuardrailPolicy`.

    ``nlp``: Presidio's NLP set-up (None: patterns only; ``"blank"``; or a spaCy model name/path),
    see :mod:`gateway.guardrails.pii`. ``classifier``: False never loads the embedding model (the
    jailbreak patterns still run). ``embedding_loader`` replaces the packaged model (tests).
    """

    def __init__(
        self,
        *,
        nlp: str | None = None,
        phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS,
        classifier: bool = True,
        embedding_loader: Callable[[], Any] | None = None,
        offload_chars: int = OFFLOAD_CHARS,
        max_workers: int = 2,
    ) -> None:
        self.detector = PiiDetector(nlp=nlp, phone_regions=phone_regions)
        self.patterns = PatternDetector()
        self.similarity: SimilarityDetector | None = (
            SimilarityDetector(EmbeddingModel(embedding_loader)) if classifier else None
        )
        self.scorer = ToxicityScorer()
        self.validators = ValidatorRegistry()
        self.offload_chars = offload_chars
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="guardrails")

    # -- lifecycle ------------------------------------------------------------------------------------

    async def warm(self) -> dict[str, str]:
        """Load Presidio, the embedding model and guardrails-ai (if installed) now, in a thread, not on first use."""
        await self._offload(self._warm_sync)
        return self.status()

    def _warm_sync(self) -> None:
        self.detector.load()
        self.validators.warm()
        if self.similarity is not None:
            self.similarity.load()

    def status(self) -> dict[str, str]:
        """Each component: ``ready``, ``not loaded`` (loads on first use), ``off``, or ``unavailable: why``."""

        def state(loaded: bool, reason: str | None) -> str:
            return "ready" if loaded else (f"unavailable: {reason}" if reason else "not loaded")

        classifier = "off"
        if self.similarity is not None:
            classifier = state(self.similarity.model.loaded, self.similarity.unavailable_reason)
        return {
            "pii": state(self.detector.loaded, self.detector.unavailable_reason),
            "jailbreak_patterns": "ready",
            "jailbreak_classifier": classifier,
            "toxicity": "ready",
        }

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _offload(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- input ----------------------------------------------------------------------------------------

    async def check_input(self, policy: GuardrailPolicy, messages: list[dict[str, Any]]) -> InputVerdict:
        """Run the policy's input checks on the text of ``messages``; see :class:`InputVerdict`."""
        slots = text_slots(messages)
        if self._input_is_heavy(policy, slots):
            return await self._offload(self._check_input_sync, policy, messages, slots)
        return self._check_input_sync(policy, messages, slots)

    def _input_is_heavy(self, policy: GuardrailPolicy, slots: list[TextSlot]) -> bool:
        """Whether checking these messages may hold the event loop for more than about a millisecond."""
        checks = policy.input
        jailbreak = checks.jailbreak
        if (
            jailbreak.enabled
            and jailbreak.classifier
            and self.similarity is not None
            and self.similarity.unavailable_reason is None
            and any(s.role in jailbreak.roles for s in slots)
        ):
            return True
        if checks.validators or (checks.pii.enabled and not self.detector.loaded):
            return True
        return sum(len(s.text) for s in slots) > self.offload_chars

    def _check_input_sync(
        self, policy: GuardrailPolicy, messages: list[dict[str, Any]], slots: list[TextSlot]
    ) -> InputVerdict:
        checks = policy.input
        verdict = InputVerdict(messages=messages, vault=Vault(), policy=(policy.name, policy.version))
        timings = verdict.timings_ms

        def stop(check: str, message: str, text: str) -> InputVerdict:
            verdict.blocked = blocked(check, "input", message)
            verdict.blocked_text = text if policy.store_blocked_text else digest(text)
            return verdict

        # jailbreak: patterns first (cheap), the classifier only if they found nothing
        jb = checks.jailbreak
        if jb.enabled:
            texts = [s.text for s in slots if s.role in jb.roles]
            if jb.patterns:
                t0 = time.perf_counter()
                for text in texts:
                    finding = self.patterns.scan(text)
                    if finding is None:
                        continue
                    if jb.action == "block":
                        timings["jailbreak_patterns"] = _ms(t0)
                        return stop(
                            "jailbreak",
                            f"This request was blocked by the content policy: it tries to override the assistant's "
                            f"instructions (rule {finding.rule}).",
                            text,
                        )
                    verdict.flags.append(Flag("jailbreak", "input", f"rule {finding.rule}", 1.0))
                    break
                timings["jailbreak_patterns"] = _ms(t0)
            if jb.classifier and texts and not any(f.check == "jailbreak" for f in verdict.flags):
                if self.similarity is None:
                    verdict.degraded.append("jailbreak.classifier: switched off in this gateway")
                elif not self.similarity.load():
                    verdict.degraded.append(f"jailbreak.classifier: {self.similarity.unavailable_reason}")
                else:
                    t0 = time.perf_counter()
                    score, at = self.similarity.score(texts)
                    timings["jailbreak_classifier"] = _ms(t0)
                    if score >= jb.threshold:
                        if jb.action == "block":
                            return stop(
                                "jailbreak",
                                f"This request was blocked by the content policy: it resembles a known jailbreak "
                                f"prompt (similarity {score:.2f} ≥ {jb.threshold:.2f}).",
                                texts[at],
                            )
                        verdict.flags.append(Flag("jailbreak", "input", "classifier", round(score, 4)))

        tox = checks.toxicity
        if tox.enabled:
            t0 = time.perf_counter()
            for slot in slots:
                if slot.role not in tox.roles:
                    continue
                result = self.scorer.score(slot.text)
                if result.score < tox.threshold:
                    continue
                detail = f"toxicity {result.score:.2f} ≥ {tox.threshold:.2f} ({', '.join(result.categories)})"
                if tox.action == "block":
                    timings["toxicity"] = _ms(t0)
                    return stop("toxicity", f"This request was blocked by the content policy: {detail}.", slot.text)
                verdict.flags.append(Flag("toxicity", "input", detail, result.score))
            timings["toxicity"] = _ms(t0)

        if checks.validators:
            t0 = time.perf_counter()
            user_text = "\n".join(s.text for s in slots if s.role == "user")
            for check in checks.validators:
                try:
                    outcome = self.validators.run(check.name, check.args, user_text)
                except ValidatorUnavailable as exc:
                    verdict.degraded.append(f"validator:{check.name}: {exc}")
                    continue
                if outcome.passed:
                    continue
                if check.action == "block":
                    return stop(f"validator:{check.name}", f"This request failed the {check.name} check.", user_text)
                verdict.flags.append(Flag(f"validator:{check.name}", "input", outcome.message[:200]))
            timings["validators"] = _ms(t0)

        pii = checks.pii
        if pii.enabled:
            t0 = time.perf_counter()
            trigger = trigger_for(pii.entities)
            new_texts: dict[tuple[int, int | None], str] = {}
            found: set[str] = set()
            for slot in slots:
                if slot.role not in pii.roles or (trigger is not None and not trigger.search(slot.text)):
                    continue
                if not self.detector.load():
                    raise GuardrailUnavailable(self.detector.unavailable_reason or "PII detection is unavailable")
                spans = self.detector.find(slot.text, pii.entities, pii.score_threshold)
                if not spans:
                    continue
                found.update(s.entity for s in spans)
                if pii.action == "block":
                    timings["pii"] = _ms(t0)
                    kinds = ", ".join(sorted({s.entity for s in spans}))
                    return stop(
                        "pii",
                        f"This request contains personal data ({kinds}) that this policy does not allow.",
                        slot.text,
                    )
                if pii.action == "mask":
                    vault = verdict.vault
                    new_texts[(slot.message, slot.part)] = self.detector.replace(
                        slot.text,
                        spans,
                        lambda entity, value, vault=vault: vault.placeholder(entity, label_for(entity), value),
                    )
            if found and pii.action == "flag":
                verdict.flags.append(Flag("pii", "input", "found " + ", ".join(sorted(found))))
            verdict.messages = replace_texts(messages, new_texts)
            verdict.masked = verdict.vault.entity_counts()
            timings["pii"] = _ms(t0)
        return verdict

    async def mask_pii(self, policy: GuardrailPolicy, vault: Vault, text: str) -> str:
        """``text`` with the personal data the policy's input PII check finds replaced by ``vault``
        placeholders (for text the gateway adds to a prompt, e.g. retrieved context: it is masked,
        never blocked, whatever the check's action; unchanged when the check is off or only flags)."""
        pii = policy.input.pii
        if not pii.enabled or pii.action == "flag" or not text:
            return text
        trigger = trigger_for(pii.entities)
        if trigger is not None and not trigger.search(text):
            return text
        if len(text) > self.offload_chars or not self.detector.loaded:
            return await self._offload(self._mask_pii_sync, pii, vault, text)
        return self._mask_pii_sync(pii, vault, text)

    def _mask_pii_sync(self, pii: Any, vault: Vault, text: str) -> str:
        if not self.detector.load():
            raise GuardrailUnavailable(self.detector.unavailable_reason or "PII detection is unavailable")
        spans = self.detector.find(text, pii.entities, pii.score_threshold)
        if not spans:
            return text
        return self.detector.replace(
            text, spans, lambda entity, value: vault.placeholder(entity, label_for(entity), value)
        )

    # -- output ---------------------------------------------------------------------------------------

    def output_filter(self, policy: GuardrailPolicy, vault: Vault | None) -> AsyncOutputFilter:
        """A filter for one streamed answer; ``vault`` is the request's ``InputVerdict.vault``."""
        return AsyncOutputFilter(
            OutputFilter(policy, vault, detector=self.detector, scorer=self.scorer, validators=self.validators), self
        )

    async def apply_output(self, policy: GuardrailPolicy, vault: Vault | None, text: str) -> OutputVerdict:
        """Output checks on a whole answer; see :class:`OutputVerdict`."""
        filt = OutputFilter(policy, vault, detector=self.detector, scorer=self.scorer, validators=self.validators)
        heavy = filt.needs_offload(text, self.offload_chars) or bool(policy.output.validators)
        try:
            out = await self._offload(filt.whole, text) if heavy else filt.whole(text)
        except OutputBlocked as exc:
            assert exc.verdict is not None
            return exc.verdict
        verdict = filt.verdict()
        verdict.text = out
        return verdict


class AsyncOutputFilter:
    """:class:`OutputFilter` with ``afeed``/``afinish`` that move expensive pieces to the engine's threads.
    ``feed``/``finish`` (synchronous) are there too, for callers that are not in an event loop."""

    def __init__(self, inner: OutputFilter, engine: GuardrailEngine) -> None:
        self.inner = inner
        self._engine = engine

    @property
    def held(self) -> int:
        return self.inner.held

    def feed(self, delta: str) -> str:
        return self.inner.feed(delta)

    def finish(self) -> str:
        return self.inner.finish()

    async def afeed(self, delta: str) -> str:
        if self.inner.needs_offload(delta, self._engine.offload_chars):
            return await self._engine._offload(self.inner.feed, delta)
        return self.inner.feed(delta)

    async def afinish(self) -> str:
        if self.inner.needs_offload("", self._engine.offload_chars) or self.inner.policy.output.validators:
            return await self._engine._offload(self.inner.finish)
        return self.inner.finish()

    def verdict(self) -> OutputVerdict:
        return self.inner.verdict()


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 3)
