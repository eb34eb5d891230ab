"""Is the audit's behaviour unchanged? Audits the same inputs with an earlier commit and with this
checkout, and compares what they found: finding ids, methods, severities, prevalences and the
exact units and spans flagged. Then replays this checkout's audits with `audit apply` on the
audited corpus, which must flag exactly what the audit flagged.

    python benchmarks/audit_equivalence.py --base REV [--out out/equivalence]

The earlier commit is checked out with `git worktree` under OUT (its audits are kept, so a rerun
audits only this checkout). Inputs: the planted dev set (with and without its reference,
built-ins off), its null pair, and the example corpus against the example reference.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "../shared/bench/planted_dev"
CASES = {
    "dev-reference": (DEV / "corpus.jsonl", ["--reference", str(DEV / "reference.jsonl"),
                                              "--no-builtin"]),
    "dev-free": (DEV / "corpus.jsonl", ["--no-builtin"]),
    "dev-null": (DEV / "null_a.jsonl", ["--reference", str(DEV / "null_b.jsonl")]),
    "examples": (ROOT / "examples/chats.jsonl", ["--reference", str(ROOT / "examples/reference.jsonl")]),
}
FIELDS = ("methods", "slot", "severity", "n_flagged", "n_units", "prevalence", "prevalence_ci95",
          "reference_prevalence", "reference_ci95", "lift", "significance", "score", "label",
          "description", "variants", "skeleton", "prompt_echo", "evidence", "merge_rule",
          "examples")  # all but the matcher, whose n-gram kind changed from regex to ngram


def checkout(rev: str, out: Path) -> Path:
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", rev], capture_output=True,
                         text=True, check=True).stdout.strip()
    tree = out / f"base-{sha[:10]}"
    if not (tree / "traitforge").is_dir():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(tree), sha],
                       check=True, capture_output=True)
    return tree


def audit(code: Path, corpus: Path, flags: list[str], out: Path) -> float:
    if (out / "audit.json").is_file():
        return 0.0
    env = {**os.environ, "PYTHONPATH": str(code), "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "traitforge.cli", "audit", str(corpus), "--out",
                           str(out), "--quiet", *flags], capture_output=True, text=True, env=env,
                          cwd=code)
    if proc.returncode not in (0, 1):
        sys.exit(f"audit of {corpus} with {code} failed:\n{proc.stderr.strip()}")
    return time.perf_counter() - start


def digest(audit_dir: Path) -> dict:
    """What the comparison looks at: per finding its fields and the spans it flagged."""
    doc = json.loads((audit_dir / "audit.json").read_text())
    flags = pl.read_parquet(audit_dir / "flags.parquet")
    spans = {fid: sorted(map(tuple, g.select("doc_id", "turn", "start", "end").rows()))
             for (fid,), g in flags.group_by("finding_id")}
    findings = {}
    for f in doc["findings"]:
        findings[f["id"]] = {**{k: f.get(k) for k in FIELDS}, "spans": spans.get(f["id"], [])}
    return {"verdict": doc["verdict"], "order": [f["id"] for f in doc["findings"]],
            "findings": findings}


def differences(old: dict, new: dict) -> list[str]:
    out = []
    if old["verdict"] != new["verdict"]:
        out.append(f"verdict {old['verdict']} -> {new['verdict']}")
    if old["order"] != new["order"]:
        gone = sorted(set(old["order"]) - set(new["order"]))
        added = sorted(set(new["order"]) - set(old["order"]))
        out.append(f"findings differ: gone {gone}, new {added}" if gone or added
                   else "findings ranked in another order")
    for fid in old["order"]:
        a, b = old["findings"][fid], new["findings"].get(fid)
        for key in a if b else ():
            if a[key] != b[key]:
                shown = (f"{len(a[key])} spans -> {len(b[key])}" if key == "spans"
                         else f"{a[key]!r} -> {b[key]!r}")
                out.append(f"{fid}: {key} {shown}")
    return out


def replay_matches(corpus: Path, audit_dir: Path, out: Path) -> str:
    """`audit apply` of an audit on its own corpus, against the audit's flags."""
    proc = subprocess.run([sys.executable, "-m", "traitforge.cli", "audit", "apply", str(audit_dir),
                           str(corpus), "--out", str(out), "--quiet"], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        return f"audit apply failed: {proc.stderr.strip()[-300:]}"
    key = ["doc_id", "turn", "finding_id", "start", "end"]
    skipped = {s["finding_id"] for s in json.loads((out / "apply.json").read_text())["skipped"]}
    audited = pl.read_parquet(audit_dir / "flags.parquet").filter(~pl.col("finding_id").is_in(skipped))
    replayed = pl.read_parquet(out / "flags.parquet")
    a, b = audited.select(key).sort(key), replayed.select(key).sort(key)
    if a.equals(b):
        return "same flags"
    odd = pl.concat([a.join(b, on=key, how="anti"), b.join(a, on=key, how="anti")])
    which = ", ".join(sorted(set(odd["finding_id"])))
    return f"DIFFERENT flags ({a.height} audited, {b.height} replayed; in {which})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the commit to compare against")
    ap.add_argument("--out", default=str(ROOT / "out/equivalence"))
    a = ap.parse_args()
    out = Path(a.out).resolve()
    base = checkout(a.base, out)
    new_root = out / "new"
    subprocess.run(["rm", "-rf", str(new_root)], check=True)
    failures = 0
    print(f"{'case':<14} {'findings':>8} {'flagged':>8} {'base s':>7} {'new s':>7}  result")
    for name, (corpus, flags) in CASES.items():
        t_old = audit(base, corpus, flags, base / "out-equivalence" / name)
        t_new = audit(ROOT, corpus, flags, new_root / name)
        old, new = digest(base / "out-equivalence" / name), digest(new_root / name)
        diffs = differences(old, new)
        replay = replay_matches(corpus, new_root / name, new_root / f"{name}-apply")
        failures += bool(diffs) + (replay != "same flags")
        n_spans = sum(len(f["spans"]) for f in new["findings"].values())
        print(f"{name:<14} {len(new['order']):>8} {n_spans:>8} {t_old:>7.1f} {t_new:>7.1f}  "
              f"{'identical' if not diffs else f'{len(diffs)} differences'}; replay: {replay}")
        for d in diffs[:20]:
            print(f"    {d}")
    print("all identical" if not failures else f"{failures} case(s) differ")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
