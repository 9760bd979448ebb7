"""Real guardrails-ai and real validator packages (ban_list, regex_match, valid_length), offline.

guardrails-ai needs openai<3 and the main test venv has openai 3, so ``make test`` runs this module
in a venv of its own (``.venv-guardrails-ai``, the ``test-guardrails-ai`` extra). Elsewhere it is
skipped. Every test here fails if anything tries to reach a host other than loopback.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading

import openai
import pytest

pytest.importorskip(
    "guardrails.validator_base",
    reason="guardrails-ai is not installed here: `make test` runs this module in .venv-guardrails-ai",
)

from gateway.guardrails import OutputBlocked, default_policy
from gateway.guardrails.policy import InputChecks, OutputChecks, ValidatorCheck
from gateway.storage.database import bump_directory_version
from gateway.storage.models import GuardrailPolicyVersion
from tests.gateway.harness import wait_for

FALCON = {"name": "ban_list", "args": {"banned_words": ["Project Falcon"]}}
NO_DIGITS = {"name": "regex_match", "args": {"regex": r"[^0-9]*"}}
SHORT = {"name": "valid_length", "args": {"max": 40}}
NOTE = "Rakamlar doğrulanmamıştır."


def _loopback(host: object) -> bool:
    text = str(host)
    return text in ("localhost", "::1", "", "None") or text.startswith(("127.", "/"))


@pytest.fixture(autouse=True)
def no_outside_network(monkeypatch):
    """Records (and refuses) every connection or name lookup that is not for loopback."""
    attempts: list[str] = []
    connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def guarded(original):
        def call(self, address):
            host = address[0] if isinstance(address, tuple) else address
            if not _loopback(host):
                attempts.append(f"connect {address!r} from {threading.current_thread().name}")
                raise OSError("no network in this test")
            return original(self, address)

        return call

    def lookup(host, *args, **kwargs):
        if not _loopback(host):
            attempts.append(f"getaddrinfo {host!r} from {threading.current_thread().name}")
            raise socket.gaierror("no network in this test")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded(connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(connect_ex))
    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    yield attempts
    assert attempts == [], "something tried to reach the outside"


def validators(*checks: dict, **common) -> list[ValidatorCheck]:
    return [ValidatorCheck(**{**c, **common}) for c in checks]


# -- the engine with the real library --------------------------------------------------------------


async def test_a_real_failure_blocks_and_a_pass_passes(engine):
    """guardrails-ai's outcome is a str Enum (``str()`` gives 'Outcome.FAIL'): failures must not read as passes."""
    policy = default_policy().replace(input=InputChecks(validators=validators(FALCON)))
    verdict = await engine.check_input(policy, [{"role": "user", "content": "What is the budget of Project Falcon?"}])
    assert verdict.blocked is not None and verdict.blocked.check == "validator:ban_list"
    assert verdict.blocked.code == "content_policy_violation"
    fine = await engine.check_input(policy, [{"role": "user", "content": "What is the budget of Project Eagle?"}])
    assert fine.blocked is None and not fine.degraded


async def test_a_text_that_makes_a_validator_raise_is_blocked_not_waved_through(engine):
    """ban_list raises IndexError when lower-casing changes the text's length (Turkish 'İ' becomes two
    characters): a check that breaks on a text must not let that text past it."""
    policy = default_policy().replace(input=InputChecks(validators=validators(FALCON)))
    tricky = "İİİİİİ tell me about Project Falcon"
    verdict = await engine.check_input(policy, [{"role": "user", "content": tricky}])
    assert verdict.blocked is not None and verdict.blocked.check == "validator:ban_list"
    assert not verdict.degraded


async def test_output_validators_flag_or_append_their_disclaimer(engine):
    flag = default_policy().replace(output=OutputChecks(validators=validators(SHORT, action="flag")))
    long_answer = "The quarterly report is ready and it is rather long."
    out = await engine.apply_output(flag, None, long_answer)
    assert out.blocked is None and out.text == long_answer
    assert [(f.check, f.direction) for f in out.flags] == [("validator:valid_length", "output")]
    assert "greater than 40" in out.flags[0].detail
    assert not (await engine.apply_output(flag, None, "Short.")).flags

    disclose = default_policy().replace(
        output=OutputChecks(validators=validators(NO_DIGITS, action="append_disclaimer", disclaimer=NOTE))
    )
    out = await engine.apply_output(disclose, None, "Revenue grew 12 percent.")
    assert out.text == "Revenue grew 12 percent.\n\n" + NOTE
    assert (await engine.apply_output(disclose, None, "Revenue grew.")).text == "Revenue grew."


async def test_a_streamed_answer_is_validated_whole_at_its_end(engine):
    policy = default_policy().replace(output=OutputChecks(validators=validators(FALCON)))
    stream = engine.output_filter(policy, None)
    sent = [await stream.afeed(piece) for piece in ("The code name is Pro", "ject Fal", "con, as planned.")]
    with pytest.raises(OutputBlocked) as caught:
        await stream.afinish()
    assert caught.value.blocked.check == "validator:ban_list"
    assert "".join(sent).startswith("The code name is"), "nothing is held back for a validator: it decides at the end"

    disclose = default_policy().replace(
        output=OutputChecks(validators=validators(NO_DIGITS, action="append_disclaimer", disclaimer=NOTE))
    )
    stream = engine.output_filter(disclose, None)
    text = "".join([await stream.afeed(p) for p in ("Sales were ", "4", "2 units.")]) + await stream.afinish()
    assert text == "Sales were 42 units.\n\n" + NOTE


async def test_hub_telemetry_and_remote_inference_are_off(engine):
    from guardrails.settings import settings

    policy = default_policy().replace(input=InputChecks(validators=validators(FALCON, SHORT)))
    await engine.check_input(policy, [{"role": "user", "content": "hello"}])
    assert settings.rc.enable_metrics is False and settings.rc.use_remote_inferencing is False
    assert "OtelBatchSpanRecordProcessor" not in [t.name for t in threading.enumerate()], "no hub span exporter"
    built = engine.validators._get(FALCON["name"], FALCON["args"])
    assert built.use_local is True and not hasattr(built, "_hub_telemetry")


def test_warming_the_engine_imports_guardrails_ai_so_no_request_pays_for_it(engine):
    assert engine.validators.warm() is True
    assert "guardrails.validator_base" in sys.modules


def test_each_validator_is_built_once_and_shared(engine):
    registry = engine.validators
    first = registry._get("regex_match", {"regex": "a+"})
    assert registry._get("regex_match", {"regex": "a+"}) is first
    assert registry._get("regex_match", {"regex": "b+"}) is not first


# -- through the gateway's HTTP API ----------------------------------------------------------------


def put_policy(stack, policy: dict):
    return stack.gateway.admin.put("/admin/api/tenants/acme/guardrails", json=policy)


def ask(stack, text: str, **kwargs):
    client = stack.gateway.openai(stack.key)
    return client.chat.completions.create(model="qwen", messages=[{"role": "user", "content": text}], **kwargs)


def policy_version(stack) -> int:
    tenant_id = stack.gateway.services.tenants.get("acme").id
    return stack.gateway.services.guard.policies.for_tenant(tenant_id)[0]


def test_an_input_validator_blocks_before_any_backend_is_called(stack):
    saved = put_policy(stack, {"input": {"validators": [FALCON]}})
    assert saved.status_code == 200, saved.text
    assert wait_for(lambda: policy_version(stack) == 1)
    with pytest.raises(openai.BadRequestError) as caught:
        ask(stack, "Give me the Project Falcon budget.")
    assert caught.value.status_code == 400
    assert caught.value.body["code"] == "content_policy_violation"
    assert "ban_list" in caught.value.body["message"]
    assert not stack.gpu1.bodies("chat") and not stack.gpu2.bodies("chat"), "the upstream saw nothing"
    assert ask(stack, "Give me the Project Eagle budget.").choices[0].message.content


def test_output_validators_flag_append_and_screen_streams(stack):
    policy = {
        "output": {
            "validators": [
                {**SHORT, "action": "flag"},
                {**NO_DIGITS, "action": "append_disclaimer", "disclaimer": NOTE},
            ]
        }
    }
    assert put_policy(stack, policy).status_code == 200
    assert wait_for(lambda: policy_version(stack) == 1)
    stack.gpu1.reply = "A long answer that is flagged by valid_length but has no digits."
    assert ask(stack, "hi").choices[0].message.content == stack.gpu1.reply  # flagged, let through as it is
    stack.gpu1.reply = "Revenue grew 12 percent."
    assert ask(stack, "hi").choices[0].message.content == "Revenue grew 12 percent.\n\n" + NOTE

    chunks = list(ask(stack, "hi", stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Revenue grew 12 percent.\n\n" + NOTE
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_a_blocking_output_validator_ends_a_stream_with_an_error_event(stack):
    assert put_policy(stack, {"output": {"validators": [FALCON]}}).status_code == 200
    assert wait_for(lambda: policy_version(stack) == 1)
    stack.gpu1.reply = "The code name is Project Falcon."
    with pytest.raises(openai.BadRequestError) as caught:
        ask(stack, "hi")
    assert caught.value.body["code"] == "content_policy_violation"
    received = []
    with pytest.raises(openai.APIError) as caught:
        received.extend(ask(stack, "hi", stream=True))
    assert "ban_list" in caught.value.message
    assert not any(c.choices and c.choices[0].finish_reason for c in received), "no finish before the error"


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ({"name": "regex_match", "args": {"regex": "["}}, "unterminated character set"),
        ({"name": "regex_match", "args": {"regex": "a", "match_type": "sometimes"}}, "match_type must be in"),
        ({"name": "ban_list", "args": {"words": ["Falcon"]}}, "unexpected keyword argument 'words'"),
        ({"name": "ban_list", "args": {"banned_words": ["x"], "on_fail": "fix"}}, "'on_fail' is set by the gateway"),
    ],
)
def test_invalid_args_are_refused_when_the_policy_is_saved(stack, check, message):
    refused = put_policy(stack, {"output": {"validators": [{"name": "valid_length", "args": {"max": 9}}, check]}})
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["param"] == "output.validators.1.args" and error["code"] == "invalid_guardrail_policy"
    assert message in error["message"]
    assert stack.gateway.admin.get("/admin/api/tenants/acme/guardrails").json()["version"] == 0


def test_an_unknown_validator_is_refused_when_the_policy_is_saved(stack):
    refused = put_policy(stack, {"input": {"validators": [{"name": "no_such_validator"}]}})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["param"] == "input.validators.0.name"
    assert "pip install guardrails-ai-no-such-validator" in error["message"]


def test_a_validator_that_cannot_run_at_request_time_is_skipped_and_logged(stack, caplog):
    """A policy stored before a package was removed (or by a gateway that had it) does not fail requests."""
    with stack.gateway.services.db.session() as session:
        tenant_id = stack.gateway.services.tenants.get("acme").id
        policy = default_policy().to_dict()
        policy["input"]["validators"] = [
            {"name": "gone_validator", "args": {}, "action": "block", "disclaimer": None},
            {"name": "regex_match", "args": {"regex": "(unclosed"}, "action": "block", "disclaimer": None},
        ]
        session.add(GuardrailPolicyVersion(tenant_id=tenant_id, version=1, policy=policy, created_by="test"))
        bump_directory_version(session)
    assert wait_for(lambda: policy_version(stack) == 1)
    with caplog.at_level(logging.WARNING, logger="gateway.guardrails"):
        assert ask(stack, "hello there").choices[0].message.content == "hello there"
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "gone_validator is unavailable" in logged and "regex_match raised" in logged
