"""Label Studio sync for teams that already label there (label-studio-sdk).

``push(batch_id)`` creates one project per batch (once) with a pairwise-comparison labeling
config and one task per pair; the project id and each task id are remembered, so pushing again
only adds pairs that are new. ``pull(batch_id)`` reads the tasks' annotations back as labels of
reviewer ``labelstudio:<user id>``, keyed by the annotation id, so pulling again adds nothing twice
(an edited annotation updates its label). Answer 1 is always the pair's candidate a (``presented`` = ``ab``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import select

from gateway.storage.database import Database
from training.judge import render_conversation
from training.models import Candidate, LabelBatch, PairLabel, PreferencePair, PromptCase

LABEL_CONFIG = """<View>
  <Header value="Prompt"/>
  <Text name="prompt" value="$prompt"/>
  <Header value="Which answer is better?"/>
  <Pairwise name="comparison" toName="answer1,answer2"/>
  <Text name="answer1" value="$answer1"/>
  <Text name="answer2" value="$answer2"/>
  <Choices name="verdict" toName="prompt" choice="single" showInLine="true">
    <Choice value="Tie"/>
    <Choice value="Both bad"/>
  </Choices>
  <TextArea name="comment" toName="prompt" placeholder="Comment (optional)" rows="2"/>
</View>"""


class LabelStudioError(RuntimeError):
    """Label Studio could not be reached, refused the token, or answered something unexpected."""


@dataclass(slots=True)
class Pushed:
    project_id: int
    created: int
    already: int


@dataclass(slots=True)
class Pulled:
    seen: int
    added: int
    updated: int


def choice_from_result(result: list[dict[str, Any]]) -> tuple[str | None, str]:
    """(choice about candidates a/b, comment) from one annotation's result list."""
    choice, comment = None, ""
    for region in result or ():
        value = region.get("value") or {}
        kind = region.get("type")
        if kind == "choices" and value.get("choices"):
            picked = value["choices"][0]
            choice = {"Tie": "tie", "Both bad": "both_bad"}.get(picked, choice)
        elif kind == "pairwise" and choice is None:
            choice = {"left": "a", "right": "b"}.get(value.get("selected"))
        elif kind == "textarea" and value.get("text"):
            comment = " ".join(value["text"])[:4000]
    return choice, comment


class LabelStudioSync:
    def __init__(self, db: Database, url: str, token: str, client: Any = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise LabelStudioError("the Label Studio URL must start with http:// or https://")
        if not token:
            raise LabelStudioError("an API token is needed")
        self.db = db
        if client is None:
            from label_studio_sdk import LabelStudio

            client = LabelStudio(base_url=url.rstrip("/"), api_key=token, timeout=30)
        self.client = client

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # the SDK raises httpx and its own ApiError types
            raise LabelStudioError(f"{what} failed: {exc}") from exc

    def push(self, batch_id: int) -> Pushed:
        with self.db.session() as session:
            batch = session.get(LabelBatch, batch_id)
            if batch is None:
                raise LabelStudioError("no such batch")
            project_id = batch.label_studio_project
            rows = list(
                session.exec(
                    select(PreferencePair, PromptCase)
                    .join(PromptCase, PromptCase.id == PreferencePair.prompt_id)
                    .where(PreferencePair.batch_id == batch_id)
                    .order_by(PreferencePair.id)
                )
            )
            texts = {
                c.id: c.text
                for c in session.exec(
                    select(Candidate).where(
                        Candidate.id.in_([x for p, _ in rows for x in (p.candidate_a, p.candidate_b)])
                    )
                )
            }
        if project_id is None:
            project = self._call(
                "creating the project",
                self.client.projects.create,
                title=f"ParamGate batch {batch_id}: {batch.name}"[:50],
                label_config=LABEL_CONFIG,
                maximum_annotations=batch.labels_needed,
            )
            project_id = project.id
            with self.db.session() as session:
                stored = session.get(LabelBatch, batch_id)
                stored.label_studio_project = project_id
                session.add(stored)
        created = already = 0
        for pair, prompt in rows:
            if pair.label_studio_task is not None:
                already += 1
                continue
            data = {
                "prompt": render_conversation(prompt.messages),
                "answer1": texts[pair.candidate_a],
                "answer2": texts[pair.candidate_b],
                "pair_id": pair.id,
            }
            task = self._call("creating a task", self.client.tasks.create, project=project_id, data=data)
            with self.db.session() as session:
                stored = session.get(PreferencePair, pair.id)
                stored.label_studio_task = task.id
                session.add(stored)
            created += 1
        return Pushed(project_id, created, already)

    def pull(self, batch_id: int) -> Pulled:
        with self.db.session() as session:
            pairs = list(
                session.exec(
                    select(PreferencePair).where(
                        PreferencePair.batch_id == batch_id, PreferencePair.label_studio_task.is_not(None)
                    )
                )
            )
        seen = added = updated = 0
        for pair in pairs:
            annotations = self._call("reading annotations", self.client.annotations.list, pair.label_studio_task)
            for annotation in annotations:
                if getattr(annotation, "was_cancelled", False):
                    continue
                seen += 1
                choice, comment = choice_from_result(annotation.result or [])
                if choice is None:
                    continue
                reviewer = f"labelstudio:{annotation.completed_by}"
                with self.db.session() as session:
                    existing = session.exec(
                        select(PairLabel).where(PairLabel.pair_id == pair.id, PairLabel.reviewer == reviewer)
                    ).first()
                    if existing is None:
                        session.add(
                            PairLabel(
                                pair_id=pair.id,
                                reviewer=reviewer,
                                presented="ab",
                                choice=choice,
                                comment=comment,
                                external_id=str(annotation.id),
                            )
                        )
                        added += 1
                    elif existing.choice != choice or existing.comment != comment:
                        existing.choice, existing.comment, existing.external_id = choice, comment, str(annotation.id)
                        session.add(existing)
                        updated += 1
        return Pulled(seen, added, updated)
