"""Training from the console in real headless Chromium: launch a DPO job on a tiny local Qwen2, follow it live
(htmx polling: state, step, loss chart, log), see the adapter registered with its lineage, send it to canary."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from gateway.adapters.assignments import AssignSpec
from gateway.storage.models import Tenant
from tests.admin.conftest import console_env
from tests.admin.harness import Console, running_console
from tests.admin.test_browser import browser, expect, page, shot, sign_in  # noqa: F401  (fixtures)
from tests.fakes.vllm_server import FakeVLLM
from tests.gateway.harness import settings_for
from tests.training.tiny_model import build_tiny_qwen2
from training.labeling import Answer


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_qwen2(tmp_path_factory.mktemp("models") / "tiny-qwen2")


@pytest.fixture
def console(sqlite_url, tmp_path, monkeypatch) -> Iterator[Console]:
    console_env(monkeypatch)
    fake = FakeVLLM(models=["tiny-qwen2"])
    with fake.serve() as url:
        backends = [{"name": "gpu-1", "kind": "vllm", "base_url": url, "models": ["tiny-qwen2"]}]
        with running_console(settings_for(sqlite_url, tmp_path / "data", backends)) as running:
            yield running


def seed_dataset(console: Console) -> int:
    assert console.admin_api.post("/admin/api/tenants", json={"name": "acme"}).status_code == 201
    with console.services.db.session() as session:
        tenant_id = session.exec(select(Tenant.id).where(Tenant.name == "acme")).one()
    loop = console.console.learning
    batch = loop.labeling.create_batch(tenant_id, "w47", "candidates")
    for i in range(8):
        pairs = loop.labeling.add_prompt(
            batch,
            [{"role": "user", "content": f"what is the refund policy {i} ?"}],
            [Answer("please see the refund policy , thanks"), Answer("no no no bad")],
        )
        loop.labeling.label("rita", pairs[0], "ab", "left")
    return loop.exporter.export(tenant_id, "acme-w47").dataset_id


def test_an_operator_trains_follows_and_canaries_an_adapter(page, console: Console, tiny_model: Path):  # noqa: F811
    dataset_id = seed_dataset(console)
    sign_in(page)
    expect(page).to_have_url(re.compile(r"/admin/dashboard$"))
    page.wait_for_load_state("load")
    page.keyboard.press("g")
    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(r"/admin/training$"))
    form = page.locator("#launch form")
    form.locator("select[name=dataset_id]").select_option(str(dataset_id))
    form.locator("input[name=base_model]").fill(str(tiny_model))
    form.locator("input[name=served_base]").fill("tiny-qwen2")
    form.locator("input[name=adapter_name]").fill("acme-dpo")
    form.locator("input[name=max_steps]").fill("8")
    form.locator("input[name=learning_rate]").fill("0.005")
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/admin/training/jobs/[0-9a-f]{12}$"))
    job_id = page.url.rsplit("/", 1)[-1]

    # the page follows the job by itself (htmx polling) until it settles
    expect(page.locator("#job-state")).to_have_text("succeeded", timeout=240_000)
    expect(page.locator("#job-step")).to_have_text("8 / 8")
    expect(page.locator("#loss-chart path.line")).to_have_count(1)
    expect(page.locator("#job-artifact")).to_contain_text("registered as acme-dpo@1", timeout=60_000)
    expect(page.locator("#job-cancel")).to_have_count(0)
    shot(page, "training-job")

    version = console.services.adapters.registry.get("acme-dpo", 1)
    assert version.lineage["job_id"] == job_id and version.lineage["hyperparameters"]["lora_r"] == 16
    assert version.lineage["hyperparameters"]["beta"] == 0.1 and len(version.lineage["dataset_sha256"]) == 64
    assert version.lineage["metrics"]["last_loss"] < version.lineage["metrics"]["first_loss"]

    # one click: the new adapter goes out as a canary beside the alias's stable adapter
    job = console.console.learning.jobs.get(job_id)
    console.services.adapters.registry.register_directory(Path(job.artifact_path), "acme-stable", "tiny-qwen2", "ops")
    console.services.adapters.assignments.assign("acme", "chat", AssignSpec(adapter="acme-stable"))
    page.reload()
    page.locator("input[name=alias]").fill("chat")
    page.locator("input[name=percent]").fill("10")
    page.locator("#send-to-canary").click()
    expect(page.locator("#job-status .alert")).to_contain_text("now serves 10% of acme's 'chat' traffic as a canary")
    view = console.services.adapters.assignments.get("acme", "chat")
    assert view["canary"]["name"] == "acme-dpo" and view["canary_percent"] == 10
