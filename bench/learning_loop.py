"""How long the learning loop's pieces take on this machine: DPO and SFT LoRA steps on a tiny local Qwen2
(in process, after imports), and labeling-queue operations. Prints a table.

    .venv/bin/python bench/learning_loop.py [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.storage.database import Database  # noqa: E402
from gateway.storage.models import Tenant  # noqa: E402
from tests.training.tiny_model import build_tiny_qwen2  # noqa: E402
from training.labeling import Answer, LabelingService  # noqa: E402
from training.spec import JobSpec  # noqa: E402
from training.train import train  # noqa: E402


def training_rows(root: Path, steps: int) -> list[tuple[str, str]]:
    model = build_tiny_qwen2(root / "model")
    rows = [
        {
            "prompt": [{"role": "user", "content": f"what is the refund policy {i} ?"}],
            "chosen": [{"role": "assistant", "content": "please see the refund policy , thanks"}],
            "rejected": [{"role": "assistant", "content": "no no no bad"}],
        }
        for i in range(16)
    ]
    data = root / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    table = []
    for method in ("dpo", "sft"):
        spec = JobSpec(
            tenant_id=1, dataset_id=1, dataset_path=str(data), base_model=str(model), adapter_name="bench",
            method=method, max_steps=steps, learning_rate=5e-3, output_dir=str(root / method),
        )  # fmt: skip
        started = time.perf_counter()
        metrics = train(spec)
        wall = time.perf_counter() - started
        table.append(
            (
                f"{method.upper()} LoRA r=16, {steps} steps, batch 2",
                f"{wall:.2f} s wall ({metrics['runtime_seconds']:.2f} s in trainer), "
                f"loss {metrics['first_loss']:.3f} → {metrics['last_loss']:.3f}",
            )
        )
    return table


def queue_rows(root: Path) -> list[tuple[str, str]]:
    db = Database(f"sqlite:///{root / 'bench.db'}")
    db.migrate()
    with db.session() as session:
        session.add(Tenant(name="acme"))
    service = LabelingService(db, random.Random(1))
    batch = service.create_batch(1, "bench", "candidates")
    started = time.perf_counter()
    for i in range(200):
        service.add_prompt(batch, [{"role": "user", "content": f"q{i}"}], [Answer("a"), Answer("b")])
    add = (time.perf_counter() - started) / 200
    started = time.perf_counter()
    for _ in range(200):
        item = service.next_item("rita")
        service.label("rita", item.pair_id, item.presented, "left")
    label = (time.perf_counter() - started) / 200
    db.dispose()
    return [
        ("add a prompt with 2 candidates (SQLite)", f"{add * 1000:.2f} ms"),
        ("next pair + label (SQLite, 200 pairs)", f"{label * 1000:.2f} ms"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        rows = queue_rows(root) + training_rows(root, args.steps)
    width = max(len(name) for name, _ in rows)
    print(f"{'operation':<{width}}  result")
    print(f"{'-' * width}  ------")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
