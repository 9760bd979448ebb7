"""Toxicity: the EN+TR lexicon, second-person boosts, and the innocent words that look like insults."""

from __future__ import annotations

import pytest

from gateway.guardrails.toxicity import ToxicityScorer

THRESHOLD = 0.7


@pytest.mark.parametrize(
    "text",
    [
        "You are a complete idiot and nobody wants your opinion.",
        "Shut up, you stupid moron.",
        "Fuck you and your useless product.",
        "I will kill you if you post that again.",
        "Just kill yourself already.",
        "Sen tam bir gerizekalısın.",
        "Aptalsın, salaksın, anlamıyor musun?",
        "Siktir git buradan.",
        "Seni öldüreceğim, evini biliyorum.",
        "Şerefsiz herif, dolandırıcı!",
        "Git öl, kimse seni özlemez.",
        "Orospu çocuğu bizi kandırdı.",
    ],
)
def test_toxic_text_scores_above_the_threshold(text):
    assert ToxicityScorer().score(text).score >= THRESHOLD, text


@pytest.mark.parametrize(
    "text",
    [
        "This bug is killing me, but the fix is close.",
        "How do I kill a zombie process on Linux?",
        "Damn, the build failed again.",
        "The movie was a bit stupid but fun.",
        "Bu kargoyu şubeye götürür müsünüz?",  # götür: take, not an insult
        "Piknik için pic yüklemeyi unutma.",
        "Amin, dedi hoca; duamız kabul olsun.",
        "Malın teslim tarihi yarın, mal bedeli ödendi.",
        "Öldürücü bir sıcak var bugün, bol su için.",
        "Aptal kutusu eskiden televizyona denirdi.",
        "Bu proje beni deli ediyor ama seviyorum.",
    ],
)
def test_innocent_text_stays_below_the_threshold(text):
    assert ToxicityScorer().score(text).score < THRESHOLD, text


def test_insults_aimed_at_the_reader_weigh_more():
    scorer = ToxicityScorer()
    assert scorer.score("you are an idiot").score > scorer.score("that plan is idiotic").score
    assert scorer.score("aptalsın").score > scorer.score("aptal kutusu").score


def test_several_mild_insults_add_up():
    scorer = ToxicityScorer()
    one = scorer.score("stupid").score
    three = scorer.score("stupid, pathetic, worthless").score
    assert three > one and three >= THRESHOLD


def test_categories_are_reported_without_the_words():
    result = ToxicityScorer().score("I will kill you, idiot")
    assert set(result.categories) == {"threat", "insult"}


def test_context_is_read_but_not_counted_twice():
    scorer = ToxicityScorer()
    assert scorer.score("ot", context="you are an idi").score >= 0.5  # the word completes across the boundary
    assert scorer.score(" and the weather is nice", context="you are an idiot").score == 0.0
