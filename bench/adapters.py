"""Adapter figures: accepting a realistic PEFT upload (validation + SHA-256 + atomic store) and the
per-request cost of picking the stable/canary arm. Prints a table.

    .venv/bin/python -m bench.adapters
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from gateway.adapters.book import AdapterBook, AssignmentRecord, ServedAdapter
from gateway.adapters.registry import AdapterRegistry, ServedBase
from gateway.adapters.settings import AdapterSettings
from gateway.adapters.store import AdapterStore
from gateway.storage.database import Database

HIDDEN, LAYERS, KV, FFN = 3584, 28, 512, 18944  # Qwen2.5-7B shapes
MODULES = {"q_proj": (HIDDEN, HIDDEN), "k_proj": (HIDDEN, KV), "v_proj": (HIDDEN, KV), "o_proj": (HIDDEN, HIDDEN),
           "gate_proj": (HIDDEN, FFN), "up_proj": (HIDDEN, FFN), "down_proj": (FFN, HIDDEN)}  # fmt: skip


def realistic_adapter(folder: Path, rank: int) -> Path:
    folder.mkdir(parents=True)
    tensors = {}
    for layer in range(LAYERS):
        for module, (fan_in, fan_out) in MODULES.items():
            block = "mlp" if module in ("gate_proj", "up_proj", "down_proj") else "self_attn"
            prefix = f"base_model.model.model.layers.{layer}.{block}.{module}"
            tensors[f"{prefix}.lora_A.weight"] = np.zeros((rank, fan_in), np.float16)
            tensors[f"{prefix}.lora_B.weight"] = np.zeros((fan_out, rank), np.float16)
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    config = {"peft_type": "LORA", "r": rank, "lora_alpha": 2 * rank, "target_modules": list(MODULES),
              "base_model_name_or_path": "Qwen/Qwen2.5-7B-Instruct"}  # fmt: skip
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = Database(f"sqlite:///{root / 'gw.db'}")
        db.migrate()
        bases = {"qwen2.5-7b-instruct": ServedBase("qwen2.5-7b-instruct", frozenset({"peft"}), 64)}
        registry = AdapterRegistry(db, AdapterStore(root / "adapters"), AdapterSettings(), bases)
        for rank in (16, 64):
            folder = realistic_adapter(root / f"r{rank}", rank)
            archive = root / f"r{rank}.zip"
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
                for f in folder.iterdir():
                    zf.write(f, f.name)
            started = time.perf_counter()
            version = registry.upload_archive(archive, archive.name, f"r{rank}", "qwen2.5-7b-instruct", "bench")
            seconds = time.perf_counter() - started
            rows.append(
                (
                    f"accept a rank-{rank} PEFT zip for a 7B model ({version.size_bytes / 1e6:.0f} MB)",
                    f"{seconds:.2f} s",
                )
            )
        db.dispose()
    book = AdapterBook(Path("."))
    stable = ServedAdapter(1, "legal-v1", "qwen", "peft", "a" * 64)
    canary = ServedAdapter(2, "legal-v2", "qwen", "peft", "b" * 64)
    book.assignments = {(1, "legal"): AssignmentRecord(1, "legal", stable, canary, 10.0, "request")}
    samples = []
    for batch in range(20):
        started = time.perf_counter()
        for i in range(10_000):
            book.choose(1, "legal", f"req_{batch}_{i}", None)
        samples.append((time.perf_counter() - started) / 10_000)
    rows.append(("pick stable/canary for one request (median of 20×10k)", f"{statistics.median(samples) * 1e6:.1f} µs"))
    width = max(len(r[0]) for r in rows)
    print(f"| {'what'.ljust(width)} | figure |\n|{'-' * (width + 2)}|--------|")
    for what, figure in rows:
        print(f"| {what.ljust(width)} | {figure} |")


if __name__ == "__main__":
    main()
