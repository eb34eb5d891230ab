"""Time a full audit (all four passes) of real chat responses: docs/s per pass and peak memory.

    python benchmarks/speed.py [--n 20000] [--reference] [--data PARQUET]

Samples N responses from the AlpacaEval outputs in ../shared/data (any parquet with
`instruction` and `output` columns works), writes them as a chat JSONL, and runs
`traitforge audit` in a child process so that its peak RSS is measured alone.
Targets (issue 3, default settings, 2 cores): 20,000 responses in under 60 s and 4 GiB; the
whole 171,453-response file (--n 0) in under 10 minutes with memory flat. With --bertopic and
bertopic installed, BERTopic is timed on the same opening sentences for comparison.
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
    ap.add_argument("--bertopic", action="store_true", help="also time BERTopic on the openings")
    a = ap.parse_args()
    df = pl.read_parquet(a.data, columns=["instruction", "output"])
    df = df.filter(pl.col("output").str.strip_chars().str.len_chars() > 0)
    a.n = a.n or len(df)
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
    for step, sec in doc["seconds"].items():
        print(f"  {step:30} {sec:7.1f} s  {units / max(sec, 1e-9):9.0f} docs/s")
    if a.bertopic:
        bertopic(df[: a.n], wall)


def bertopic(df: pl.DataFrame, ours: float) -> None:
    """BERTopic (static embeddings, as ours) on the same opening sentences, for the ratio."""
    try:
        from bertopic import BERTopic
    except ImportError:
        print("bertopic is not installed: skipped")
        return
    from traitforge.backends.embed import Embedder
    from traitforge.audit.units import make_unit

    openings = [u.slot_text("opening") for u in (make_unit(str(i), 0, t, "") for i, t in
                                                 enumerate(df["output"].to_list()))]
    start = time.perf_counter()
    BERTopic(min_topic_size=20).fit(openings, embeddings=Embedder().encode(openings))
    took = time.perf_counter() - start
    print(f"BERTopic on {len(openings)} opening sentences: {took:.1f} s "
          f"(our whole audit took {ours / took:.2f}x that)")


if __name__ == "__main__":
    main()
