"""Builds bench/data/pii.jsonl: hand-written EN+TR sentence templates filled with synthetic values.

Values are made here, never taken from real people: e-mail addresses on example domains, phone
numbers in the ranges each country's format allows, card numbers that pass Luhn, IBANs and
T.C. Kimlik numbers that pass their checksums — and, for the near-misses, the same shapes with a
broken check digit. Re-running with the same seed rewrites the same file:

    python bench/data/make_pii.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).parent
SEED = 20261122

FIRST = ["ayse", "mehmet", "zeynep", "ali", "elif", "can", "john", "sarah", "michael", "emma", "deniz", "burak"]
LAST = ["yilmaz", "kaya", "demir", "sahin", "celik", "smith", "jones", "brown", "ozturk", "aydin"]
DOMAINS = ["example.com", "example.org", "firma.com.tr", "ornek.com.tr", "mail.example.net", "acme.co.uk", "uni.edu.tr"]


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return body + str((10 - total % 10) % 10)


def tckn(rng: random.Random, valid: bool = True) -> str:
    d = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(8)]
    odd, even = sum(d[0:9:2]), sum(d[1:8:2])
    d.append((odd * 7 - even) % 10)
    d.append(sum(d) % 10)
    if not valid:
        d[10] = (d[10] + rng.randint(1, 9)) % 10
    return "".join(map(str, d))


def iban(country: str, bban: str, valid: bool = True) -> str:
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(digits) % 97
    if not valid:
        check = (check + 1) % 100 or 2
    return f"{country}{check:02d}{bban}"


def grouped(value: str) -> str:
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4))


def make_values(rng: random.Random) -> dict:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    n = lambda k: "".join(str(rng.randint(0, 9)) for _ in range(k))
    tr_bban = f"{rng.randint(10, 99999):05d}0{n(16)}"
    de_bban = n(18)
    gb_bban = "WEST" + n(14)
    mobile = f"5{rng.choice('0345')}{rng.randint(0, 9)}"
    exch = str(rng.randint(200, 999))
    area = rng.choice(["212", "415", "312", "617", "202", "305", "206", "512", "713", "646", "303", "404"])
    rest = (n(3), n(2), n(2))
    return {
        "email": f"{first}.{last}{rng.choice(['', str(rng.randint(1, 99))])}@{rng.choice(DOMAINS)}",
        "tr_mobile": rng.choice(
            [
                f"+90 {mobile} {rest[0]} {rest[1]} {rest[2]}",
                f"0{mobile} {rest[0]} {rest[1]} {rest[2]}",
                f"0{mobile}{''.join(rest)}",
                f"({mobile}) {rest[0]}-{rest[1]}-{rest[2]}",
                f"+90{mobile}{''.join(rest)}",
            ]
        ),
        "tr_landline": f"0{rng.choice(['212', '216', '312', '232'])} {n(3)} {n(2)} {n(2)}",
        "us_phone": rng.choice([f"({area}) {exch}-{n(4)}", f"+1 {area} {exch} {n(4)}", f"{area}-{exch}-{n(4)}"]),
        "uk_phone": f"+44 20 7946 0{n(3)}",
        "tr_iban": rng.choice([grouped(iban("TR", tr_bban)), iban("TR", tr_bban)]),
        "tr_iban_bad": grouped(iban("TR", tr_bban, valid=False)),
        "de_iban": grouped(iban("DE", de_bban)),
        "gb_iban": grouped(iban("GB", gb_bban)),
        "ipv4": f"{rng.choice([10, 172, 192, 203, 85])}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "ipv6": f"2001:db8:{rng.randint(0, 65535):x}::{rng.randint(1, 65535):x}",
        "ssn": f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
        "tckn": tckn(rng),
        "tckn_bad": tckn(rng, valid=False),
        "name": f"{first.title()} {last.title()}",
    }


def card(rng: random.Random, valid: bool = True) -> str:
    kind = rng.choice(["visa", "mc", "amex"])
    if kind == "amex":
        number = luhn_complete(rng.choice(["34", "37"]), 15, rng)
        if not valid:
            number = number[:-1] + str((int(number[-1]) + 1) % 10)
        return rng.choice([number, f"{number[:4]} {number[4:10]} {number[10:]}"])
    number = luhn_complete("4" if kind == "visa" else rng.choice(["51", "53", "55"]), 16, rng)
    if not valid:
        number = number[:-1] + str((int(number[-1]) + 1) % 10)
    sep = rng.choice(["", " ", "-"])
    return sep.join(number[i : i + 4] for i in range(0, 16, 4))


# (lang, template, [(placeholder, entity)]) — entity None marks a near-miss that must not be found
POSITIVE = [
    ("en", "Hi, this is {name}. You can reach me at {email} if anything changes.", [("email", "EMAIL_ADDRESS")]),
    ("en", "Please send the signed contract to {email} and copy legal.", [("email", "EMAIL_ADDRESS")]),
    ("en", "My callback number is {us_phone}, any time after 5pm.", [("us_phone", "PHONE_NUMBER")]),
    ("en", "Our London office can be reached on {uk_phone} during business hours.", [("uk_phone", "PHONE_NUMBER")]),
    ("en", "Charge the deposit to card {card} and email the receipt.", [("card", "CREDIT_CARD")]),
    ("en", "The refund should go to IBAN {de_iban} (Deutsche Bank).", [("de_iban", "IBAN_CODE")]),
    ("en", "Supplier bank details: {gb_iban}, reference INV-2291.", [("gb_iban", "IBAN_CODE")]),
    ("en", "Users from {ipv4} are getting 403 errors since this morning.", [("ipv4", "IP_ADDRESS")]),
    ("en", "Whitelist {ipv6} on the firewall, it's the new monitoring host.", [("ipv6", "IP_ADDRESS")]),
    ("en", "For the W-2 form my SSN is {ssn}.", [("ssn", "US_SSN")]),
    (
        "en",
        "Customer {name} ({email}, {us_phone}) disputes the charge on {card}.",
        [("email", "EMAIL_ADDRESS"), ("us_phone", "PHONE_NUMBER"), ("card", "CREDIT_CARD")],
    ),
    ("en", "Turkish colleague's mobile is {tr_mobile}; she prefers WhatsApp.", [("tr_mobile", "PHONE_NUMBER")]),
    (
        "en",
        "Patient ID (T.C.) {tckn} was admitted on Monday; summarise the discharge letter.",
        [("tckn", "TR_NATIONAL_ID")],
    ),
    ("en", "Log line: login failed for {email} from {ipv4}.", [("email", "EMAIL_ADDRESS"), ("ipv4", "IP_ADDRESS")]),
    ("tr", "Merhaba, ben {name}. E-posta adresim {email}, dönüş yaparsanız sevinirim.", [("email", "EMAIL_ADDRESS")]),
    ("tr", "Cep telefonum {tr_mobile}, akşam 6'dan sonra arayabilirsiniz.", [("tr_mobile", "PHONE_NUMBER")]),
    ("tr", "Kargo için numaram: {tr_mobile}", [("tr_mobile", "PHONE_NUMBER")]),
    ("tr", "Ofis telefonumuz {tr_landline}, dahili 204.", [("tr_landline", "PHONE_NUMBER")]),
    ("tr", "Kira ödemesini {tr_iban} IBAN numaralı hesaba yatırdım.", [("tr_iban", "IBAN_CODE")]),
    ("tr", "Maaşımın yattığı hesap: {tr_iban}. Dekont ekte.", [("tr_iban", "IBAN_CODE")]),
    ("tr", "T.C. kimlik numaram {tckn}, başvuru formunu doldurur musunuz?", [("tckn", "TR_NATIONAL_ID")]),
    ("tr", "Hasta {name}, TCKN {tckn}, tahlil sonuçlarını yorumlar mısın?", [("tckn", "TR_NATIONAL_ID")]),
    ("tr", "Kartımın numarası {card}, son kullanma 08/28. Taksit yapılır mı?", [("card", "CREDIT_CARD")]),
    ("tr", "Sunucunun IP adresi {ipv4}; SSH bağlantısı zaman aşımına uğruyor.", [("ipv4", "IP_ADDRESS")]),
    (
        "tr",
        "Müşteri bilgileri: {name}, {email}, {tr_mobile}, TC {tckn}.",
        [("email", "EMAIL_ADDRESS"), ("tr_mobile", "PHONE_NUMBER"), ("tckn", "TR_NATIONAL_ID")],
    ),
    (
        "tr",
        "Fatura adresi değişti; yeni IBAN {tr_iban}, iletişim {email}.",
        [("tr_iban", "IBAN_CODE"), ("email", "EMAIL_ADDRESS")],
    ),
    ("tr", "Almanya'daki hesabım {de_iban}, oraya gönderebilir misiniz?", [("de_iban", "IBAN_CODE")]),
]

NEGATIVE = [
    ("tr", "TC kimlik no olarak {tckn_bad} yazmışım, doğru mu kontrol eder misin?", "tckn_bad"),
    ("en", "Is {tckn_bad} a valid Turkish ID? I think a digit is wrong.", "tckn_bad"),
    ("tr", "IBAN'ı {tr_iban_bad} olarak kopyalamışım ama banka kabul etmedi.", "tr_iban_bad"),
    ("en", "The bank rejected {tr_iban_bad}; maybe I mistyped it.", "tr_iban_bad"),
    ("en", "Reference number {card_bad} appears on the shipping label.", "card_bad"),
    ("tr", "Sipariş numaranız {order} olarak kaydedildi.", "order"),
    ("en", "Invoice total: {amount} EUR, due in 30 days.", "amount"),
    ("tr", "Toplantı {date} tarihinde saat 14:30'da, 3. katta.", "date"),
    ("en", "We upgraded from version {version} last week.", "version"),
    ("tr", "Ürün barkodu {barcode}, stokta 12 adet var.", "barcode"),
]


def main() -> None:
    rng = random.Random(SEED)
    rows = []
    for round_ in range(9):
        for lang, template, slots in POSITIVE:
            values = make_values(rng)
            values["card"] = card(rng)
            text = template.format(**values)
            labels = [{"entity": entity, "value": values[key]} for key, entity in slots]
            rows.append({"lang": lang, "text": text, "labels": labels})
    for _ in range(8):
        for lang, template, key in NEGATIVE:
            values = make_values(rng)
            values.update(
                card_bad=card(rng, valid=False),
                order=f"{rng.randint(10**12, 10**13 - 1)}",
                amount=f"{rng.randint(1, 999)}.{rng.randint(100, 999)},{rng.randint(10, 99)}",
                date=f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.2026",
                version=f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 30)}",
                barcode=f"869{rng.randint(10**9, 10**10 - 1)}",
            )
            rows.append({"lang": lang, "text": template.format(**values), "labels": [], "near_miss": values[key]})
    with (HERE / "pii.jsonl").open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} examples ({sum(len(r['labels']) for r in rows)} labelled entities)")


if __name__ == "__main__":
    main()
