"""The audit chain: intact after real use, and every kind of tampering found at the right entry."""

from __future__ import annotations

import threading

from sqlalchemy import text

from gateway.attestation import AttestationService, AuditLog
from gateway.attestation.audit import GENESIS_HASH, NewEntry, entry_hash
from gateway.attestation.models import AuditEntry
from gateway.storage.database import Database
from tests.gateway.attestation.conftest import attest


def _fill(service: AttestationService, n: int = 6) -> None:
    for i in range(n):
        attest(service, f"req_{i}")
        if i % 2:
            service.audit.append("tenant.update", "tenant:HQ", {"rpm": 100 + i, "actor": "admin"})
    assert service.flush()


def _seq_of(db, subject: str) -> int:
    with db.session() as session:
        return session.exec(text("SELECT seq FROM audit_entry WHERE subject = :s"), params={"s": subject}).one()[0]


def test_an_untouched_chain_verifies(service):
    _fill(service)
    assert service.verify_chain(signatures=True) is None
    entries = service.audit.count()
    assert entries == 1 + 6 + 3  # the first key, six attestations, three admin actions
    for i in range(6):
        assert service.get(f"req_{i}", 1).payload["prev_hash"] != ""


def test_attestations_name_an_earlier_entry(service, db):
    _fill(service, 2)
    attestation = service.get("req_1", 1)
    anchor = attestation.payload["prev_hash"]
    with db.session() as session:
        rows = session.exec(text("SELECT seq, entry_hash FROM audit_entry ORDER BY seq")).all()
    seqs = {h: s for s, h in rows}
    assert anchor == GENESIS_HASH or seqs[anchor] < _seq_of(db, "req_1")


def test_a_deleted_row_is_found(service, db):
    _fill(service)
    victim = _seq_of(db, "req_2")
    with db.session() as session:
        session.exec(text("DELETE FROM audit_entry WHERE seq = :s"), params={"s": victim})
    broken = service.verify_chain()
    assert broken is not None and broken.seq == victim and broken.reason == "missing_entry"


def test_an_edited_row_is_found(service, db):
    _fill(service)
    victim = _seq_of(db, "req_3")
    with db.session() as session:
        session.exec(text("UPDATE audit_entry SET subject = 'req_x' WHERE seq = :s"), params={"s": victim})
    broken = service.verify_chain()
    assert broken is not None and broken.seq == victim and broken.reason == "entry_edited"


def test_an_edited_row_with_its_hash_recomputed_breaks_the_next_link(service, db):
    _fill(service)
    with db.session() as session:
        victim = session.exec(text("SELECT min(seq) FROM audit_entry WHERE kind = 'tenant.update'")).one()[0]
    forged_detail = {"rpm": 1_000_000, "actor": "admin"}
    with db.session() as session:
        row = session.get(AuditEntry, victim)
        row.detail = forged_detail
        row.payload_sha256 = NewEntry.of_detail(row.kind, row.subject, forged_detail).payload_sha256
        row.entry_hash = entry_hash(row.seq, row.kind, row.subject, row.payload_sha256, row.prev_hash, row.created_at)
        session.add(row)
    broken = service.verify_chain()
    assert broken is not None and broken.seq == victim + 1 and broken.reason == "broken_link"


def test_edited_admin_detail_is_found(service, db):
    _fill(service)
    with db.session() as session:
        seq = session.exec(text("SELECT min(seq) FROM audit_entry WHERE kind = 'tenant.update'")).one()[0]
        session.exec(text("UPDATE audit_entry SET detail = :d WHERE seq = :s"), params={"d": '{"rpm": 1}', "s": seq})
    broken = service.verify_chain()
    assert broken is not None and broken.seq == seq and broken.reason == "detail_edited"


def test_an_edited_attestation_is_found(service, db):
    _fill(service)
    with db.session() as session:
        session.exec(
            text("UPDATE attestation SET payload = replace(payload, 'gpu-1', 'gpu-2') WHERE request_id = 'req_4'")
        )
    broken = service.verify_chain()
    assert broken is not None and broken.seq == _seq_of(db, "req_4") and broken.reason == "attestation_edited"


def test_a_forged_signature_is_found_with_signatures_on(service, db):
    _fill(service)
    with db.session() as session:
        session.exec(
            text("UPDATE attestation SET signature = 'AAAA' || substr(signature, 5) WHERE request_id = 'req_5'")
        )
    assert service.verify_chain() is None
    broken = service.verify_chain(signatures=True)
    assert broken is not None and broken.seq == _seq_of(db, "req_5") and "bad_signature" in broken.detail


def test_deleted_attestation_or_tail_entry_is_found(service, db):
    _fill(service)
    with db.session() as session:
        session.exec(text("DELETE FROM attestation WHERE request_id = 'req_0'"))
    broken = service.verify_chain()
    assert broken is not None and broken.reason == "attestation_missing"


def test_deleting_the_newest_entry_leaves_its_attestation_unchained(service, db):
    _fill(service, 1)
    with db.session() as session:
        session.exec(text("DELETE FROM audit_entry WHERE seq = (SELECT max(seq) FROM audit_entry)"))
    broken = service.verify_chain()
    assert broken is not None and broken.reason == "unchained_attestation"


def test_replicas_appending_at_once_keep_one_chain(db, kek):
    """Three "replicas" (own engine, own writer thread) and admin appends, all concurrently."""
    replicas = []
    for _ in range(3):
        replica_db = Database(db.url)
        replica = AttestationService(replica_db, kek, batch_size=7)
        replica.start()
        replicas.append((replica_db, replica))
    per_thread = 60

    def work(index: int) -> None:
        replica = replicas[index % 3][1]
        for i in range(per_thread):
            attest(replica, f"req_{index}_{i}")
            if i % 10 == 0:
                replica.audit.append("admin.action", f"thread:{index}", {"i": i})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for replica_db, replica in replicas:
        assert replica.flush(30)
    log = AuditLog(db)
    assert log.verify_chain() is None
    assert log.count() == 1 + 6 * per_thread + 6 * (per_thread // 10)
    with db.session() as session:
        seqs = [r[0] for r in session.exec(text("SELECT seq FROM audit_entry ORDER BY seq")).all()]
    assert seqs == list(range(1, len(seqs) + 1))
    for replica_db, replica in replicas:
        replica.close()
        replica_db.dispose()
