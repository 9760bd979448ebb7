"""Chunking with overlap, and the text extracted from uploads (text, Markdown, PDF) with clear errors."""

from __future__ import annotations

import hashlib

import pytest

from gateway.errors import InvalidRequest, PayloadTooLarge
from gateway.knowledge.chunking import chunk_text
from gateway.knowledge.ingest import extract
from tests.gateway.knowledge.documents import VACATION_POLICY, make_pdf


def test_chunks_overlap_and_cover_every_word():
    words = [f"w{i}" for i in range(100)]
    chunks = chunk_text(" ".join(words), size=30, overlap=10)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    pieces = [c.text.split() for c in chunks]
    assert all(len(p) <= 30 for p in pieces)
    for previous, current in zip(pieces, pieces[1:]):
        assert previous[-10:] == current[:10]
    covered = {w for p in pieces for w in p}
    assert covered == set(words)
    assert pieces[-1][-1] == "w99"


def test_short_text_is_one_chunk_and_blank_text_none():
    assert [c.text for c in chunk_text("  just a few words  ", 30, 10)] == ["just a few words"]
    assert chunk_text(" \n\t ", 30, 10) == []
    with pytest.raises(ValueError):
        chunk_text("x", 10, 10)


def test_chunks_keep_the_original_spacing():
    text = "Line one.\nLine two.\n\nNext paragraph."
    assert chunk_text(text, 50, 5)[0].text == text


def test_text_markdown_and_pdf_are_read():
    md = extract("policy.md", VACATION_POLICY.encode(), 10**6)
    assert md.media_type == "text/markdown" and "24 days" in md.text
    assert md.content_hash == hashlib.sha256(VACATION_POLICY.encode()).hexdigest()
    txt = extract("notes.txt", "İzin günleri: 24".encode(), 10**6)
    assert txt.media_type == "text/plain" and txt.text == "İzin günleri: 24"
    pdf = extract("handbook.pdf", make_pdf([["Leave: 24 days per year."], ["Carry over: 5 days."]]), 10**6)
    assert pdf.media_type == "application/pdf"
    assert "24 days per year" in pdf.text and "Carry over" in pdf.text


@pytest.mark.parametrize(
    ("name", "data", "error", "code"),
    [
        ("slides.pptx", b"PK\x03\x04", InvalidRequest, "unsupported_document"),
        ("empty.txt", b"", InvalidRequest, "empty_document"),
        ("blank.md", b"   \n ", InvalidRequest, "empty_document"),
        ("latin1.txt", "café".encode("latin-1"), InvalidRequest, "unreadable_document"),
        ("broken.pdf", b"%PDF-1.4 this is not a pdf", InvalidRequest, None),
        ("big.txt", b"x" * 2048, PayloadTooLarge, "request_too_large"),
    ],
)
def test_bad_uploads_are_refused_with_the_reason(name, data, error, code):
    with pytest.raises(error) as caught:
        extract(name, data, 1024)
    assert caught.value.param == "file"
    if code:
        assert caught.value.code == code
