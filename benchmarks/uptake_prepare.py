"""Build the pattern-uptake experiment on a planted set: a training sample of short chats, the
held-out prompts, then audit, clean, and two SFT runs on the default model (raw and cleaned).

    python benchmarks/uptake_prepare.py --set ../shared/bench/planted_dev --out out/uptake

Then `python benchmarks/eval_real.py --uptake out/uptake` measures uptake with `traitforge eval`.
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path


def sh(*args: str) -> None:
    print("$", " ".join(args), flush=True)
    code = subprocess.call(args)
    if code not in (0, 1):  # audit exits 1 on a fail verdict
        sys.exit(code)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default="../shared/bench/planted_dev")
    ap.add_argument("--out", default="out/uptake")
    ap.add_argument("--n", type=int, default=300, help="training chats")
    ap.add_argument("--heldout", type=int, default=100, help="held-out prompts")
    ap.add_argument("--max-chars", type=int, default=900, help="longest reply kept for training")
    ap.add_argument("--lr", default="1e-3")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in open(Path(args.set) / "corpus.jsonl")]
    rng = random.Random(args.seed)
    rng.shuffle(rows)
    short = [r for r in rows if len(r["messages"][-1]["content"]) <= args.max_chars]
    train, rest = short[:args.n], [r for r in rows if r not in short[:args.n]]
    with open(out / "train.jsonl", "w") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in train)
    with open(out / "heldout.jsonl", "w") as f:
        for r in rest[:args.heldout]:
            f.write(json.dumps({"id": r["id"], "prompt": r["messages"][0]["content"]},
                               ensure_ascii=False) + "\n")
    tf = [sys.executable, "-m", "traitforge.cli"]
    sh(*tf, "audit", str(out / "train.jsonl"), "--reference", str(Path(args.set) / "reference.jsonl"),
       "--out", str(out / "audit"), "--quiet")
    sh(*tf, "clean", str(out / "train.jsonl"), "--audit", str(out / "audit"), "--strategy", "strip",
       "--out", str(out / "clean.jsonl"), "--quiet")
    common = ["--method", "lora", "--lr", args.lr, "--epochs", "1", "--batch-size", "4",
              "--max-length", "512", "--seed", str(args.seed), "--quiet"]
    sh(*tf, "train", "sft", str(out / "train.jsonl"), "--out", str(out / "sft_raw"),
       "--allow-unaudited", *common)
    sh(*tf, "train", "sft", str(out / "clean.jsonl"), "--out", str(out / "sft_clean"), *common)


if __name__ == "__main__":
    main()
