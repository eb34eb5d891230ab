"""Profile a full audit with py-spy (every thread of it and of the processes it starts, native
frames off): the top functions by their own time and by time inside them, for this checkout and
any other side by side.

    python benchmarks/profile_audit.py [--n 20000] [--code TREE ...] [--top 10] [--rate 100]

Needs py-spy (pip install py-spy). The audit runs as `benchmarks/speed.py` runs it, on N
AlpacaEval responses reference-free. Seconds are samples over the rate, summed over the threads
(and processes) that were busy, so two busy threads count twice.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import DEFAULT, ROOT, child_env, sample, write_sample  # noqa: E402

FRAME = re.compile(r"^(?P<name>.+?) \((?P<file>.+?):\d+\)$")


def profile(tree: Path, corpus: Path, out: Path, rate: int) -> Path:
    raw = out.with_suffix(".txt")
    spy = shutil.which("py-spy", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    if spy is None:
        sys.exit("py-spy is not installed (pip install py-spy)")
    cmd = [spy, "record", "--subprocesses", "--format", "raw", "-r", str(rate), "-o", str(raw),
           "--", sys.executable, "-m", "traitforge.cli", "audit", str(corpus), "--out", str(out),
           "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tree,
                          env=child_env(tree))
    if not raw.exists():
        sys.exit(f"py-spy failed: {proc.stderr.strip()[-1000:]}")
    return raw


def tallies(raw: Path) -> tuple[Counter, Counter, int]:
    """Samples per function as the innermost frame (own) and anywhere on the stack (inside)."""
    own, inside, total = Counter(), Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_name(f) for f in stack.split(";")]
        n = int(count)
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            inside[f] += n
    return own, inside, total


def _name(frame: str) -> str:
    m = FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    file = m["file"].split("site-packages/")[-1].split("/work/main/")[-1]
    return f"{m['name']} ({file})"


def show(label: str, raw: Path, rate: int, top: int) -> None:
    own, inside, total = tallies(raw)
    print(f"\n{label}: {total / rate:.1f} s of samples")
    print(f"  top {top} by own time:")
    for name, n in own.most_common(top):
        print(f"    {n / rate:7.2f} s  {name}")
    mine = [(n, f) for f, n in inside.items() if "traitforge/" in f and "cli.py" not in f
            and not f.startswith("<module>")]
    print(f"  top {top} traitforge functions by time inside them:")
    for n, name in sorted(mine, reverse=True)[:top]:
        print(f"    {n / rate:7.2f} s  {name}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(DEFAULT))
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--code", action="append", default=[], help="also profile this checkout")
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--rate", type=int, default=100, help="samples per second")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_sample(sample(a.data, a.n, a.seed), tmp / "corpus.jsonl")
        for k, tree in enumerate([ROOT] + [Path(t).resolve() for t in a.code]):
            raw = profile(tree, tmp / "corpus.jsonl", tmp / f"out{k}", a.rate)
            show("this checkout" if k == 0 else str(tree), raw, a.rate, a.top)


if __name__ == "__main__":
    main()
