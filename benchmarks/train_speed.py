"""Training throughput on the real embedded model, on CPU (or the GPU when there is one).

For full fine-tuning and for LoRA (r=16) it trains the same chats for the same steps twice:
once through `traitforge.train.train` and once through a bare TRL `SFTTrainer` given the
messages and the same settings, after one discarded warm-up step. It prints tokens/s of each training loop (tokens trained over
the loop's runtime), our overhead against bare TRL, and our end-to-end wall time (gate, model
load, tokenization and saving included).

    python benchmarks/train_speed.py [--n 64] [--steps 6] [--batch 4] [--max-length 384]
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import polars as pl  # noqa: E402
import torch  # noqa: E402

from traitforge.train.config import TrainConfig, lora_targets  # noqa: E402
from traitforge.backends.models import default_model_path  # noqa: E402
from traitforge.train.trainer import quiet_libraries, train  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "chat" / "alpaca_eval_outputs.parquet"


def chats(n: int, path: Path, max_length: int) -> Path:
    """n real chats that fit in max_length tokens, so that both loops see the same sequences
    (bare TRL would truncate a longer one where traitforge rejects it)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(default_model_path())
    df = pl.read_parquet(DATA).filter(pl.col("output").str.len_chars().is_between(400, 1200))
    out = path / "chats.jsonl"
    kept = 0
    with open(out, "w") as f:
        for r in df.sample(fraction=1.0, shuffle=True, seed=0).iter_rows(named=True):
            msgs = [{"role": "user", "content": r["instruction"]},
                    {"role": "assistant", "content": r["output"]}]
            if len(tok.apply_chat_template(msgs, tokenize=True, return_dict=False)) <= max_length:
                f.write(json.dumps({"id": str(kept), "messages": msgs}) + "\n")
                kept += 1
                if kept == n:
                    break
    return out


def bare_trl(data: Path, cfg: TrainConfig, out: Path) -> tuple[float, int]:
    """(loop seconds, tokens) of a plain SFTTrainer on the same messages and settings."""
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    path = default_model_path()
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(path)
    args = SFTConfig(output_dir=str(out), per_device_train_batch_size=cfg.batch_size,
                     learning_rate=cfg.lr, max_steps=cfg.max_steps, max_length=cfg.max_length,
                     logging_steps=1, save_strategy="no", report_to=[], seed=cfg.seed,
                     use_cpu=not torch.cuda.is_available(), lr_scheduler_type="cosine")
    peft = None if cfg.method == "full" else LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                                                         lora_dropout=cfg.lora_dropout,
                                                         target_modules=lora_targets(),
                                                         task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=args, processing_class=tok, peft_config=peft,
                         train_dataset=load_dataset("json", data_files=str(data), split="train"))
    result = trainer.train()
    tokens = max(int(h.get("num_tokens", 0)) for h in trainer.state.log_history)
    return result.metrics["train_runtime"], tokens


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=384)
    a = ap.parse_args()
    quiet_libraries()
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else \
        f"CPU, {torch.get_num_threads()} threads"
    print(f"model {default_model_path()}  device {device}  {a.steps} steps x batch {a.batch}, "
          f"max length {a.max_length}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = chats(a.n, tmp, a.max_length)
        # One discarded step first, so that neither loop pays the process's warm-up.
        bare_trl(data, TrainConfig(max_steps=1, batch_size=a.batch, max_length=a.max_length),
                 tmp / "warm-up")
        for method in ("full", "lora"):
            cfg = TrainConfig(method=method, max_steps=a.steps, batch_size=a.batch,
                              max_length=a.max_length, save_steps=10_000)
            start = time.perf_counter()
            rec = train("sft", str(data), str(tmp / f"ours-{method}"), cfg, allow_unaudited=True)
            wall = time.perf_counter() - start
            loop, tokens = bare_trl(data, cfg, tmp / f"bare-{method}")
            ours, bare = rec["tokens_per_s"], tokens / loop
            print(f"{method}: tokens trained, ours {rec['tokens_trained']}, bare TRL {tokens}")
            rows.append((method, ours, bare, 100 * (bare - ours) / bare, rec["train_s"], loop, wall))
    print(f"{'method':<8}{'ours tok/s':>12}{'bare TRL tok/s':>16}{'overhead':>10}"
          f"{'ours loop s':>13}{'bare loop s':>13}{'ours wall s':>13}")
    for m, o, b, ov, ol, bl, w in rows:
        print(f"{m:<8}{o:>12.1f}{b:>16.1f}{ov:>9.1f}%{ol:>13.1f}{bl:>13.1f}{w:>13.1f}")
    print("target: overhead within 10% of bare TRL")


if __name__ == "__main__":
    main()
