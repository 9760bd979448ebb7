"""MLX backends: SFT LoRA with ``mlx_lm.lora`` (Apple Silicon; runs on CPU here too).

``python -m training.mlx_train spec.json`` converts the dataset to mlx-lm's ``prompt``/``completion``
JSONL, runs ``mlx_lm.lora`` and turns its ``Iter N: Train loss X`` lines into progress lines.
"""

from __future__ import annotations

from training.runners.local import LocalRunner


class MlxRunner(LocalRunner):
    name = "mlx"
    module = "training.mlx_train"
