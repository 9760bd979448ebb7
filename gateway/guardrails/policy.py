"""Guardrail policies: which checks run on input and on output, and what each does when it fires.

A policy is a msgspec Struct, so it round-trips through JSON unchanged (``policy.to_json()`` /
``GuardrailPolicy.from_json(raw)``) and can be stored per tenant and edited through an API.
Constructing or decoding an invalid one raises :class:`PolicyError` whose ``param`` is the
dotted path of the offending field (``"input.jailbreak.threshold"``).

Actions:

``mask``              replace the matched text (PII only): ``[EMAIL_1]`` on input, ``[EMAIL]`` on output
``block``             refuse: ``Blocked`` on input, ``OutputBlocked`` mid-stream
``flag``              let it through and record a ``Flag``
``append_disclaimer`` (output checks only) let it through and append the check's ``disclaimer``
"""

from __future__ import annotations

import re
from re import _constants as _sre_constants  # the stdlib's own parser: how re itself reads a pattern
from re import _parser as _sre_parser
from typing import Any, Literal

import msgspec

from gateway.guardrails.errors import PolicyError
from gateway.guardrails.pii import DEFAULT_ENTITIES, KNOWN_ENTITIES
from gateway.validation import describe_validation_error

PiiAction = Literal["mask", "block", "flag", "append_disclaimer"]
CheckAction = Literal["block", "flag", "append_disclaimer"]
Role = Literal["system", "developer", "user", "assistant", "tool", "function"]

MEDICAL_DISCLAIMER = "Bu bilgiler tıbbi tavsiye yerine geçmez."
LEGAL_DISCLAIMER = "Bu bilgiler hukuki tavsiye niteliği taşımaz."
FINANCIAL_DISCLAIMER = "Bu bilgiler yatırım tavsiyesi değildir."

_MAX_DISCLAIMER = 1000
_VALIDATOR_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_REMOTE_ARGS = frozenset({"use_local", "validation_endpoint"})
"""guardrails-ai's own constructor arguments that would send the text to a remote inference endpoint."""
_ALL_ROLES = ["system", "developer", "user", "assistant", "tool", "function"]


class _Check(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=False):
    pass


class PiiCheck(_Check):
    """Personal data found by Presidio (and the Turkish recognisers) in message or answer text.

    ``entities``: names from ``gateway.guardrails.pii.KNOWN_ENTITIES``; ``score_threshold``: Presidio's
    minimum score (pattern-only set-up: keep it at 0.4 or lower, phone numbers score 0.4); ``roles``
    (input only): which messages are masked."""

    enabled: bool = True
    action: PiiAction = "mask"
    entities: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_ENTITIES))
    score_threshold: float = 0.4
    roles: list[Role] = msgspec.field(default_factory=lambda: list(_ALL_ROLES))
    disclaimer: str | None = None


class JailbreakCheck(_Check):
    """Prompt injection / jailbreak: the EN+TR pattern set, and the embedding-similarity classifier.

    ``threshold`` applies to the classifier's score (0..1; 0.5 = as close to ordinary prompts as to
    known attacks; see ``gateway.guardrails.jailbreak.SimilarityDetector``). A pattern match always
    counts. ``roles``: which messages are scanned (the system prompt is the application's own)."""

    enabled: bool = True
    action: Literal["block", "flag"] = "block"
    patterns: bool = True
    classifier: bool = False
    threshold: float = 0.7
    roles: list[Role] = msgspec.field(default_factory=lambda: ["user"])


class ToxicityCheck(_Check):
    """Insults, profanity, threats, self-harm encouragement (EN+TR weighted lexicon), scored 0..1;
    fires at ``threshold`` or above. ``roles`` applies on input only."""

    enabled: bool = True
    action: CheckAction = "block"
    threshold: float = 0.7
    roles: list[Role] = msgspec.field(default_factory=lambda: ["user"])
    disclaimer: str | None = None


class ValidatorCheck(_Check):
    """A guardrails-ai validator by name (``regex_match`` for the package ``guardrails-ai-regex-match``).

    ``args``: the validator's own keyword arguments (``{"banned_words": ["Falcon"]}`` for ``ban_list``),
    ``on_fail`` excepted: ``action`` says what a failure does. Saving a policy through the API builds
    each validator once to check that it is installed and accepts its args
    (see :mod:`gateway.guardrails.validators`)."""

    name: str
    args: dict[str, Any] = msgspec.field(default_factory=dict)
    action: CheckAction = "block"
    disclaimer: str | None = None


class InputChecks(_Check):
    pii: PiiCheck = msgspec.field(default_factory=PiiCheck)
    jailbreak: JailbreakCheck = msgspec.field(default_factory=JailbreakCheck)
    toxicity: ToxicityCheck = msgspec.field(default_factory=lambda: ToxicityCheck(action="flag"))
    validators: list[ValidatorCheck] = msgspec.field(default_factory=list)


class OutputChecks(_Check):
    pii: PiiCheck = msgspec.field(default_factory=PiiCheck)
    toxicity: ToxicityCheck = msgspec.field(default_factory=lambda: ToxicityCheck(action="flag", roles=["assistant"]))
    validators: list[ValidatorCheck] = msgspec.field(default_factory=list)
    disclaimers: list[str] = msgspec.field(default_factory=list)


class GuardrailPolicy(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One tenant's guardrails. ``version`` goes into audit records so one can tell which policy acted."""

    name: str = "default"
    version: int = 1
    input: InputChecks = msgspec.field(default_factory=InputChecks)
    output: OutputChecks = msgspec.field(default_factory=OutputChecks)
    reversible_masking: bool = False
    store_blocked_text: bool = False

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_dict(cls, data: Any) -> GuardrailPolicy:
        """A policy from plain JSON-like data; ``PolicyError`` naming the field when it is not valid."""
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError as exc:
            raise _policy_error(exc) from None

    @classmethod
    def from_json(cls, raw: bytes | str) -> GuardrailPolicy:
        try:
            return msgspec.json.decode(raw, type=cls)
        except msgspec.ValidationError as exc:
            raise _policy_error(exc) from None
        except msgspec.DecodeError as exc:
            raise PolicyError(f"The guardrail policy is not valid JSON: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)

    def replace(self, **changes: Any) -> GuardrailPolicy:
        return msgspec.structs.replace(self, **changes)


def default_policy() -> GuardrailPolicy:
    """GDPR/KVKK out of the box: personal data masked (one-way) on input and in answers,
    jailbreaks blocked by the pattern set (the embedding classifier is opt-in: it costs ~0.4 s of
    CPU per request here), toxicity flagged; no disclaimer."""
    return GuardrailPolicy()


def domain_policy(domain: Literal["medical", "legal", "financial"], **changes: Any) -> GuardrailPolicy:
    """The default policy plus the domain's Turkish disclaimer on every answer."""
    text = {"medical": MEDICAL_DISCLAIMER, "legal": LEGAL_DISCLAIMER, "financial": FINANCIAL_DISCLAIMER}[domain]
    base = GuardrailPolicy(name=domain, output=OutputChecks(disclaimers=[text]))
    return base.replace(**changes) if changes else base


def policy_schema() -> dict[str, Any]:
    """JSON Schema of a policy, for an admin API's OpenAPI document."""
    return msgspec.json.schema(GuardrailPolicy)


def _policy_error(exc: msgspec.ValidationError) -> PolicyError:
    path, readable = describe_validation_error(exc)
    path = re.sub(r"\[(\d+)\]", r".\1", path or "").lstrip(".") or None
    return PolicyError(f"Invalid guardrail policy at '{path}': {readable}" if path else readable, param=path)


def _fail(param: str, message: str) -> None:
    raise PolicyError(f"Invalid guardrail policy at '{param}': {message}", param=param)


def _unit(param: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        _fail(param, f"must be between 0 and 1, got {value}")


def _disclaimer(param: str, text: str | None, action: str) -> None:
    if action == "append_disclaimer" and not (text and text.strip()):
        _fail(param, "is required when action is 'append_disclaimer'")
    if text is not None and len(text) > _MAX_DISCLAIMER:
        _fail(param, f"is longer than {_MAX_DISCLAIMER} characters")


def nested_repetition(pattern: str) -> bool:
    """Whether a regular expression repeats a part that itself repeats (star height above one), the
    shape behind catastrophic backtracking in Python's ``re``. Unparseable patterns answer False (the
    validator's own check reports them)."""
    try:
        parsed = _sre_parser.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return False
    return _repeats_inside(parsed, inside=False)


def _repeats_inside(items: Any, *, inside: bool) -> bool:
    for op, value in items:
        if op in (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT, _sre_constants.POSSESSIVE_REPEAT):
            low, high, body = value
            repeats = high is _sre_constants.MAXREPEAT or high > 1
            if repeats and inside:
                return True
            if _repeats_inside(body, inside=inside or repeats):
                return True
        elif op == _sre_constants.SUBPATTERN:
            if _repeats_inside(value[-1], inside=inside):
                return True
        elif op == _sre_constants.BRANCH:
            if any(_repeats_inside(branch, inside=inside) for branch in value[1]):
                return True
        elif op in (_sre_constants.ASSERT, _sre_constants.ASSERT_NOT, _sre_constants.ATOMIC_GROUP):
            body = value[-1] if isinstance(value, tuple) else value
            if _repeats_inside(body, inside=inside):
                return True
    return False


def _validators(prefix: str, checks: list[ValidatorCheck], *, output: bool) -> None:
    for i, check in enumerate(checks):
        where = f"{prefix}.validators.{i}"
        if not _VALIDATOR_NAME.match(check.name):
            _fail(f"{where}.name", f"'{check.name}' is not a guardrails-ai validator name (lower_snake_case)")
        if "on_fail" in check.args:
            _fail(f"{where}.args", "'on_fail' is set by the gateway: the check's 'action' says what a failure does")
        for arg in check.args:
            if arg in _REMOTE_ARGS or arg.startswith("_"):
                _fail(f"{where}.args", f"'{arg}' is not allowed: validators run in this process, nothing leaves it")
        for arg, value in check.args.items():
            if isinstance(value, str) and "regex" in arg and nested_repetition(value):
                _fail(
                    f"{where}.args",
                    f"'{arg}' repeats a group that itself repeats (like '(a+)+'): such a pattern can take "
                    "exponential time on a crafted text",
                )
        if check.action == "append_disclaimer" and not output:
            _fail(f"{where}.action", "'append_disclaimer' is only possible on output checks")
        _disclaimer(f"{where}.disclaimer", check.disclaimer, check.action)


def _validate(policy: GuardrailPolicy) -> None:
    if not policy.name.strip():
        _fail("name", "must not be empty")
    if policy.version < 1:
        _fail("version", f"must be 1 or more, got {policy.version}")
    for side, checks in (("input", policy.input), ("output", policy.output)):
        pii = checks.pii
        unknown = [e for e in pii.entities if e not in KNOWN_ENTITIES]
        if unknown:
            _fail(f"{side}.pii.entities", f"unknown entity {unknown[0]!r}; known: {', '.join(sorted(KNOWN_ENTITIES))}")
        if pii.enabled and not pii.entities:
            _fail(f"{side}.pii.entities", "must name at least one entity while the check is enabled")
        if len(set(pii.entities)) != len(pii.entities):
            _fail(f"{side}.pii.entities", "lists an entity twice")
        _unit(f"{side}.pii.score_threshold", pii.score_threshold)
        _unit(f"{side}.toxicity.threshold", checks.toxicity.threshold)
        _validators(side, checks.validators, output=side == "output")
    for field, action in (
        ("input.pii.action", policy.input.pii.action),
        ("input.toxicity.action", policy.input.toxicity.action),
    ):
        if action == "append_disclaimer":
            _fail(field, "'append_disclaimer' is only possible on output checks")
    _disclaimer("output.pii.disclaimer", policy.output.pii.disclaimer, policy.output.pii.action)
    _disclaimer("output.toxicity.disclaimer", policy.output.toxicity.disclaimer, policy.output.toxicity.action)
    _unit("input.jailbreak.threshold", policy.input.jailbreak.threshold)
    jailbreak = policy.input.jailbreak
    if jailbreak.enabled and not (jailbreak.patterns or jailbreak.classifier):
        _fail("input.jailbreak", "is enabled but neither 'patterns' nor 'classifier' is on")
    for i, text in enumerate(policy.output.disclaimers):
        if not text.strip():
            _fail(f"output.disclaimers.{i}", "must not be empty")
        if len(text) > _MAX_DISCLAIMER:
            _fail(f"output.disclaimers.{i}", f"is longer than {_MAX_DISCLAIMER} characters")
    if policy.reversible_masking and not policy.input.pii.enabled:
        _fail("reversible_masking", "needs input.pii enabled (there is nothing to restore otherwise)")
    if policy.reversible_masking and policy.input.pii.action != "mask":
        _fail("reversible_masking", "needs input.pii.action 'mask'")
