"""Configuration: one TOML file, overridable by GATEWAY_* variables, with clear errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.settings import Settings

EXAMPLE = """
database_url = "sqlite:///data/gateway.db"
[[backends]]
name = "gpu-1"
kind = "vllm"
base_url = "http://10.0.0.5:8000/v1"
models = ["qwen2.5-7b-instruct"]
[[backends]]
name = "claude"
kind = "anthropic"
base_url = "https://api.anthropic.com"
api_key_env = "ANTHROPIC_API_KEY"
models = ["claude-sonnet-4-5"]
[routing]
fallback = ["claude"]
"""


@pytest.fixture
def config(tmp_path, monkeypatch):
    for name in ("GATEWAY_CONFIG", "GATEWAY_PORT", "GATEWAY_DATABASE_URL", "GATEWAY_ROUTING__FALLBACK"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "gateway.toml"
    path.write_text(EXAMPLE)
    return path


def test_the_spec_example_loads(config):
    settings = Settings.load(config)
    assert [b.name for b in settings.backends] == ["gpu-1", "claude"]
    assert settings.backends[1].api_key_env == "ANTHROPIC_API_KEY"
    assert settings.routing.fallback == ["claude"]
    assert settings.effective_backends() == settings.backends


def test_environment_variables_override_the_file(config, monkeypatch):
    monkeypatch.setenv("GATEWAY_CONFIG", str(config))
    monkeypatch.setenv("GATEWAY_PORT", "9999")
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "postgresql+psycopg://u@db/gw")
    monkeypatch.setenv("GATEWAY_ROUTING__FALLBACK", '["gpu-1"]')
    settings = Settings.load()
    assert (settings.port, settings.database_url, settings.routing.fallback) == (
        9999, "postgresql+psycopg://u@db/gw", ["gpu-1"])


def test_the_upstream_key_is_read_from_its_variable_not_stored(config, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    settings = Settings.load(config)
    assert settings.backends[1].api_key() == "sk-ant-secret"
    assert "sk-ant-secret" not in settings.model_dump_json()


def test_no_backends_means_the_embedded_local_model(tmp_path, monkeypatch):
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    settings = Settings.load(data_dir=tmp_path)
    (local,) = settings.effective_backends()
    assert (local.name, local.kind, local.models, local.base_url) == ("local", "mlx", ["local"], None)
    assert settings.database_url == f"sqlite:///{tmp_path / 'gateway.db'}"


@pytest.mark.parametrize(
    "toml, fragment",
    [
        ('[[backends]]\nname="a"\nkind="tpu"\nbase_url="http://x"\nmodels=["m"]', "kind"),
        ('[[backends]]\nname="a"\nkind="vllm"\nmodels=["m"]', "needs base_url"),
        ('[[backends]]\nname="a"\nkind="vllm"\nbase_url="http://x"\nmodels=[]', "at least one model"),
        ('[routing]\nfallback=["nowhere"]', "unknown backends"),
        ('port = "eighty"', "port"),
        ('colour = "red"', "colour"),
    ],
)
def test_mistakes_in_the_file_are_reported(tmp_path, monkeypatch, toml, fragment):
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ValidationError) as caught:
        Settings.load(path)
    assert fragment in str(caught.value)


def test_a_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        Settings.load(tmp_path / "absent.toml")
