"""Score the auditor on the planted-artifact benchmark (../shared/bench).

    python benchmarks/planted.py [--set ../shared/bench/planted_dev] [--out out/planted]

Runs four audits and scores each with the benchmark's own score_planted.py:
  1. reference-free with --no-builtin (discovery alone);
  2. against reference.jsonl with --no-builtin (discovery alone);
  3. against reference.jsonl, built-in detectors on;
  4. the null run: null_a.jsonl against null_b.jsonl, counting fail/warn findings.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "../shared/bench"


def audit(corpus: Path, out: Path, *flags: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "traitforge.cli", "audit", str(corpus), "--out",
                           str(out), "--quiet", *flags], capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        sys.exit(f"audit of {corpus} failed: {proc.stderr.strip()}")
    return time.perf_counter() - start


def score(bench: Path, truth: Path, out: Path, *extra: str) -> str:
    proc = subprocess.run([sys.executable, str(bench / "score_planted.py"), str(truth), str(out),
                           *extra], capture_output=True, text=True, check=True)
    return proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default=str(BENCH / "planted_dev"), help="a planted set directory")
    ap.add_argument("--out", default="out/planted")
    a = ap.parse_args()
    data, out = Path(a.set), Path(a.out)
    bench = BENCH if (BENCH / "score_planted.py").exists() else data.parent
    truth = data / "truth.json"
    null_out = out / "null"
    t = audit(data / "null_a.jsonl", null_out, "--reference", str(data / "null_b.jsonl"))
    print(f"null run (null_a vs null_b): {t:.1f} s")
    runs = [("reference-free, --no-builtin", "free_nobuiltin", ("--no-builtin",)),
            ("with reference, --no-builtin", "ref_nobuiltin",
             ("--reference", str(data / "reference.jsonl"), "--no-builtin")),
            ("with reference, built-ins on", "ref", ("--reference", str(data / "reference.jsonl")))]
    for title, name, flags in runs:
        t = audit(data / "corpus.jsonl", out / name, *flags)
        print(f"\n== {title} ({t:.1f} s) ==")
        print(score(bench, truth, out / name, "--null", str(null_out)), end="")


if __name__ == "__main__":
    main()
