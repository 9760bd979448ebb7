"""Pairs generated through the gateway, the judge (Claude through the Anthropic backend), and the export."""

from __future__ import annotations

import json

from sqlmodel import select

from gateway.traffic_samples import set_sampling_rate
from tests.gateway.harness import wait_for
from tests.training.conftest import Stack
from training.judge import RUBRIC
from training.models import JudgeScore, PairLabel

SCORES_HIGH = {"relevance": 9, "helpfulness": 8, "accuracy": 9, "safety": 10, "clarity": 8}
SCORES_LOW = {"relevance": 2, "helpfulness": 1, "accuracy": 3, "safety": 9, "clarity": 2}


def test_candidates_come_from_the_tenants_route_at_four_temperatures(stack: Stack):
    acme = stack.tenant("acme")
    result = stack.run(
        stack.loop.sources.from_candidates(acme, "temps", "qwen", [[{"role": "user", "content": "hi there"}]])
    )
    assert result.pairs == 2 and not result.failed
    temperatures = [body["temperature"] for body in stack.vllm.bodies("chat")]
    assert temperatures == [0.3, 0.5, 0.7, 0.9]
    item = stack.loop.labeling.next_item("rita")
    assert item.messages == [{"role": "user", "content": "hi there"}]


def test_stable_versus_canary_and_sampled_traffic(stack: Stack):
    acme = stack.tenant("acme")
    canary = stack.run(
        stack.loop.sources.stable_vs_canary(acme, "canary", "qwen", "acme-canary", [[{"role": "user", "content": "x"}]])
    )
    assert canary.pairs == 1
    assert [b["model"] for b in stack.vllm.bodies("chat")] == ["qwen", "acme-canary"]
    set_sampling_rate(stack.console.services.db, acme, 1.0)
    assert wait_for(lambda: stack.console.services.sampler.rates.get(acme) == 1.0)
    stack.console.openai(stack.key("acme")).chat.completions.create(
        model="qwen", messages=[{"role": "user", "content": "mail bob@example.org now"}]
    )
    stack.console.services.sampler.flush()
    traffic = stack.run(stack.loop.sources.from_traffic(acme, "traffic", "qwen"))
    assert traffic.pairs == 1
    assert "bob@example.org" not in json.dumps(stack.vllm.bodies("chat")[-1])  # the regenerated prompt was masked
    try:
        stack.run(stack.loop.sources.from_traffic(acme, "traffic 2", "qwen"))
        raise AssertionError("used samples must not be paired twice")
    except ValueError as exc:
        assert "no unused sampled traffic" in str(exc)


def test_the_judge_scores_through_claude_and_never_overwrites_humans(stack: Stack):
    acme = stack.tenant("acme")
    prompts = [[{"role": "user", "content": "q one"}], [{"role": "user", "content": "q two"}]]
    result = stack.run(stack.loop.sources.from_candidates(acme, "judged", "qwen", prompts, temperatures=(0.3, 0.9)))
    labeling = stack.loop.labeling
    # humans: pair 1 → a, pair 2 → b
    for pair_id, clicked in ((1, "left"), (2, "right")):
        labeling.label("rita", pair_id, "ab", clicked)
    # the judge: candidate a high, b low on both pairs (one reply in a code fence, one as lines)
    stack.claude.reply_text("```json\n" + json.dumps(SCORES_HIGH) + "\n```")
    stack.claude.reply_text(json.dumps(SCORES_LOW))
    stack.claude.reply_text("\n".join(f"{k.capitalize()}: {v}/10" for k, v in SCORES_HIGH.items()))
    stack.claude.reply_text(json.dumps(SCORES_LOW))
    scored = stack.run(stack.loop.judge.score_batch(result.batch_id, "claude-sonnet-4-5"))
    assert scored.scored == 4 and not scored.failed
    rubric_prompt = (
        stack.claude.requests[-1].body["messages"][0]["content"][0]["text"]
        if isinstance(stack.claude.requests[-1].body["messages"][0]["content"], list)
        else stack.claude.requests[-1].body["messages"][0]["content"]
    )
    assert all(name in rubric_prompt for name in RUBRIC)
    with stack.console.services.db.session() as session:
        scores = list(session.exec(select(JudgeScore).order_by(JudgeScore.candidate_id)))
        labels = list(session.exec(select(PairLabel).order_by(PairLabel.pair_id)))
    assert [s.total for s in scores] == [8.8, 3.4, 8.8, 3.4]
    assert [(label.reviewer, label.choice) for label in labels] == [("rita", "a"), ("rita", "b")]
    disagreements = stack.loop.judge.disagreements(result.batch_id)
    assert [(d.pair_id, d.human, d.judge) for d in disagreements] == [(2, "b", "a")]
    # scoring again asks nothing new (idempotent per judge and candidate)
    asked = len(stack.claude.requests)
    assert stack.run(stack.loop.judge.score_batch(result.batch_id, "claude-sonnet-4-5")).scored == 0
    assert len(stack.claude.requests) == asked


def test_a_judge_reply_without_scores_is_reported_not_stored(stack: Stack):
    acme = stack.tenant("acme")
    result = stack.run(
        stack.loop.sources.from_candidates(acme, "b", "qwen", [[{"role": "user", "content": "q"}]], (0.3, 0.9))
    )
    stack.claude.reply_text("I cannot grade this.")
    stack.claude.reply_text(json.dumps(SCORES_LOW))
    run_result = stack.run(stack.loop.judge.score_batch(result.batch_id, "claude-sonnet-4-5"))
    assert run_result.scored == 1 and "no score for relevance" in run_result.failed[0]


def test_export_writes_trl_dpo_jsonl_with_a_data_card_per_tenant(stack: Stack):
    acme, other = stack.tenant("acme"), stack.tenant("other")
    prompts = [[{"role": "user", "content": f"question {i}"}] for i in range(3)]
    batch = stack.run(stack.loop.sources.from_candidates(acme, "b", "qwen", prompts, (0.3, 0.9))).batch_id
    stack.run(stack.loop.sources.from_candidates(other, "theirs", "qwen", prompts[:1], (0.3, 0.9)))
    labeling = stack.loop.labeling
    for reviewer, choices in (("rita", ["left", "right", "tie"]), ("rob", ["left", "left", "tie"])):
        for pair_id, clicked in zip((1, 2, 3), choices):
            labeling.label(reviewer, pair_id, "ab", clicked)
    exported = stack.loop.exporter.export(acme, "acme-w47")
    rows = [json.loads(line) for line in exported.path.read_text().splitlines()]
    assert len(rows) == 1  # pair 1 (a wins); pair 2 split 1:1, pair 3 a tie
    row = rows[0]
    assert row["prompt"] == [{"role": "user", "content": "question 0"}]
    assert row["chosen"][0]["role"] == "assistant" and row["rejected"][0]["role"] == "assistant"
    assert {"chosen_score", "rejected_score", "metadata"} <= set(row)
    card = json.loads(exported.path.with_suffix(".card.json").read_text())
    assert card["rows"] == 1 and card["sources"] == {"candidates": 1}
    assert card["skipped"] == {"no majority": 1, "tie": 1}
    assert card["agreement"]["percent"] == round(100 * 2 / 3, 1)
    assert card["batches"] == [batch] and len(card["date_range"]) == 2
    assert "question" not in json.dumps(stack.loop.exporter.datasets(other))  # the other tenant sees none of it
