"""Batches, the reviewer queue (order randomised and recorded, k labels, skip, undo, progress), agreement."""

from __future__ import annotations

import random

import pytest

from gateway.storage.database import Database
from gateway.storage.models import Tenant
from training.agreement import agreement, majority
from training.labeling import Answer, LabelingError, LabelingService, resolve_choice
from training.models import PairLabel


@pytest.fixture
def db(database_url) -> Database:
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


def make_tenant(db: Database, name: str) -> int:
    with db.session() as session:
        tenant = Tenant(name=name)
        session.add(tenant)
        session.flush()
        return tenant.id


def prompt(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def seeded(db: Database, k: int = 1, pairs: int = 3, rng: random.Random | None = None) -> tuple[LabelingService, int]:
    service = LabelingService(db, rng or random.Random(7))
    batch = service.create_batch(make_tenant(db, "acme"), "week 47", "candidates", labels_needed=k)
    for i in range(pairs):
        service.add_prompt(batch, prompt(f"question {i}"), [Answer(f"good {i}"), Answer(f"bad {i}")])
    return service, batch


def test_four_candidates_make_two_pairs_outside_in(db: Database):
    service = LabelingService(db)
    batch = service.create_batch(make_tenant(db, "acme"), "b", "candidates")
    answers = [Answer(f"t{t}", {"temperature": t}) for t in (0.3, 0.5, 0.7, 0.9)]
    assert len(service.add_prompt(batch, prompt("q"), answers)) == 2
    first = service.item(service.next_item("r").pair_id)
    assert {first.left, first.right} == {"t0.3", "t0.9"}
    with pytest.raises(LabelingError):
        service.add_prompt(batch, prompt("q"), [Answer("only one")])


def test_the_presented_order_is_random_recorded_and_mapped_back(db: Database):
    service, _ = seeded(db, pairs=12)
    orders = set()
    for _ in range(12):
        item = service.next_item("rita")
        orders.add(item.presented)
        good_side = "left" if item.left.startswith("good") else "right"
        label = service.label("rita", item.pair_id, item.presented, good_side)
        assert label.presented == item.presented
        assert label.choice == "a"  # candidate a is always the "good" one, whatever side it was shown on
    assert orders == {"ab", "ba"}
    assert service.next_item("rita") is None
    assert resolve_choice("ba", "left") == "b" and resolve_choice("ab", "tie") == "tie"
    with pytest.raises(LabelingError):
        resolve_choice("ab", "middle")


def test_each_pair_needs_k_labels_from_different_reviewers(db: Database):
    service, batch = seeded(db, k=2, pairs=2)
    for reviewer in ("rita", "rob"):
        while (item := service.next_item(reviewer)) is not None:
            service.label(reviewer, item.pair_id, item.presented, "tie")
    assert service.next_item("sam") is None  # both pairs have their two labels
    with pytest.raises(LabelingError):
        service.label("rita", 1, "ab", "tie")  # rita already labelled pair 1
    progress = {p.batch_id: p for p in service.progress("rita")}[batch]
    assert (progress.pairs, progress.mine, progress.complete, progress.percent) == (2, 2, 2, 100)


def test_skip_moves_on_and_undo_brings_the_last_label_back(db: Database):
    service, batch = seeded(db, pairs=3)
    first = service.next_item("rita")
    skipped_to = service.next_item("rita", after=first.pair_id)
    assert skipped_to.pair_id > first.pair_id
    service.label("rita", skipped_to.pair_id, skipped_to.presented, "left")
    service.label("rita", first.pair_id, first.presented, "both_bad")
    undone = service.undo_last("rita")
    assert undone.pair_id == first.pair_id and undone.choice == "both_bad"
    assert service.next_item("rita").pair_id == first.pair_id
    assert {p.batch_id: p.mine for p in service.progress("rita")}[batch] == 1
    assert service.undo_last("nobody") is None


def test_agreement_is_percent_and_fleiss_kappa():
    perfect = agreement({1: ["a", "a"], 2: ["b", "b"], 3: ["tie", "tie"]})
    assert perfect.percent == 100.0 and perfect.kappa == 1.0 and perfect.split == ()
    mixed = agreement({1: ["a", "a"], 2: ["a", "b"], 3: ["tie", "tie", "tie"], 4: ["b"]})
    assert mixed.pairs == 3 and mixed.percent == 80.0 and mixed.split == (2,)
    assert mixed.kappa == pytest.approx(0.673, abs=0.001)
    assert agreement({1: ["a"]}).kappa is None
    assert majority(["a", "a", "b"]) == "a" and majority(["a", "b"]) is None


def test_labels_keep_the_reviewer_and_comment(db: Database):
    service, _ = seeded(db, pairs=1)
    item = service.next_item("rita")
    service.label("rita", item.pair_id, item.presented, "right", "too long")
    with db.session() as session:
        stored = session.get(PairLabel, 1)
    assert (stored.reviewer, stored.comment) == ("rita", "too long")
    with pytest.raises(LabelingError):
        service.label("rita", 999, "ab", "left")
