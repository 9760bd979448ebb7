"""Where training jobs run. A runner is small: ``launch``, ``alive``, ``cancel``.

- :class:`~training.runners.local.LocalRunner`: a subprocess ``python -m training.train`` (TRL + PEFT on torch).
- :class:`~training.runners.mlx.MlxRunner`: a subprocess around ``mlx_lm.lora`` for MLX backends.
- :class:`~training.runners.kubernetes.KubernetesRunner`: a ``batch/v1`` Job (rendered from the same spec).
"""

from training.runners.base import Launched, Runner, RunnerError

__all__ = ["Launched", "Runner", "RunnerError"]
