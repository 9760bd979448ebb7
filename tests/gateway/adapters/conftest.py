"""Adapters built once per session (peft and torch take seconds to import)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gateway.adapters.builders import peft_adapter


@pytest.fixture(scope="session")
def peft_folder(tmp_path_factory) -> Path:
    """A real PEFT LoRA adapter (rank 4 on q_proj and v_proj of a tiny random Qwen2), saved by peft."""
    return peft_adapter(tmp_path_factory.mktemp("peft") / "adapter")


@pytest.fixture(scope="session")
def peft_rank32(tmp_path_factory) -> Path:
    return peft_adapter(tmp_path_factory.mktemp("peft32") / "adapter", rank=32)
