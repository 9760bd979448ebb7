"""Fixtures shared by the backend tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random-weight Qwen2 model, built once per session into a temporary folder."""
    pytest.importorskip("mlx_lm")
    pytest.importorskip("tokenizers")
    from backends.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-random-qwen2")
