"""The Kubernetes runner's manifests, rendered from the same job spec and checked against the API's models."""

from __future__ import annotations

import json

import pytest
import yaml

from training.runners.kubernetes import ManifestError, render, to_yaml, validate
from training.spec import JobSpec


def spec(**changes) -> JobSpec:
    return JobSpec(
        job_id="a1b2c3d4e5f6",
        tenant_id=3,
        dataset_id=7,
        dataset_path="/data/training/datasets/3/acme.jsonl",
        base_model="/models/qwen2.5-7b-instruct",
        adapter_name="acme-dpo",
        runner="kubernetes",
        output_dir="/data/training/jobs/a1b2c3d4e5f6",
        **changes,
    )


def test_the_job_and_its_spec_config_map_render_and_validate():
    config_map, job = render(spec(), image="registry.local/paramgate-trainer:1.0", gpus=1)
    for manifest in (config_map, job):
        validate(manifest)
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert job["metadata"]["name"] == "paramgate-train-a1b2c3d4e5f6"
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0
    container = pod["containers"][0]
    assert container["command"] == ["python", "-m", "training.train", "/job/spec.json"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    # the spec's dataset and output paths exist in the pod, and nothing else of the shared volume does
    assert set(mounts) == {"/job", "/data/training/jobs/a1b2c3d4e5f6", "/data/training/datasets/3/acme.jsonl"}
    assert mounts["/data/training/jobs/a1b2c3d4e5f6"]["subPath"] == "jobs/a1b2c3d4e5f6"
    assert mounts["/data/training/datasets/3/acme.jsonl"] == {
        "name": "data",
        "mountPath": "/data/training/datasets/3/acme.jsonl",
        "subPath": "datasets/3/acme.jsonl",
        "readOnly": True,
    }
    rendered = JobSpec.from_json(config_map["data"]["spec.json"])
    assert rendered == spec() and rendered.lora_r == 16 and rendered.lora_alpha == 32 and rendered.beta == 0.1
    assert [m["kind"] for m in yaml.safe_load_all(to_yaml([config_map, job]))] == ["ConfigMap", "Job"]


def test_validation_catches_unknown_fields_missing_names_and_bad_names():
    _, job = render(spec())
    typo = json.loads(json.dumps(job))
    typo["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(ManifestError, match="imagePullPolicyy"):
        validate(typo)
    nameless = json.loads(json.dumps(job))
    del nameless["spec"]["template"]["spec"]["containers"][0]["name"]
    with pytest.raises(ManifestError):
        validate(nameless)
    upper = json.loads(json.dumps(job))
    upper["metadata"]["name"] = "Paramgate_Train"
    with pytest.raises(ManifestError, match="DNS-1123"):
        validate(upper)
    with pytest.raises(ManifestError, match="unsupported kind"):
        validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}})
