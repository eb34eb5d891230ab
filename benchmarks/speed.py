"""Time a full audit (all four passes) of real chat responses: docs/s per step and peak memory.

    python benchmarks/speed.py [--n 20000] [--reference] [--data PARQUET] [--code TREE ...]
                               [--variant ARGS ...] [--ray] [--bertopic {static,minilm,both}]
                               [--no-memory] [--repeat K]

Samples N responses from the AlpacaEval outputs in ../shared/data (any parquet with
`instruction` and `output` columns works; an N above the file's size resamples it with
replacement, ids made unique), writes them as a chat JSONL, and runs `traitforge audit` in a
child process so that its peak memory is measured alone: the proportional set size (PSS) of it
and the processes it starts (the census's), summed, sampled every 0.1 s; for one process that is
its RSS less its share of pages other processes map too. `--code TREE` (repeatable) audits the same file with the traitforge of each
checkout in turn (e.g. a `git worktree` of an earlier commit), and `--variant ARGS` with this
checkout and more audit flags (`--variant '--sample 0'`: no discovery sample), for figures side
by side in one sitting; `--ray` adds a run with `--ray` (a local Ray instance). `--repeat K`
runs them all K times, taking turns (A, B, A, B, ...), and prints each one's wall times and their
median: on a noisy machine only turns taken in one sitting tell two versions apart.
With `--bertopic` and bertopic installed, BERTopic is timed on the same opening sentences, with
our static embedder or as users run it (its default all-MiniLM-L6-v2 sentence-transformer).
Targets (issue 19, 2 cores): 20,000 responses in 10 s reference-free and 20 s with a reference of
20,000; all 171k in 90 s; a million in under 10 minutes and 4 GiB.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "../shared/data/chat/alpaca_eval_outputs.parquet"


def write_sample(df: pl.DataFrame, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for i, (q, a) in enumerate(zip(df["instruction"], df["output"])):
            f.write(json.dumps({"id": f"s{i:07d}", "messages": [
                {"role": "user", "content": q}, {"role": "assistant", "content": a}]}) + "\n")


def sample(data: str, n: int, seed: int) -> pl.DataFrame:
    """n non-empty responses, drawn without replacement up to the file's size, with beyond it."""
    df = pl.read_parquet(data, columns=["instruction", "output"])
    df = df.filter(pl.col("output").str.strip_chars().str.len_chars() > 0)
    n = n or len(df)
    return df.sample(n=n, seed=seed, shuffle=True, with_replacement=n > len(df))


def child_env(tree: Path) -> dict:
    """The audit's environment: `tree`'s traitforge, offline, and bytecode cached as a user's
    Python caches it (a shell that sets PYTHONDONTWRITEBYTECODE would have every run compile
    traitforge afresh, about 2 s that no user pays)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run(tree: Path, corpus: Path, out: Path, flags: list[str], memory: bool = True) -> dict:
    """One audit in a child process with the traitforge of `tree`: wall, peak memory (of the
    audit and the processes it starts together, sampled every 0.1 s, unless not `memory`),
    audit.json. Reading a process's PSS takes the kernel's lock on its memory map, and costs
    the audit 0.1-0.4 s of its 10 at 20,000 responses on 2 cores: `--no-memory` times it alone."""
    cmd = [sys.executable, "-m", "traitforge.cli", "audit", str(corpus), "--out", str(out),
           "--quiet", *flags]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tree, env=child_env(tree))
    peak = [0]
    watch = threading.Thread(target=_watch, args=(proc, peak), daemon=True) if memory else None
    if watch is not None:
        watch.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    if watch is not None:
        watch.join()
    if proc.returncode not in (0, 1):
        sys.exit(f"audit with {tree} failed ({proc.returncode}): {err.strip()[-2000:]}")
    return {"wall": wall, "peak_gib": peak[0] / 1024 ** 3 if memory else None,
            "doc": json.loads((out / "audit.json").read_text())}


def _watch(proc: subprocess.Popen, peak: list[int]) -> None:
    """Keep in peak[0] the most bytes the process and its descendants held at once: the sum of
    their proportional set sizes (PSS), which counts a page that several of them share (their
    libraries' code) once, where a sum of RSS would count it in each."""
    while proc.poll() is None:
        peak[0] = max(peak[0], sum(_pss(pid) for pid in _tree(proc.pid)))
        time.sleep(0.1)


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _pss(pid: int) -> int:
    """The process's proportional set size in bytes (0 once it is gone)."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) * 1024 for line in rollup.splitlines()
                 if line.startswith("Pss:")), 0)


def show(label: str, r: dict) -> None:
    doc = r["doc"]
    units = doc["stats"]["corpus"]["units"] + (doc["stats"].get("reference") or {}).get("units", 0)
    print(f"{label}: {doc['stats']['corpus']['units']} responses"
          f"{' + reference ' + str(doc['stats']['reference']['units']) if doc['stats'].get('reference') else ''}"
          f"; {len(doc['findings'])} findings, verdict {doc['verdict']}")
    memory = "not measured" if r["peak_gib"] is None else f"{r['peak_gib']:.2f} GiB"
    print(f"  wall {r['wall']:.1f} s   {units / r['wall']:.0f} docs/s   peak memory (PSS) {memory}")
    for step, sec in doc["seconds"].items():
        print(f"    {step:30} {sec:7.1f} s  {units / max(sec, 1e-9):9.0f} docs/s")


def same_findings(a: dict, b: dict) -> bool:
    """Whether two audit.json documents agree on everything but timings, the executor and the
    settings only one of them has (an older checkout's config lacks the newer settings)."""
    shared = set(a["config"]) & set(b["config"])

    def strip(d: dict) -> dict:
        out = {k: v for k, v in d.items() if k not in ("seconds", "created_at", "executor")}
        return out | {"config": {k: v for k, v in d["config"].items() if k in shared}}
    return json.dumps(strip(a), sort_keys=True) == json.dumps(strip(b), sort_keys=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(DEFAULT))
    ap.add_argument("--n", type=int, default=20000, help="responses (0: the whole file)")
    ap.add_argument("--reference", action="store_true", help="also audit against N other responses")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--code", action="append", default=[], help="also audit with this checkout")
    ap.add_argument("--ray", action="store_true", help="also audit with --ray (local Ray)")
    ap.add_argument("--variant", action="append", default=[], metavar="ARGS",
                    help="also audit with this checkout and these audit flags ('--sample 0')")
    ap.add_argument("--bertopic", choices=["static", "minilm", "both"], help="time BERTopic too")
    ap.add_argument("--no-memory", action="store_true",
                    help="do not sample peak memory (its sampling slows the audit a little)")
    ap.add_argument("--repeat", type=int, default=1, metavar="K",
                    help="run every audit K times, taking turns, and print the median walls")
    a = ap.parse_args()
    if a.repeat < 1:
        ap.error("--repeat must be at least 1")
    df = sample(a.data, 2 * a.n if a.reference else a.n, a.seed)
    n = a.n or len(df)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_sample(df[:n], tmp / "corpus.jsonl")
        flags = []
        if a.reference:
            write_sample(df[n:], tmp / "reference.jsonl")
            flags = ["--reference", str(tmp / "reference.jsonl")]
        runs = [("this checkout", ROOT, flags)] + [(t, Path(t).resolve(), flags) for t in a.code]
        runs += [(f"this checkout, {v}", ROOT, flags + v.split()) for v in a.variant]
        runs += [("this checkout, --ray", ROOT, flags + ["--ray"])] if a.ray else []
        results, walls = [], [[] for _ in runs]
        for turn in range(a.repeat):
            for k, (label, tree, f) in enumerate(runs):
                r = run(tree, (tmp / "corpus.jsonl").resolve(), tmp / f"out{k}", f,
                        not a.no_memory)
                walls[k].append(r["wall"])
                if turn == 0:
                    results.append(r)
                    show(label, r)
                else:
                    print(f"{label}, turn {turn + 1}: wall {r['wall']:.1f} s")
        medians = [statistics.median(w) for w in walls]
        if a.repeat > 1:
            print(f"wall times over {a.repeat} turns, taken in turn:")
            for (label, _, _), w, m in zip(runs, walls, medians):
                print(f"  {label}: median {m:.1f} s  ({', '.join(f'{x:.1f}' for x in w)})")
        for (label, _, _), r in zip(runs[1:len(a.code) + 1], results[1:]):
            print(f"{label} gives this checkout's audit.json (timings and new settings apart): "
                  f"{same_findings(results[0]['doc'], r['doc'])}")
        if a.ray:
            print(f"--ray gives the local run's audit.json (timings apart): "
                  f"{same_findings(results[0]['doc'], results[-1]['doc'])}")
        if a.bertopic:
            openings = [u.slot_text("opening") for u in _units(df[:n]["output"].to_list())]
            for how in (["static", "minilm"] if a.bertopic == "both" else [a.bertopic]):
                bertopic(openings, how, medians[0])


def _units(texts: list[str]):
    from traitforge.audit.units import make_units

    return make_units([(str(i), 0, t, "") for i, t in enumerate(texts)])[0]


def bertopic(openings: list[str], how: str, ours: float) -> None:
    """BERTopic on the opening sentences: with our static embedder's vectors (`static`), or
    embedding them itself with all-MiniLM-L6-v2 as its users do (`minilm`); the ratio to ours
    (`ours`: this checkout's median wall)."""
    try:
        from bertopic import BERTopic
    except ImportError:
        print("bertopic is not installed: skipped")
        return
    from traitforge.backends.embed import Embedder, minilm_path

    start = time.perf_counter()
    if how == "static":
        BERTopic(min_topic_size=20).fit(openings, embeddings=Embedder().encode(openings))
    else:
        from sentence_transformers import SentenceTransformer

        BERTopic(embedding_model=SentenceTransformer(minilm_path(), device="cpu"),
                 min_topic_size=20).fit(openings)
    took = time.perf_counter() - start
    print(f"BERTopic ({how} embeddings) on {len(openings)} opening sentences: {took:.1f} s; "
          f"ours is {took / ours:.1f}x faster (whole audit {ours:.1f} s)")


if __name__ == "__main__":
    main()
