"""Training jobs for real: DPO and SFT LoRA on a tiny local Qwen2 in a subprocess, failure, cancel, restart."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
import os
import signal
from pathlib import Path

import pytest

from gateway.storage.database import Database
from gateway.storage.models import Tenant
from tests.gateway.harness import wait_for
from training.jobs import JobError, JobService
from training.models import TrainingDataset, TrainingJob
from training.runners.local import LocalRunner
from training.runners.mlx import MlxRunner

ROWS = [
    {
        "prompt": [{"role": "user", "content": f"what is the refund policy {i} ?"}],
        "chosen": [{"role": "assistant", "content": "please see the refund policy , thanks"}],
        "rejected": [{"role": "assistant", "content": "no no no bad"}],
    }
    for i in range(8)
]


def opened(url: str):
    database = Database(url)
    database.migrate()
    return database


@pytest.fixture
def db(sqlite_url) -> Database:
    """Training itself does not depend on the database kind; restarts are checked on both."""
    database = opened(sqlite_url)
    yield database
    database.dispose()


@pytest.fixture
def any_db(database_url) -> Database:
    database = opened(database_url)
    yield database
    database.dispose()


@pytest.fixture
def dataset(db: Database, tmp_path: Path) -> int:
    return make_dataset(db, tmp_path)


def make_dataset(db: Database, tmp_path: Path) -> int:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    with db.session() as session:
        tenant = Tenant(name="acme")
        session.add(tenant)
        session.flush()
        record = TrainingDataset(tenant_id=tenant.id, name="pairs", path=str(path), sha256="0" * 64, rows=len(ROWS))
        session.add(record)
        session.flush()
        return record.id


def jobs_for(db: Database, tmp_path: Path, registered: list | None = None) -> JobService:
    def registrar(job, folder, metrics):
        if registered is not None:
            registered.append((job.id, folder, metrics))
        return f"{job.spec['adapter_name']}@1"

    return JobService(db, tmp_path / "training", {"local": LocalRunner(), "mlx": MlxRunner()}, registrar)


def fields(dataset: int, model: Path, **changes) -> dict:
    return {
        "tenant_id": 1,
        "dataset_id": dataset,
        "base_model": str(model),
        "adapter_name": "acme-dpo",
        "method": "dpo",
        "max_steps": 6,
        "learning_rate": 5e-3,
        "batch_size": 2,
        **changes,
    }


def finished(jobs: JobService, job_id: str, timeout: float = 240):
    assert wait_for(lambda: jobs.refresh(job_id).state in ("succeeded", "failed", "cancelled"), timeout), jobs.log_tail(
        jobs.get(job_id)
    )
    return jobs.get(job_id)


@pytest.mark.parametrize("method", ["dpo", "sft"])
def test_a_lora_job_trains_moves_the_loss_and_registers_an_adapter_that_loads(
    db, dataset, tiny_model, tmp_path, method
):
    registered: list = []
    jobs = jobs_for(db, tmp_path, registered)
    job = jobs.launch(jobs.build_spec(fields(dataset, tiny_model, method=method)), created_by="admin")
    assert job.state == "running" and job.pid
    job = finished(jobs, job.id)
    assert job.state == "succeeded", (job.error, jobs.log_tail(job))
    assert job.step == 6 and job.total_steps == 6 and len(job.losses) == 6
    assert job.losses[-1][1] < job.losses[0][1]  # the loss moved down
    assert job.metrics["artifact"]["rank"] == 16 and job.adapter == "acme-dpo@1"
    assert [entry[0] for entry in registered] == [job.id]
    if method == "dpo":
        settled_once(db, jobs, job, registered)
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    loaded = PeftModel.from_pretrained(base, job.artifact_path)
    assert loaded.peft_config["default"].r == 16 and loaded.peft_config["default"].lora_alpha == 32
    assert any("lora_A" in name for name, _ in loaded.named_parameters())


def settled_once(db: Database, jobs: JobService, finished_job, registered: list) -> None:
    """Refreshes racing on a finished process (the console's polling, the watcher, other replicas) register once."""
    twin = finished_job.model_copy(update={"id": "racejob00001", "state": "running", "pid": None, "adapter": None})
    with db.session() as session:
        session.add(TrainingJob.model_validate(twin.model_dump()))
    with ThreadPoolExecutor(4) as pool:
        states = list(pool.map(lambda _: jobs.refresh("racejob00001").state, range(4)))
    assert states == ["succeeded"] * 4
    assert [entry[0] for entry in registered].count("racejob00001") == 1


def test_bad_launch_fields_are_reported_per_field(db, dataset, tiny_model, tmp_path):
    jobs = jobs_for(db, tmp_path)
    with pytest.raises(JobError) as caught:
        jobs.build_spec(
            fields(dataset, tmp_path / "missing", lora_r=0, beta=-1, adapter_name="Bad Name", target_modules=[])
        )
    assert set(caught.value.errors) == {"base_model", "lora_r", "beta", "adapter_name", "target_modules"}
    with pytest.raises(JobError) as caught:
        jobs.build_spec(fields(999, tiny_model))
    assert "dataset_id" in caught.value.errors
    with db.session() as session:
        session.add(Tenant(name="other"))
    with pytest.raises(JobError) as caught:  # another tenant's dataset cannot be trained on
        jobs.build_spec(fields(dataset, tiny_model, tenant_id=2))
    assert caught.value.errors == {"dataset_id": "choose one of this tenant's datasets"}
    with pytest.raises(JobError) as caught:
        jobs.build_spec(fields(dataset, tiny_model, runner="mlx"))
    assert caught.value.errors == {"method": "the MLX runner (mlx_lm.lora) trains SFT only"}


def test_a_job_that_dies_is_failed_with_its_log_kept(db, dataset, tiny_model, tmp_path):
    jobs = jobs_for(db, tmp_path)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"prompt": "only a prompt"}\n')
    with db.session() as session:
        session.get(TrainingDataset, dataset).path = str(broken)
    job = finished(jobs, jobs.launch(jobs.build_spec(fields(dataset, tiny_model))).id)
    assert job.state == "failed" and "needs prompt, chosen and rejected" in job.error
    assert "Traceback" in jobs.log_tail(job)


def test_cancel_stops_the_process(db, dataset, tiny_model, tmp_path):
    jobs = jobs_for(db, tmp_path)
    job = jobs.launch(jobs.build_spec(fields(dataset, tiny_model, max_steps=100_000)))
    jobs.cancel(job.id)
    job = jobs.get(job.id)
    assert job.state == "cancelled" and job.finished_at is not None
    assert not LocalRunner().alive(job.id, job.pid)
    with pytest.raises(JobError):
        jobs.cancel(job.id)


def test_a_restarted_gateway_reattaches_running_jobs_and_fails_vanished_ones(any_db, tiny_model, tmp_path):
    db, dataset = any_db, make_dataset(any_db, tmp_path)
    first = jobs_for(db, tmp_path)
    running = first.launch(first.build_spec(fields(dataset, tiny_model, max_steps=40)))
    doomed = first.launch(first.build_spec(fields(dataset, tiny_model, max_steps=100_000)))
    # "restart": a new service (new runner, no child handles) over the same database and folders
    restarted = jobs_for(db, tmp_path)
    assert {job.id for job in restarted.recover()} == {running.id, doomed.id}
    assert restarted.get(running.id).state == "running"  # re-attached by pid + command line
    os.killpg(doomed.pid, signal.SIGKILL)  # the process dies while nobody holds it
    assert wait_for(lambda: not LocalRunner().alive(doomed.id, doomed.pid), 10)
    job = restarted.refresh(doomed.id)
    assert job.state == "failed" and "gone" in job.error
    assert (Path(job.work_dir) / "train.log").exists()
    done = finished(restarted, running.id)
    assert done.state == "succeeded" and done.step == 40


@pytest.mark.slow
def test_the_mlx_runner_trains_sft_with_mlx_lm_lora(db, dataset, tiny_model, tmp_path):
    pytest.importorskip("mlx_lm", reason="the MLX runner needs mlx-lm")
    jobs = jobs_for(db, tmp_path)
    spec = jobs.build_spec(fields(dataset, tiny_model, method="sft", runner="mlx", max_steps=4, learning_rate=1e-3))
    job = finished(jobs, jobs.launch(spec).id, timeout=400)
    assert job.state == "succeeded", (job.error, jobs.log_tail(job))
    assert job.metrics["artifact"]["format"] == "mlx" and job.metrics["artifact"]["rank"] == 16
    assert [step for step, _ in job.losses] == [1, 2, 3, 4]


def test_the_training_process_does_not_inherit_the_gateway_s_secrets():
    from training.runners.local import _passed_on

    assert not _passed_on("GATEWAY_ADMIN_TOKEN") and not _passed_on("ANTHROPIC_API_KEY")
    assert not _passed_on("GATEWAY_DATABASE_URL") and not _passed_on("AWS_SECRET_ACCESS_KEY")
    assert _passed_on("PATH") and _passed_on("HF_HUB_OFFLINE") and _passed_on("HOME")
