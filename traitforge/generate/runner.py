"""What both pipelines share: settings, paths, the work directory, the backend, the outputs and
the summary."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from traitforge import __version__
from traitforge.backends import open_backend
from traitforge.generate.avoid import avoid_block, load_avoid
from traitforge.generate.engine import Engine, Meter
from traitforge.generate.journal import Journal, claim
from traitforge.generate.prompts import hashes
from traitforge.generate.traits import Trait, parse_traits
from traitforge.io import InputError, atomic_write_text, sha256_file, write_jsonl
from traitforge.settings import setting

# Settings that change what a record holds: a work directory only resumes a run with the same.
RUN_KEYS = ("n", "model", "base_url", "seed", "temperature", "max_new_tokens")


@dataclass
class GenerateConfig:
    traits: str = setting(help="the traits document (Markdown: one bullet per trait)",
                          positional=True)
    out: str = setting(help="output JSONL; beside it go NAME.failed.jsonl, NAME.generate.json "
                       "and the work directory OUT.work/ (resumed on rerun)", role="flag",
                       required=True)
    n: int = setting(help="records to generate", role="flag", required=True)
    model: str = setting("default", "'default' (embedded SmolLM2-135M-Instruct), a checkpoint, "
                         "or with --base-url the served model")
    base_url: str | None = setting(None, "an OpenAI-compatible server, e.g. "
                                   "http://127.0.0.1:8000/v1")
    api_key: str | None = setting(None, "its key (or TRAITFORGE_API_KEY / OPENAI_API_KEY)")
    concurrency: int | None = setting(None, "HTTP requests in flight (default 4)")
    batch_size: int = setting(8, "local sequences per batch")
    device: str | None = setting(None, "cpu or cuda for a local model (default: cuda if any)")
    wave: int = setting(16, "records per wave; each step is one backend call over a wave")
    retries: int = setting(2, "asks again after an unusable reply")
    seed: int = setting(0, "seed of the plan and the sampling")
    temperature: float = setting(0.7, "for the writing steps (judging steps are greedy)")
    max_new_tokens: int = setting(1024, "longest reply")
    avoid: str | None = setting(None, "an audit whose warn/fail patterns the prompts say to "
                                "avoid", metavar="AUDIT_DIR")
    price_in: float | None = setting(None, "$ per million prompt tokens, for the cost")
    price_out: float | None = setting(None, "$ per million completion tokens")

    def check(self) -> None:
        for name, value, low in (("--n", self.n, 1), ("--wave", self.wave, 1),
                                 ("--retries", self.retries, 0),
                                 ("--batch-size", self.batch_size, 1),
                                 ("--max-new-tokens", self.max_new_tokens, 1)):
            if value < low:
                raise InputError(f"{name} must be at least {low}")
        if not str(self.out).endswith(".jsonl"):
            raise InputError(f"{self.out}: --out must be a .jsonl file")

    def tokens(self, wanted: int) -> int:
        return min(wanted, self.max_new_tokens)


@dataclass(frozen=True)
class Outputs:
    out: Path
    failed: Path  # every failed item, with step and reason
    summary: Path  # config, counts, usage, cost, hashes, seconds
    work: Path  # cache/, done.jsonl, failed.jsonl, work.json (and plan.json for docs)

    @classmethod
    def of(cls, out: str | Path) -> "Outputs":
        out = Path(out)
        stem = out.name[:-len(".jsonl")]
        return cls(out, out.with_name(f"{stem}.failed.jsonl"),
                   out.with_name(f"{stem}.generate.json"), out.with_name(out.name + ".work"))


class Context:
    """One run's shared parts, handed to the pipeline: config, traits, avoid text, engine."""

    def __init__(self, config: GenerateConfig, traits: list[Trait], avoid: str, engine: Engine,
                 paths: Outputs):
        self.config, self.traits, self.avoid, self.engine, self.paths = (
            config, traits, avoid, engine, paths)


def run_generation(pipeline, config: GenerateConfig, progress=None) -> dict:
    """Plan, run the waves (resuming from the journal), write the outputs; return the summary."""
    start = time.perf_counter()
    config.check()
    pipeline.check(config)
    traits = parse_traits(config.traits)
    paths = Outputs.of(config.out)
    inputs = {Path(config.traits).resolve()}
    if config.avoid:
        inputs.add((Path(config.avoid) / "audit.json").resolve())
    for p in (paths.out, paths.failed, paths.summary):
        if p.resolve() in inputs:
            raise InputError(f"{p}: would overwrite an input; choose another --out")
    found, avoid_sha = load_avoid(config.avoid) if config.avoid else ([], None)
    prompt_hashes = hashes(pipeline.templates)
    fingerprint = {"pipeline": pipeline.name, "traits_sha256": sha256_file(config.traits),
                   "avoid_sha256": avoid_sha, "prompt_hashes": prompt_hashes,
                   **{k: getattr(config, k) for k in RUN_KEYS + pipeline.run_keys}}
    claim(paths.work, fingerprint)
    backend = open_backend(config.model, config.base_url, config.api_key, config.batch_size,
                           config.device, config.concurrency, cache_dir=paths.work / "cache")
    journal = Journal(paths.work)
    try:
        meter = Meter(progress, pipeline.name, config.n, backend,
                      (config.price_in, config.price_out))
        engine = Engine(backend, journal, meter, config.retries, config.seed)
        ctx = Context(config, traits, avoid_block(found), engine, paths)
        items = pipeline.plan(ctx)
        engine.run(items, lambda wave: pipeline.wave(ctx, wave), config.wave)
    finally:
        journal.close()
    order = {it.id: it.index for it in items}
    rows = sorted(journal.done.values(), key=lambda r: order[r["id"]])
    failures = sorted(journal.failed.values(), key=lambda r: order[r["id"]])
    write_jsonl(paths.out, rows)
    write_jsonl(paths.failed, failures)
    by_reason: dict[str, int] = {}
    for f in failures:
        key = f"{f['step']}: {f['reason']}"
        by_reason[key] = by_reason.get(key, 0) + 1
    summary = {
        "traitforge_version": __version__, "pipeline": pipeline.name,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": asdict(config) | {"api_key": None},
        "traits": {"file": config.traits, "sha256": fingerprint["traits_sha256"],
                   "ids": [t.id for t in traits]},
        "avoid": {"dir": config.avoid, "sha256": avoid_sha, "findings": found} if found else None,
        "counts": {"requested": config.n, "written": len(rows), "failed": len(failures),
                   "failed_by": dict(sorted(by_reason.items()))},
        "usage": meter.usage(), "cost_usd": meter.cost(), "prompt_hashes": prompt_hashes,
        "seconds": round(time.perf_counter() - start, 2),
        "outputs": {"out": str(paths.out), "failed": str(paths.failed),
                    "summary": str(paths.summary), "work": str(paths.work)},
    }
    atomic_write_text(paths.summary, json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    return summary
