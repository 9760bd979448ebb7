"""A tenant's labelled pairs as a JSONL dataset in TRL's DPO format, with a data card.

Each line is TRL's conversational preference format plus the seed fields::

    {"prompt": [{"role": "user", "content": "..."}],
     "chosen": [{"role": "assistant", "content": "..."}],
     "rejected": [{"role": "assistant", "content": "..."}],
     "chosen_score": 8.2, "rejected_score": 4.0,
     "metadata": {"pair_id": 12, "batch_id": 3, "source": "candidates", "label": "human", "votes": 2}}

The winner of a pair is the strict majority of its human labels; ``tie`` and ``both_bad`` pairs
are left out. With ``use_judge`` a pair without human labels takes the judge's verdict (RLAIF).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlmodel import select

from gateway.storage.database import Database
from training.agreement import agreement, judge_choice, majority
from training.models import Candidate, JudgeScore, LabelBatch, PairLabel, PreferencePair, PromptCase, TrainingDataset


class ExportError(ValueError):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(slots=True)
class Exported:
    dataset_id: int
    path: Path
    rows: int
    card: dict[str, Any]


class DatasetExporter:
    """Writes ``<root>/<tenant_id>/<name>.jsonl`` and ``.card.json`` and records a ``TrainingDataset``."""

    def __init__(self, db: Database, root: Path) -> None:
        self.db = db
        self.root = root

    def export(
        self, tenant_id: int, name: str, batch_ids: list[int] | None = None, use_judge: bool = False
    ) -> Exported:
        name = name.strip()
        if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
            raise ExportError("a dataset name uses letters, digits, '-', '_' and '.'", "name")
        with self.db.session() as session:
            query = select(LabelBatch).where(LabelBatch.tenant_id == tenant_id)
            if batch_ids:
                query = query.where(LabelBatch.id.in_(batch_ids))
            batches = {b.id: b for b in session.exec(query)}
            if batch_ids and set(batch_ids) - set(batches):
                raise ExportError("a chosen batch does not belong to this tenant", "batches")
            pairs = list(
                session.exec(
                    select(PreferencePair).where(PreferencePair.batch_id.in_(list(batches))).order_by(PreferencePair.id)
                )
            )
            pair_ids = [p.id for p in pairs]
            labels: dict[int, list[PairLabel]] = {}
            for label in session.exec(select(PairLabel).where(PairLabel.pair_id.in_(pair_ids))):
                labels.setdefault(label.pair_id, []).append(label)
            candidate_ids = [c for p in pairs for c in (p.candidate_a, p.candidate_b)]
            candidates = {c.id: c for c in session.exec(select(Candidate).where(Candidate.id.in_(candidate_ids)))}
            prompts = {
                p.id: p for p in session.exec(select(PromptCase).where(PromptCase.id.in_({p.prompt_id for p in pairs})))
            }
            totals = {
                s.candidate_id: s.total
                for s in session.exec(
                    select(JudgeScore).where(JudgeScore.candidate_id.in_(candidate_ids)).order_by(JudgeScore.id)
                )
            }
        rows, skipped, by_label, sources = [], Counter(), Counter(), Counter()
        stamps = []
        for pair in pairs:
            human = [label.choice for label in labels.get(pair.id, [])]
            verdict, how = majority(human), "human"
            if not human and use_judge:
                verdict, how = judge_choice(totals.get(pair.candidate_a), totals.get(pair.candidate_b)), "judge"
            if verdict not in ("a", "b"):
                skipped[verdict or ("unlabelled" if not human else "no majority")] += 1
                continue
            winner, loser = (
                (pair.candidate_a, pair.candidate_b) if verdict == "a" else (pair.candidate_b, pair.candidate_a)
            )
            prompt = prompts[pair.prompt_id]
            batch = batches[pair.batch_id]
            rows.append(
                {
                    "prompt": prompt.messages,
                    "chosen": [{"role": "assistant", "content": candidates[winner].text}],
                    "rejected": [{"role": "assistant", "content": candidates[loser].text}],
                    "chosen_score": totals.get(winner),
                    "rejected_score": totals.get(loser),
                    "metadata": {
                        "pair_id": pair.id,
                        "batch_id": pair.batch_id,
                        "source": batch.source,
                        "label": how,
                        "votes": len(human),
                        "chosen_origin": candidates[winner].origin,
                        "rejected_origin": candidates[loser].origin,
                    },
                }
            )
            by_label[how] += 1
            sources[batch.source] += 1
            stamps.append(prompt.created_at)
        if not rows:
            raise ExportError("no labelled pairs with a clear winner to export yet", "batches")
        folder = self.root / str(tenant_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.jsonl"
        data = "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows).encode()
        path.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        agreed = agreement({pid: [label.choice for label in ls] for pid, ls in labels.items()})
        card = {
            "name": name,
            "tenant_id": tenant_id,
            "format": "trl-dpo-conversational",
            "rows": len(rows),
            "pairs_considered": len(pairs),
            "skipped": dict(skipped),
            "labels": dict(by_label),
            "sources": dict(sources),
            "batches": sorted(batches),
            "date_range": [min(stamps).isoformat(), max(stamps).isoformat()],
            "agreement": {
                "pairs_with_2_plus_labels": agreed.pairs,
                "percent": agreed.percent,
                "fleiss_kappa": agreed.kappa,
            },
            "sha256": digest,
            "created_at": datetime.now(timezone.utc).isoformat(),
        }
        path.with_suffix(".card.json").write_text(json.dumps(card, indent=2, sort_keys=True))
        with self.db.session() as session:
            dataset = TrainingDataset(
                tenant_id=tenant_id, name=name, path=str(path), sha256=digest, rows=len(rows), card=card
            )
            session.add(dataset)
            session.flush()
            return Exported(dataset.id, path, len(rows), card)

    def datasets(self, tenant_id: int | None = None) -> list[TrainingDataset]:
        with self.db.session() as session:
            query = select(TrainingDataset).order_by(TrainingDataset.id.desc())
            if tenant_id is not None:
                query = query.where(TrainingDataset.tenant_id == tenant_id)
            return list(session.exec(query))
