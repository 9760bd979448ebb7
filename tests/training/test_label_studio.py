"""Label Studio sync against a real Label Studio server started here (``.venv-labelstudio``; ~1 min to start)."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from gateway.storage.database import Database
from gateway.storage.models import Tenant
from tests.fakes.server import free_port
from training.label_studio import LabelStudioError, LabelStudioSync
from training.labeling import Answer, LabelingService
from training.models import PairLabel

SERVER = Path(__file__).resolve().parents[2] / ".venv-labelstudio" / "bin" / "label-studio"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory) -> Iterator[tuple[str, str]]:
    if not SERVER.exists():
        pytest.skip(f"Label Studio is not installed at {SERVER} (make test creates .venv-labelstudio)")
    token, port = secrets.token_hex(20), free_port()
    data = tmp_path_factory.mktemp("label-studio")
    env = {**os.environ, "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true", "LABEL_STUDIO_USER_TOKEN": token}
    command = [
        str(SERVER),
        "start",
        "--no-browser",
        "--port",
        str(port),
        "--internal-host",
        "127.0.0.1",
        "--data-dir",
        str(data),
        "--username",
        "admin@example.com",
        "--password",
        secrets.token_hex(8),
        "--user-token",
        token,
        "--enable-legacy-api-token",
    ]
    log = (data / "server.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"label-studio exited: {(data / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail("label-studio did not start within 240 s")
        yield url, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def db(sqlite_url) -> Iterator[Database]:
    database = Database(sqlite_url)
    database.migrate()
    yield database
    database.dispose()


def test_push_and_pull_are_idempotent(label_studio, db: Database):
    url, token = label_studio
    with db.session() as session:
        tenant = Tenant(name="acme")
        session.add(tenant)
        session.flush()
        tenant_id = tenant.id
    labeling = LabelingService(db)
    batch = labeling.create_batch(tenant_id, "ls batch", "candidates", labels_needed=1)
    for i in range(2):
        labeling.add_prompt(batch, [{"role": "user", "content": f"q{i}"}], [Answer(f"a{i}"), Answer(f"b{i}")])
    sync = LabelStudioSync(db, url, token)
    pushed = sync.push(batch)
    assert (pushed.created, pushed.already) == (2, 0)
    again = sync.push(batch)
    assert (again.created, again.already, again.project_id) == (0, 2, pushed.project_id)
    tasks = list(sync.client.tasks.list(project=pushed.project_id))
    assert len(tasks) == 2 and {t.data["answer1"] for t in tasks} == {"a0", "a1"}

    # annotators label in Label Studio: task 1 "right is better", task 2 "tie" with a comment
    by_pair = {t.data["pair_id"]: t.id for t in tasks}
    sync.client.annotations.create(
        by_pair[1],
        result=[
            {
                "from_name": "comparison",
                "to_name": "answer1,answer2",
                "type": "pairwise",
                "value": {"selected": "right"},
            }
        ],
    )
    sync.client.annotations.create(
        by_pair[2],
        result=[
            {"from_name": "verdict", "to_name": "prompt", "type": "choices", "value": {"choices": ["Tie"]}},
            {"from_name": "comment", "to_name": "prompt", "type": "textarea", "value": {"text": ["same"]}},
        ],
    )
    pulled = sync.pull(batch)
    assert (pulled.seen, pulled.added, pulled.updated) == (2, 2, 0)
    assert sync.pull(batch).added == 0  # pulling again adds nothing
    with db.session() as session:
        labels = {label.pair_id: label for label in session.exec(select(PairLabel))}
    assert labels[1].choice == "b" and labels[1].reviewer.startswith("labelstudio:") and labels[1].external_id
    assert (labels[2].choice, labels[2].comment) == ("tie", "same")

    # a new pair in the batch: only it is pushed
    labeling.add_prompt(batch, [{"role": "user", "content": "q2"}], [Answer("a2"), Answer("b2")])
    assert sync.push(batch).created == 1


def test_a_wrong_token_is_a_clear_error(label_studio, db: Database):
    url, _ = label_studio
    with db.session() as session:
        session.add(Tenant(name="acme"))
    labeling = LabelingService(db)
    batch = labeling.create_batch(1, "b", "candidates")
    labeling.add_prompt(batch, [{"role": "user", "content": "q"}], [Answer("a"), Answer("b")])
    with pytest.raises(LabelStudioError, match="creating the project failed"):
        LabelStudioSync(db, url, "wrong-token").push(batch)
    with pytest.raises(LabelStudioError, match="http"):
        LabelStudioSync(db, "ftp://x", "t")
