"""PIPELINE.toml: the stages' settings and the arms to compare, validated before anything runs.

    out = "out/experiment"        # RUN_DIR (relative to the current directory; --out overrides)
    model = "default"             # the base model of every arm
    [data]                        # paths relative to this file
    chats = "chats.jsonl"         # the SFT corpus ([generate] writes it when absent)
    docs = "docs.jsonl"           # a midtraining corpus, optional
    reference = "reference.jsonl"
    [generate]                    # optional: traits = "traits.md", chats = N, docs = N, model...
    [audit]                       # any `traitforge audit` setting: patterns, policy, builtin...
    [clean]                       # any `traitforge clean` setting: strategy, cap, stratify...
    [train]                       # TrainConfig settings for every run; [train.sft] and
                                  # [train.midtrain] override them per kind
    [[arm]]
    name = "sft-raw"
    sft = "raw"                   # "raw" or "clean": which version of the corpus
    midtrain = "clean"            # optional, done before sft
    allow_unaudited = true        # required to train on data the audit did not pass
    [eval]                        # suite (required), limit, tasks, max_new_tokens, batch_size,
                                  # seed, device
    [full]                        # overrides applied with --full, e.g. [full.train] max_steps
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from traitforge.audit import AuditConfig
from traitforge.clean import CleanConfig
from traitforge.evaluate.runner import EvalConfig
from traitforge.generate import ChatsConfig, DocsConfig
from traitforge.io import InputError, load_config
from traitforge.settings import check_keys, from_table, table_keys
from traitforge.train.config import TrainConfig

TABLES = {"data", "generate", "audit", "clean", "train", "arm", "eval"}
TOP = {"out", "model", "name", "full"} | TABLES
DATA = {"chats", "docs", "reference"}
GENERATE = set(table_keys(ChatsConfig)) | set(table_keys(DocsConfig)) | {"chats", "docs"}
EVAL = set(table_keys(EvalConfig))
VERSIONS = ("raw", "clean")
KINDS = ("midtrain", "sft")
TRAIN_KEYS = set(table_keys(TrainConfig)) - {"model"}


@dataclass(frozen=True)
class Arm:
    name: str
    midtrain: str | None = None  # "raw" | "clean" version of the docs corpus
    sft: str | None = None  # "raw" | "clean" version of the chats corpus
    allow_unaudited: bool = False

    @property
    def runs(self) -> list[tuple[str, str]]:
        """(kind, corpus version) of each training run, in order."""
        return [(k, getattr(self, k)) for k in KINDS if getattr(self, k)]


@dataclass(frozen=True)
class Pipeline:
    file: str
    out: str
    model: str
    data: dict  # name -> absolute path
    generate: dict | None
    audit: dict
    clean: dict
    train: dict  # common settings, plus "sft"/"midtrain" override tables
    arms: list[Arm]
    eval: dict
    name: str = "pipeline"
    corpora: list[str] = field(default_factory=list)  # "chats" and/or "docs", in audit order

    def train_settings(self, kind: str) -> dict:
        common = {k: v for k, v in self.train.items() if k not in KINDS}
        return {"model": self.model, **common, **self.train.get(kind, {})}

    def audit_config(self, corpus: str, reference: str | None) -> AuditConfig:
        return from_table(AuditConfig, self.audit, self.file, "audit", corpus=corpus,
                          reference=reference)

    def clean_config(self, corpus: str, audit: str, out: str) -> CleanConfig:
        return from_table(CleanConfig, self.clean, self.file, "clean", corpus=corpus,
                          audit=audit, out=out)

    def train_config(self, kind: str, model: str | None = None) -> TrainConfig:
        """[train] with [train.KIND] over it; `model` (an earlier run) over the base model."""
        settings = {**self.train_settings(kind), **({"model": model} if model else {})}
        return _train_config(settings, self.file, f"train.{kind}")

    def eval_config(self, model: str, out: str, name: str, suite: str | None = None) -> EvalConfig:
        return from_table(EvalConfig, {**self.eval, "suite": suite or self.eval["suite"]},
                          self.file, "eval", model=model, out=out, name=name)


def _table(raw: dict, key: str, known, where: str, label: str | None = None) -> dict:
    value, label = raw.get(key, {}), label or key
    if not isinstance(value, dict):
        raise InputError(f"{where}: [{label}] must be a table")
    check_keys(value, known, where, label)
    return dict(value)


def _path(base: Path, value, where: str, must_exist: bool = True) -> str:
    if not isinstance(value, str) or not value:
        raise InputError(f"{where}: expected a path, got {value!r}")
    p = (base / value).resolve()
    if must_exist and not p.exists():
        raise InputError(f"{where}: {p} does not exist")
    return str(p)


def _arm(k: int, raw, where: str, corpora: set[str]) -> Arm:
    here = f"{where}: arm {k}"
    if not isinstance(raw, dict):
        raise InputError(f"{here} is not a table")
    check_keys(raw, {"name", "midtrain", "sft", "allow_unaudited"}, here)
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", name):
        raise InputError(f"{here}: name must be letters, digits and _ . + - (got {name!r})")
    for kind, corpus in (("sft", "chats"), ("midtrain", "docs")):
        value = raw.get(kind)
        if value is None:
            continue
        if value not in VERSIONS:
            raise InputError(f"{here} ({name}): {kind} must be \"raw\" or \"clean\", not {value!r}")
        if corpus not in corpora:
            raise InputError(f"{here} ({name}): {kind} needs a {corpus} corpus ([data] {corpus} "
                             f"or [generate] {corpus})")
    allow = raw.get("allow_unaudited", False)
    if not isinstance(allow, bool):
        raise InputError(f"{here} ({name}): allow_unaudited must be true or false")
    return Arm(name, raw.get("midtrain"), raw.get("sft"), allow)


def _train(raw: dict, where: str) -> dict:
    train = _table(raw, "train", TRAIN_KEYS | set(KINDS), where)
    for kind in KINDS:
        if kind in train:
            train[kind] = _table(train, kind, TRAIN_KEYS, where, f"train.{kind}")
    return train


def _train_config(settings: dict, where: str, label: str) -> TrainConfig:
    try:
        return from_table(TrainConfig, settings, where, label).check()
    except InputError as e:  # check()'s own messages name no file
        raise InputError(str(e) if str(e).startswith(where) else f"{where}: [{label}] {e}") from None


def generate_config(table: dict, kind: str, out: str, where: str):
    """The ChatsConfig or DocsConfig of [generate] for one corpus (`kind` = N records)."""
    config_type = ChatsConfig if kind == "chats" else DocsConfig
    keys = set(table_keys(config_type))
    settings = {k: v for k, v in table.items() if k in keys}
    return from_table(config_type, settings, where, "generate", n=table[kind], out=out)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_pipeline(path: str | Path, out: str | None = None, full: bool = False) -> Pipeline:
    """Read and check PIPELINE.toml (with its [full] overrides when `full`); every problem is
    an InputError naming the file."""
    where = str(path)
    raw = load_config(path, "pipeline")
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a table of settings")
    overrides = raw.pop("full", {})
    if not isinstance(overrides, dict):
        raise InputError(f"{where}: [full] must be a table of overrides")
    if full:
        if not overrides:
            raise InputError(f"{where}: --full needs a [full] table of overrides")
        raw = _merge(raw, overrides)
    check_keys(raw, TOP, where)
    base = Path(path).resolve().parent
    data = {k: _path(base, v, f"{where}: [data] {k}")
            for k, v in _table(raw, "data", DATA, where).items()}
    generate = _table(raw, "generate", GENERATE, where) if "generate" in raw else None
    if generate is not None:
        generate["traits"] = _path(base, generate.get("traits"), f"{where}: [generate] traits")
        if "avoid" in generate:
            generate["avoid"] = _path(base, generate["avoid"], f"{where}: [generate] avoid")
        for kind in ("chats", "docs"):
            n = generate.get(kind)
            if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
                raise InputError(f"{where}: [generate] {kind} must be a positive count")
            if n is not None and kind in data:
                raise InputError(f"{where}: {kind} comes from [data] and [generate]; choose one")
            if n is not None:
                generate_config(generate, kind, "out.jsonl", where)
    corpora = [k for k in ("chats", "docs") if k in data or (generate or {}).get(k)]
    if "chats" not in corpora:
        raise InputError(f"{where}: no SFT corpus: set [data] chats or [generate] chats = N")
    audit = _table(raw, "audit", table_keys(AuditConfig), where)
    for key in ("patterns", "policy", "llm_cache_dir"):
        if isinstance(audit.get(key), str):
            audit[key] = _path(base, audit[key], f"{where}: [audit] {key}", key != "llm_cache_dir")
    clean = _table(raw, "clean", table_keys(CleanConfig), where)
    train = _train(raw, where)
    arms_raw = raw.get("arm")
    if not isinstance(arms_raw, list) or not arms_raw:
        raise InputError(f"{where}: declare at least one [[arm]] (e.g. name = \"base\")")
    arms = [_arm(k, a, where, set(corpora)) for k, a in enumerate(arms_raw, 1)]
    names = [a.name for a in arms]
    if len(set(names)) < len(names):
        raise InputError(f"{where}: arm names must be unique ({', '.join(names)})")
    ev = _table(raw, "eval", EVAL, where)
    if "eval" not in raw or "suite" not in ev:
        raise InputError(f"{where}: [eval] needs suite = an eval suite file")
    ev["suite"] = _path(base, ev["suite"], f"{where}: [eval] suite")
    run_dir = out or raw.get("out")
    if not isinstance(run_dir, str) or not run_dir:
        raise InputError(f"{where}: set out = RUN_DIR (or pass --out)")
    model = raw.get("model", "default")
    if not isinstance(model, str):
        raise InputError(f"{where}: model must be a string")
    pipeline = Pipeline(where, run_dir, model, data, generate, audit, clean, train, arms, ev,
                        str(raw.get("name", Path(path).stem)), corpora)
    pipeline.audit_config("", None)  # every table checked before anything runs
    pipeline.clean_config("", "", "")
    _train_config({k: v for k, v in train.items() if k not in KINDS}, where, "train")
    for kind in KINDS:
        pipeline.train_config(kind)
    pipeline.eval_config("", "", "")
    chained = [a.name for a in arms if len(a.runs) == 2]
    if chained and pipeline.train_settings("midtrain").get("method", "lora") != "full":
        raise InputError(f"{where}: arm {chained[0]!r} fine-tunes after midtraining, which needs a "
                         f"full model to start from: set [train.midtrain] method = \"full\"")
    return pipeline
