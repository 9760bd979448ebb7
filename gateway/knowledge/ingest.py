"""Turning an uploaded file into text: plain text, Markdown and PDF (pypdf, loaded only for PDFs)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from gateway.errors import InvalidRequest, PayloadTooLarge

TEXT_TYPES = {".txt": "text/plain", ".text": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown"}
PDF_TYPE = "application/pdf"


@dataclass(frozen=True, slots=True)
class Extracted:
    """A document's text, what kind of file it was, and the SHA-256 of its bytes (the dedup key)."""

    name: str
    media_type: str
    text: str
    content_hash: str
    size_bytes: int


def media_type_of(name: str, declared: str | None = None) -> str:
    """The document kind from the file name's extension (the declared content type only without one)."""
    lowered = name.lower()
    for suffix, media_type in TEXT_TYPES.items():
        if lowered.endswith(suffix):
            return media_type
    if lowered.endswith(".pdf"):
        return PDF_TYPE
    declared = (declared or "").split(";")[0].strip().lower()
    if "." not in lowered and declared in ("text/plain", "text/markdown", PDF_TYPE):
        return declared
    raise InvalidRequest(
        f"unsupported document type for {name!r}: upload .txt, .md or .pdf", param="file", code="unsupported_document"
    )


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise InvalidRequest(f"could not read the PDF: {exc}", param="file", code="unreadable_document") from None


def extract(name: str, data: bytes, max_bytes: int, declared_type: str | None = None) -> Extracted:
    """Validate and read one upload; raises ``InvalidRequest``/``PayloadTooLarge`` with the reason."""
    name = name.strip().replace("\\", "/").rsplit("/", 1)[-1][:255]
    if not name:
        raise InvalidRequest("the document needs a file name", param="file")
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"the document is {len(data)} bytes; the limit is {max_bytes}", param="file")
    if not data:
        raise InvalidRequest("the document is empty", param="file", code="empty_document")
    media_type = media_type_of(name, declared_type)
    if media_type == PDF_TYPE:
        text = _pdf_text(data)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidRequest("text documents must be UTF-8", param="file", code="unreadable_document") from None
    text = text.replace("\x00", "")
    if not text.strip():
        raise InvalidRequest("no text could be extracted from the document", param="file", code="empty_document")
    return Extracted(name, media_type, text, hashlib.sha256(data).hexdigest(), len(data))
