"""The labeling and training pages over HTTP: forms that point at mistakes next to the field, sampling,
batches generated through the gateway, export, and a queue that refuses a bad label without losing it."""

from __future__ import annotations

from sqlmodel import select

from gateway.traffic_samples import TrafficSampling
from tests.admin.harness import Console, field_error, soup
from training.models import LabelBatch, PairLabel


def admin_with_tenant(console: Console):
    assert console.admin_api.post("/admin/api/tenants", json={"name": "acme"}).status_code == 201
    admin = console.signed_in()
    admin.page("/admin/labeling")
    return admin


def post(client, path: str, **data):
    return client.post(path, data={**data, "_csrf_token": client.csrf or ""})


def test_sampling_rate_is_validated_and_saved(console: Console):
    admin = admin_with_tenant(console)
    bad = post(admin, "/admin/labeling/sampling", tenant="acme", rate="150")
    assert bad.status_code == 422 and field_error(bad, "rate") == "a percentage from 0 (off) to 100"
    good = post(admin, "/admin/labeling/sampling", tenant="acme", rate="5")
    assert good.status_code == 200 and "Sampling for acme set to 5%" in good.text
    with console.services.db.session() as session:
        assert [row.rate for row in session.exec(select(TrafficSampling))] == [0.05]


def test_a_batch_form_with_mistakes_keeps_what_was_typed(console: Console):
    admin = admin_with_tenant(console)
    response = post(admin, "/admin/labeling/batches", tenant="acme", source="candidates", name="b", model="",
                    labels_needed="0", temperatures="hot", prompts="keep me")  # fmt: skip
    assert response.status_code == 422
    assert field_error(response, "model") and field_error(response, "labels_needed") and field_error(response, "temperatures")
    assert soup(response).find("textarea", attrs={"name": "prompts"}).get_text() == "keep me"
    unknown = post(admin, "/admin/labeling/batches", tenant="acme", source="candidates", name="b", model="nope",
                   labels_needed="1", temperatures="0.3 0.9", prompts="q")  # fmt: skip
    assert unknown.status_code == 422 and "nope" in field_error(unknown, "model")


def test_a_batch_from_the_gateway_then_labels_then_an_export(console: Console):
    admin = admin_with_tenant(console)
    created = post(admin, "/admin/labeling/batches", tenant="acme", source="candidates", name="w47", model="qwen",
                   labels_needed="1", temperatures="0.3, 0.5, 0.7, 0.9", prompts="first question\nsecond question")
    assert created.status_code == 303, created.text
    batch_page = admin.page(created.headers["location"])
    assert batch_page.status_code == 200 and "w47" in batch_page.text
    with console.services.db.session() as session:
        assert session.exec(select(LabelBatch)).one().source == "candidates"
    empty = post(admin, "/admin/labeling/export", tenant="acme", dataset_name="acme-w47")
    assert empty.status_code == 422 and "no labelled pairs" in soup(empty).find(id="export").find(class_="error").text
    # a bad label is refused with a message and the same pair stays on screen
    queue = admin.page("/admin/queue")
    pair = soup(queue).find(class_="label-item")["data-pair"]
    refused = admin.htmx("POST", "/admin/queue/label", data={"pair_id": pair, "presented": "ab", "choice": "middle"})
    assert refused.status_code == 422 and "choice must be one of" in refused.text
    assert soup(refused).find(class_="label-item")["data-pair"] == pair
    for _ in range(4):
        page = soup(admin.page("/admin/queue"))
        item = page.find(class_="label-item")
        if item is None:
            break
        presented = page.find("input", attrs={"name": "presented"})["value"]
        admin.htmx("POST", "/admin/queue/label", data={"pair_id": item["data-pair"], "presented": presented,
                                                        "choice": "left"})  # fmt: skip
    with console.services.db.session() as session:
        assert len(list(session.exec(select(PairLabel)))) == 4
    bad_name = post(admin, "/admin/labeling/export", tenant="acme", dataset_name="../etc")
    assert bad_name.status_code == 422 and field_error(bad_name, "dataset_name")
    exported = post(admin, "/admin/labeling/export", tenant="acme", dataset_name="acme-w47")
    assert exported.status_code == 200 and "Exported 4 pairs to acme-w47.jsonl" in exported.text


def test_the_judge_form_needs_a_model_and_reports_unusable_replies(console: Console):
    admin = admin_with_tenant(console)
    created = post(admin, "/admin/labeling/batches", tenant="acme", source="candidates", name="j", model="qwen",
                   labels_needed="1", temperatures="0.3 0.9", prompts="q")  # fmt: skip
    path = created.headers["location"]
    admin.page(path)
    missing = post(admin, f"{path}/judge", judge_model="")
    assert missing.status_code == 422 and "Name the judge model" in missing.text
    echoed = post(admin, f"{path}/judge", judge_model="qwen")  # the fake echoes the prompt: no scores in it
    assert echoed.status_code == 200 and "The judge scored 0 answers. 2 failed" in echoed.text
    assert admin.get("/admin/labeling/batches/999").status_code == 404


def test_label_studio_errors_are_shown_not_raised(console: Console):
    admin = admin_with_tenant(console)
    created = post(admin, "/admin/labeling/batches", tenant="acme", source="candidates", name="ls", model="qwen",
                   labels_needed="1", temperatures="0.3 0.9", prompts="q")  # fmt: skip
    path = created.headers["location"]
    admin.page(path)
    response = post(admin, f"{path}/label-studio", ls_url="http://127.0.0.1:9", ls_token="t", action="push")
    assert response.status_code == 422 and "Label Studio: creating the project failed" in response.text
