"""What stored responses cost: one turn of a ``previous_response_id`` conversation, by its length.

    .venv/bin/python bench/responses_store.py [--turns 50] [--repeats 3] [--postgres-url URL]

A turn is what the gateway does around the model call: read the previous response (one row,
the whole conversation in it), build the next conversation, and save the new response — on
SQLite (WAL, a temp file) and on PostgreSQL (a fresh database, skipped if unreachable). Each
user message is ~40 words and each answer ~120. Prints wall-clock milliseconds (median and worst over
the repeats) of the read and of the save at a few points of the conversation, and the record's
size there.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from attestation import fresh_postgres  # bench/attestation.py: a throw-away PostgreSQL database
from gateway.responses.items import input_items, output_as_input
from gateway.responses.protocol import message_item, new_id, output_text_part
from gateway.responses.settings import ResponsesSettings
from gateway.responses.store import ResponseStore
from gateway.storage.database import Database
from gateway.storage.models import Tenant

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
QUESTION = "Please summarise clause seven of the supplier agreement and say what changes for us " * 3
ANSWER = "Clause seven moves the delivery window from thirty to forty five days and adds a penalty " * 8


async def conversation(store: ResponseStore, tenant_id: int, turns: int) -> list[tuple[float, float, int]]:
    """(read ms, save ms, record bytes) for each turn of one conversation."""
    previous_id: str | None = None
    results = []
    for _ in range(turns):
        started = time.perf_counter()
        items = input_items(QUESTION)
        if previous_id is not None:
            previous = await store.get(tenant_id, previous_id)
            items = previous.input_items + output_as_input(previous.response["output"]) + items
        read = time.perf_counter() - started
        response = {
            "id": new_id("resp"),
            "object": "response",
            "status": "completed",
            "output": [message_item(new_id("msg"), [output_text_part(ANSWER)], "completed")],
        }
        started = time.perf_counter()
        assert await store.save(tenant_id, new_id("req"), response, items)
        saved = time.perf_counter() - started
        size = len(str(items)) + len(str(response))
        results.append((read * 1000, saved * 1000, size))
        previous_id = response["id"]
    return results


def measure(url: str, turns: int, repeats: int) -> list[tuple[int, list[float], list[float], int]]:
    db = Database(url)
    db.migrate()
    with db.session() as session:
        tenant = Tenant(name="bench-" + secrets.token_hex(3))
        session.add(tenant)
    store = ResponseStore(db, ResponsesSettings(max_stored_bytes=64 * 1024 * 1024))
    runs = [asyncio.run(conversation(store, tenant.id, turns)) for _ in range(repeats)]
    db.dispose()
    points = sorted(p for p in {1, 2, 10, turns // 2, turns} if 1 <= p <= turns)
    return [
        (
            turn,
            [run[turn - 1][0] for run in runs],
            [run[turn - 1][1] for run in runs],
            runs[0][turn - 1][2],
        )
        for turn in points
    ]


def print_table(name: str, rows) -> None:
    print(f"\n{name}\n")
    print("| turn | record KB | read p50 ms | read max ms | save p50 ms | save max ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    for turn, reads, saves, size in rows:
        print(
            f"| {turn} | {size / 1024:,.1f} | {statistics.median(reads):.2f} | {max(reads):.2f} "
            f"| {statistics.median(saves):.2f} | {max(saves):.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        print_table("SQLite (WAL)", measure(url, args.turns, args.repeats))
    try:
        url, drop = fresh_postgres(args.postgres_url)
    except Exception as error:  # noqa: BLE001 - report why and go on
        print(f"\nPostgreSQL skipped: {error}")
        return
    try:
        print_table("PostgreSQL", measure(url, args.turns, args.repeats))
    finally:
        drop()


if __name__ == "__main__":
    main()
