"""Small shared helpers: every test builds its own corpus in its own tmp_path."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


BUILT_ONCE = ("models", "static-all-minilm-l6-v2")  # the converted model and the static embedder


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Tests write into a cache of their own (child processes inherit it), not the user's; what
    the user's cache already holds of the models built once is linked in, read only."""
    from traitforge.backends.embed import cache_dir

    user, mine = cache_dir(), tmp_path_factory.mktemp("cache")
    for name in BUILT_ONCE:
        if (user / name).is_dir():
            (mine / name).symlink_to(user / name, target_is_directory=True)
    before, os.environ["TRAITFORGE_CACHE"] = os.environ.get("TRAITFORGE_CACHE"), str(mine)
    yield mine
    if before is None:
        os.environ.pop("TRAITFORGE_CACHE")
    else:
        os.environ["TRAITFORGE_CACHE"] = before


def _chat(prompt: str, response: str, id: str | None = None, **extra) -> dict:
    row = {"messages": [{"role": "user", "content": prompt},
                        {"role": "assistant", "content": response}], **extra}
    if id is not None:
        row = {"id": id, **row}
    return row


@pytest.fixture
def chat():
    """chat(prompt, response, id=None) -> one OpenAI-style chat row."""
    return _chat


@pytest.fixture
def write_jsonl(tmp_path):
    """write_jsonl(name, rows) -> Path. A dict row is JSON-encoded, a str row is written as is,
    a bytes row is written raw (each gets a trailing newline unless it has one)."""

    def write(name: str | Path, rows: list) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            for row in rows:
                if isinstance(row, dict):
                    data = json.dumps(row, ensure_ascii=False).encode("utf-8")
                elif isinstance(row, str):
                    data = row.encode("utf-8")
                else:
                    data = bytes(row)
                f.write(data if data.endswith(b"\n") else data + b"\n")
        return path

    return write


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Path:
    """A 2-layer llama with hidden size 16, random weights, and the real tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from traitforge.backends.models import gguf_tokenizer

    tok = gguf_tokenizer()
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                      num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                      max_position_embeddings=512, tie_word_embeddings=True,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny")
    LlamaForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path
