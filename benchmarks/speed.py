"""Time an audit (passes 1 and 2) of real chat responses, and report docs/s and peak memory.

    python benchmarks/speed.py [--n 20000] [--reference] [--data PARQUET]

Samples N responses from the AlpacaEval outputs in ../shared/data (any parquet with
`instruction` and `output` columns works), writes them as a chat JSONL, and runs
`traitforge audit` in a child process so that its peak RSS is measured alone.
Target (issue 2): 20,000 responses in under 20 s wall and under 2 GiB on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

DEFAULT = Path(__file__).resolve().parents[1] / "../shared/data/chat/alpaca_eval_outputs.parquet"


def write_sample(df: pl.DataFrame, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for i, (q, a) in enumerate(zip(df["instruction"], df["output"])):
            f.write(json.dumps({"id": f"s{i:06d}", "messages": [
                {"role": "user", "content": q}, {"role": "assistant", "content": a}]}) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(DEFAULT))
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--reference", action="store_true", help="also audit against N other responses")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    df = pl.read_parquet(a.data, columns=["instruction", "output"])
    df = df.filter(pl.col("output").str.strip_chars().str.len_chars() > 0)
    df = df.sample(n=min(len(df), 2 * a.n if a.reference else a.n), seed=a.seed, shuffle=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_sample(df[: a.n], tmp / "corpus.jsonl")
        cmd = [sys.executable, "-m", "traitforge.cli", "audit", str(tmp / "corpus.jsonl"),
               "--out", str(tmp / "out"), "--quiet"]
        if a.reference:
            write_sample(df[a.n:], tmp / "reference.jsonl")
            cmd += ["--reference", str(tmp / "reference.jsonl")]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode not in (0, 1):
            sys.exit(f"audit failed ({proc.returncode}): {proc.stderr.strip()}")
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 ** 2  # KiB -> GiB
        doc = json.loads((tmp / "out" / "audit.json").read_text())
    units = doc["stats"]["corpus"]["units"] + (doc["stats"].get("reference") or {}).get("units", 0)
    print(f"responses audited: {doc['stats']['corpus']['units']}"
          f"{' + reference ' + str(doc['stats']['reference']['units']) if a.reference else ''}")
    print(f"findings: {len(doc['findings'])}  verdict: {doc['verdict']}")
    print(f"wall: {wall:.1f} s   throughput: {units / wall:.0f} docs/s   peak RSS: {peak:.2f} GiB")
    print(f"target (20k, passes 1+2): < 20 s and < 2 GiB -> "
          f"{'MET' if wall < 20 and peak < 2 else 'NOT MET'}")


if __name__ == "__main__":
    main()
