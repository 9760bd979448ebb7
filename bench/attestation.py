"""What attesting an answer costs: the synchronous part on the response path, and the audit-chain write.

    .venv/bin/python bench/attestation.py [--requests 3000] [--postgres-url URL]

Measures, in microseconds (p50/p99):
- the pieces of ``AttestationService.attest`` (output hashing, payload with the messages hash,
  RFC 8785 + Ed25519 signature) and the whole call, for a short chat and for a 10 KB prompt;
  the whole call is timed with the background writer running, as in the gateway;
- the audit-chain write on SQLite and PostgreSQL: one transaction holding the chain lock,
  reading the head and inserting attestation rows + entries, for batches of 1 (an idle
  gateway: every attestation alone) and of 50 (a busy one), per transaction and per
  attestation; an admin action (``AuditLog.append``);
- saturated throughput: attestations persisted per second when the writer never catches up.

PostgreSQL runs in a fresh database made for the run (skipped with the reason if unreachable).
Each row gives wall-clock and this thread's CPU time: on a shared or busy machine the CPU columns
are the stable measure of what the code costs; the wall columns add waiting (for the database,
the disk, the GIL held by the writer thread, and other processes).
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gateway.attestation import AttestationService, KeyEncryptionKey, Output
from gateway.attestation.payload import build_payload
from gateway.attestation.signer import Signer
from gateway.attestation.writer import PendingAttestation
from gateway.storage.database import Database

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

SHORT = {
    "model": "support",
    "messages": [{"role": "system", "content": "Kısa cevap ver."}, {"role": "user", "content": "Merhaba, nasılsın?"}],
    "temperature": 0.7,
    "max_tokens": 256,
}
LONG = {
    **SHORT,
    "messages": [SHORT["messages"][0], {"role": "user", "content": "Sözleşme maddesi: " + "x y z " * 1700}],
}
COMPLETION = {
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "İyiyim, teşekkürler! " * 20}, "finish_reason": "stop"}
    ]
}


def pct(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.99) - 1)]


class Samples(list):
    """Wall-clock microseconds; ``cpu`` holds this thread's CPU microseconds for the same calls."""

    def __init__(self) -> None:
        super().__init__()
        self.cpu: list[float] = []


def timed(function, n: int) -> Samples:
    samples = Samples()
    for _ in range(n):
        cpu = time.thread_time_ns()
        started = time.perf_counter_ns()
        function()
        samples.append((time.perf_counter_ns() - started) / 1000)
        samples.cpu.append((time.thread_time_ns() - cpu) / 1000)
    return samples


def per_item(samples: Samples, n: int) -> Samples:
    scaled = Samples()
    scaled.extend(s / n for s in samples)
    scaled.cpu.extend(s / n for s in samples.cpu)
    return scaled


def attest_costs(service: AttestationService, n: int) -> list[tuple[str, Samples]]:
    signer = Signer(service.keys.active)
    now = datetime.now(UTC)
    rows = []
    for label, request in (("short chat", SHORT), ("10 KB prompt", LONG)):
        output = Output.from_completion(COMPLETION)

        def payload(request=request, output=output):
            return build_payload(
                request_id="req_x",
                tenant="HQ",
                model="support",
                backend="gpu-1",
                upstream_model="qwen",
                request=request,
                output=output,
                created=now,
                kid=signer.key.kid,
                prev_hash="0" * 64,
            )

        built = payload()
        rows.append((f"output hashes ({label})", timed(lambda: Output.from_completion(COMPLETION), n)))
        rows.append((f"payload incl. messages hash ({label})", timed(payload, n)))
        rows.append((f"JCS + Ed25519 sign ({label})", timed(lambda built=built: signer.sign(built), n)))
        counter = iter(range(10**9))

        def whole(request=request, counter=counter):
            service.attest(
                request_id=f"req_{secrets.token_hex(6)}_{next(counter)}",
                tenant_id=1,
                tenant="HQ",
                model="support",
                backend="gpu-1",
                upstream_model="qwen",
                request=request,
                output=Output.from_completion(COMPLETION),
            )

        rows.append((f"attest() whole call ({label})", timed(whole, n)))
        service.flush(60)
    rows.append(("Ed25519 sign alone (1 KB)", timed(lambda: signer.key.private_key.sign(b"x" * 1024), n)))
    return rows


def chain_costs(service: AttestationService, n: int) -> list[tuple[str, Samples]]:
    writer = service._writer  # the real write path, timed directly
    one = service.attest(
        request_id="req_template",
        tenant_id=1,
        tenant="HQ",
        model="support",
        backend="gpu-1",
        upstream_model="qwen",
        request=SHORT,
        output=Output.from_completion(COMPLETION),
    )
    service.flush(60)
    counter = iter(range(10**9))

    def batch(size: int) -> list[PendingAttestation]:
        return [PendingAttestation(f"req_b{next(counter)}_{secrets.token_hex(4)}", 1, one) for _ in range(size)]

    rows = []
    singles = timed(lambda: writer._write(batch(1)), n)
    rows.append(("chain write, batch of 1 (per attestation)", singles))
    fifties = timed(lambda: writer._write(batch(50)), max(20, n // 50))
    rows.append(("chain write, batch of 50 (per transaction)", fifties))
    rows.append(("chain write, batch of 50 (per attestation)", per_item(fifties, 50)))
    rows.append(
        ("admin action: AuditLog.append", timed(lambda: service.audit.append("bench", "bench", {"i": 1}), n // 3))
    )
    return rows


def throughput(service: AttestationService, n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        service.attest(
            request_id=f"req_t{i}_{secrets.token_hex(4)}",
            tenant_id=1,
            tenant="HQ",
            model="support",
            backend="gpu-1",
            upstream_model="qwen",
            request=SHORT,
            output=Output.from_completion(COMPLETION),
        )
    service.flush(600)
    return n / (time.perf_counter() - started)


def open_service(url: str) -> tuple[Database, AttestationService]:
    db = Database(url)
    db.migrate()
    service = AttestationService(db, KeyEncryptionKey.parse(KeyEncryptionKey.generate_text()))
    service.start()
    return db, service


def fresh_postgres(admin_url: str):
    name = "gw_bench_" + secrets.token_hex(4)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


def print_table(title: str, rows: list[tuple[str, Samples]]) -> None:
    print(f"\n{title}\n")
    print("| measurement | p50 µs | p99 µs | CPU p50 µs | CPU p99 µs | n |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, samples in rows:
        p50, p99 = pct(samples)
        cpu50, cpu99 = pct(samples.cpu)
        print(f"| {label} | {p50:,.1f} | {p99:,.1f} | {cpu50:,.1f} | {cpu99:,.1f} | {len(samples)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        db, service = open_service(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            print_table(
                "Response path (synchronous part of attest(); SQLite writer in the background)",
                attest_costs(service, args.requests),
            )
            sqlite_rows = chain_costs(service, args.requests)
            sqlite_rate = throughput(service, args.requests)
            assert service.verify_chain() is None
        finally:
            service.close()
            db.dispose()
    print_table("Audit-chain write, SQLite (WAL, synchronous=NORMAL)", sqlite_rows)
    print(f"\nSQLite: {sqlite_rate:,.0f} attestations/s persisted when saturated")

    try:
        url, drop = fresh_postgres(args.postgres_url)
    except Exception as exc:  # noqa: BLE001 - the reason is the output
        print(f"\nPostgreSQL skipped: {type(exc).__name__}: {exc}")
        return
    try:
        db, service = open_service(url)
        try:
            pg_rows = chain_costs(service, args.requests)
            pg_rate = throughput(service, args.requests)
            assert service.verify_chain() is None
        finally:
            service.close()
            db.dispose()
    finally:
        drop()
    print_table("Audit-chain write, PostgreSQL (advisory lock per transaction)", pg_rows)
    print(f"\nPostgreSQL: {pg_rate:,.0f} attestations/s persisted when saturated")


if __name__ == "__main__":
    main()
