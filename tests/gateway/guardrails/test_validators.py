"""The guardrails-ai hook, against a stand-in with guardrails-ai's validator interface.

guardrails-ai itself is not installed by the 'guardrails' extra (see the README); the real library
and validator packages are tested in test_guardrails_ai.py, in the venv ``make test`` builds for it.
The stand-in copies what matters of the real one: results whose ``outcome`` is a ``str`` Enum, and
``guardrails.settings.settings.rc`` with metrics on (as without a ``~/.guardrailsrc``).
"""

from __future__ import annotations

import enum
import sys
import types

import pytest

from gateway.guardrails import default_policy
from gateway.guardrails.policy import InputChecks, OutputChecks, ValidatorCheck


@pytest.fixture
def stub_guardrails(monkeypatch, engine):
    """``guardrails.validator_base.Validator`` and a validator package ``guardrails_ai.banned_words``."""
    base = types.ModuleType("guardrails.validator_base")
    settings = types.ModuleType("guardrails.settings")
    settings.settings = types.SimpleNamespace(
        rc=types.SimpleNamespace(enable_metrics=True, use_remote_inferencing=True)
    )

    class Validator:
        def __init__(self, on_fail=None, **kwargs):
            self.on_fail = on_fail

    class Outcome(str, enum.Enum):
        PASS = "pass"
        FAIL = "fail"

    class Result:
        def __init__(self, outcome, error_message=""):
            self.outcome, self.error_message = Outcome(outcome), error_message

    class BannedWords(Validator):
        def __init__(self, words, on_fail=None):
            super().__init__(on_fail=on_fail)
            self.words = [w.lower() for w in words]

        def validate(self, value, metadata):
            hits = [w for w in self.words if w in value.lower()]
            return Result("fail", f"banned: {', '.join(hits)}") if hits else Result("pass")

    base.Validator = Validator
    package = types.ModuleType("guardrails")
    package.validator_base = base
    package.settings = settings
    hub = types.ModuleType("guardrails_ai")
    banned = types.ModuleType("guardrails_ai.banned_words")
    banned.BannedWords = BannedWords
    for name, module in {
        "guardrails": package,
        "guardrails.validator_base": base,
        "guardrails.settings": settings,
        "guardrails_ai": hub,
        "guardrails_ai.banned_words": banned,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)
    BannedWords.settings = settings.settings
    engine.validators._cache.clear()
    yield BannedWords
    engine.validators._cache.clear()


def check(action="block", disclaimer=None):
    return ValidatorCheck(name="banned_words", args={"words": ["Project Falcon"]}, action=action, disclaimer=disclaimer)


async def test_an_input_validator_blocks(engine, stub_guardrails):
    policy = default_policy().replace(input=InputChecks(validators=[check()]))
    verdict = await engine.check_input(policy, [{"role": "user", "content": "What's the budget of Project Falcon?"}])
    assert verdict.blocked is not None and verdict.blocked.check == "validator:banned_words"
    rc = stub_guardrails.settings.rc
    assert (rc.enable_metrics, rc.use_remote_inferencing) == (False, False), "hub telemetry and remote inference off"
    ok = await engine.check_input(policy, [{"role": "user", "content": "What's the budget of Project Eagle?"}])
    assert ok.blocked is None


async def test_an_output_validator_flags_or_appends_a_disclaimer(engine, stub_guardrails):
    flag = default_policy().replace(output=OutputChecks(validators=[check("flag")]))
    out = await engine.apply_output(flag, None, "Project Falcon ships in May.")
    assert out.blocked is None and [f.check for f in out.flags] == ["validator:banned_words"]
    assert "banned: project falcon" in out.flags[0].detail
    note = "Bu yanıt gizli proje adları içerebilir."
    disclose = default_policy().replace(output=OutputChecks(validators=[check("append_disclaimer", note)]))
    out = await engine.apply_output(disclose, None, "Project Falcon ships in May.")
    assert out.text.endswith("\n\n" + note)


async def test_an_output_validator_blocks_a_stream_at_the_end(engine, stub_guardrails):
    from gateway.guardrails import OutputBlocked

    policy = default_policy().replace(output=OutputChecks(validators=[check()]))
    filt = engine.output_filter(policy, None)
    filt.feed("The codename is Project ")
    filt.feed("Falcon.")
    with pytest.raises(OutputBlocked) as caught:
        await filt.afinish()
    assert caught.value.blocked.check == "validator:banned_words"


async def test_without_guardrails_ai_the_validator_is_skipped_not_fatal(engine, monkeypatch):
    for name in ("guardrails", "guardrails.validator_base", "guardrails_ai", "guardrails_ai.banned_words"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    engine.validators._cache.clear()
    assert engine.validators.warm() is False
    policy = default_policy().replace(input=InputChecks(validators=[check()]))
    verdict = await engine.check_input(policy, [{"role": "user", "content": "Project Falcon?"}])
    assert verdict.blocked is None
    assert verdict.degraded == [
        "validator:banned_words: guardrails-ai is not installed in this gateway (pip install 'paramgate[guardrails-ai]')"
    ]
