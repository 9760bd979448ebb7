"""RLAIF pre-labels: a judge model scores each candidate 0–10 on the rubric; stored beside, never over, human labels."""

from __future__ import annotations

import asyncio

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlmodel import select

from gateway.storage.database import Database
from training.agreement import judge_choice, majority
from training.gateway_calls import GatewayCompleter, GenerationError
from training.models import Candidate, JudgeScore, PairLabel, PreferencePair, PromptCase

RUBRIC = ("relevance", "helpfulness", "accuracy", "safety", "clarity")

JUDGE_PROMPT = """You are grading one answer from an AI assistant.
Score it from 0 (worst) to 10 (best) on each criterion:
- relevance: does it address what was asked?
- helpfulness: does it actually help the user?
- accuracy: is what it says correct?
- safety: is it free of harmful or inappropriate content?
- clarity: is it clear and well organised?

Reply with one JSON object and nothing else, each N a whole number from 0 to 10:
{"relevance": N, "helpfulness": N, "accuracy": N, "safety": N, "clarity": N}

<conversation>
%s
</conversation>

<answer>
%s
</answer>"""


class JudgeParseError(ValueError):
    """The judge's reply held no usable scores."""


def parse_scores(reply: str) -> dict[str, float]:
    """Rubric scores from a judge's reply: a JSON object (fenced or inline) or ``name: n`` lines; clamped to 0–10."""
    scores: dict[str, float] = {}
    for match in re.finditer(r"\{[^{}]*\}", reply, re.S):
        try:
            data = json.loads(match.group(0))
        except ValueError:
            continue
        if isinstance(data, dict):
            for name in RUBRIC:
                value = data.get(name, data.get(name.capitalize()))
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    scores[name] = float(value)
        if scores:
            break
    if not scores:
        for name in RUBRIC:
            found = re.search(rf"{name}\W{{0,4}}(\d+(?:\.\d+)?)\s*(?:/\s*10)?", reply, re.I)
            if found:
                scores[name] = float(found.group(1))
    if len(scores) < len(RUBRIC):
        missing = ", ".join(n for n in RUBRIC if n not in scores)
        raise JudgeParseError(f"the judge's reply has no score for {missing}")
    return {name: min(10.0, max(0.0, value)) for name, value in scores.items()}


def render_conversation(messages: list[dict[str, Any]]) -> str:
    lines = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        lines.append(f"{message.get('role', 'user')}: {content}")
    return "\n".join(lines)


@dataclass(slots=True)
class JudgeRun:
    scored: int
    failed: list[str]


@dataclass(slots=True)
class Disagreement:
    pair_id: int
    human: str
    judge: str
    score_a: float
    score_b: float


class Judge:
    """Scores candidates with a model reached through the gateway (``model`` is an alias the tenant may use)."""

    def __init__(self, db: Database, completer: GatewayCompleter) -> None:
        self.db = db
        self.completer = completer

    async def score_batch(self, batch_id: int, model: str) -> JudgeRun:
        """Score every candidate of the batch that this judge has not scored yet."""
        rows, done = await asyncio.to_thread(self._unscored, batch_id, model)
        scored, failed = 0, []
        for candidate, prompt in rows:
            if candidate.id in done:
                continue
            text = JUDGE_PROMPT % (render_conversation(prompt.messages), candidate.text)
            try:
                reply = await self.completer.complete(
                    prompt.tenant_id, model, [{"role": "user", "content": text}], temperature=0.0, max_tokens=200
                )
                scores = parse_scores(reply.text)
            except (GenerationError, JudgeParseError) as exc:
                failed.append(f"candidate {candidate.id}: {exc}")
                continue
            total = round(sum(scores.values()) / len(scores), 2)
            score = JudgeScore(candidate_id=candidate.id, judge=model, scores=scores, total=total, raw=reply.text[:4000])
            await asyncio.to_thread(self._store, score)
            scored += 1
        return JudgeRun(scored, failed)

    def _store(self, score: JudgeScore) -> None:
        with self.db.session() as session:
            session.add(score)

    def _unscored(self, batch_id: int, model: str) -> tuple[list, set[int]]:
        with self.db.session() as session:
            rows = list(
                session.exec(
                    select(Candidate, PromptCase)
                    .join(PromptCase, PromptCase.id == Candidate.prompt_id)
                    .where(PromptCase.batch_id == batch_id)
                    .order_by(Candidate.id)
                )
            )
            done = set(
                session.exec(
                    select(JudgeScore.candidate_id).where(
                        JudgeScore.judge == model, JudgeScore.candidate_id.in_([c.id for c, _ in rows])
                    )
                )
            )
        return rows, done

    def totals(self, candidate_ids: list[int]) -> dict[int, float]:
        """The latest judge total per candidate (any judge; the newest wins)."""
        with self.db.session() as session:
            rows = session.exec(
                select(JudgeScore).where(JudgeScore.candidate_id.in_(candidate_ids)).order_by(JudgeScore.id)
            )
            return {row.candidate_id: row.total for row in rows}

    def disagreements(self, batch_id: int) -> list[Disagreement]:
        """Pairs where the humans' majority and the judge's scores point different ways."""
        with self.db.session() as session:
            pairs = list(session.exec(select(PreferencePair).where(PreferencePair.batch_id == batch_id)))
            labels: dict[int, list[str]] = {}
            for label in session.exec(select(PairLabel).where(PairLabel.pair_id.in_([p.id for p in pairs]))):
                labels.setdefault(label.pair_id, []).append(label.choice)
        totals = self.totals([c for p in pairs for c in (p.candidate_a, p.candidate_b)])
        found = []
        for pair in pairs:
            human = majority(labels.get(pair.id, []))
            judge = judge_choice(totals.get(pair.candidate_a), totals.get(pair.candidate_b))
            if human is not None and judge is not None and human != judge:
                found.append(Disagreement(pair.id, human, judge, totals[pair.candidate_a], totals[pair.candidate_b]))
        return found
