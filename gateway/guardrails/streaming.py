"""Output guardrails for a streamed answer: release text as soon as it is final, hold back only what
could still change.

``OutputFilter.feed(delta)`` returns the text that is safe to send now; ``finish()`` returns the
rest plus the disclaimers (send it as one last content delta before the finish chunk). Either
raises :class:`OutputBlocked` when an output check with action ``block`` fires: end the stream
with an OpenAI-shaped error event; nothing held back is sent.

What is held back (the open tail of the text seen so far), by what the policy needs:

- the last word, when it is not yet followed by whitespace and an enabled entity can contain
  letters (e-mail, URL, IBAN): ``"ayse"`` may become ``"ayse@example.com"``;
- with digit entities only, the last word only if it could start a number (digit, ``+``, ``(``);
- before that, whitespace-separated number groups that could continue one entity
  (``"+90 532 123 "`` may still become a phone number; ``"TR33 0006 "`` an IBAN), never past a
  newline, at most ``MAX_GROUP_RUN`` characters (beyond that, text is released only where no
  entity can straddle the cut);
- a partial vault placeholder (``"[EMA"``), when placeholders are restored;
- with NER entities (PERSON …), the current sentence.

With no output PII check and nothing to restore, nothing is held: toxicity is scored on each
released piece with the previous 64 characters as context, so a phrase split across deltas is
still caught (before the piece that completes it is released).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gateway.guardrails.disclaimers import disclaimer_suffix
from gateway.guardrails.errors import GuardrailUnavailable, OutputBlocked
from gateway.guardrails.pii import NER_ENTITIES, PiiDetector, PiiSpan, label_for, merge_spans, trigger_for
from gateway.guardrails.policy import GuardrailPolicy
from gateway.guardrails.toxicity import ToxicityScorer
from gateway.guardrails.validators import ValidatorRegistry, ValidatorUnavailable
from gateway.guardrails.vault import MAX_PLACEHOLDER_LEN, PLACEHOLDER, Vault
from gateway.guardrails.verdicts import Blocked, Flag, OutputVerdict, blocked, digest

MAX_GROUP_RUN = 96  # longer than any number entity with separators (IBAN: 34 characters + 8 spaces)
MAX_WORD = 2048  # a single "word" longer than this is released even if unfinished
CONTEXT_CHARS = 64
_LETTER_ENTITIES = {"EMAIL_ADDRESS", "URL", "IBAN_CODE", "CRYPTO"}
_PARTIAL_PLACEHOLDER = re.compile(r"\[[A-Z_]*\d*")
_GROUP_TAIL = re.compile(r"[0-9A-Za-z+()\-./:]*\d[0-9A-Za-z+()\-./:]*[,;!?\"'\]]*$")
_LETTER_GROUP = re.compile(r"[A-Z]{1,4}[,;]?")  # IBAN groups such as "WEST"
_GROUP_START = re.compile(r"[0-9A-Z+(\-./:]")
_NUMBER_START = re.compile(r"[\d+(]")
_SENTENCE_END = re.compile(r"[.!?\n]\s")


@dataclass(slots=True)
class _Needs:
    words: bool = False
    digits: bool = False
    placeholders: bool = False
    sentences: bool = False

    @property
    def anything(self) -> bool:
        return self.words or self.digits or self.placeholders or self.sentences


@dataclass(slots=True)
class _Report:
    flags: list[Flag] = field(default_factory=list)
    masked: dict[str, int] = field(default_factory=dict)
    disclaimers: list[str] = field(default_factory=list)
    degraded: list[str] = field(default_factory=list)


class OutputFilter:
    """Per-answer state of the output guardrails (one per request; not shared between tasks)."""

    def __init__(
        self,
        policy: GuardrailPolicy,
        vault: Vault | None,
        *,
        detector: PiiDetector,
        scorer: ToxicityScorer,
        validators: ValidatorRegistry,
    ) -> None:
        self.policy = policy
        self.vault = vault or Vault()
        self._detector = detector
        self._scorer = scorer
        self._validators = validators
        out = policy.output
        self._pii = out.pii if out.pii.enabled else None
        self._restore = policy.reversible_masking and self.vault.size > 0
        self._trigger = trigger_for(self._pii.entities) if self._pii else None
        self._needs = _Needs()
        if self._pii:
            entities = set(self._pii.entities)
            self._needs.words = bool(entities & (_LETTER_ENTITIES | set(NER_ENTITIES)))
            self._needs.digits = True
            self._needs.sentences = bool(entities & set(NER_ENTITIES))
        self._needs.placeholders = self._restore
        self._pending = ""
        self._context = ""  # the last CONTEXT_CHARS characters released (model's text, before rewriting)
        self._tail = ""  # the last characters sent to the client, for the disclaimer check
        self._toxic_keep = 1.0
        self._toxic_categories: list[str] = []
        self._full: list[str] | None = [] if out.validators else None
        self._report = _Report()
        self._done = False
        self._sent_any = False

    # -- public ---------------------------------------------------------------------------------------

    @property
    def held(self) -> int:
        """Characters currently held back."""
        return len(self._pending)

    def feed(self, delta: str) -> str:
        """Take the next piece of the answer; return the text that can be sent now (maybe empty)."""
        if self._done:
            raise RuntimeError("feed() after finish()")
        if not delta:
            return ""
        self._pending += delta
        cut, cross_check = self._cut()
        if cut == 0:
            return ""
        return self._release(cut, cross_check)

    def finish(self) -> str:
        """End of the answer: the held-back text, then the disclaimers (one string, maybe empty)."""
        if self._done:
            return ""
        text = self._release(len(self._pending), False) if self._pending else ""
        self._done = True
        if self._full is not None:
            self._run_validators("".join(self._full))
        disclaimers = list(self.policy.output.disclaimers) + self._report.disclaimers
        suffix = disclaimer_suffix(disclaimers, (self._tail + text)[-2000:]) if self._sent_any or text else ""
        return text + suffix

    def whole(self, text: str) -> str:
        """The complete answer at once (no streaming): everything is final, nothing is held."""
        self._pending += text
        return self.finish()

    def needs_offload(self, delta: str, threshold: int) -> bool:
        """Whether feeding ``delta`` may cost more than a millisecond (Presidio on a long piece, or loading it)."""
        if self._pii is None:
            return False
        if not self._detector.loaded:
            return True
        return len(self._pending) + len(delta) > threshold and bool(
            self._trigger is None or self._trigger.search(delta)
        )

    def verdict(self) -> OutputVerdict:
        """What the filter did so far, for the audit log (no text)."""
        return OutputVerdict(
            text="",
            flags=list(self._report.flags),
            masked=dict(self._report.masked),
            disclaimers=list(self.policy.output.disclaimers) + self._report.disclaimers,
            degraded=list(self._report.degraded),
            policy=(self.policy.name, self.policy.version),
        )

    # -- where to cut ---------------------------------------------------------------------------------

    def _cut(self) -> tuple[int, bool]:
        """Index up to which the pending text is final, and whether entities could straddle it."""
        buf = self._pending
        n = len(buf)
        needs = self._needs
        if not needs.anything:
            return n, False
        start = n
        cross_check = False
        if needs.sentences:
            last = None
            for last in _SENTENCE_END.finditer(buf):
                pass
            start = last.end() if last else 0
        if needs.placeholders:
            i = buf.rfind("[")
            if i != -1 and n - i <= MAX_PLACEHOLDER_LEN and _PARTIAL_PLACEHOLDER.fullmatch(buf, i):
                start = min(start, i)
        if needs.words or needs.digits:
            j = n
            while j > 0 and not buf[j - 1].isspace():
                j -= 1
            word_open = j < n
            if word_open and (needs.words or _NUMBER_START.search(buf, j)):
                if n - j > MAX_WORD:
                    cross_check = True
                else:
                    start = min(start, j)
            # Number groups before it that one entity could span. The held text can join the token before
            # it when it starts like a group ("00:Ödeme" may end an IBAN) or is still to come (the text ends
            # in blanks); that token can join when it ends like one ("numara:0532", "GB82", "WEST").
            end = j if word_open else n
            if not word_open or (start == j and _GROUP_START.match(buf, j)):
                run_start = k = end
                while True:
                    s = k
                    while s > 0 and buf[s - 1] in " \t":
                        s -= 1
                    if s == k or k - s > 3 or s == 0:
                        break
                    t = s
                    while t > 0 and not buf[t - 1].isspace():
                        t -= 1
                    if not (_GROUP_TAIL.search(buf, t, s) or _LETTER_GROUP.fullmatch(buf, t, s)):
                        break
                    if n - t > MAX_GROUP_RUN:
                        cross_check = True
                        break
                    run_start = k = t
                    if not _GROUP_START.match(buf, t):
                        break
                start = min(start, run_start)
        return start, cross_check

    # -- releasing ------------------------------------------------------------------------------------

    def _release(self, cut: int, cross_check: bool) -> str:
        buf = self._pending
        spans: list[PiiSpan] = []
        if self._pii is not None:
            window = buf if cross_check else buf[:cut]
            if self._restore and "[" in window:  # placeholders are not text to analyse: blank them, keep offsets
                window = PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), window)
            if self._trigger is None or self._trigger.search(window):
                if not self._detector.load():
                    raise GuardrailUnavailable(self._detector.unavailable_reason or "PII detection is unavailable")
                spans = self._detector.find(window, self._pii.entities, self._pii.score_threshold)
                if cross_check:
                    for span in spans:
                        if span.start < cut < span.end:
                            cut = span.start
                    # what the released part holds on its own, too: masking the union is the safe side
                    alone = self._detector.find(window[:cut], self._pii.entities, self._pii.score_threshold)
                    spans = merge_spans([s for s in spans if s.end <= cut] + alone)
        if cut <= 0:
            return ""
        segment = buf[:cut]
        out = self._rewrite(segment, spans)
        self._score_toxicity(segment)
        self._pending = buf[cut:]
        self._context = (self._context + segment)[-CONTEXT_CHARS:]
        if self._full is not None:
            self._full.append(segment)
        if out:
            self._sent_any = True
            self._tail = (self._tail + out)[-2000:]
        return out

    def _rewrite(self, segment: str, spans: list[PiiSpan]) -> str:
        holes = [(m.start(), m.end()) for m in PLACEHOLDER.finditer(segment)] if "[" in segment else []
        spans = [s for s in spans if all(s.end <= a or s.start >= b for a, b in holes)]
        pii = self._pii
        if spans and pii is not None:
            entities = sorted({s.entity for s in spans})
            if pii.action == "block":
                self._block(
                    "pii", f"The answer contained personal data ({', '.join(entities)}) and was stopped.", segment
                )
            for s in spans:
                self._report.masked[s.entity] = self._report.masked.get(s.entity, 0) + 1
            if pii.action == "flag":
                self._report.flags.append(Flag("pii", "output", "found " + ", ".join(entities)))
                spans = []
            elif pii.action == "append_disclaimer":
                self._report.flags.append(Flag("pii", "output", "found " + ", ".join(entities)))
                self._add_disclaimer(pii.disclaimer)
                spans = []
        if not spans and not (holes and self._restore):
            return segment
        edits = [(s.start, s.end, f"[{label_for(s.entity)}]") for s in spans]
        if self._restore:
            for a, b in holes:
                original = self.vault.original(segment[a:b])
                if original is not None:
                    edits.append((a, b, original))
        pieces, at = [], 0
        for a, b, replacement in sorted(edits):
            pieces.append(segment[at:a])
            pieces.append(replacement)
            at = b
        pieces.append(segment[at:])
        return "".join(pieces)

    def _score_toxicity(self, segment: str) -> None:
        check = self.policy.output.toxicity
        if not check.enabled:
            return
        result = self._scorer.score(segment, context=self._context)
        if result.score <= 0.0:
            return
        was = 1.0 - self._toxic_keep
        self._toxic_keep *= 1.0 - result.score
        self._toxic_categories.extend(c for c in result.categories if c not in self._toxic_categories)
        score = 1.0 - self._toxic_keep
        if score < check.threshold or was >= check.threshold:
            return
        detail = f"toxicity {score:.2f} ≥ {check.threshold:.2f} ({', '.join(self._toxic_categories)})"
        if check.action == "block":
            self._block("toxicity", f"The answer was stopped by the content policy: {detail}.", segment)
        self._report.flags.append(Flag("toxicity", "output", detail, round(score, 4)))
        if check.action == "append_disclaimer":
            self._add_disclaimer(check.disclaimer)

    def _run_validators(self, text: str) -> None:
        for check in self.policy.output.validators:
            try:
                outcome = self._validators.run(check.name, check.args, text)
            except ValidatorUnavailable as exc:
                self._report.degraded.append(f"validator:{check.name}: {exc}")
                continue
            if outcome.passed:
                continue
            if check.action == "block":
                self._block(f"validator:{check.name}", f"The answer failed the {check.name} check.", text)
            self._report.flags.append(Flag(f"validator:{check.name}", "output", outcome.message[:200]))
            if check.action == "append_disclaimer":
                self._add_disclaimer(check.disclaimer)

    def _add_disclaimer(self, text: str | None) -> None:
        if text and text not in self._report.disclaimers:
            self._report.disclaimers.append(text)

    def _block(self, check: str, message: str, text: str) -> None:
        self._done = True
        self._pending = ""
        block: Blocked = blocked(check, "output", message)
        verdict = self.verdict()
        verdict.blocked = block
        verdict.blocked_text = text if self.policy.store_blocked_text else digest(text)
        raise OutputBlocked(block, verdict=verdict, blocked_text=verdict.blocked_text)
