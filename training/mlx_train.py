"""``python -m training.mlx_train SPEC.json``: SFT LoRA with ``mlx_lm.lora`` for MLX backends.

The dataset's ``prompt`` + ``chosen`` become mlx-lm's chat format (``{"messages": [...]}``) in
``mlx_data/train.jsonl`` (and ``valid.jsonl``); LoRA rank, scale (alpha / rank), dropout and the
target modules go into an mlx-lm config file. ``Iter N: Train loss X`` lines (or its table rows) become
progress lines; the adapter (``adapters.safetensors`` + ``adapter_config.json``, mlx-lm's format)
lands in ``adapter/``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from training.progress import ProgressWriter
from training.spec import JobSpec
from training.train import load_rows

ITER_LINE = re.compile(r"Iter (\d+): Train loss ([0-9.]+)|^\s*(\d+)\s+(\d+\.\d+)\s")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def prepare(spec: JobSpec, out: Path) -> tuple[Path, Path, int]:
    rows = load_rows(Path(spec.dataset_path))
    data = out / "mlx_data"
    data.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps({"messages": r["prompt"] + r["chosen"]}) + "\n" for r in rows)
    (data / "train.jsonl").write_text(lines)
    (data / "valid.jsonl").write_text(lines)
    iters = spec.max_steps or max(1, int(spec.epochs * len(rows) / spec.batch_size))
    config = out / "mlx_lora.json"
    config.write_text(
        json.dumps(
            {
                "lora_parameters": {
                    "rank": spec.lora_r,
                    "scale": spec.lora_alpha / spec.lora_r,
                    "dropout": spec.lora_dropout,
                    "keys": [f"self_attn.{m}" for m in spec.target_modules],
                }
            }
        )
    )
    return data, config, iters


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec = JobSpec.from_json(Path(argv[0]).read_bytes())
    out = Path(spec.output_dir)
    progress = ProgressWriter(out / "progress.jsonl")
    try:
        data, config, iters = prepare(spec, out)
    except Exception as exc:
        progress.write("error", message=f"{type(exc).__name__}: {exc}")
        return 1
    command = [
        sys.executable,
        "-m",
        "mlx_lm",
        "lora",
        "--model",
        spec.base_model,
        "--train",
        "--data",
        str(data),
        "--iters",
        str(iters),
        "--batch-size",
        str(min(spec.batch_size, 1_000)),
        "--learning-rate",
        str(spec.learning_rate),
        "--adapter-path",
        str(out / "adapter"),
        "--steps-per-report",
        "1",
        "--steps-per-eval",
        str(iters + 1),
        "--val-batches",
        "1",
        "--num-layers",
        "-1",
        "--seed",
        str(spec.seed),
        "--max-seq-length",
        str(spec.max_length),
        "-c",
        str(config),
    ]
    progress.write("start", total_steps=iters)
    started, losses = time.monotonic(), []
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        found = ITER_LINE.search(ANSI.sub("", line))
        if found:
            step, loss = int(found.group(1) or found.group(3)), float(found.group(2) or found.group(4))
            losses.append(loss)
            eta = (time.monotonic() - started) / step * max(iters - step, 0)
            progress.write("step", step=step, loss=loss, eta_seconds=round(eta, 2))
    code = process.wait()
    if code != 0:
        progress.write("error", message=f"mlx_lm.lora exited with status {code}")
        return code
    metrics = {
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        "steps": iters,
        "runtime_seconds": round(time.monotonic() - started, 2),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    progress.write("done", metrics=metrics, adapter=str(out / "adapter"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
