"""Splitting a document's text into overlapping chunks of about ``size`` tokens.

A token here is a whitespace-separated word (an estimate that needs no tokenizer); each chunk
keeps the original spacing of its words, and consecutive chunks share ``overlap`` words so a
sentence cut at a boundary is whole in one of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"\S+\s*")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a document: its position and text."""

    index: int
    text: str


def chunk_text(text: str, size: int, overlap: int) -> list[Chunk]:
    """Chunks of ``size`` words, each starting ``size - overlap`` words after the previous one."""
    if overlap >= size:
        raise ValueError("overlap must be smaller than size")
    words = _WORD.findall(text.strip())
    if not words:
        return []
    step = size - overlap
    chunks = []
    start = 0
    while True:
        piece = "".join(words[start : start + size]).strip()
        chunks.append(Chunk(len(chunks), piece))
        if start + size >= len(words):
            break
        start += step
    return chunks


def count_tokens(text: str) -> int:
    """The token estimate used for the context budget: words, at least one per four characters."""
    return max(len(text.split()), (len(text) + 3) // 4)
