"""TrainConfig: every setting of a training run, read from TOML and overridden by flags."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from traitforge.io import InputError, load_config
from traitforge.settings import FLAGS, build, check_keys, setting, table_keys

METHODS = ("lora", "full")


@dataclass(frozen=True)
class TrainConfig:
    model: str = setting("default", "'default' (embedded SmolLM2-135M-Instruct), a checkpoint, "
                         "a hub id, or an earlier run directory")
    method: str = setting("lora", "LoRA adapters or full fine-tuning", choices=METHODS)
    learning_rate: float = setting(0.0, "learning rate (0: 2e-4 for LoRA, 2e-5 for full "
                                   "fine-tuning)", flag="--lr")
    epochs: float = setting(1.0, "passes over the data")
    max_steps: int = setting(-1, "optimizer steps (> 0 overrides --epochs)")
    batch_size: int = setting(4, "sequences per step")
    grad_accum: int = setting(1, "gradient accumulation steps")
    max_length: int = setting(1024, "tokens per sequence")
    seed: int = setting(0, "seed for shuffling and initialisation")
    lora_r: int = setting(16, "LoRA rank")
    lora_alpha: int = setting(32, "LoRA alpha")
    lora_dropout: float = setting(0.05, "LoRA dropout")
    save_steps: int = setting(50, "checkpoint every N steps")
    keep_system: bool = setting(False, "keep system prompts (the recipe drops them)")
    warmup_steps: int = setting(0, "learning-rate warm-up steps")
    bf16: bool = setting(True, "train in fp32 instead of bf16 mixed precision (TRL's default)",
                         flag="--fp32")

    @property
    def lr(self) -> float:
        return self.learning_rate or (2e-4 if self.method == "lora" else 2e-5)

    def check(self) -> "TrainConfig":
        if self.method not in METHODS:
            raise InputError(f"method must be one of {', '.join(METHODS)}, not {self.method!r}")
        for name in ("batch_size", "grad_accum", "max_length", "save_steps", "lora_r"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1")
        if self.max_steps <= 0 and self.epochs <= 0:
            raise InputError("set epochs > 0 or max_steps > 0")
        return self

    def as_dict(self) -> dict:
        return {**asdict(self), "learning_rate": self.lr}


def load_train_config(path: str | None, overrides: dict) -> TrainConfig:
    """A TrainConfig from a TOML/YAML file (optional), then the non-None `overrides` (flags)."""
    data = {}
    if path:
        data = load_config(path, "training config")
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a table of training settings")
        check_keys(data, table_keys(TrainConfig), path)
    given = {k: v for k, v in overrides.items() if v is not None}
    return build(TrainConfig, {**data, **given}, path or FLAGS).check()


def lora_targets() -> list[str]:
    return ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
