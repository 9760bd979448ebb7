"""Realistic test documents, and a minimal PDF writer (text on pages, Helvetica) for upload tests."""

from __future__ import annotations

VACATION_POLICY = """# Acme vacation policy

Every full-time employee receives 24 days of paid annual leave per calendar year. Unused leave
days may be carried over into the next year, up to a maximum of 5 days, and must be used before
the end of March. Requests for leave longer than two weeks need the approval of a director.

Public holidays are not counted as leave days. Part-time employees receive leave in proportion
to their contracted hours.
"""

EXPENSES_POLICY = """Travel expenses

Employees travelling for work book economy class flights through the company travel portal.
Hotel costs are reimbursed up to 150 euros per night in Europe. Meal expenses are covered up to
40 euros per day; receipts must be uploaded within 30 days of the trip.
"""

GLOBEX_SECRET = """Globex project Falcon

The launch code of project Falcon is ZEBRA-7731. The Falcon satellite will launch from the
northern site in October; only the Globex board knows the budget, which is 42 million dollars.
"""

TURKISH_GUIDE = """İzin yönetmeliği

Her tam zamanlı çalışan yılda 24 gün ücretli yıllık izin hakkına sahiptir. Kullanılmayan izin
günleri en fazla 5 gün olmak üzere bir sonraki yıla devredilebilir.
"""


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[list[str]]) -> bytes:
    """A valid PDF with one text line per entry on each page (pypdf extracts them back)."""
    objects: list[bytes] = []
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{pid} 0 R" for pid in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for index, lines in enumerate(pages):
        stream = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({_escape(line)}) Tj T*" for line in lines) + " ET"
        content_id = page_ids[index] + 1
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {content_id} 0 R >>".encode()
        )
        data = stream.encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
