"""The labeling queue and the training pages in real headless Chromium: keyboard labeling, skip, undo,
progress; an operator launching a job with a mistake, then following it live."""

from __future__ import annotations

import json
import re

from sqlmodel import select

from tests.admin.harness import REVIEWER_PASSWORD, Console
from tests.admin.test_browser import browser, expect, page, shot, sign_in  # noqa: F401  (fixtures)
from training.labeling import Answer
from training.models import PairLabel


def seed_batch(console: Console, pairs: int = 3, k: int = 1) -> int:
    assert console.admin_api.post("/admin/api/tenants", json={"name": "acme"}).status_code == 201
    with console.services.db.session() as session:
        from gateway.storage.models import Tenant

        tenant_id = session.exec(select(Tenant.id).where(Tenant.name == "acme")).one()
    labeling = console.console.learning.labeling
    batch = labeling.create_batch(tenant_id, "week 47", "candidates", labels_needed=k)
    for i in range(pairs):
        labeling.add_prompt(
            batch,
            [{"role": "user", "content": f"Question number {i}?"}],
            [Answer(f"GOOD answer {i}"), Answer(f"BAD answer {i}")],
        )
    return batch


def labels(console: Console) -> list[PairLabel]:
    with console.services.db.session() as session:
        return list(session.exec(select(PairLabel).order_by(PairLabel.id)))


def test_a_reviewer_labels_with_the_keyboard_skips_and_undoes(page, console: Console):  # noqa: F811
    seed_batch(console, pairs=3)
    console.console.accounts.create_local("rita", REVIEWER_PASSWORD, "reviewer")
    sign_in(page, "rita", REVIEWER_PASSWORD)
    expect(page).to_have_url(re.compile(r"/admin/queue$"))
    page.wait_for_load_state("load")  # the shortcut script is deferred
    item = page.locator(".label-item")
    expect(item).to_be_visible()
    expect(page.locator("#label-panel .mine")).to_have_text("0 / 3")
    shot(page, "queue-pair")

    # 1 = the left answer is better: whatever side the good answer was shown on, the label says so
    first_pair = item.get_attribute("data-pair")
    left = page.locator("#answer-left .answer-text").inner_text()
    page.keyboard.press("1")
    expect(page.locator(".label-item")).not_to_have_attribute("data-pair", first_pair)
    expect(page.locator("#label-panel .mine")).to_have_text("1 / 3")
    stored = labels(console)[0]
    assert stored.reviewer == "rita" and stored.presented in ("ab", "ba")
    assert (stored.choice == "a") == left.startswith("GOOD") == (stored.presented == "ab")

    # s skips (nothing stored), then 3 = tie on the next one
    second_pair = page.locator(".label-item").get_attribute("data-pair")
    page.keyboard.press("s")
    expect(page.locator(".label-item")).not_to_have_attribute("data-pair", second_pair)
    third_pair = page.locator(".label-item").get_attribute("data-pair")
    page.locator("textarea[name=comment]").fill("both fine")
    page.locator("textarea[name=comment]").press("3")  # typing in the comment is not a shortcut
    expect(page.locator("textarea[name=comment]")).to_have_value("both fine3")
    page.locator("textarea[name=comment]").fill("both fine")
    page.locator("body").click()
    page.keyboard.press("3")
    expect(page.locator("#label-panel .mine")).to_have_text("2 / 3")
    assert [(label.pair_id, label.choice, label.comment) for label in labels(console)][1] == (
        int(third_pair),
        "tie",
        "both fine",
    )

    # u undoes the last label and shows that pair again
    page.keyboard.press("u")
    expect(page.locator("#label-message")).to_have_text("Label undone.")
    expect(page.locator(".label-item")).to_have_attribute("data-pair", third_pair)
    expect(page.locator("#label-panel .mine")).to_have_text("1 / 3")
    assert len(labels(console)) == 1
    page.keyboard.press("4")
    expect(page.locator(".label-item")).not_to_have_attribute("data-pair", third_pair)
    page.keyboard.press("2")
    expect(page.locator("#queue-empty")).to_be_visible()
    expect(page.locator("#label-panel .mine")).to_have_text("3 / 3")
    assert sorted(label.choice for label in labels(console))[0] in ("a", "b", "both_bad")
    assert {label.pair_id for label in labels(console)} == {1, 2, 3}
    shot(page, "queue-done")

    # a reviewer still sees nothing else
    for path in ("/admin/labeling", "/admin/training"):
        assert page.goto(path).status == 403


def test_an_admin_sees_agreement_between_reviewers(page, console: Console):  # noqa: F811
    batch = seed_batch(console, pairs=2, k=2)
    labeling = console.console.learning.labeling
    for reviewer, clicks in (("rita", ("left", "left")), ("rob", ("left", "right"))):
        for pair_id, clicked in zip((1, 2), clicks):
            labeling.label(reviewer, pair_id, "ab", clicked)
    sign_in(page)
    page.goto(f"/admin/labeling/batches/{batch}")
    expect(page.locator("#agreement-percent")).to_have_text("50.0%")
    expect(page.locator("#split-pairs")).to_contain_text("pair 2: a, b")
    page.goto("/admin/labeling")
    expect(page.locator("#batches")).to_contain_text("week 47")
    shot(page, "labeling")


def test_the_launch_form_points_at_mistakes_next_to_the_fields(page, console: Console, tmp_path):  # noqa: F811
    seed_batch(console, pairs=1)
    console.console.learning.labeling.label("rita", 1, "ab", "left")
    exported = console.console.learning.exporter.export(1, "acme-w47")
    sign_in(page)
    page.goto("/admin/training")
    form = page.locator("#launch form")
    form.locator("select[name=dataset_id]").select_option(str(exported.dataset_id))
    form.locator("input[name=base_model]").fill(str(tmp_path / "no-such-model"))
    form.locator("input[name=adapter_name]").fill("Acme DPO")
    form.locator("input[name=lora_r]").fill("sixteen")
    form.locator("button[type=submit]").click()
    expect(page.locator("#err-lora_r")).to_have_text("a whole number")
    page.locator("#launch input[name=lora_r]").fill("0")
    page.locator("#launch button[type=submit]").click()
    expect(page.locator("#err-lora_r")).to_contain_text("between 1 and 512")
    expect(page.locator("#err-base_model")).to_contain_text("no such model folder")
    expect(page.locator("#err-adapter_name")).to_contain_text("lower-case")
    expect(page.locator("#launch input[name=adapter_name]")).to_have_value("Acme DPO")
    shot(page, "training-validation")
    assert json.loads(exported.path.with_suffix(".card.json").read_text())["rows"] == 1
