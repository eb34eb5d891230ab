"""Midtraining and SFT with TRL's SFTTrainer, gated on a passing audit of the exact input bytes.

`RUN/` receives the model (or LoRA adapter) loadable with `from_pretrained`, its tokenizer,
`run.json` (config, data hashes, the gate's outcome, loss curve, throughput, wall time),
`model_card.md`, `rejected.jsonl` and `checkpoints/` for `--resume`.
"""
from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from pathlib import Path

from transformers import PrinterCallback, TrainerCallback

from traitforge import __version__
from traitforge.audit.gate import GateResult, check_counts, check_gate, check_reading
from traitforge.io import Corpus, InputError, atomic_write_text, read_snapshot, snapshot, write_jsonl
from traitforge.train.config import TrainConfig, lora_targets
from traitforge.train.data import Examples, prepare
from traitforge.backends.models import load_model

KINDS = ("midtrain", "sft")
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def last_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint that was written in full (a kill can leave a partial one)."""
    if not folder.is_dir():
        return None
    done = [p for p in folder.iterdir() if _CHECKPOINT.match(p.name)
            and (p / "trainer_state.json").is_file() and (p / "optimizer.pt").is_file()]
    return max(done, key=lambda p: int(_CHECKPOINT.match(p.name).group(1)), default=None)


def read_gated(data: str, kind: str, fmt: str | None, manifest: str | None,
               allow_unaudited: bool) -> tuple[Corpus, GateResult]:
    """The data, read once and as its audit read it, and the gate's outcome for those very
    bytes; raises InputError when the gate refuses."""
    if not Path(data).is_file():
        raise InputError(f"{data}: no such file")
    with snapshot(Path(data)) as (copy, digest):
        outcome = check_reading(check_gate(data, manifest, digest), data, kind, fmt)
        if outcome.passed:
            audited = outcome.manifest["input"]
            corpus = read_snapshot(copy, digest, data, audited["format"], audited["id_field"])
            outcome = check_counts(outcome, data, corpus.n_read, len(corpus.records))
        elif allow_unaudited:
            corpus = read_snapshot(copy, digest, data, fmt)
    if not outcome.passed and not allow_unaudited:
        raise InputError(outcome.problem)
    return corpus, outcome


def _sft_config(kind: str, cfg: TrainConfig, out: Path, use_cpu: bool):
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(out / "checkpoints"), per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, learning_rate=cfg.lr,
        num_train_epochs=cfg.epochs, max_steps=cfg.max_steps, warmup_steps=cfg.warmup_steps,
        lr_scheduler_type="cosine", logging_steps=1, save_steps=cfg.save_steps,
        save_total_limit=2, seed=cfg.seed, data_seed=cfg.seed, report_to=[], disable_tqdm=True,
        max_length=cfg.max_length, packing=kind == "midtrain", packing_strategy="wrapped",
        use_cpu=use_cpu, bf16=cfg.bf16)


def make_trainer(kind: str, examples: Examples, model, tok, cfg: TrainConfig, run: Path,
                 callbacks=()):
    """An SFTTrainer over pre-tokenized examples: packed to `max_length` for midtraining, and
    for SFT with labels only on the assistant tokens (TRL builds them from `assistant_masks`)."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTTrainer

    torch.manual_seed(cfg.seed)
    peft_config = None if cfg.method == "full" else LoraConfig(
        r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
        target_modules=lora_targets(), task_type="CAUSAL_LM")
    args = _sft_config(kind, cfg, run, not torch.cuda.is_available())
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(examples.rows),
                         processing_class=tok, peft_config=peft_config, callbacks=list(callbacks))
    trainer.remove_callback(PrinterCallback)  # the rich display and run.json report instead
    return trainer


def quiet_libraries() -> None:
    """Silence the libraries' own progress bars and log lines; ours report instead."""
    import datasets
    from transformers.utils import logging

    datasets.disable_progress_bars()
    datasets.utils.logging.set_verbosity_error()
    logging.set_verbosity_error()
    logging.disable_progress_bar()


def train(kind: str, data: str, out: str, cfg: TrainConfig, manifest: str | None = None,
          allow_unaudited: bool = False, resume: bool = False, callbacks=(),
          fmt: str | None = None) -> dict:
    """Train and write RUN/; returns the run record (run.json)."""
    if kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)}")
    run = Path(out)
    if (run / "run.json").is_file() and not resume:
        raise InputError(f"{run}: holds a finished run; choose another --out")
    if resume and last_checkpoint(run / "checkpoints") is None:
        raise InputError(f"{run}: no complete checkpoint to resume from")
    if not resume and (run / "checkpoints").is_dir() and any((run / "checkpoints").iterdir()):
        raise InputError(f"{run}: holds checkpoints of an unfinished run; pass --resume to "
                         "continue it, or choose another --out")
    started = time.time()
    corpus, outcome = read_gated(data, kind, fmt, manifest, allow_unaudited)
    quiet_libraries()
    model, tok, base = load_model(cfg.model)
    examples = prepare(corpus, kind, tok, cfg.max_length, cfg.keep_system)
    write_jsonl(run / "rejected.jsonl", [r.as_dict() for r in examples.rejected])
    trainer = make_trainer(kind, examples, model, tok, cfg, run, [curve := LossCurve(), *callbacks])
    checkpoint = last_checkpoint(run / "checkpoints") if resume else None
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    trainer.save_model(str(run))
    tok.save_pretrained(str(run))
    record = _record(kind, data, cfg, base, outcome, allow_unaudited, examples, curve,
                     trainer.state.global_step, result, time.time() - started, checkpoint)
    atomic_write_text(run / "run.json", json.dumps(record, indent=1) + "\n")
    atomic_write_text(run / "model_card.md", model_card(record))
    return record


class LossCurve(TrainerCallback):
    """Keeps the loss curve and the count of tokens trained on; a resumed run starts from the
    history saved in its checkpoint (throughput counts the tokens this process trained)."""

    def __init__(self):
        self.points: list[dict] = []
        self.tokens = self.tokens_at_start = 0

    def on_train_begin(self, args, state, control, **kwargs):
        for logs in state.log_history:
            self._add(logs.get("step", 0), logs)
        self.tokens_at_start = self.tokens

    def on_log(self, args, state, control, logs=None, **kwargs):
        self._add(state.global_step, logs or {})

    def _add(self, step: int, logs: dict) -> None:
        if "loss" in logs:
            self.points.append({"step": step, "loss": round(float(logs["loss"]), 5),
                                "learning_rate": logs.get("learning_rate")})
        self.tokens = int(logs.get("num_tokens", self.tokens))

    @property
    def mean_loss(self) -> float | None:
        """The mean loss over every step (the trainer's own figure covers this process only)."""
        return sum(p["loss"] for p in self.points) / len(self.points) if self.points else None


def _record(kind, data, cfg, base, outcome, allow_unaudited, examples: Examples, curve, steps,
            result, seconds, checkpoint) -> dict:
    return {
        "traitforge_version": __version__, "kind": kind,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": cfg.as_dict(), "base_model": cfg.model, "resolved_model": base,
        "data": {"file": str(data), "sha256": examples.sha256, "read": examples.n_read,
                 "used": len(examples.rows), "rejected": len(examples.rejected),
                 "tokens": examples.n_tokens, "system_prompts_dropped": examples.dropped_system},
        "gate": {**outcome.as_dict(), "allow_unaudited": allow_unaudited,
                 "unaudited": not outcome.passed},
        "steps": steps,
        "train_loss": round(curve.mean_loss if checkpoint and curve.points
                            else float(result.training_loss), 5),
        "loss_curve": curve.points, "tokens_trained": curve.tokens,
        "train_s": round(result.metrics["train_runtime"], 2),
        "tokens_per_s": round((curve.tokens - curve.tokens_at_start)
                              / max(result.metrics["train_runtime"], 1e-9), 1),
        "wall_s": round(seconds, 1), "resumed_from": str(checkpoint) if checkpoint else None,
    }


def model_card(record: dict) -> str:
    cfg, d, g = record["config"], record["data"], record["gate"]
    audit = (f"passed its audit: manifest `{g['manifest']}` (verdict {g['verdict']})" if g["passed"]
             else f"**NOT AUDITED**: trained with --allow-unaudited ({g['problem']})")
    first, last = (record["loss_curve"][0]["loss"], record["loss_curve"][-1]["loss"]) \
        if record["loss_curve"] else (None, None)
    return "\n".join([
        f"# traitforge {record['kind']} run", "",
        f"- base model: `{record['resolved_model']}`",
        f"- method: {cfg['method']}" + (f" (r={cfg['lora_r']}, alpha={cfg['lora_alpha']})"
                                         if cfg["method"] == "lora" else ""),
        f"- data: `{d['file']}` (sha256 {d['sha256']}), {d['used']} records used of "
        f"{d['read']} read, {d['rejected']} rejected, {d['tokens']} tokens",
        f"- audit: {audit}",
        f"- steps: {record['steps']}, learning rate {cfg['learning_rate']}, batch "
        f"{cfg['batch_size']} x {cfg['grad_accum']}, max length {cfg['max_length']}, seed "
        f"{cfg['seed']}",
        f"- loss: {first} → {last}; {record['tokens_per_s']} tokens/s; {record['wall_s']} s",
        f"- system prompts dropped: {d['system_prompts_dropped']}" if record["kind"] == "sft" else "",
        f"- traitforge {record['traitforge_version']}, {record['created_at']}", ""])
