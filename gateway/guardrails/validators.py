"""Optional guardrails-ai validators, named in a policy (``{"name": "regex_match", "args": {...}}``).

guardrails-ai is heavy (it pulls litellm and langchain-core), so it is not a dependency: install
``guardrails-ai`` and the validator's own package from PyPI (``guardrails-ai-regex-match`` provides
``guardrails_ai.regex_match``; ``guardrails hub install`` needs network and is not used). A
validator whose package is missing is skipped and reported in the verdict's ``degraded`` list;
it never fails a request by its absence. guardrails-ai's telemetry is switched off before import.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ValidatorOutcome:
    passed: bool
    message: str = ""


class ValidatorUnavailable(Exception):
    pass


class ValidatorRegistry:
    """Instantiated validators, cached per (name, args)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, Any] = {}

    def run(self, name: str, args: dict[str, Any], text: str) -> ValidatorOutcome:
        """Run validator ``name`` on ``text``; ``ValidatorUnavailable`` if it is not installed."""
        validator = self._get(name, args)
        result = validator.validate(text, {})
        outcome = str(getattr(result, "outcome", "pass"))
        if outcome == "fail":
            return ValidatorOutcome(False, str(getattr(result, "error_message", "") or f"{name} failed"))
        return ValidatorOutcome(True)

    def _get(self, name: str, args: dict[str, Any]) -> Any:
        key = f"{name}:{json.dumps(args, sort_keys=True, default=str)}"
        with self._lock:
            if key not in self._cache:
                self._cache[key] = _instantiate(name, args)
            return self._cache[key]


def _instantiate(name: str, args: dict[str, Any]) -> Any:
    os.environ.setdefault("GUARDRAILS_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("OTEL_SDK_DISABLED", "true")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        base = importlib.import_module("guardrails.validator_base")
    except ImportError as exc:
        raise ValidatorUnavailable("guardrails-ai is not installed") from exc
    try:
        module = importlib.import_module(f"guardrails_ai.{name}")
    except ImportError as exc:
        package = "guardrails-ai-" + name.replace("_", "-")
        raise ValidatorUnavailable(f"validator {name!r} is not installed (pip install {package})") from exc
    classes = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, base.Validator) and obj is not base.Validator
    ]
    if not classes:
        raise ValidatorUnavailable(f"guardrails_ai.{name} holds no Validator class")
    return classes[0](**args, on_fail="noop")
