"""``python -m training.train SPEC.json``: a DPO or SFT LoRA run with TRL + PEFT on torch.

It reads the spec, trains, and writes into the spec's ``output_dir``: ``progress.jsonl`` (one line per
logged step: step, loss, ETA; see :mod:`training.progress`), ``adapter/`` (PEFT's
``adapter_config.json`` + ``adapter_model.safetensors``) and ``metrics.json``. Exit status 0 on
success; on failure an ``error`` line and a traceback on stderr (the runner keeps it in ``train.log``).
Heavy imports (torch, transformers, trl, peft, datasets) happen here only.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from training.progress import ProgressWriter
from training.spec import JobSpec

SIMPLE_CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def load_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not all(k in row for k in ("prompt", "chosen", "rejected")):
            raise ValueError(f"{path.name} line {number}: needs prompt, chosen and rejected")
        rows.append({"prompt": row["prompt"], "chosen": row["chosen"], "rejected": row["rejected"]})
    if not rows:
        raise ValueError(f"{path.name} has no rows")
    return rows


def _callback(progress: ProgressWriter):
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.started = time.monotonic()
            progress.write("start", total_steps=state.max_steps)

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            loss = logs.get("loss")
            if loss is None:
                return
            elapsed = time.monotonic() - self.started
            step = max(state.global_step, 1)
            eta = elapsed / step * max(state.max_steps - state.global_step, 0)
            progress.write("step", step=state.global_step, loss=float(loss), eta_seconds=round(eta, 2))

    return ProgressCallback()


def train(spec: JobSpec) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = Path(spec.output_dir)
    progress = ProgressWriter(out / "progress.jsonl")
    torch.manual_seed(spec.seed)
    tokenizer = AutoTokenizer.from_pretrained(spec.base_model)
    if tokenizer.chat_template is None:
        tokenizer.chat_template = SIMPLE_CHAT_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(spec.base_model, dtype=torch.float32)
    rows = load_rows(Path(spec.dataset_path))
    lora = LoraConfig(
        r=spec.lora_r,
        lora_alpha=spec.lora_alpha,
        lora_dropout=spec.lora_dropout,
        target_modules=spec.target_modules,
        task_type="CAUSAL_LM",
    )
    common = dict(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=spec.epochs,
        max_steps=spec.max_steps or -1,
        learning_rate=spec.learning_rate,
        per_device_train_batch_size=spec.batch_size,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        seed=spec.seed,
        use_cpu=not torch.cuda.is_available(),
        max_length=spec.max_length,
        dataset_num_proc=None,
        disable_tqdm=True,
    )
    callbacks = [_callback(progress)]
    if spec.method == "dpo":
        from trl import DPOConfig, DPOTrainer

        trainer = DPOTrainer(
            model=model,
            args=DPOConfig(beta=spec.beta, **common),
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
            peft_config=lora,
            callbacks=callbacks,
        )
    else:
        from trl import SFTConfig, SFTTrainer

        sft_rows = [{"prompt": r["prompt"], "completion": r["chosen"]} for r in rows]
        trainer = SFTTrainer(
            model=model,
            args=SFTConfig(**common),
            train_dataset=Dataset.from_list(sft_rows),
            processing_class=tokenizer,
            peft_config=lora,
            callbacks=callbacks,
        )
    result = trainer.train()
    adapter = out / "adapter"
    trainer.model.save_pretrained(str(adapter))
    tokenizer.save_pretrained(str(adapter))
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    metrics = {
        "train_loss": float(result.training_loss),
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        "steps": trainer.state.global_step,
        "rows": len(rows),
        "runtime_seconds": float(result.metrics.get("train_runtime", 0.0)),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    progress.write("done", metrics=metrics, adapter=str(adapter))
    return metrics


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m training.train SPEC.json", file=sys.stderr)
        return 2
    spec = JobSpec.from_json(Path(argv[0]).read_bytes())
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        metrics = train(spec)
    except Exception as exc:
        traceback.print_exc()
        ProgressWriter(Path(spec.output_dir) / "progress.jsonl").write("error", message=f"{type(exc).__name__}: {exc}")
        return 1
    print(json.dumps({"done": True, **metrics}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
