"""Audit real model outputs against each other (../shared/data/chat), to see what the auditor
calls an artifact on data nobody planted anything in.

    python benchmarks/real_data.py [--out out/real] [--top 8]

1. gpt-4o-2024-05-13 responses against alpaca-7b responses (alpaca_eval, same 805 prompts);
2. text-davinci-003 responses against the human `target` answers (self-instruct human eval);
3. the generator with the longest answers in alpaca_eval against a mix of the others (for each
   prompt, one other generator's answer drawn at random).
Each prints the length profile and the top findings, and the warn/fail findings made only of
function words and punctuation (which should be none).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

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
    length = doc["stats"].get("length") or {}
    print(f"  length: median {length.get('corpus_median_words')} against "
          f"{length.get('reference_median_words')} words (ratio {length.get('ratio')})")
    for f in doc["findings"][:top]:
        ref = f.get("reference_expected", f["reference_prevalence"])
        print(f"  {f['severity']:5} {f['prevalence']:.3f} vs {f['reference_prevalence']:.3f} "
              f"(at the corpus's lengths {ref:.3f})  [{'+'.join(f['methods'])}] {f['label'][:90]}")
    bare = [f["label"] for f in doc["findings"] if f["severity"] in ("fail", "warn")
            and all(w in ENGLISH_STOP_WORDS or not any(c.isalnum() for c in w)
                    for w in f["label"].lower().split())]
    print(f"  warn/fail findings of function words and punctuation only: {bare or 'none'}")


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
    longest, mix = longest_against_mix(frame, out)
    print(f"== {longest.stem} (longest answers) against a mix of the other generators ==")
    audit(longest, mix, out / "longest_vs_mix", a.top)


def longest_against_mix(frame: pl.DataFrame, out: Path) -> tuple[Path, Path]:
    lengths = (frame.with_columns(pl.col("output").str.len_chars().alias("n"))
               .group_by("generator").agg(pl.col("n").median()).sort("n", descending=True))
    gen = lengths["generator"][0]
    rows = frame.filter(pl.col("generator") == gen).sort("idx")
    others = (frame.filter(pl.col("generator") != gen).sample(fraction=1.0, shuffle=True, seed=0)
              .unique("idx", keep="first").sort("idx"))
    return (write_pairs(out / f"{gen}.jsonl", rows["instruction"].to_list(), rows["output"].to_list()),
            write_pairs(out / "others-mix.jsonl", others["instruction"].to_list(),
                        others["output"].to_list()))


if __name__ == "__main__":
    main()
