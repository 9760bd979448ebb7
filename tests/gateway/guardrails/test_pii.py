"""PII detection: every entity in realistic English and Turkish text, and the near-misses left alone."""

from __future__ import annotations

import pytest

from gateway.guardrails.pii import DEFAULT_ENTITIES, PATTERN_ENTITIES
from gateway.guardrails.turkish import iban_is_valid, tckn_is_valid

ALL = list(PATTERN_ENTITIES)


def found(detector, text, entities=ALL, threshold=0.4):
    return [(s.entity, text[s.start : s.end]) for s in detector.find(text, entities, threshold)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # e-mail
        ("Please reply to john.smith@acme-corp.com before Friday.", [("EMAIL_ADDRESS", "john.smith@acme-corp.com")]),
        (
            "Faturayı ayse.yilmaz@firma.com.tr adresine gönderir misiniz?",
            [("EMAIL_ADDRESS", "ayse.yilmaz@firma.com.tr")],
        ),
        ("İletişim: çağrı.öztürk@örnek.com.tr", [("EMAIL_ADDRESS", "çağrı.öztürk@örnek.com.tr")]),
        # phone numbers
        ("Call me on +1 (415) 555-0132 after 6pm.", [("PHONE_NUMBER", "+1 (415) 555-0132")]),
        ("My office line is (212) 555-0187.", [("PHONE_NUMBER", "(212) 555-0187")]),
        ("Ring the London desk on +44 20 7946 0958.", [("PHONE_NUMBER", "+44 20 7946 0958")]),
        ("Cep telefonum +90 532 123 45 67, akşam arayın.", [("PHONE_NUMBER", "+90 532 123 45 67")]),
        ("Numaram 0532 123 45 67, WhatsApp'tan yazabilirsiniz.", [("PHONE_NUMBER", "0532 123 45 67")]),
        ("Beni 05417654321 numarasından arayın.", [("PHONE_NUMBER", "05417654321")]),
        ("Telefon: (555) 987-65-43", [("PHONE_NUMBER", "(555) 987-65-43")]),
        ("Ofis: 0212 444 0 444 (santral).", [("PHONE_NUMBER", "0212 444 0 444")]),
        ("GSM: 0090 505 111 22 33", [("PHONE_NUMBER", "0090 505 111 22 33")]),
        # credit cards (Luhn-valid test numbers)
        ("Charge it to my Visa 4111 1111 1111 1111, exp 09/27.", [("CREDIT_CARD", "4111 1111 1111 1111")]),
        ("Kart numaram 5555-5555-5555-4444, CVV'yi telefonda veririm.", [("CREDIT_CARD", "5555-5555-5555-4444")]),
        ("Amex: 378282246310005", [("CREDIT_CARD", "378282246310005")]),
        # IBAN
        (
            "Ödemeyi TR33 0006 1005 1978 6457 8413 26 numaralı hesaba yapın.",
            [("IBAN_CODE", "TR33 0006 1005 1978 6457 8413 26")],
        ),
        ("IBAN: TR626506708657975432319487", [("IBAN_CODE", "TR626506708657975432319487")]),
        ("Kira için IBAN'ım TR59 4502 1074 9118 6252 7601 89.", [("IBAN_CODE", "TR59 4502 1074 9118 6252 7601 89")]),
        ("Wire the refund to DE89 3704 0044 0532 0130 00, thanks.", [("IBAN_CODE", "DE89 3704 0044 0532 0130 00")]),
        ("UK account GB82 WEST 1234 5698 7654 32.", [("IBAN_CODE", "GB82 WEST 1234 5698 7654 32")]),
        # IP addresses
        ("The VPN gateway is 203.0.113.42 and it keeps dropping.", [("IP_ADDRESS", "203.0.113.42")]),
        ("Sunucu IP'si 192.168.1.10, erişemiyorum.", [("IP_ADDRESS", "192.168.1.10")]),
        ("IPv6: 2001:db8:85a3::8a2e:370:7334 is blocked", [("IP_ADDRESS", "2001:db8:85a3::8a2e:370:7334")]),
        # URL
        ("My profile is at https://example.org/users/ayse.", [("URL", "https://example.org/users/ayse")]),
        # US SSN
        ("My SSN is 536-22-8726 for the tax form.", [("US_SSN", "536-22-8726")]),
        # T.C. Kimlik No
        ("TC kimlik numaram 10000000146, doğum tarihim 01.02.1990.", [("TR_NATIONAL_ID", "10000000146")]),
        ("Hasta T.C. No: 62601815964, randevu yarın.", [("TR_NATIONAL_ID", "62601815964")]),
        ("Kimlik no 18301661332 olan müşteri aradı.", [("TR_NATIONAL_ID", "18301661332")]),
        # MAC
        ("Device MAC 00:1A:2B:3C:4D:5E is not whitelisted.", [("MAC_ADDRESS", "00:1A:2B:3C:4D:5E")]),
    ],
)
def test_each_entity_is_found_in_realistic_text(detector, text, expected):
    assert found(detector, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # T.C. Kimlik No look-alikes: wrong check digits, leading zero, too long
        "TC kimlik numaram 12345678901 mi yoksa 12345678902 mi, emin değilim.",
        "Kimlik no: 01234567890",
        "Sipariş numarası 100000001460 olarak görünüyor.",
        # IBAN with a bad checksum (one digit changed), and a TR string one digit short
        "Ödemeyi TR33 0006 1005 1978 6457 8413 27 hesabına yapın.",
        "IBAN: TR62650670865797543231948",
        "Wire it to DE89 3704 0044 0532 0130 01.",
        # numbers that are not phone numbers
        "Sipariş no 5321234567890, kargo takip 1Z999AA10123456784.",
        "Fatura tutarı 1.234.567,89 TL, vade 30 gün.",
        "Version 3.11.7 was released on 2023-12-04.",
        # credit-card-shaped but not Luhn-valid
        "Reference 4111 1111 1111 1112 on the invoice.",
        # Turkish words and prose with no personal data
        "Toplantı saat 14:30'da, 3. katta, 12 kişilik salonda.",
        "Please summarise chapter 12 of the 2019 annual report in 300 words.",
    ],
)
def test_near_misses_are_not_personal_data(detector, text):
    assert found(detector, text, list(DEFAULT_ENTITIES)) == []


def test_one_text_with_everything(detector):
    text = (
        "Merhaba, ben Ayşe. E-postam ayse.yilmaz@example.com.tr, telefonum +90 532 123 45 67. "
        "IBAN: TR33 0006 1005 1978 6457 8413 26. Kart 4111 1111 1111 1111, IP 192.168.1.10, "
        "SSN 536-22-8726, TCKN 10000000146."
    )
    entities = [e for e, _ in found(detector, text, list(DEFAULT_ENTITIES))]
    assert entities == [
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "IBAN_CODE",
        "CREDIT_CARD",
        "IP_ADDRESS",
        "US_SSN",
        "TR_NATIONAL_ID",
    ]


def test_only_the_requested_entities_are_found(detector):
    text = "Mail me at a.b@example.com or call +90 532 123 45 67."
    assert found(detector, text, ["PHONE_NUMBER"]) == [("PHONE_NUMBER", "+90 532 123 45 67")]


def test_an_email_is_not_also_reported_as_the_url_inside_it(detector):
    assert found(detector, "write to ops@example.com.tr") == [("EMAIL_ADDRESS", "ops@example.com.tr")]


def test_turkish_checksums():
    assert tckn_is_valid("10000000146") and tckn_is_valid("626 018 159 64")
    assert not tckn_is_valid("10000000147")  # 11th digit off
    assert not tckn_is_valid("10000000136")  # 10th digit off
    assert not tckn_is_valid("00000000000")
    assert iban_is_valid("TR33 0006 1005 1978 6457 8413 26") and iban_is_valid("tr330006100519786457841326")
    assert not iban_is_valid("TR33 0006 1005 1978 6457 8413 62")  # two digits swapped
    assert not iban_is_valid("TR33")


def test_the_email_domain_check_never_touches_the_network(detector, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert found(detector, "x@brand-new-domain.istanbul") == [("EMAIL_ADDRESS", "x@brand-new-domain.istanbul")]
