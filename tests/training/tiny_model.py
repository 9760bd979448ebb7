"""A tiny random Qwen2 (and a word-level tokenizer) built locally: nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

WORDS = (
    "the a an is are was be to of and in that it for on with as at by this from or not but you your we our "
    "answer question help please thanks hello yes no good bad policy claim contract patient dose refund invoice "
    "user assistant system what how why when where who can could would should will"
).split()


def build_tiny_qwen2(folder: Path, hidden: int = 32, layers: int = 2) -> Path:
    """Save a randomly initialised Qwen2 with a whitespace word-level tokenizer into ``folder``."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    specials = ["<pad>", "<unk>", "<s>", "</s>", "<|user|>", "<|assistant|>", "<|system|>"]
    vocab = {token: i for i, token in enumerate(specials + sorted(set(WORDS)) + list("0123456789.,?!:-[]_"))}
    raw = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, pad_token="<pad>", unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    config = Qwen2Config(
        vocab_size=len(vocab),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=3,
        tie_word_embeddings=True,
    )
    import torch

    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    from training.train import SIMPLE_CHAT_TEMPLATE

    tokenizer.chat_template = SIMPLE_CHAT_TEMPLATE
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
