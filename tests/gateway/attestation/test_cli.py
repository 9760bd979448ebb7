"""The CLI functions: ``attest verify FILE``, ``audit verify``, ``attest keys …`` (exit codes and output)."""

from __future__ import annotations

import argparse
import io
import json

from sqlalchemy import text

from gateway.attestation.cli import attest_verify, audit_verify, register
from tests.gateway.attestation.conftest import COMPLETION, REQUEST, attest


def _run(function, *args, **kwargs) -> tuple[int, str]:
    out = io.StringIO()
    code = function(*args, out=out, **kwargs)
    return code, out.getvalue()


def test_attest_verify_reads_every_documented_file_form(service, tmp_path):
    made = attest(service, "req_cli")
    forms = {
        "wrapped.json": {"attestation": made.compact(), "output": "Güneşli, 24°C.", "messages": REQUEST["messages"]},
        "object.json": made.as_dict(),
        "completion.json": {**COMPLETION, "attestation": made.as_dict()},
        "wrapped-completion.json": {"attestation": made.as_dict(), "completion": COMPLETION},
    }
    for name, content in forms.items():
        (tmp_path / name).write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "compact.txt").write_text(made.compact() + "\n")
    for name in [*forms, "compact.txt"]:
        code, output = _run(attest_verify, tmp_path / name, service)
        assert code == 0, (name, output)
        assert output.startswith("valid") and "req_cli" in output
    code, output = _run(attest_verify, tmp_path / "wrapped.json", service)
    assert "signature, messages, output checked" in output


def test_attest_verify_exit_1_on_tampering_and_2_on_unreadable(service, tmp_path):
    made = attest(service, "req_cli_bad")
    (tmp_path / "bad.json").write_text(json.dumps({"attestation": made.compact(), "output": "Yağmurlu."}))
    code, output = _run(attest_verify, tmp_path / "bad.json", service)
    assert code == 1 and "output_hash_mismatch" in output
    (tmp_path / "junk.json").write_text("{not json")
    assert attest_verify(tmp_path / "junk.json", service) == 2
    assert attest_verify(tmp_path / "missing.json", service) == 2


def test_attest_verify_offline_with_a_saved_jwks(service, tmp_path):
    made = attest(service, "req_offline")
    (tmp_path / "a.txt").write_text(made.compact())
    jwks = json.loads(json.dumps(service.jwks()))
    assert _run(attest_verify, tmp_path / "a.txt", jwks=jwks)[0] == 0
    jwks["keys"][0]["status"] = "revoked"
    code, output = _run(attest_verify, tmp_path / "a.txt", jwks=jwks)
    assert code == 1 and "revoked_key" in output
    code, output = _run(attest_verify, tmp_path / "a.txt", jwks={"keys": []})
    assert code == 1 and "unknown_key" in output


def test_audit_verify_exit_codes(service, db):
    attest(service, "req_a1")
    attest(service, "req_a2")
    service.flush()
    code, output = _run(audit_verify, service)
    assert code == 0 and "intact: 3 entries" in output
    with db.session() as session:
        session.exec(text("DELETE FROM audit_entry WHERE seq = 2"))
    code, output = _run(audit_verify, service)
    assert code == 1 and "entry 2: missing_entry" in output


def test_register_wires_the_commands(service, tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    register(commands, lambda args: service)

    def run(*argv: str) -> int:
        args = parser.parse_args(list(argv))
        return args.func(args)

    old = service.keys.active.kid
    assert run("attest", "keys", "rotate") == 0
    assert service.keys.active.kid != old
    assert run("attest", "keys", "list") == 0
    listing = capsys.readouterr().out
    assert old in listing and "retired" in listing and "active" in listing
    made = attest(service, "req_register")
    (tmp_path / "a.txt").write_text(made.compact())
    assert run("attest", "verify", str(tmp_path / "a.txt")) == 0
    (tmp_path / "jwks.json").write_text(json.dumps(service.jwks()))
    assert run("attest", "verify", str(tmp_path / "a.txt"), "--jwks", str(tmp_path / "jwks.json")) == 0
    service.flush()
    assert run("audit", "verify", "--signatures") == 0
    assert run("attest", "keys", "revoke", made.kid, "--reason", "test") == 0
    assert run("attest", "verify", str(tmp_path / "a.txt")) == 1
