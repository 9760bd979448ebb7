"""Accepting adapters: a real PEFT adapter goes in; malicious or wrong archives are refused and leave nothing."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from gateway.adapters.archive import Limits, safe_relative
from gateway.adapters.registry import AdapterRegistry, ServedBase
from gateway.adapters.settings import AdapterSettings
from gateway.adapters.store import AdapterStore
from gateway.errors import InvalidRequest, PayloadTooLarge
from gateway.storage.database import Database
from tests.gateway.adapters.builders import files_of, tar_gz_of, tar_with, zip_of, zip_with

BASES = {"qwen": ServedBase("qwen", frozenset({"peft"}), 16)}


@pytest.fixture
def registry(database_url, tmp_path) -> AdapterRegistry:
    db = Database(database_url)
    db.migrate()
    settings = AdapterSettings(max_files=8, max_unpacked_bytes=200_000)
    yield AdapterRegistry(db, AdapterStore(tmp_path / "adapters"), settings, BASES)
    db.dispose()


def upload(registry: AdapterRegistry, data: bytes, tmp_path: Path, name: str = "legal", base: str | None = "qwen"):
    archive = tmp_path / "upload.bin"
    archive.write_bytes(data)
    return registry.upload_archive(archive, "upload.zip", name, base, "tester")


def store_is_clean(registry: AdapterRegistry) -> bool:
    root = registry.store.root
    leftovers = [p for p in root.iterdir() if p.name != ".staging"] if root.exists() else []
    staging = list(registry.store.staging_root.iterdir()) if registry.store.staging_root.exists() else []
    return not leftovers and not staging


def test_a_real_peft_adapter_is_accepted_from_zip_tar_and_folder(registry, peft_folder, tmp_path):
    first = upload(registry, zip_of(peft_folder), tmp_path)
    assert (first.format, first.rank, first.base_model, first.version) == ("peft", 4, "qwen", 1)
    assert first.target_modules == ["q_proj", "v_proj"]
    stored = registry.store.path(first.sha256)
    assert sorted(p.name for p in stored.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    second = upload(registry, tar_gz_of(peft_folder), tmp_path)
    parts = [(name, io.BytesIO(data)) for name, data in files_of(peft_folder).items()]
    third = registry.upload_files(parts, "legal", None, "tester")
    assert (second.version, third.version) == (2, 3)
    assert first.sha256 == second.sha256 == third.sha256  # content-addressed: stored once
    assert third.base_model == "qwen"  # from adapter_config.json's base_model_name_or_path "Qwen/qwen"
    assert [p.name for p in registry.store.root.iterdir() if p.name != ".staging"] == [first.sha256]


@pytest.mark.parametrize(
    "archive",
    [
        pytest.param(lambda f: zip_with({"../evil/adapter_config.json": b"{}", **files_of(f)}), id="zip-traversal"),
        pytest.param(lambda f: zip_with({"/etc/adapter_config.json": b"{}"}), id="zip-absolute"),
        pytest.param(lambda f: tar_with({"a/../../adapter_config.json": b"{}"}), id="tar-traversal"),
        pytest.param(lambda f: zip_with(files_of(f), symlinks={"link": "/etc/passwd"}), id="zip-symlink"),
        pytest.param(lambda f: tar_with(files_of(f), symlinks={"adapter_model.bin": "/etc/passwd"}), id="tar-symlink"),
    ],
)
def test_unsafe_archives_are_refused_and_leave_nothing(registry, peft_folder, tmp_path, archive):
    with pytest.raises(InvalidRequest) as refused:
        upload(registry, archive(peft_folder), tmp_path)
    assert refused.value.code == "unsafe_archive"
    assert store_is_clean(registry)
    assert not (tmp_path / "evil").exists()


def test_oversize_and_too_many_files_are_refused(registry, peft_folder, tmp_path):
    big = {**files_of(peft_folder), "README.md": b"x" * 300_000}
    with pytest.raises(PayloadTooLarge):
        upload(registry, zip_with(big), tmp_path)
    many = {**files_of(peft_folder), **{f"extra/{i}.txt": b"." for i in range(10)}}
    with pytest.raises(InvalidRequest) as refused:
        upload(registry, tar_with(many), tmp_path)
    assert refused.value.code == "too_many_files"
    assert store_is_clean(registry)


def _tampered(folder: Path, tmp_path: Path, **changes) -> Path:
    out = tmp_path / "tampered"
    shutil.copytree(folder, out, dirs_exist_ok=True)
    tensors = changes.pop("tensors", None)
    if tensors is not None:
        save_file(tensors, str(out / "adapter_model.safetensors"))
    if changes:
        config = json.loads((out / "adapter_config.json").read_text())
        config.update(changes)
        (out / "adapter_config.json").write_text(json.dumps(config))
    return out


PREFIX = "base_model.model.model.layers.0.self_attn"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {
                "tensors": {
                    f"{PREFIX}.q_proj.lora_A.weight": np.zeros((8, 32), np.float32),
                    f"{PREFIX}.q_proj.lora_B.weight": np.zeros((32, 8), np.float32),
                }
            },
            "do not match rank 4",
        ),
        (
            {
                "tensors": {
                    f"{PREFIX}.o_proj.lora_A.weight": np.zeros((4, 32), np.float32),
                    f"{PREFIX}.o_proj.lora_B.weight": np.zeros((32, 4), np.float32),
                }
            },
            "not in target_modules",
        ),
        (
            {"tensors": {f"{PREFIX}.q_proj.lora_A.weight": np.zeros((4, 32), np.float32)}},
            "needs both lora_A and lora_B",
        ),
        (
            {
                "tensors": {
                    f"{PREFIX}.q_proj.lora_A.weight": np.zeros((4, 32), np.int32),
                    f"{PREFIX}.q_proj.lora_B.weight": np.zeros((32, 4), np.int32),
                }
            },
            "floating point",
        ),
        ({"r": 32}, "do not match rank 32"),
        ({"base_model_name_or_path": "meta-llama/Llama-3-8B"}, "not 'qwen'"),
        ({"peft_type": "PREFIX_TUNING"}, "peft_type must be LORA"),
    ],
    ids=[
        "wrong-rank-shapes",
        "untargeted-module",
        "unpaired",
        "integer-dtype",
        "declared-rank",
        "other-base",
        "not-lora",
    ],
)
def test_wrong_weights_or_config_are_refused(registry, peft_folder, tmp_path, changes, message):
    with pytest.raises(InvalidRequest) as refused:
        upload(registry, zip_of(_tampered(peft_folder, tmp_path, **changes)), tmp_path)
    assert message in refused.value.message
    assert store_is_clean(registry)


def test_a_corrupt_safetensors_header_is_refused(registry, peft_folder, tmp_path):
    out = _tampered(peft_folder, tmp_path)
    weights = out / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    header_length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_length])
    first = next(k for k in header if k != "__metadata__")
    header[first]["data_offsets"][1] += 10_000  # points past the end of the file
    encoded = json.dumps(header).encode()
    weights.write_bytes(len(encoded).to_bytes(8, "little") + encoded + bytes(data[8 + header_length :]))
    with pytest.raises(InvalidRequest, match="data_offsets|overlaps|does not fill"):
        upload(registry, zip_of(out), tmp_path)


def test_rank_above_the_backends_max_lora_rank_is_refused(registry, peft_rank32, tmp_path):
    with pytest.raises(InvalidRequest) as refused:
        upload(registry, zip_of(peft_rank32), tmp_path)
    assert refused.value.code == "rank_too_large"
    assert "max_lora_rank 16" in refused.value.message


def test_pickled_weights_and_unknown_bases_are_refused(registry, peft_folder, tmp_path):
    with pytest.raises(InvalidRequest, match="pickled"):
        upload(registry, zip_with({"adapter_model.bin": b"\x80\x04K\x01."}), tmp_path)
    with pytest.raises(InvalidRequest) as refused:
        upload(registry, zip_of(peft_folder), tmp_path, base="llama")
    assert refused.value.param == "base_model"
    with pytest.raises(InvalidRequest, match="not a .zip"):
        upload(registry, b"just some text", tmp_path)


def test_entry_names_are_checked_one_by_one():
    assert str(safe_relative("./a/b.json")) == "a/b.json"
    for bad in ("../x", "a/../../x", "/abs", "C:\\windows", "a\\..\\..\\x"):
        with pytest.raises(InvalidRequest):
            safe_relative(bad)
    assert Limits(2, 10).max_files == 2


def test_a_training_job_registers_its_output_folder_with_lineage(registry, peft_folder):
    lineage = {
        "dataset_sha256": "ab" * 32,
        "job_id": "job-7",
        "hyperparameters": {"beta": 0.1},
        "metrics": {"loss": 0.4},
    }
    version = registry.register_directory(peft_folder, "dpo-legal", "qwen", "training:job-7", lineage)
    assert registry.get("dpo-legal").lineage == lineage
    assert version.uploaded_by == "training:job-7"
