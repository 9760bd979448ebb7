"""LoRA adapters for the in-process MLX backend: a bounded LRU of models with an adapter applied.

Each entry is the base model loaded again with ``mlx_lm``'s ``load_adapters`` applied (LoRA
layers wrapping the target modules, weights from ``adapters.safetensors``), so the base model
itself stays untouched. At most ``max_loaded`` adapted models are kept; the least recently
used one is dropped first. Used only on the backend's worker thread.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any


class AdapterCache:
    """Adapter folder → the loaded object built from it, least recently used dropped first."""

    def __init__(self, max_loaded: int) -> None:
        self.max_loaded = max(1, max_loaded)
        self._entries: OrderedDict[Path, Any] = OrderedDict()
        self.loads = 0

    def get(self, folder: Path, build: Callable[[Path], Any]) -> Any:
        if folder in self._entries:
            self._entries.move_to_end(folder)
            return self._entries[folder]
        value = build(folder)
        self.loads += 1
        self._entries[folder] = value
        while len(self._entries) > self.max_loaded:
            self._entries.popitem(last=False)
        return value

    def loaded(self) -> list[Path]:
        return list(self._entries)


def load_adapted_model(model_path: str, adapter_folder: Path) -> Any:
    """The base model at ``model_path`` with the MLX LoRA adapter in ``adapter_folder`` applied."""
    from mlx_lm.utils import load_adapters, load_model

    model, _ = load_model(Path(model_path))
    model = load_adapters(model, str(adapter_folder))
    model.eval()
    return model
