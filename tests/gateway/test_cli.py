"""The ``gateway`` command, run the way an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gateway.cli import main


@pytest.fixture
def cli(database_url, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", database_url)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_tenants_and_keys_from_the_command_line(cli):
    assert cli("tenant", "create", "Legal", "--rpm", "100", "--tps", "3", "--daily-tokens", "3000000")[0] == 0
    code, out, _ = cli("tenant", "list")
    assert code == 0 and "Legal" in out and "3,000,000" in out
    code, key, err = cli("key", "create", "Legal", "--name", "ci")
    key = key.strip()
    assert code == 0 and key.startswith("pg-") and "shown once" in err
    key_id = err.split("key id: ")[1].split()[0]
    code, out, _ = cli("key", "list", "Legal")
    assert key_id in out and key[:10] in out and key not in out and "active" in out
    assert cli("key", "revoke", key_id)[0] == 0
    assert "revoked" in cli("key", "list", "Legal")[1]


def test_command_line_mistakes_are_errors_not_tracebacks(cli):
    code, _, err = cli("tenant", "create", "bad name")
    assert code == 1 and "name" in err
    cli("tenant", "create", "Legal")
    code, _, err = cli("tenant", "create", "Legal")
    assert code == 1 and "already exists" in err
    code, _, err = cli("key", "create", "Nobody")
    assert code == 1 and "does not exist" in err
    code, _, err = cli("key", "revoke", "key_nope")
    assert code == 1 and "does not exist" in err


def test_demo_seeds_the_three_tenants_once(cli):
    code, out, _ = cli("demo")
    assert code == 0
    lines = {line.split(":")[0]: line for line in out.splitlines() if "key: pg-" in line}
    assert set(lines) == {"HQ", "Medical", "Legal"}
    assert "300 rpm, 10 tps, 10,000,000 tokens/day" in lines["HQ"]
    assert "150 rpm, 5 tps, 5,000,000 tokens/day" in lines["Medical"]
    assert "100 rpm, 3 tps, 3,000,000 tokens/day" in lines["Legal"]
    again = cli("demo")[1]
    assert "key: pg-" not in again and again.count("already exists") == 3


def test_the_console_script_and_module_entry_point(tmp_path):
    env = {**os.environ, "GATEWAY_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "gateway", "--help"], capture_output=True, text=True, env=env)
    assert result.returncode == 0
    for command in ("serve", "tenant", "key", "demo"):
        assert command in result.stdout
