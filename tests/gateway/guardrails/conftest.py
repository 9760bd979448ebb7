"""One guardrail engine for the whole module tree: Presidio loads once (about ten seconds)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.guardrails import GuardrailEngine

pytest.importorskip("presidio_analyzer", reason="the 'guardrails' extra is not installed")


@pytest.fixture(scope="session")
def engine() -> Iterator[GuardrailEngine]:
    """Presidio loaded; no embedding classifier (its tests build their own engines)."""
    eng = GuardrailEngine(classifier=False)
    eng._warm_sync()
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def detector(engine: GuardrailEngine):
    return engine.detector
