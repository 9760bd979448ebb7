"""Training jobs as Kubernetes ``batch/v1`` Jobs, rendered from the same :class:`JobSpec`.

``render(spec)`` gives two manifests: a ConfigMap holding ``spec.json`` and a Job whose single
container runs ``python -m training.train /job/spec.json`` in the trainer image, with the dataset
and output on a shared volume (a PersistentVolumeClaim) mounted at the same paths as the spec
names. ``validate(manifest)`` checks a manifest against the Kubernetes API's own models (the
``kubernetes`` client): required fields present, types right, and no field the API does not know.
``launch`` creates both through the API with the in-cluster or kubeconfig credentials.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.runners.base import Launched, RunnerError
from training.spec import JobSpec

KINDS = {("v1", "ConfigMap"): "V1ConfigMap", ("batch/v1", "Job"): "V1Job"}


class ManifestError(ValueError):
    """A rendered manifest that the Kubernetes API would refuse."""


def job_name(spec: JobSpec) -> str:
    return f"paramgate-train-{spec.job_id.lower()}"[:63].rstrip("-")


def render(
    spec: JobSpec,
    *,
    image: str = "paramgate-trainer:latest",
    namespace: str = "paramgate",
    volume_claim: str = "paramgate-training",
    gpus: int = 1,
) -> list[dict[str, Any]]:
    """The ConfigMap and the Job for ``spec`` (plain dicts, ready for YAML or the API)."""
    name = job_name(spec)
    labels = {
        "app.kubernetes.io/name": "paramgate-trainer",
        "app.kubernetes.io/managed-by": "paramgate",
        "paramgate.io/job-id": spec.job_id,
        "paramgate.io/tenant-id": str(spec.tenant_id),
    }
    resources: dict[str, Any] = {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"memory": "32Gi"}}
    if gpus:
        resources["limits"]["nvidia.com/gpu"] = str(gpus)
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{name}-spec", "namespace": namespace, "labels": labels},
        "data": {"spec.json": spec.to_json().decode()},
    }
    job_dir = _job_dir(spec)
    data_root = job_dir.parent.parent
    dataset = Path(spec.dataset_path)
    # Only this job's folder (read-write) and its own dataset file (read-only) from the shared volume,
    # never the other tenants' datasets and adapters beside them.
    mounts = [
        {"name": "data", "mountPath": str(job_dir), "subPath": _relative(job_dir, data_root)},
        {"name": "data", "mountPath": str(dataset), "subPath": _relative(dataset, data_root), "readOnly": True},
    ]
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 7 * 24 * 3600,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "trainer",
                            "image": image,
                            "command": ["python", "-m", "training.train", "/job/spec.json"],
                            "env": [
                                {"name": "HF_HUB_OFFLINE", "value": "1"},
                                {"name": "TOKENIZERS_PARALLELISM", "value": "false"},
                            ],
                            "resources": resources,
                            "volumeMounts": [{"name": "spec", "mountPath": "/job", "readOnly": True}, *mounts],
                        }
                    ],
                    "volumes": [
                        {"name": "spec", "configMap": {"name": f"{name}-spec"}},
                        {"name": "data", "persistentVolumeClaim": {"claimName": volume_claim}},
                    ],
                },
            },
        },
    }
    return [config_map, job]


def _job_dir(spec: JobSpec) -> Path:
    """``<training root>/jobs/<job id>``: the output folder itself or the job folder it lies in."""
    output = Path(spec.output_dir) if spec.output_dir else Path("/data/training/jobs") / spec.job_id
    for folder in (output, *output.parents):
        if folder.name == spec.job_id:
            return folder
    return output


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        raise ManifestError(f"{path} is not on the training volume ({root})") from None


def validate(manifest: dict[str, Any]) -> None:
    """Raise :class:`ManifestError` unless the Kubernetes models accept ``manifest`` unchanged."""
    from kubernetes.client import ApiClient

    kind = KINDS.get((manifest.get("apiVersion"), manifest.get("kind")))
    if kind is None:
        raise ManifestError(f"unsupported kind {manifest.get('apiVersion')}/{manifest.get('kind')}")
    client = ApiClient()
    try:
        model = client._ApiClient__deserialize(manifest, kind)
    except (ValueError, TypeError) as exc:
        raise ManifestError(f"{manifest['kind']}: {exc}") from exc
    back = client.sanitize_for_serialization(model)
    lost = _difference(manifest, back)
    if lost:
        raise ManifestError(f"{manifest['kind']}: fields the API does not know or mistyped: {', '.join(lost)}")
    name = manifest["metadata"].get("name", "")
    if not name or len(name) > 63 or not all(c.isalnum() or c == "-" for c in name) or name != name.lower():
        raise ManifestError(f"{manifest['kind']}: metadata.name {name!r} is not a DNS-1123 label")


def _difference(original: Any, roundtrip: Any, path: str = "") -> list[str]:
    if isinstance(original, dict):
        if not isinstance(roundtrip, dict):
            return [path or "."]
        found = []
        for key, value in original.items():
            where = f"{path}.{key}" if path else key
            if key not in roundtrip:
                found.append(where)
            else:
                found += _difference(value, roundtrip[key], where)
        return found
    if isinstance(original, list):
        if not isinstance(roundtrip, list) or len(original) != len(roundtrip):
            return [path]
        return [d for i, (a, b) in enumerate(zip(original, roundtrip)) for d in _difference(a, b, f"{path}[{i}]")]
    return [] if original == roundtrip else [path]


def to_yaml(manifests: list[dict[str, Any]]) -> str:
    import yaml

    return yaml.safe_dump_all(manifests, sort_keys=False)


class KubernetesRunner:
    """Creates the rendered Job in a cluster; the manifests are also kept as ``job.yaml`` in the job folder."""

    name = "kubernetes"

    def __init__(self, namespace: str = "paramgate", image: str = "paramgate-trainer:latest", api: Any = None) -> None:
        self.namespace = namespace
        self.image = image
        self._api = api

    def _batch(self):
        if self._api is None:
            from kubernetes import client, config

            try:
                config.load_incluster_config()
            except config.ConfigException:
                try:
                    config.load_kube_config()
                except (config.ConfigException, OSError) as exc:
                    raise RunnerError(f"no Kubernetes cluster is configured here: {exc}") from exc
            self._api = client.ApiClient()
        return self._api

    def launch(self, spec: JobSpec, work_dir: Path) -> Launched:
        manifests = render(spec, image=self.image, namespace=self.namespace)
        for manifest in manifests:
            validate(manifest)
        (work_dir / "job.yaml").write_text(to_yaml(manifests))
        from kubernetes import client

        api = self._batch()
        config_map, job = manifests
        client.CoreV1Api(api).create_namespaced_config_map(self.namespace, config_map)
        client.BatchV1Api(api).create_namespaced_job(self.namespace, job)
        return Launched(reference=f"{self.namespace}/{job['metadata']['name']}")

    def _status(self, job_id: str):
        from kubernetes import client

        name = f"paramgate-train-{job_id.lower()}"[:63].rstrip("-")
        return client.BatchV1Api(self._batch()).read_namespaced_job_status(name, self.namespace).status

    def alive(self, job_id: str, pid: int | None) -> bool:
        try:
            status = self._status(job_id)
        except Exception:
            return False
        return not (status.succeeded or status.failed)

    def exit_code(self, job_id: str) -> int | None:
        try:
            status = self._status(job_id)
        except Exception:
            return None
        return 0 if status.succeeded else (1 if status.failed else None)

    def cancel(self, job_id: str, pid: int | None) -> None:
        from kubernetes import client

        name = f"paramgate-train-{job_id.lower()}"[:63].rstrip("-")
        client.BatchV1Api(self._batch()).delete_namespaced_job(name, self.namespace, propagation_policy="Background")
