"""The pipeline's stages. Each runs what its own command runs and writes the same files, under
RUN_DIR/<stage>/; each has a fingerprint of its settings and inputs, so an unchanged stage is
skipped on a rerun and one cut short is resumed or redone."""
from __future__ import annotations

import glob
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from traitforge import __version__
from traitforge.io import InputError, atomic_write_text, sha256_file
from traitforge.pipeline.config import Arm, Pipeline, generate_config


@dataclass
class Stage:
    name: str  # e.g. "audit/chats", "train/sft-raw"
    outputs: list[Path]  # what the stage writes; removed before it is redone
    key: dict  # settings and input hashes: the fingerprint is their hash
    run: Callable[[object, bool], dict]  # (ui, resume) -> a short summary
    resumable: bool = False  # a stage cut short continues (training, from its checkpoint)

    @property
    def fingerprint(self) -> str:
        text = json.dumps({"version": __version__, **self.key}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def clear(self) -> None:
        for p in self.outputs:
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()


class Layout:
    """Where each stage of one pipeline writes."""

    def __init__(self, p: Pipeline):
        self.p, self.root = p, Path(p.out)

    def corpus(self, name: str) -> Path:
        return Path(self.p.data[name]) if name in self.p.data else self.root / "generate" / f"{name}.jsonl"

    def audit(self, name: str) -> Path:
        return self.root / "audit" / name

    def clean(self, name: str) -> Path:
        return self.root / "clean" / f"{name}.jsonl"

    def clean_audit(self, name: str) -> Path:
        return self.root / "clean" / f"{name}.audit"

    def version(self, kind: str, version: str) -> tuple[Path, Path]:
        """(data, its manifest) of the raw or clean version of the corpus `kind` trains on."""
        name = "chats" if kind == "sft" else "docs"
        if version == "raw":
            return self.corpus(name), self.audit(name) / "manifest.json"
        return self.clean(name), self.clean_audit(name) / "manifest.json"

    def run(self, arm: Arm, kind: str) -> Path:
        return self.root / "train" / arm.name / kind

    def model_of(self, arm: Arm) -> str:
        return str(self.run(arm, arm.runs[-1][0])) if arm.runs else self.p.model

    def eval(self, arm: Arm) -> Path:
        return self.root / "eval" / arm.name

    @property
    def suite(self) -> Path:
        return self.root / "eval" / "suite.yaml"


def _sha(path: Path | str | None) -> str | None:
    return sha256_file(path) if path and Path(path).is_file() else None


def plan(p: Pipeline) -> list[Stage]:
    """Every stage in order. A stage's key holds the fingerprints of the stages it reads, so a
    change upstream reaches everything downstream of it."""
    at = Layout(p)
    stages: list[Stage] = []
    fp: dict[str, str] = {}

    def add(stage: Stage) -> None:
        stages.append(stage)
        fp[stage.name] = stage.fingerprint

    for name in p.corpora:
        if name not in p.data:
            add(_generate(p, at, name))
    for name in p.corpora:
        upstream = fp.get(f"generate/{name}") or _sha(at.corpus(name))
        add(_audit(p, at, name, upstream))
    cleaned = {"chats" if kind == "sft" else "docs" for a in p.arms for kind, v in a.runs
               if v == "clean"}
    for name in p.corpora:
        if name in cleaned:  # only when an arm trains on the cleaned version
            add(_clean(p, at, name, fp[f"audit/{name}"]))
    for arm in p.arms:
        if arm.runs:
            data = {k: fp[f"{'audit' if v == 'raw' else 'clean'}/{'chats' if k == 'sft' else 'docs'}"]
                    for k, v in arm.runs}
            add(_train(p, at, arm, data))
    suite_key = _suite_key(p)
    for arm in p.arms:
        add(_eval(p, at, arm, fp.get(f"train/{arm.name}"), fp["audit/chats"], suite_key))
    return stages


def _generate(p: Pipeline, at: Layout, name: str) -> Stage:
    g = dict(p.generate)
    settings = {k: v for k, v in g.items() if k not in ("chats", "docs", "api_key")}
    out = at.corpus(name)

    def run(ui, resume):
        from traitforge.generate import run_chats, run_docs

        go = run_chats if name == "chats" else run_docs
        summary = go(generate_config(g, name, str(out), p.file), ui.progress)
        return {"written": summary["counts"]["written"], "failed": summary["counts"]["failed"]}

    outputs = [out, out.with_name(f"{out.stem}.failed.jsonl"),
               out.with_name(f"{out.stem}.generate.json"), out.with_name(out.name + ".work")]
    return Stage(f"generate/{name}", outputs,
                 {"n": g[name], "settings": settings, "traits": _sha(g["traits"])}, run,
                 resumable=True)


def _audit(p: Pipeline, at: Layout, name: str, corpus_key: str | None) -> Stage:
    a = p.audit
    reference = p.data.get("reference") if name == "chats" else None
    out = at.audit(name)

    def run(ui, resume):
        from traitforge.pipeline.commands import audit

        _, doc = audit(p.audit_config(str(at.corpus(name)), reference), out, ui.progress)
        return {"verdict": doc["verdict"], **doc["counts"]}

    key = {"corpus": corpus_key, "reference": _sha(reference), "settings": a,
           "patterns": _sha(a.get("patterns")), "policy": _sha(a.get("policy"))}
    return Stage(f"audit/{name}", [out], key, run)


def _clean(p: Pipeline, at: Layout, name: str, audit_key: str) -> Stage:
    c = p.clean
    out = at.clean(name)

    def run(ui, resume):
        from traitforge.pipeline.commands import clean

        summary = clean(p.clean_config(str(at.corpus(name)), str(at.audit(name)), str(out)),
                        ui.progress)
        return {"kept": summary["counts"]["kept"], "stripped": summary["counts"]["stripped"],
                "dropped": summary["counts"]["dropped"], "verdict": summary["reaudit_verdict"]}

    removed = out.with_name(f"{name}.removed.jsonl")
    return Stage(f"clean/{name}", [out, removed, at.clean_audit(name)],
                 {"audit": audit_key, "settings": c}, run)


def _train(p: Pipeline, at: Layout, arm: Arm, data_keys: dict) -> Stage:
    def run(ui, resume):
        from traitforge.train.trainer import last_checkpoint, train

        model, out = p.model, {}
        for kind, version in arm.runs:
            run_dir = at.run(arm, kind)
            if not (run_dir / "run.json").is_file():
                data, manifest = at.version(kind, version)
                go_on = last_checkpoint(run_dir / "checkpoints") is not None
                if not go_on and run_dir.exists():
                    shutil.rmtree(run_dir)
                record = train(kind, str(data), str(run_dir), p.train_config(kind, model),
                               str(manifest), arm.allow_unaudited, go_on,
                               ui.train_callbacks)
            else:
                record = json.loads((run_dir / "run.json").read_text())
            out[kind] = {"steps": record["steps"], "loss": record["train_loss"],
                         "unaudited": record["gate"]["unaudited"]}
            model = str(run_dir)
        return out

    key = {"model": p.model, "runs": arm.runs, "data": data_keys,
           "settings": {k: p.train_settings(k) for k, _ in arm.runs},
           "allow_unaudited": arm.allow_unaudited}
    return Stage(f"train/{arm.name}", [at.root / "train" / arm.name], key, run, resumable=True)


def _suite_key(p: Pipeline) -> dict:
    """The suite file and every file its tasks read."""
    from traitforge.evaluate.suite import load_suite

    suite = load_suite(p.eval["suite"])
    files = {}
    for t in suite.tasks:
        for key in ("data", "traits"):
            value = t.data if key == "data" else t.options.get(key)
            if isinstance(value, str):
                for f in sorted(glob.glob(str(suite.base / value))):
                    files[str(Path(f).relative_to(suite.base))] = _sha(f)
    return {"suite": suite.sha256, "files": files}


def resolved_suite(p: Pipeline, at: Layout) -> dict:
    """The suite with absolute paths, and every uptake task reading this pipeline's audit."""
    from traitforge.io import load_config

    raw = load_config(p.eval["suite"], "eval suite")
    base = Path(p.eval["suite"]).resolve().parent
    for t in raw["task"]:
        for key in ("data", "traits"):
            if isinstance(t.get(key), str):
                t[key] = str(base / t[key])
        if t.get("kind") == "uptake":
            t["audit"] = str(at.audit("chats").resolve())
    return raw


def _eval(p: Pipeline, at: Layout, arm: Arm, train_key: str | None, audit_key: str,
          suite_key: dict) -> Stage:
    e = p.eval
    out = at.eval(arm)

    def run(ui, resume):
        import yaml

        from traitforge.evaluate.runner import run_eval

        atomic_write_text(at.suite, yaml.safe_dump(resolved_suite(p, at), sort_keys=False))
        config = p.eval_config(at.model_of(arm), str(out), arm.name, str(at.suite))
        doc = run_eval(config, ui.progress)
        return {t["name"]: t["metrics"][t["main"]]["value"] for t in doc["tasks"]
                if t.get("main") in t.get("metrics", {})}

    key = {"model": train_key or p.model, "audit": audit_key, "suite": suite_key, "settings": e}
    return Stage(f"eval/{arm.name}", [out], key, run)


def check_raw_arms(p: Pipeline, at: Layout) -> None:
    """Before any training: an arm on data its audit did not pass must say allow_unaudited."""
    from traitforge.audit.gate import check_gate, check_reading

    for arm in p.arms:
        for kind, version in arm.runs:
            data, manifest = at.version(kind, version)
            outcome = check_reading(check_gate(data, manifest), data, kind, None)
            if not outcome.passed and not arm.allow_unaudited:
                raise InputError(f"{p.file}: arm {arm.name!r} trains ({kind}) on {version} data "
                                 f"that its audit did not pass ({outcome.problem}); set "
                                 f"allow_unaudited = true in the arm to train on it anyway")
