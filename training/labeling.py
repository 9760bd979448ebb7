"""Batches of preference pairs and the reviewers' queue: next pair, label, skip, undo, progress."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from gateway.storage.database import Database
from training.models import Candidate, LabelBatch, PairLabel, PreferencePair, PromptCase

SOURCES = ("traffic", "candidates", "canary")
CLICKS = {"left": None, "right": None, "tie": "tie", "both_bad": "both_bad"}


class LabelingError(ValueError):
    """A label or batch the service refuses; ``param`` names the offending field."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(slots=True)
class Answer:
    """A candidate answer and where it came from."""

    text: str
    origin: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class BatchProgress:
    batch_id: int
    name: str
    tenant_id: int
    pairs: int
    labels_needed: int
    mine: int
    complete: int

    @property
    def percent(self) -> int:
        return round(100 * self.complete / self.pairs) if self.pairs else 0


@dataclass(slots=True)
class QueueItem:
    """One pair as a reviewer sees it: the prompt, the left and right answers, and the recorded order."""

    pair_id: int
    batch_id: int
    batch_name: str
    messages: list[dict[str, Any]]
    left: str
    right: str
    presented: str


def resolve_choice(presented: str, clicked: str) -> str:
    """The stored choice (about candidates a/b) for what the reviewer clicked (about left/right)."""
    if presented not in ("ab", "ba"):
        raise LabelingError("unknown presentation order", "presented")
    if clicked not in CLICKS:
        raise LabelingError(f"choice must be one of {', '.join(CLICKS)}", "choice")
    if clicked == "left":
        return "a" if presented == "ab" else "b"
    if clicked == "right":
        return "b" if presented == "ab" else "a"
    return clicked


class LabelingService:
    """Builds batches from answers and serves them to reviewers; each pair needs ``labels_needed`` labels."""

    def __init__(self, db: Database, rng: random.Random | None = None) -> None:
        self.db = db
        self._rng = rng or random.Random()

    # -- batches --------------------------------------------------------------------------------------

    def create_batch(self, tenant_id: int, name: str, source: str, labels_needed: int = 1, created_by: str = "") -> int:
        name = name.strip()
        if not name:
            raise LabelingError("a batch needs a name", "name")
        if source not in SOURCES:
            raise LabelingError(f"source must be one of {', '.join(SOURCES)}", "source")
        if not 1 <= labels_needed <= 10:
            raise LabelingError("labels per pair must be between 1 and 10", "labels_needed")
        with self.db.session() as session:
            batch = LabelBatch(
                tenant_id=tenant_id, name=name[:128], source=source, labels_needed=labels_needed, created_by=created_by
            )
            session.add(batch)
            session.flush()
            return batch.id

    def add_prompt(self, batch_id: int, messages: list[dict[str, Any]], answers: Sequence[Answer]) -> list[int]:
        """Store a prompt with its candidates and pair them outside-in (first with last, ...); the pair ids."""
        if len(answers) < 2:
            raise LabelingError("a prompt needs at least two answers to compare", "answers")
        with self.db.session() as session:
            batch = session.get(LabelBatch, batch_id)
            if batch is None:
                raise LabelingError("no such batch", "batch")
            prompt = PromptCase(batch_id=batch_id, tenant_id=batch.tenant_id, messages=messages, source=batch.source)
            session.add(prompt)
            session.flush()
            candidates = [Candidate(prompt_id=prompt.id, text=a.text, origin=a.origin) for a in answers]
            session.add_all(candidates)
            session.flush()
            pairs = [
                PreferencePair(
                    batch_id=batch_id,
                    prompt_id=prompt.id,
                    candidate_a=candidates[i].id,
                    candidate_b=candidates[-1 - i].id,
                )
                for i in range(len(candidates) // 2)
            ]
            session.add_all(pairs)
            session.flush()
            return [p.id for p in pairs]

    def delete_empty_batch(self, batch_id: int) -> None:
        with self.db.session() as session:
            if session.exec(select(PromptCase.id).where(PromptCase.batch_id == batch_id)).first() is None:
                batch = session.get(LabelBatch, batch_id)
                if batch is not None:
                    session.delete(batch)

    def batches(self, tenant_id: int | None = None) -> list[LabelBatch]:
        with self.db.session() as session:
            query = select(LabelBatch).order_by(LabelBatch.id.desc())
            if tenant_id is not None:
                query = query.where(LabelBatch.tenant_id == tenant_id)
            return list(session.exec(query))

    # -- the queue ------------------------------------------------------------------------------------

    def progress(self, reviewer: str) -> list[BatchProgress]:
        """Every batch with pairs: its size, this reviewer's labels, and pairs that have all their labels."""
        with self.db.session() as session:
            result = []
            for batch in session.exec(select(LabelBatch).order_by(LabelBatch.id)):
                counts = _label_counts(session, batch.id)
                if not counts:
                    continue
                mine = session.exec(
                    select(func.count(PairLabel.id))
                    .join(PreferencePair, PreferencePair.id == PairLabel.pair_id)
                    .where(PreferencePair.batch_id == batch.id, PairLabel.reviewer == reviewer)
                ).one()
                complete = sum(1 for n in counts.values() if n >= batch.labels_needed)
                result.append(
                    BatchProgress(
                        batch.id, batch.name, batch.tenant_id, len(counts), batch.labels_needed, mine, complete
                    )
                )
            return result

    def next_item(self, reviewer: str, after: int | None = None, batch_id: int | None = None) -> QueueItem | None:
        """The next pair this reviewer has not labelled that still needs labels (ids after ``after`` first:
        that is how a skip moves on), with a fresh random left/right order."""
        with self.db.session() as session:
            labelled = select(PairLabel.pair_id).where(PairLabel.reviewer == reviewer)
            label_count = (
                select(func.count(PairLabel.id)).where(PairLabel.pair_id == PreferencePair.id).scalar_subquery()
            )
            query = (
                select(PreferencePair, LabelBatch)
                .join(LabelBatch, LabelBatch.id == PreferencePair.batch_id)
                .where(PreferencePair.id.not_in(labelled), label_count < LabelBatch.labels_needed)
                .order_by(PreferencePair.id)
            )
            if batch_id is not None:
                query = query.where(PreferencePair.batch_id == batch_id)
            found = None
            if after is not None:
                found = session.exec(query.where(PreferencePair.id > after).limit(1)).first()
            found = found or session.exec(query.limit(1)).first()
            if found is None:
                return None
            pair, batch = found
            return self._item(session, pair, batch, "ab" if self._rng.random() < 0.5 else "ba")

    def item(self, pair_id: int, presented: str = "ab") -> QueueItem | None:
        with self.db.session() as session:
            pair = session.get(PreferencePair, pair_id)
            return self._item(session, pair, session.get(LabelBatch, pair.batch_id), presented) if pair else None

    def _item(self, session: Session, pair: PreferencePair, batch: LabelBatch, presented: str) -> QueueItem:
        prompt = session.get(PromptCase, pair.prompt_id)
        a, b = session.get(Candidate, pair.candidate_a), session.get(Candidate, pair.candidate_b)
        left, right = (a.text, b.text) if presented == "ab" else (b.text, a.text)
        return QueueItem(pair.id, batch.id, batch.name, prompt.messages, left, right, presented)

    def label(self, reviewer: str, pair_id: int, presented: str, clicked: str, comment: str = "") -> PairLabel:
        """Record a reviewer's click; one label per reviewer and pair."""
        choice = resolve_choice(presented, clicked)
        if len(comment) > 4000:
            raise LabelingError("the comment is too long (4000 characters at most)", "comment")
        with self.db.session() as session:
            if session.get(PreferencePair, pair_id) is None:
                raise LabelingError("no such pair", "pair_id")
            exists = session.exec(
                select(PairLabel).where(PairLabel.pair_id == pair_id, PairLabel.reviewer == reviewer)
            ).first()
            if exists is not None:
                raise LabelingError("you already labelled this pair", "pair_id")
            label = PairLabel(pair_id=pair_id, reviewer=reviewer, presented=presented, choice=choice, comment=comment)
            session.add(label)
            return label

    def undo_last(self, reviewer: str) -> PairLabel | None:
        """Remove this reviewer's most recent label (it comes back in their queue); the removed label."""
        with self.db.session() as session:
            last = session.exec(
                select(PairLabel)
                .where(PairLabel.reviewer == reviewer, PairLabel.external_id.is_(None))
                .order_by(PairLabel.id.desc())
                .limit(1)
            ).first()
            if last is not None:
                session.delete(last)
            return last

    def labels(self, batch_id: int) -> dict[int, list[str]]:
        """Each pair of the batch → the human choices recorded for it."""
        with self.db.session() as session:
            rows = session.exec(
                select(PairLabel.pair_id, PairLabel.choice)
                .join(PreferencePair, PreferencePair.id == PairLabel.pair_id)
                .where(PreferencePair.batch_id == batch_id)
            )
            result: dict[int, list[str]] = {}
            for pair_id, choice in rows:
                result.setdefault(pair_id, []).append(choice)
            return result


def _label_counts(session: Session, batch_id: int) -> dict[int, int]:
    rows = session.exec(
        select(PreferencePair.id, func.count(PairLabel.id))
        .join(PairLabel, PairLabel.pair_id == PreferencePair.id, isouter=True)
        .where(PreferencePair.batch_id == batch_id)
        .group_by(PreferencePair.id)
    )
    return {pair_id: count for pair_id, count in rows}
