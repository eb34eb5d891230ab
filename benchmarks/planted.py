"""Score the auditor on planted-artifact sets (../shared/bench).

    python benchmarks/planted.py [--set ../shared/bench/planted_dev] [--out out/planted]
    python benchmarks/planted.py --suite DIR [--out out/planted-suite] [--jobs 2] [--code TREE]

With --set, one set: audits with and without its reference (built-ins off), with the reference
and built-ins on, and its null pair.

With --suite (a folder of seed-N sets built by ../shared/bench/plant_suite.py), per set and in
total: the families recovered (best F1 >= 0.6 among the top 15 findings) with the reference and
without it, built-ins off; each family's best F1 and its estimated against planted prevalence;
and the warn/fail findings on the plain null (null_a against null_b) and on the length-shifted
null (lnull_a against lnull_b), built-ins off.

--code TREE audits with the traitforge of another checkout (e.g. a `git worktree` of an earlier
commit), for figures side by side with this one's.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "../shared/bench"
TOP, MIN_F1 = 15, 0.6
CODE = {"tree": ROOT}  # the checkout whose traitforge audits (--code)


def audit(corpus: Path, out: Path, *flags: str) -> float:
    start = time.perf_counter()
    tree = CODE["tree"]
    proc = subprocess.run([sys.executable, "-m", "traitforge.cli", "audit", str(corpus.resolve()),
                           "--out", str(out.resolve()), "--quiet", *flags], capture_output=True,
                          text=True, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)})
    if proc.returncode not in (0, 1):
        sys.exit(f"audit of {corpus} failed: {proc.stderr.strip()}")
    return time.perf_counter() - start


def best_matches(truth: dict, audit_dir: Path) -> dict[str, tuple[float, float, str]]:
    """Each planted family's best F1 among the top findings: (F1, estimated prevalence, label)."""
    doc = json.loads((audit_dir / "audit.json").read_text())
    flags = pl.read_parquet(audit_dir / "flags.parquet")
    docs = {fid: set(g["doc_id"].to_list()) for (fid,), g in flags.group_by("finding_id")}
    out = {}
    for name, p in truth["patterns"].items():
        planted, best = set(p["ids"]), (0.0, 0.0, "")
        for f in doc["findings"][:TOP]:
            found = docs.get(f["id"], set())
            f1 = 2 * len(planted & found) / (len(planted) + len(found)) if found else 0.0
            if f1 > best[0]:
                best = (f1, len(found) / truth["n"], f["label"][:50])
        out[name] = best
    return out


def loud(audit_dir: Path) -> list[str]:
    doc = json.loads((audit_dir / "audit.json").read_text())
    return [f["label"][:40] for f in doc["findings"] if f["severity"] in ("fail", "warn")]


def run_set(data: Path, out: Path) -> dict:
    """The four audits of one suite set (built-ins off), and their scores."""
    jobs = {"ref": (data / "corpus.jsonl", "--reference", str(data / "reference.jsonl")),
            "free": (data / "corpus.jsonl",),
            "null": (data / "null_a.jsonl", "--reference", str(data / "null_b.jsonl")),
            "lnull": (data / "lnull_a.jsonl", "--reference", str(data / "lnull_b.jsonl"))}
    seconds = {k: audit(v[0], out / k, *v[1:], "--no-builtin") for k, v in jobs.items()}
    truth = json.loads((data / "truth.json").read_text())
    return {"truth": truth, "ref": best_matches(truth, out / "ref"),
            "free": best_matches(truth, out / "free"), "null": loud(out / "null"),
            "lnull": loud(out / "lnull"), "seconds": seconds}


def print_set(name: str, r: dict) -> tuple[int, int, int]:
    print(f"\n== {name} (audits {', '.join(f'{k} {v:.0f} s' for k, v in r['seconds'].items())}) ==")
    print(f"{'family':22} {'planted':>7}  {'ref F1':>6} {'est':>6}  {'free F1':>7} {'est':>6}  "
          "best finding (with reference)")
    got = {"ref": 0, "free": 0}
    for fam, p in r["truth"]["patterns"].items():
        cells = []
        for mode in ("ref", "free"):
            f1, est, _ = r[mode][fam]
            got[mode] += f1 >= MIN_F1
            cells.append(f"{f1:6.3f}{'*' if f1 >= MIN_F1 else ' '} {est:6.3f}")
        print(f"{fam:22} {p['rate']:7.2f}  {cells[0]}  {cells[1]}  {r['ref'][fam][2]}")
    print(f"recovered: {got['ref']}/{len(r['truth']['patterns'])} with reference, {got['free']}/"
          f"{len(r['truth']['patterns'])} without; null warn/fail {len(r['null'])}, "
          f"length-null warn/fail {len(r['lnull'])}"
          + (f" ({'; '.join(r['lnull'][:6])})" if r["lnull"] else ""))
    return got["ref"], got["free"], len(r["null"]) + len(r["lnull"])


def estimates_off(results: dict) -> list[str]:
    """Recovered families (with the reference) whose estimate is more than 0.03 off."""
    return [f"{s}/{fam}: {r['ref'][fam][1]:.3f} for {p['rate']:.2f}"
            for s, r in results.items() for fam, p in r["truth"]["patterns"].items()
            if r["ref"][fam][0] >= MIN_F1 and abs(r["ref"][fam][1] - p["rate"]) > 0.03]


def run_suite(suite: Path, out: Path, jobs: int) -> None:
    sets = sorted(p for p in suite.iterdir() if (p / "truth.json").is_file())
    with ThreadPoolExecutor(jobs) as pool:
        results = dict(zip([s.name for s in sets],
                           pool.map(lambda s: run_set(s, out / s.name), sets)))
    totals = [print_set(name, r) for name, r in results.items()]
    n = sum(len(r["truth"]["patterns"]) for r in results.values())
    nulls = sum(len(r["null"]) for r in results.values())
    lnulls = sum(len(r["lnull"]) for r in results.values())
    off = estimates_off(results)
    print(f"\nTOTAL over {len(sets)} sets: recovered {sum(t[0] for t in totals)}/{n} with reference, "
          f"{sum(t[1] for t in totals)}/{n} without; null warn/fail {nulls}, length-null "
          f"warn/fail {lnulls}; recovered families with an estimate off by > 0.03: {len(off)}"
          + (f" ({'; '.join(off)})" if off else ""))


def run_dev(data: Path, out: Path) -> None:
    truth = data / "truth.json"
    null_out = out / "null"
    t = audit(data / "null_a.jsonl", null_out, "--reference", str(data / "null_b.jsonl"))
    print(f"null run (null_a vs null_b): {t:.1f} s, warn/fail {len(loud(null_out))}")
    runs = [("reference-free, --no-builtin", "free_nobuiltin", ("--no-builtin",)),
            ("with reference, --no-builtin", "ref_nobuiltin",
             ("--reference", str(data / "reference.jsonl"), "--no-builtin")),
            ("with reference, built-ins on", "ref", ("--reference", str(data / "reference.jsonl")))]
    planted = json.loads(truth.read_text())
    for title, name, flags in runs:
        t = audit(data / "corpus.jsonl", out / name, *flags)
        print(f"\n== {title} ({t:.1f} s) ==")
        for fam, (f1, est, label) in best_matches(planted, out / name).items():
            rate = planted["patterns"][fam]["rate"]
            print(f"{fam:28} {rate:6.3f} {f1:7.3f} {est:6.3f}  {label} "
                  f"{'OK' if f1 >= MIN_F1 else 'MISS'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default=str(BENCH / "planted_dev"), help="one planted set directory")
    ap.add_argument("--suite", help="a folder of seed-N sets built by plant_suite.py")
    ap.add_argument("--out", help="where the audits go (default out/planted or out/planted-suite)")
    ap.add_argument("--jobs", type=int, default=2, help="sets audited at once (default 2)")
    ap.add_argument("--code", default=str(ROOT), help="the checkout whose traitforge audits")
    a = ap.parse_args()
    CODE["tree"] = Path(a.code).resolve()
    if a.suite:
        run_suite(Path(a.suite).resolve(), Path(a.out or "out/planted-suite").resolve(), a.jobs)
    else:
        run_dev(Path(a.set).resolve(), Path(a.out or "out/planted").resolve())


if __name__ == "__main__":
    main()
