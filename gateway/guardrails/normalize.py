"""Text folding shared by the pattern checks: Unicode-compatible, Turkish-aware, diacritics off.

``fold("ÖNCEKİ Talimatları  UNUT")`` is ``"onceki talimatlari unut"``: rules are written once in
plain ASCII and still match text typed with or without Turkish letters, in any case, in
full-width forms, or with zero-width characters slipped between the letters.
"""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")
_SPACES = re.compile(r"\s+")
# Turkish dotted/dotless I first (str.lower() would turn "İ" into "i̇"), then the letters that
# NFKD does not decompose into ASCII + combining mark.
_TURKISH_LOWER = str.maketrans({"İ": "i", "I": "ı"})
_ASCII = str.maketrans({"ı": "i", "ß": "ss", "æ": "ae", "ø": "o", "đ": "d", "ł": "l"})


def turkish_lower(text: str) -> str:
    """Lower-case with Turkish rules for I/İ (``"IŞIK"`` → ``"ışık"``, ``"İZMİR"`` → ``"izmir"``)."""
    return text.translate(_TURKISH_LOWER).lower()


def fold(text: str) -> str:
    """Lower-case ASCII form of ``text`` with whitespace collapsed; for matching, never for output."""
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))
    text = turkish_lower(text).translate(_ASCII)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _SPACES.sub(" ", text).strip()
