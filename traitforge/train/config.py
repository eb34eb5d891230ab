"""TrainConfig: every setting of a training run, read from TOML and overridden by flags."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from traitforge.io import InputError, load_config

METHODS = ("lora", "full")


@dataclass(frozen=True)
class TrainConfig:
    model: str = "default"  # the embedded SmolLM2-135M-Instruct, a checkpoint, or a run dir
    method: str = "lora"
    learning_rate: float = 0.0  # 0: 2e-4 for LoRA, 2e-5 for full fine-tuning
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 1024
    seed: int = 0
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    save_steps: int = 50
    keep_system: bool = False
    warmup_steps: int = 0
    bf16: bool = True  # bf16 mixed precision (TRL's default); false trains in fp32

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
    """A TrainConfig from a TOML/YAML file (optional), then non-None `overrides` on top."""
    data = {}
    if path:
        data = load_config(path, "training config")
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a table of training settings")
    known = {f.name: f for f in fields(TrainConfig)}
    for key, value in data.items():
        if key not in known:
            raise InputError(f"{path}: unknown setting {key!r} (known: {', '.join(known)})")
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        cfg = TrainConfig(**data)
    except TypeError as e:
        raise InputError(f"{path or 'flags'}: {e}") from None
    for f in fields(TrainConfig):
        value = getattr(cfg, f.name)
        want = {"float": (int, float), "int": int, "bool": bool, "str": str}[f.type.split()[0]]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise InputError(f"{path or 'flags'}: {f.name} must be {f.type}, not {value!r}")
    return cfg.check()


def lora_targets() -> list[str]:
    return ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
