"""A tiny random-weight Qwen2 model, built offline, for demos and tests of the MLX backend.

``build_tiny_model(path)`` writes a complete Hugging Face style model folder that
``mlx_lm.load(path)`` loads and generates from: ``config.json`` (Qwen2, hidden size 64,
2 layers), ``model.safetensors`` (random weights from a fixed seed), a byte-level BPE
``tokenizer.json`` trained on a small built-in English and Turkish text (so any input
encodes), ``tokenizer_config.json`` with a ChatML chat template, and a marker file
``paramgate-tiny.json`` that says what this is. The output is not meaningful text.

The build is deterministic, idempotent (a valid folder is left alone) and atomic (written
to a temporary folder and renamed). mlx and tokenizers are imported only when building.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

MARKER = "paramgate-tiny.json"
FORMAT_VERSION = 1
SEED = 20261122

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
TARGET_VOCAB_SIZE = 640

HIDDEN_SIZE = 64
NUM_LAYERS = 2
NUM_HEADS = 4
NUM_KV_HEADS = 2
INTERMEDIATE_SIZE = 128
MAX_POSITIONS = 2048
ROPE_THETA = 1_000_000.0

QWEN2_SPLIT_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

CHAT_TEMPLATE = """\
{%- if tools %}
{{- '<|im_start|>system\\n' }}
{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}
{%- else %}{{- 'You are a helpful assistant.' }}{%- endif %}
{{- '\\n\\n# Tools\\n\\nYou may call one or more functions. Function signatures:\\n<tools>' }}
{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}
{{- '\\n</tools><|im_end|>\\n' }}
{%- endif %}
{%- for message in messages %}
{%- if not (tools and loop.first and message['role'] == 'system') %}
{{- '<|im_start|>' + message['role'] + '\\n' }}
{%- if message['content'] is string %}{{- message['content'] }}{%- endif %}
{%- for call in message['tool_calls'] or [] %}
{{- '\\n<function_call>' }}{{- call['function'] | tojson }}{{- '</function_call>' }}
{%- endfor %}
{{- '<|im_end|>\\n' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"""

CORPUS = """\
ParamGate is a self-hosted gateway for large language models. Applications talk to it with
any OpenAI client; operators manage tenants, keys, quotas, routes and adapters in a console.
The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a
single step. Please summarise the following document in three sentences. What is the
weather like today in Istanbul, Ankara and Izmir? The model answers questions, writes code,
translates text and explains its reasoning. Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000 2026.
def hello(name: str) -> str:
    return f"Hello, {name}!"
{"role": "user", "content": "Hi there"} <tool_call> [1, 2, 3] (a + b) * c = 42; x != y.
Kendi model parametrelerimize sahip olmak istiyoruz. Bu ağ geçidi, kiracılar için hız
sınırları ve günlük token kotaları uygular. Güzel bir gün, değil mi? Çok teşekkür ederim.
Öğrenciler sınavdan önce ödevlerini bitirdiler. İstanbul'da hava bugün güneşli ve ılık.
Yapay zekâ modelleri Türkçe ve İngilizce metinleri anlayabilir. Şirketimiz hukuk, tıp ve
finans alanlarında uzman adaptörler eğitiyor. Kişisel veriler maskelenir; çıktılar imzalanır.
Lütfen aşağıdaki soruyu kısa ve açık bir şekilde yanıtlayın. Neden? Çünkü güvenlik önemli.
"""

_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def build_tiny_model(path: Path) -> Path:
    """Build the tiny random-weight Qwen2 model at ``path`` (unless already there) and return ``path``."""
    path = Path(path)
    if is_tiny_model(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    staging.chmod(0o755)
    try:
        _write_model(staging)
        _install(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def is_tiny_model(path: Path) -> bool:
    """Whether ``path`` holds a complete, unmodified tiny model of the current format."""
    try:
        marker = json.loads((Path(path) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(marker, dict) or marker.get("format_version") != FORMAT_VERSION:
        return False
    digests = marker.get("sha256", {})
    return all(digests.get(name) == _sha256(Path(path) / name) for name in _FILES)


def _install(staging: Path, path: Path) -> None:
    if path.exists():
        if is_tiny_model(path):
            return
        shutil.rmtree(path)
    try:
        os.rename(staging, path)
    except OSError:
        if not is_tiny_model(path):
            raise


def _write_model(folder: Path) -> None:
    tokenizer = _train_tokenizer()
    tokenizer.save(str(folder / "tokenizer.json"))
    vocab = tokenizer.get_vocab()
    special_ids = {token: vocab[token] for token in SPECIAL_TOKENS}
    _write_json(folder / "tokenizer_config.json", _tokenizer_config(special_ids))
    config = _model_config(tokenizer.get_vocab_size(), special_ids)
    _write_json(folder / "config.json", config)
    _write_weights(folder / "model.safetensors", config, sorted(special_ids.values()))
    _write_json(folder / MARKER, _marker(folder))


def _train_tokenizer() -> Any:
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TARGET_VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS.splitlines(), trainer=trainer)
    return tokenizer


def _tokenizer_config(special_ids: dict[str, int]) -> dict[str, Any]:
    return {
        "tokenizer_class": "Qwen2Tokenizer",
        "added_tokens_decoder": {
            str(token_id): {
                "content": token,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": True,
            }
            for token, token_id in special_ids.items()
        },
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": MAX_POSITIONS,
        "chat_template": CHAT_TEMPLATE,
    }


def _model_config(vocab_size: int, special_ids: dict[str, int]) -> dict[str, Any]:
    return {
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "hidden_size": HIDDEN_SIZE,
        "num_hidden_layers": NUM_LAYERS,
        "num_attention_heads": NUM_HEADS,
        "num_key_value_heads": NUM_KV_HEADS,
        "intermediate_size": INTERMEDIATE_SIZE,
        "hidden_act": "silu",
        "rms_norm_eps": 1e-6,
        "vocab_size": vocab_size,
        "max_position_embeddings": MAX_POSITIONS,
        "rope_theta": ROPE_THETA,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "bos_token_id": special_ids["<|endoftext|>"],
        "eos_token_id": [special_ids["<|im_end|>"], special_ids["<|endoftext|>"]],
    }


def _parameter_shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes exactly as ``mlx_lm.models.qwen2.Model`` declares them."""
    hidden, inter = config["hidden_size"], config["intermediate_size"]
    head_dim = hidden // config["num_attention_heads"]
    kv = config["num_key_value_heads"] * head_dim
    shapes: dict[str, tuple[int, ...]] = {
        "model.embed_tokens.weight": (config["vocab_size"], hidden),
        "model.norm.weight": (hidden,),
    }
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}"
        shapes |= {
            f"{p}.input_layernorm.weight": (hidden,),
            f"{p}.post_attention_layernorm.weight": (hidden,),
            f"{p}.self_attn.q_proj.weight": (hidden, hidden),
            f"{p}.self_attn.q_proj.bias": (hidden,),
            f"{p}.self_attn.k_proj.weight": (kv, hidden),
            f"{p}.self_attn.k_proj.bias": (kv,),
            f"{p}.self_attn.v_proj.weight": (kv, hidden),
            f"{p}.self_attn.v_proj.bias": (kv,),
            f"{p}.self_attn.o_proj.weight": (hidden, hidden),
            f"{p}.mlp.gate_proj.weight": (inter, hidden),
            f"{p}.mlp.up_proj.weight": (inter, hidden),
            f"{p}.mlp.down_proj.weight": (hidden, inter),
        }
    return shapes


def _random_weights(config: dict[str, Any], special_ids: list[int]) -> dict[str, Any]:
    """Seeded weights; special-token embeddings are zero so the model rarely emits them."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    weights = {}
    for name, shape in sorted(_parameter_shapes(config).items()):
        if name.endswith("norm.weight"):
            value = np.ones(shape, dtype=np.float32)
        elif name.endswith("embed_tokens.weight"):
            value = rng.normal(0.0, 0.3, size=shape).astype(np.float32)
            value[special_ids] = 0.0
        else:
            value = rng.normal(0.0, shape[-1] ** -0.5, size=shape).astype(np.float32)
        weights[name] = value
    return weights


def _write_weights(file: Path, config: dict[str, Any], special_ids: list[int]) -> None:
    import mlx.core as mx

    arrays = {name: mx.array(value) for name, value in _random_weights(config, special_ids).items()}
    mx.save_safetensors(str(file), arrays, metadata={"format": "mlx"})


def _marker(folder: Path) -> dict[str, Any]:
    return {
        "paramgate_tiny_model": True,
        "format_version": FORMAT_VERSION,
        "seed": SEED,
        "description": "Tiny Qwen2-architecture model built locally by ParamGate with random weights; "
        "its output is not meaningful text. For demos and tests only.",
        "sha256": {name: _sha256(folder / name) for name in _FILES},
    }


def _write_json(file: Path, data: dict[str, Any]) -> None:
    file.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _sha256(file: Path) -> str | None:
    try:
        return hashlib.sha256(file.read_bytes()).hexdigest()
    except OSError:
        return None
