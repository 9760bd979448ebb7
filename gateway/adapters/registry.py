"""The adapter registry: accept an upload (or a trained folder), check it, store it, number its version."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from gateway.adapters.archive import Limits, adapter_folder, unpack, write_files
from gateway.adapters.models import AdapterAssignment, AdapterVersion
from gateway.adapters.settings import AdapterSettings
from gateway.adapters.store import AdapterStore
from gateway.adapters.validation import CONFIG, MLX_WEIGHTS, PEFT_WEIGHTS, PICKLED, AdapterManifest, inspect_folder
from gateway.errors import Conflict, InvalidRequest, NotFound
from gateway.storage.database import Database
from gateway.storage.models import Tenant

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,47}$")
ADAPTER_FILES = frozenset({CONFIG, PEFT_WEIGHTS, MLX_WEIGHTS, *PICKLED})
"""The files of a training job's folder that registration looks at (checkpoints and the rest stay behind)."""
FORMAT_KINDS = {"peft": ("vllm",), "mlx": ("mlx",)}
"""Which backend kinds serve which adapter format."""


@dataclass(frozen=True, slots=True)
class ServedBase:
    """A base model some backend serves, and what adapters fit on it."""

    name: str
    formats: frozenset[str]
    max_rank: int


def base_models(backends: Iterable[Any]) -> dict[str, ServedBase]:
    """The served base models, from ``[[backends]]``: vLLM ones take PEFT, in-process MLX ones take MLX."""
    found: dict[str, tuple[set[str], int]] = {}
    for backend in backends:
        fmt = "peft" if backend.kind == "vllm" else "mlx" if backend.kind == "mlx" and not backend.base_url else None
        if fmt is None:
            continue
        for model in backend.models:
            formats, rank = found.get(model, (set(), backend.max_lora_rank))
            formats.add(fmt)
            found[model] = (formats, min(rank, backend.max_lora_rank))
    return {name: ServedBase(name, frozenset(f), rank) for name, (f, rank) in found.items()}


def version_view(version: AdapterVersion, used_by: list[dict] | None = None) -> dict[str, Any]:
    used = used_by or []
    roles = {u["role"] for u in used}
    state = "canary" if "canary" in roles else "serving" if "stable" in roles else version.status
    return {
        "id": version.id,
        "name": version.name,
        "version": version.version,
        "served_name": version.served_name,
        "format": version.format,
        "base_model": version.base_model,
        "rank": version.rank,
        "target_modules": version.target_modules,
        "sha256": version.sha256,
        "size_bytes": version.size_bytes,
        "uploaded_by": version.uploaded_by,
        "created_at": version.created_at.isoformat(),
        "status": state,
        "used_by": used,
        "lineage": version.lineage,
    }


class AdapterRegistry:
    """Adapter versions: upload, register, list, delete."""

    def __init__(self, db: Database, store: AdapterStore, settings: AdapterSettings, bases: Mapping[str, ServedBase]):
        self.db = db
        self.store = store
        self.settings = settings
        self.bases = bases
        self.limits = Limits(settings.max_files, settings.max_unpacked_bytes)

    # accepting adapters

    def upload_archive(
        self, archive: Path, filename: str, name: str, base_model: str | None, uploaded_by: str
    ) -> AdapterVersion:
        """Register the adapter in a .zip / .tar / .tar.gz file."""
        self._check_name(name)
        with self.store.staging() as staging:
            unpack(archive, filename, staging, self.limits)
            return self._register(adapter_folder(staging), name, base_model, uploaded_by, {})

    def upload_files(
        self, files: Iterable[tuple[str, BinaryIO]], name: str, base_model: str | None, uploaded_by: str
    ) -> AdapterVersion:
        """Register the adapter uploaded as loose files (a folder upload)."""
        self._check_name(name)
        with self.store.staging() as staging:
            write_files(files, staging, self.limits)
            return self._register(adapter_folder(staging), name, base_model, uploaded_by, {})

    def register_directory(
        self, path: Path, name: str, base_model: str | None, uploaded_by: str, lineage: dict[str, Any] | None = None
    ) -> AdapterVersion:
        """Register an adapter folder on this machine (a training job's output), with its lineage
        (dataset hash, job id, hyperparameters, metrics) kept as JSON."""
        self._check_name(name)
        source = Path(path)
        if not source.is_dir():
            raise InvalidRequest(f"{source} is not a folder", param="path")
        with self.store.staging() as staging:
            for entry in source.iterdir():
                if entry.name not in ADAPTER_FILES:
                    continue
                if entry.is_symlink():
                    raise InvalidRequest(f"{entry.name} is a symbolic link", param="path", code="unsafe_archive")
                if entry.is_file():
                    shutil.copyfile(entry, staging / entry.name)
            return self._register(staging, name, base_model, uploaded_by, dict(lineage or {}))

    def _check_name(self, name: str) -> None:
        if not NAME.match(name or ""):
            raise InvalidRequest(
                "adapter name: 1-48 letters, digits, '.', '_' or '-', starting with a letter or digit", param="name"
            )

    def _base_for(self, manifest: AdapterManifest, requested: str | None) -> str:
        declared = manifest.declared_base
        if requested:
            if requested not in self.bases:
                raise InvalidRequest(
                    f"base model {requested!r} is not served by any vLLM or in-process MLX backend; "
                    f"configured: {sorted(self.bases)}",
                    param="base_model",
                )
            if declared and not self._same_base(requested, declared):
                raise InvalidRequest(
                    f"adapter_config.json says the adapter is for {declared!r}, not {requested!r} "
                    f"(list it in [adapters] base_model_aliases if they are the same model)",
                    param="base_model",
                )
            return requested
        matches = [b for b in self.bases if declared and self._same_base(b, declared)]
        if len(matches) != 1:
            said = f"adapter_config.json names {declared!r}" if declared else "adapter_config.json names no base model"
            raise InvalidRequest(f"{said}; choose one of {sorted(self.bases)}", param="base_model")
        return matches[0]

    def _same_base(self, served: str, declared: str) -> bool:
        names = {served.lower(), *(a.lower() for a in self.settings.base_model_aliases.get(served, ()))}
        declared = declared.lower().rstrip("/")
        return declared in names or declared.rsplit("/", 1)[-1] in names

    def _register(
        self, folder: Path, name: str, base_model: str | None, uploaded_by: str, lineage: dict[str, Any]
    ) -> AdapterVersion:
        manifest = inspect_folder(folder)
        base = self._base_for(manifest, base_model)
        info = self.bases[base]
        if manifest.format not in info.formats:
            kinds = " or ".join(FORMAT_KINDS[manifest.format])
            raise InvalidRequest(
                f"a {manifest.format} adapter needs a {kinds} backend serving {base!r}; none is configured",
                param="file",
            )
        if manifest.rank > info.max_rank:
            raise InvalidRequest(
                f"adapter rank {manifest.rank} is above max_lora_rank {info.max_rank} of the backends serving {base!r}",
                param="file",
                code="rank_too_large",
            )
        sha256, size, created = self.store.commit(folder, manifest.files)
        try:
            return self._insert(name, manifest, base, sha256, size, uploaded_by, lineage)
        except BaseException:
            if created:
                self._forget_if_unreferenced(sha256)
            raise

    def _insert(
        self, name: str, manifest: AdapterManifest, base: str, sha256: str, size: int, uploaded_by: str,
        lineage: dict[str, Any],
    ) -> AdapterVersion:  # fmt: skip
        for _ in range(3):
            try:
                with self.db.session() as session:
                    latest = session.exec(
                        select(func.max(AdapterVersion.version)).where(AdapterVersion.name == name)
                    ).one()
                    row = AdapterVersion(
                        name=name,
                        version=(latest or 0) + 1,
                        format=manifest.format,
                        base_model=base,
                        rank=manifest.rank,
                        target_modules=list(manifest.target_modules),
                        sha256=sha256,
                        size_bytes=size,
                        uploaded_by=uploaded_by[:128],
                        lineage=lineage,
                    )
                    session.add(row)
                    session.flush()
                    session.refresh(row)
                    return row
            except IntegrityError:
                continue
        raise Conflict(f"adapter {name!r} is being uploaded concurrently; retry", param="name")

    # reading and removing

    def list(self) -> list[AdapterVersion]:
        with self.db.session() as session:
            stmt = select(AdapterVersion).order_by(AdapterVersion.name, AdapterVersion.version.desc())
            return list(session.exec(stmt))

    def get(self, name: str, version: int | None = None) -> AdapterVersion:
        """One version (the newest when ``version`` is ``None``)."""
        with self.db.session() as session:
            stmt = select(AdapterVersion).where(AdapterVersion.name == name)
            if version is not None:
                stmt = stmt.where(AdapterVersion.version == version)
            row = session.exec(stmt.order_by(AdapterVersion.version.desc())).first()
        if row is None:
            which = f"{name!r} version {version}" if version is not None else repr(name)
            raise NotFound(f"no adapter {which}", param="name")
        return row

    def usage(self) -> dict[int, list[dict[str, Any]]]:
        """Adapter version id → the tenants and aliases using it, and how (``stable`` or ``canary``)."""
        used: dict[int, list[dict[str, Any]]] = {}
        with self.db.session() as session:
            rows = session.exec(select(AdapterAssignment, Tenant).where(AdapterAssignment.tenant_id == Tenant.id))
            for assignment, tenant in rows:
                used.setdefault(assignment.stable_id, []).append(
                    {"tenant": tenant.name, "alias": assignment.alias, "role": "stable"}
                )
                if assignment.canary_id is not None and assignment.status == "canary":
                    used.setdefault(assignment.canary_id, []).append(
                        {"tenant": tenant.name, "alias": assignment.alias, "role": "canary",
                         "percent": assignment.canary_percent}
                    )  # fmt: skip
        return used

    def view(self, version: AdapterVersion) -> dict[str, Any]:
        return version_view(version, self.usage().get(version.id))

    def delete(self, name: str, version: int) -> AdapterVersion:
        """Remove a version no tenant uses; its files go when no other version shares them."""
        row = self.get(name, version)
        with self.db.session() as session:
            stmt = select(AdapterAssignment).where(
                or_(AdapterAssignment.stable_id == row.id, AdapterAssignment.canary_id == row.id)
            )
            if session.exec(stmt).first() is not None:
                raise Conflict(f"adapter {row.served_name!r} is assigned to a tenant; unassign it first", param="name")
            session.delete(session.get(AdapterVersion, row.id))
            session.flush()
            shared = session.exec(select(AdapterVersion.id).where(AdapterVersion.sha256 == row.sha256)).first()
        if shared is None:
            self.store.remove(row.sha256)
        return row

    def _forget_if_unreferenced(self, sha256: str) -> None:
        try:
            with self.db.session() as session:
                used = session.exec(select(AdapterVersion.id).where(AdapterVersion.sha256 == sha256)).first()
        except Exception:
            return
        if used is None:
            self.store.remove(sha256)
