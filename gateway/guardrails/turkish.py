"""Presidio recognisers for Turkish personal data, with the checksums that tell real numbers from look-alikes.

- ``TcKimlikRecognizer``: T.C. Kimlik No, 11 digits, first not 0, digit 10 = (7·odd − even) mod 10,
  digit 11 = sum of the first ten mod 10.
- ``TrIbanRecognizer``: ``TR`` + 24 digits (2 check digits, 5 bank, 1 reserved, 16 account), written
  plain or in groups of four, valid only when the ISO 13616 mod-97 check gives 1.
- ``TrMobileRecognizer``: Turkish mobile numbers ``+90 5xx xxx xx xx`` / ``0 5xx …`` / ``(5xx) …``.

The checksum functions are plain Python so they can be tested and reused without Presidio.
"""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import Pattern, PatternRecognizer

_NON_DIGIT = re.compile(r"\D")


def tckn_is_valid(value: str) -> bool:
    """Whether ``value`` (separators allowed) is a T.C. Kimlik No that passes both check digits."""
    digits = _NON_DIGIT.sub("", value)
    if len(digits) != 11 or digits[0] == "0":
        return False
    d = [int(c) for c in digits]
    odd, even = sum(d[0:9:2]), sum(d[1:8:2])
    return (odd * 7 - even) % 10 == d[9] and sum(d[:10]) % 10 == d[10]


def iban_is_valid(value: str) -> bool:
    """ISO 13616 mod-97 check of an IBAN (spaces and hyphens allowed, any case)."""
    compact = re.sub(r"[\s-]", "", value).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


class TcKimlikRecognizer(PatternRecognizer):
    PATTERNS: ClassVar[list[Pattern]] = [Pattern("tckn", r"(?<![\d.,/-])[1-9]\d{10}(?![\d])", 0.3)]
    CONTEXT: ClassVar[list[str]] = ["tc", "kimlik", "tckn", "t.c.", "kimlik no", "nüfus", "national id", "turkish id"]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="TR_NATIONAL_ID",
            name="TcKimlikRecognizer",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool:
        return tckn_is_valid(pattern_text)


class TrIbanRecognizer(PatternRecognizer):
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("tr-iban-grouped", r"(?<![A-Za-z0-9])TR\d{2}(?:[ -]?\d{4}){5}[ -]?\d{2}(?![0-9])", 0.5),
    ]
    CONTEXT: ClassVar[list[str]] = ["iban", "hesap", "banka", "account"]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="IBAN_CODE",
            name="TrIbanRecognizer",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool:
        return iban_is_valid(pattern_text)


class TrMobileRecognizer(PatternRecognizer):
    # Mobile operators use 50x–56x; separators may be spaces, dots or hyphens.
    _SEP = r"[ .-]?"
    _LOCAL = r"\(?5[0-6]\d\)?" + _SEP + r"\d{3}" + _SEP + r"\d{2}" + _SEP + r"\d{2}"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("tr-mobile-intl", r"(?<![\w+])(?:\+|00)90[ .-]?" + _LOCAL + r"(?!\d)", 0.75),
        Pattern("tr-mobile-national", r"(?<![\w+])0[ .-]?" + _LOCAL + r"(?!\d)", 0.7),
        Pattern("tr-mobile-bare", r"(?<![\w+])\(?5[0-6]\d\)?[ .-]\d{3}[ .-]\d{2}[ .-]\d{2}(?!\d)", 0.6),
    ]
    CONTEXT: ClassVar[list[str]] = ["telefon", "cep", "gsm", "numara", "mobile", "phone", "ara", "whatsapp"]

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entity="PHONE_NUMBER",
            name="TrMobileRecognizer",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool:
        digits = _NON_DIGIT.sub("", pattern_text)
        national = digits[-10:]
        return len(national) == 10 and national[0] == "5"
