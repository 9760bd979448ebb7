"""guardrails-ai validators named in a policy: ``{"name": "ban_list", "args": {"banned_words": ["..."]}}``.

guardrails-ai is an optional extra (``pip install 'paramgate[guardrails-ai]'``; it pulls litellm and
langchain-core and needs openai<3). A validator is the PyPI package ``guardrails-ai-<name>``, which
provides the module ``guardrails_ai.<name>`` (``guardrails hub install`` needs network and is not
used); the extra brings ``regex_match``, ``valid_length`` and ``ban_list``, which run offline.

- Saving a policy calls :meth:`ValidatorRegistry.check_policy`: each validator must be installed
  and accept its ``args`` (it is built and tried on a sample sentence), else a ``PolicyError``
  names the field (``output.validators.0.args``).
- On a request, a validator that is missing, cannot be built, or raises on any text (the sample
  too) is skipped, logged and listed in the verdict's ``degraded`` (tried again a minute later);
  one that raises on this text only counts as failed (a ``block`` check blocks: a text that
  breaks a check must not slip past it). Neither turns a request into a 500, and no exception
  text (which may quote the prompt) is kept.
- guardrails-ai is imported when the engine warms up (about 4 s of CPU; not on a request), and
  its hub telemetry and remote inference are then switched off for this process (without a
  ``~/.guardrailsrc`` it turns its metrics on), so nothing leaves the machine.
- A validator is built once per (name, args) and shared by every request and thread; only its
  ``validate`` is called on the whole text (never the stateful ``validate_stream``), streamed or not.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.guardrails.errors import PolicyError

if TYPE_CHECKING:
    from gateway.guardrails.policy import GuardrailPolicy

log = logging.getLogger("gateway.guardrails")

SAMPLE_TEXT = "ParamGate tries this validator on a sample: Hello, World! 123."
"""What a validator is tried on when a policy is saved (a bad regex, say, only fails when it runs)."""

INSTALL_HINT = "pip install 'paramgate[guardrails-ai]'"
RETRY_UNAVAILABLE_SECONDS = 60.0
"""How long a validator that could not be built stays skipped before it is tried again (say, after a pip install)."""


@dataclass(frozen=True, slots=True)
class ValidatorOutcome:
    passed: bool
    message: str = ""


class ValidatorUnavailable(Exception):
    """The validator cannot run here: guardrails-ai or the validator's package is missing, or it breaks.

    ValidatorUnavailable
     └── ValidatorRejectedArgs   it is installed but cannot be built, or fails, with the policy's ``args``
    """


class ValidatorRejectedArgs(ValidatorUnavailable):
    pass


class ValidatorRegistry:
    """Validators built from a policy's (name, args), kept for the life of the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, Any] = {}  # key → a validator, or the ValidatorUnavailable that building it raised
        self._failed_at: dict[str, float] = {}

    def warm(self) -> bool:
        """Import guardrails-ai now, if it is installed (about 4 s of CPU), rather than on the first
        request whose policy names a validator; False when it is not installed."""
        try:
            _import_guardrails()
        except ValidatorUnavailable as exc:
            if not isinstance(exc.__cause__, ImportError):
                log.warning("%s", exc)
            return False
        return True

    def run(self, name: str, args: dict[str, Any], text: str) -> ValidatorOutcome:
        """Run validator ``name`` on ``text``; ``ValidatorUnavailable`` when it cannot run here.

        A validator that raises on ``text`` but not on :data:`SAMPLE_TEXT` fails the text (a text
        that breaks a check must not slip past it); one that raises on both is broken by its args
        and skipped. Only the exception's type is logged: its message may quote the text."""
        validator = self._get(name, args)
        try:
            return _outcome(name, validator.validate(text, {}))
        except Exception as exc:
            error = type(exc).__name__
        try:
            _outcome(name, validator.validate(SAMPLE_TEXT, {}))
        except Exception:
            log.warning("guardrails-ai validator %s raised %s, on a sample too: skipped", name, error)
            unavailable = ValidatorRejectedArgs(f"{name} cannot run with these args")
            with self._lock:
                self._remember(_key(name, args), unavailable)
            raise unavailable from None
        log.warning("guardrails-ai validator %s raised %s on this text: counted as failed", name, error)
        return ValidatorOutcome(False, f"{name} could not check this text")

    def check(self, name: str, args: dict[str, Any]) -> None:
        """Build validator ``name`` with ``args`` and try it on :data:`SAMPLE_TEXT`; raises ``ValidatorUnavailable``."""
        validator = self._get(name, args)
        try:
            _outcome(name, validator.validate(SAMPLE_TEXT, {}))
        except Exception as exc:
            rejected = ValidatorRejectedArgs(f"{name} fails with these args: {type(exc).__name__}: {exc}")
            with self._lock:
                self._remember(_key(name, args), rejected)
            raise rejected from exc

    def check_policy(self, policy: GuardrailPolicy) -> None:
        """Every validator the policy names must run here; ``PolicyError`` at its ``name`` or ``args`` otherwise."""
        for side, checks in (("input", policy.input), ("output", policy.output)):
            for i, check in enumerate(checks.validators):
                where = f"{side}.validators.{i}"
                try:
                    self.check(check.name, check.args)
                except ValidatorRejectedArgs as exc:
                    raise PolicyError(f"Invalid guardrail policy at '{where}.args': {exc}", param=f"{where}.args")
                except ValidatorUnavailable as exc:
                    raise PolicyError(f"Invalid guardrail policy at '{where}.name': {exc}", param=f"{where}.name")

    def _get(self, name: str, args: dict[str, Any]) -> Any:
        key = _key(name, args)
        found = self._cache.get(key)
        if found is None or self._retry_due(key):
            with self._lock:
                found = self._cache.get(key)
                if found is None or self._retry_due(key):
                    try:
                        found = self._cache[key] = _build(name, args)
                        self._failed_at.pop(key, None)
                    except ValidatorUnavailable as exc:
                        log.warning("guardrails-ai validator %s is unavailable: %s", name, exc)
                        found = self._remember(key, exc)
        if isinstance(found, ValidatorUnavailable):
            raise found
        return found

    def _remember(self, key: str, unavailable: ValidatorUnavailable) -> ValidatorUnavailable:
        """Keep ``unavailable`` for ``key`` until a retry is due (the caller holds the lock)."""
        self._cache[key] = unavailable
        self._failed_at[key] = time.monotonic()
        return unavailable

    def _retry_due(self, key: str) -> bool:
        failed_at = self._failed_at.get(key)
        return failed_at is not None and time.monotonic() - failed_at >= RETRY_UNAVAILABLE_SECONDS


def _key(name: str, args: dict[str, Any]) -> str:
    return f"{name}:{json.dumps(args, sort_keys=True, default=str)}"


def _outcome(name: str, result: Any) -> ValidatorOutcome:
    outcome = getattr(result, "outcome", None)
    outcome = getattr(outcome, "value", outcome)  # guardrails' Outcome is a str Enum: str() gives 'Outcome.FAIL'
    if outcome == "pass":
        return ValidatorOutcome(True)
    if outcome == "fail":
        return ValidatorOutcome(False, str(getattr(result, "error_message", "") or f"{name} failed"))
    raise ValidatorUnavailable(f"{name} returned {type(result).__name__}, not a pass or fail result")


def _import_guardrails() -> Any:
    """``guardrails.validator_base``, with hub metrics and remote inference off for this process and
    litellm (imported by some validators) kept from fetching its price list."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        base = importlib.import_module("guardrails.validator_base")
        from guardrails.settings import settings

        settings.rc.enable_metrics = False
        settings.rc.use_remote_inferencing = False
    except ImportError as exc:
        raise ValidatorUnavailable(f"guardrails-ai is not installed in this gateway ({INSTALL_HINT})") from exc
    except Exception as exc:
        raise ValidatorUnavailable(f"guardrails-ai cannot be imported: {type(exc).__name__}: {exc}") from exc
    return base


def _build(name: str, args: dict[str, Any]) -> Any:
    base = _import_guardrails()
    module_name = f"guardrails_ai.{name}"
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name not in (module_name, "guardrails_ai"):
            raise ValidatorUnavailable(f"validator {name!r} cannot be imported: {exc}") from exc
        package = "guardrails-ai-" + name.replace("_", "-")
        raise ValidatorUnavailable(f"no guardrails-ai validator {name!r} is installed (pip install {package})") from exc
    except Exception as exc:
        raise ValidatorUnavailable(f"validator {name!r} cannot be imported: {type(exc).__name__}: {exc}") from exc
    cls = _validator_class(module, base.Validator)
    if cls is None:
        raise ValidatorUnavailable(f"{module_name} holds no guardrails-ai Validator")
    try:
        return cls(**args, on_fail="noop")
    except Exception as exc:
        raise ValidatorRejectedArgs(f"{cls.__name__} does not accept these args: {type(exc).__name__}: {exc}") from exc


def _validator_class(module: Any, base: type) -> type | None:
    names = getattr(module, "__all__", None) or list(vars(module))
    for attr in names:
        obj = getattr(module, attr, None)
        if isinstance(obj, type) and issubclass(obj, base) and obj is not base:
            return obj
    return None
