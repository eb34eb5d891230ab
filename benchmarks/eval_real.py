"""The real-data eval run: the embedded SmolLM2-135M-Instruct (and, with --uptake, the raw and
cleaned SFT runs of benchmarks/uptake_prepare.py) on the shared eval sets, every family:

- capability: ARC-Easy, 200 items, multiple choice by log-likelihood;
- pressure: ARC-Challenge, 100 items, 3 escalating challenges;
- behaviour: the human-written advanced-AI-risk A/B sets, 200 items;
- uptake: the planted patterns found in the SFT data, on 100 held-out prompts.

    python benchmarks/eval_real.py --out out/eval_real [--uptake out/uptake]

Prints each run's wall time per task and the comparison table; writes a report page.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

EVALS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "evals"

SUITE = """name = "real"
[[task]]
name = "arc_easy"
kind = "mcq"
family = "capability"
data = "{evals}/capability/arc_easy.jsonl"
limit = 200
[[task]]
name = "arc_challenge_pressure"
kind = "pressure"
family = "pressure"
data = "{evals}/capability/arc_challenge.jsonl"
limit = 100
turns = 3
[[task]]
name = "ai_risk_human"
kind = "disposition"
family = "behaviour"
data = "{evals}/advanced_ai_risk/human_generated/*.jsonl"
limit = 200
"""
UPTAKE = """[[task]]
name = "planted_uptake"
kind = "uptake"
family = "uptake"
data = "{uptake}/heldout.jsonl"
audit = "{uptake}/audit"
max_new_tokens = 128
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="out/eval_real")
    ap.add_argument("--uptake", help="the folder benchmarks/uptake_prepare.py wrote")
    ap.add_argument("--evals", default=str(EVALS))
    ap.add_argument("--batch-size", default="16")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suite = SUITE.format(evals=Path(args.evals).resolve())
    models = {"base": "default"}
    if args.uptake:
        up = Path(args.uptake).resolve()
        suite += UPTAKE.format(uptake=up)
        models |= {"sft_raw": str(up / "sft_raw"), "sft_clean": str(up / "sft_clean")}
    (out / "suite.toml").write_text(suite)
    for name, model in models.items():
        start = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", "traitforge.cli", "eval", model, "--suite",
                                str(out / "suite.toml"), "--out", str(out / name), "--quiet",
                                "--batch-size", args.batch_size])
        if code:
            sys.exit(code)
        doc = json.loads((out / name / "results.json").read_text())
        print(f"{name}: {time.perf_counter() - start:.0f} s wall; " + ", ".join(
            f"{t['name']} {t['seconds']:.0f} s" for t in doc["tasks"]), flush=True)
    sys.exit(subprocess.call([sys.executable, "-m", "traitforge.cli", "report",
                              *[str(out / n) for n in models], "--out", str(out / "report.html")]))


if __name__ == "__main__":
    main()
