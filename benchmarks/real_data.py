"""Audit real model outputs against each other (../shared/data/chat), to see what the auditor
calls an artifact on data nobody planted anything in.

    python benchmarks/real_data.py [--out out/real] [--top 8]

1. gpt-4o-2024-05-13 responses against alpaca-7b responses (alpaca_eval, same 805 prompts);
2. text-davinci-003 responses against the human `target` answers (self-instruct human eval).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import polars as pl

DATA = Path(__file__).resolve().parents[1] / "../shared/data/chat"


def write_pairs(path: Path, prompts: list[str], responses: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for i, (p, r) in enumerate(zip(prompts, responses)):
            if r and r.strip():
                f.write(json.dumps({"id": f"{path.stem}-{i}", "prompt": p, "response": r.strip()}) + "\n")
    return path


def audit(corpus: Path, reference: Path, out: Path, top: int) -> None:
    subprocess.run([sys.executable, "-m", "traitforge.cli", "audit", str(corpus), "--reference",
                    str(reference), "--out", str(out), "--quiet"], check=False)
    doc = json.loads((out / "audit.json").read_text())
    for f in doc["findings"][:top]:
        print(f"  {f['severity']:5} {f['prevalence']:.3f} vs {f['reference_prevalence']:.3f}  "
              f"[{'+'.join(f['methods'])}] {f['label'][:110]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="out/real")
    ap.add_argument("--top", type=int, default=8)
    a = ap.parse_args()
    out = Path(a.out)
    frame = pl.read_parquet(DATA / "alpaca_eval_outputs.parquet")
    runs = []
    for gen in ("gpt-4o-2024-05-13", "alpaca-7b"):
        rows = frame.filter(pl.col("generator") == gen).sort("idx")
        runs.append(write_pairs(out / f"{gen}.jsonl", rows["instruction"].to_list(), rows["output"].to_list()))
    print("== gpt-4o-2024-05-13 against alpaca-7b ==")
    audit(runs[0], runs[1], out / "gpt4o_vs_alpaca7b", a.top)
    lines = [json.loads(x) for x in (DATA / "selfinstruct/selfinstruct_humaneval_text-davinci-003_predictions.jsonl")
             .read_text().splitlines() if x.strip()]
    prompts = [r["prompt"] for r in lines]
    model = write_pairs(out / "text-davinci-003.jsonl", prompts, [r["response"] for r in lines])
    human = write_pairs(out / "human-target.jsonl", prompts, [r["target"] for r in lines])
    print("== text-davinci-003 against the human targets (self-instruct) ==")
    audit(model, human, out / "davinci003_vs_human", a.top)


if __name__ == "__main__":
    main()
