"""Streamed answers: PII split across chunks at every split point, minimal hold-back, blocks mid-stream."""

from __future__ import annotations

import itertools

import pytest

from gateway.guardrails import OutputBlocked, default_policy, domain_policy
from gateway.guardrails.policy import OutputChecks, PiiCheck, ToxicityCheck

ANSWERS = [
    "Sure! Contact billing@acme-corp.com or call +1 (415) 555-0132 today.",
    "Müşterinin numarası 0532 123 45 67, TCKN 10000000146 ve IBAN TR33 0006 1005 1978 6457 8413 26.",
    "Card 4111-1111-1111-1111 was charged; server 203.0.113.42 logged it.",
]


def stream(filt, chunks):
    out = [filt.feed(c) for c in chunks]
    out.append(filt.finish())
    return out


@pytest.mark.parametrize("answer", ANSWERS)
async def test_pii_split_in_two_at_every_point_is_masked_like_the_whole_answer(engine, answer):
    policy = default_policy()
    expected = (await engine.apply_output(policy, None, answer)).text
    assert "[EMAIL]" in expected or "[PHONE]" in expected or "[CREDIT_CARD]" in expected
    for i in range(1, len(answer)):
        pieces = stream(engine.output_filter(policy, None), [answer[:i], answer[i:]])
        assert "".join(pieces) == expected, f"split at {i}: {answer[:i]!r} | {answer[i:]!r}"


@pytest.mark.parametrize("answer", ANSWERS)
async def test_pii_fed_one_character_at_a_time_is_masked(engine, answer):
    policy = default_policy()
    expected = (await engine.apply_output(policy, None, answer)).text
    assert "".join(stream(engine.output_filter(policy, None), list(answer))) == expected


async def test_three_way_splits_of_an_iban_and_a_phone(engine):
    answer = "IBAN TR33 0006 1005 1978 6457 8413 26, tel 0532 123 45 67."
    policy = default_policy()
    expected = "IBAN [IBAN], tel [PHONE]."
    assert (await engine.apply_output(policy, None, answer)).text == expected
    for i, j in itertools.combinations(range(1, len(answer)), 2):
        pieces = stream(engine.output_filter(policy, None), [answer[:i], answer[i:j], answer[j:]])
        assert "".join(pieces) == expected, (i, j)


async def test_restored_placeholders_split_at_every_point(engine):
    policy = default_policy().replace(reversible_masking=True)
    verdict = await engine.check_input(policy, [{"role": "user", "content": "ben zeynep@ornek.com.tr, 0544 111 22 33"}])
    answer = "Tamam [EMAIL_1], sizi [PHONE_1] numarasından arayacağız. Destek: yardim@firma.com"
    expected = "Tamam zeynep@ornek.com.tr, sizi 0544 111 22 33 numarasından arayacağız. Destek: [EMAIL]"
    assert (await engine.apply_output(policy, verdict.vault, answer)).text == expected
    for i in range(1, len(answer)):
        pieces = stream(engine.output_filter(policy, verdict.vault), [answer[:i], answer[i:]])
        assert "".join(pieces) == expected, i
        assert not any("[EMA" in p and "[EMAIL]" not in p for p in pieces)  # no half placeholder ever sent


async def test_only_the_open_word_is_held_back(engine):
    filt = engine.output_filter(default_policy(), None)
    assert filt.feed("Hello") == ""  # "Hello" could still become "Hello@example.com"
    assert filt.held == 5
    assert filt.feed(" there, how") == "Hello there, "
    assert filt.held == 3
    assert filt.feed(" are you?\n") == "how are you?\n"
    assert filt.held == 0
    assert filt.finish() == ""


async def test_number_groups_that_may_continue_are_held_and_nothing_more(engine):
    filt = engine.output_filter(default_policy(), None)
    assert filt.feed("Numaram 0532 ") == "Numaram "
    assert filt.feed("123 45") == ""
    assert filt.feed(" 67 ve") == "[PHONE] "
    assert filt.feed(" mailim") == "ve "
    assert filt.finish() == "mailim"


async def test_a_newline_closes_a_number_run(engine):
    filt = engine.output_filter(default_policy(), None)
    assert filt.feed("Total: 1200\n") == "Total: 1200\n"


async def test_with_only_digit_entities_words_are_not_held(engine):
    policy = default_policy().replace(output=OutputChecks(pii=PiiCheck(entities=["PHONE_NUMBER", "TR_NATIONAL_ID"])))
    filt = engine.output_filter(policy, None)
    assert filt.feed("Merhaba dünya") == "Merhaba dünya"
    assert filt.feed(" numara 0532") == " numara "


async def test_nothing_is_held_without_output_pii_or_placeholders(engine):
    policy = default_policy().replace(output=OutputChecks(pii=PiiCheck(enabled=False)))
    filt = engine.output_filter(policy, None)
    assert filt.feed("Hel") == "Hel"
    assert filt.feed("lo a@b.co") == "lo a@b.co"


async def test_a_block_mid_stream_raises_and_sends_nothing_of_the_pii(engine):
    policy = default_policy().replace(output=OutputChecks(pii=PiiCheck(action="block")))
    answer = "Here is the record you asked for. The patient's card is 4111 1111 1111 1111 and more text follows."
    for i in range(1, len(answer), 7):
        filt = engine.output_filter(policy, None)
        sent = []
        with pytest.raises(OutputBlocked) as caught:
            for chunk in (answer[:i], answer[i:]):
                sent.append(filt.feed(chunk))
            sent.append(filt.finish())
        assert "4111" not in "".join(sent)
        assert caught.value.blocked.check == "pii" and caught.value.code == "content_policy_violation"
        assert caught.value.verdict.blocked is not None
        assert filt.finish() == ""  # after a block the filter is closed: nothing held back leaks


async def test_toxic_stream_is_stopped_when_the_phrase_completes(engine):
    policy = default_policy().replace(
        output=OutputChecks(pii=PiiCheck(enabled=False), toxicity=ToxicityCheck(action="block", threshold=0.7))
    )
    filt = engine.output_filter(policy, None)
    sent = [filt.feed("Look, you are a com"), filt.feed("plete idi")]
    with pytest.raises(OutputBlocked) as caught:
        filt.feed("ot and a moron")
    assert caught.value.blocked.check == "toxicity"
    assert "moron" not in "".join(sent)


async def test_disclaimer_is_the_final_delta(engine):
    filt = engine.output_filter(domain_policy("medical"), None)
    sent = [filt.feed("Günde iki"), filt.feed(" kez alın.")]
    last = filt.finish()
    assert "".join(sent) + last == "Günde iki kez alın.\n\nBu bilgiler tıbbi tavsiye yerine geçmez."
    assert last.endswith("\n\nBu bilgiler tıbbi tavsiye yerine geçmez.")


async def test_no_disclaimer_on_an_empty_stream(engine):
    filt = engine.output_filter(domain_policy("legal"), None)
    assert filt.finish() == ""


async def test_async_feed_matches_sync_feed(engine):
    policy = default_policy()
    answer = ANSWERS[1] * 20  # long enough to go to the thread pool
    filt = engine.output_filter(policy, None)
    out = [await filt.afeed(answer[i : i + 40]) for i in range(0, len(answer), 40)]
    out.append(await filt.afinish())
    assert "".join(out) == (await engine.apply_output(policy, None, answer)).text


async def test_a_long_run_of_number_groups_is_not_held_forever(engine):
    filt = engine.output_filter(default_policy(), None)
    table = " ".join(str(n) for n in range(100, 160)) + " "
    released = filt.feed(table)
    assert filt.held <= 100 and released  # capped, the rest goes out
    assert released + filt.finish() == table
