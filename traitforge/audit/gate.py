"""The training gate: is there a trusted, passing audit of exactly these bytes, read the way
training reads them?

`check_gate` looks for manifests of the data's sha256 (the one given, or those in the data's
folder and the folders beside it). A failing one for the same bytes wins over any passing one;
a passing one counts only if it verifies (`manifest.verify`). `check_reading` then refuses
data the audit read another way than training would, or mostly rejected.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from traitforge.audit.manifest import MANIFEST, PASSING, verify
from traitforge.io import InputError, sha256_file


@dataclass(frozen=True)
class GateResult:
    """A passing manifest found for a data file, or the reason none was."""

    data_sha256: str
    manifest_path: str | None
    manifest: dict | None
    problem: str | None  # why the data is not cleared, None when it is

    @property
    def passed(self) -> bool:
        return self.problem is None

    def as_dict(self) -> dict:
        return {"data_sha256": self.data_sha256, "manifest": self.manifest_path,
                "verdict": (self.manifest or {}).get("verdict"), "passed": self.passed,
                "problem": self.problem}


def _load(path: Path) -> dict | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("input"), dict) else None


def candidates(data: Path) -> list[Path]:
    """Manifests beside a data file: in its folder and in the folders next to it."""
    return sorted({*data.parent.glob(MANIFEST), *data.parent.glob(f"*/{MANIFEST}")})


def _named(manifest: str | Path) -> Path:
    path = Path(manifest)
    path = path / MANIFEST if path.is_dir() else path
    if not path.is_file():
        raise InputError(f"{path}: no such manifest")
    return path


def check_gate(data: str | Path, manifest: str | Path | None = None,
               digest: str | None = None) -> GateResult:
    """The gate's outcome for `data` (whose bytes hash to `digest`, when the caller read them)."""
    data = Path(data)
    if digest is None:
        if not data.is_file():
            raise InputError(f"{data}: no such file")
        digest = sha256_file(data)
    paths = [_named(manifest)] if manifest is not None else candidates(data)
    matching = [(p, m) for p in paths if (m := _load(p)) and m["input"].get("sha256") == digest]
    hint = f"run `traitforge audit {data} --out DIR` (or `traitforge clean`), or pass --allow-unaudited"
    failing = [(p, m) for p, m in matching if m.get("verdict") not in PASSING]
    if failing:
        p, m = failing[0]
        return GateResult(digest, str(p), m, f"{data}: its audit ({p}) has verdict "
                                             f"'{m.get('verdict')}'; clean it first ({hint})")
    checked = [(p, m, verify(m, p, data)) for p, m in matching]
    trusted = [(p, m) for p, m, problem in checked if problem is None]
    if trusted:
        return GateResult(digest, str(trusted[0][0]), trusted[0][1], None)
    if checked:
        p, m, problem = checked[0]
        return GateResult(digest, str(p), m, problem)
    where = f"in {paths[0]}" if manifest is not None else f"beside it ({data.parent})"
    return GateResult(digest, None, None,
                      f"{data}: no audit manifest for these exact bytes (sha256 {digest[:12]}…) "
                      f"{where}; {hint}")


def check_reading(outcome: GateResult, data: str | Path, kind: str, fmt: str | None) -> GateResult:
    """The outcome, refused where training would read the data otherwise than its audit did
    (another `fmt`; SFT's every assistant turn when the audit took one), or where the audit
    rejected most of the records."""
    if not outcome.passed:
        return outcome
    read, where = outcome.manifest["input"], outcome.manifest_path
    problem = None
    if fmt is not None and fmt != read.get("format"):
        problem = (f"its audit ({where}) read it as {read.get('format')!r} records; training with "
                   f"--format {fmt} would train on what was not audited (audit it with "
                   f"--format {fmt}, or drop --format)")
    elif (read.get("format") == "text") != (kind == "midtrain"):
        shape = "documents" if read.get("format") == "text" else "chats"
        problem = (f"its audit ({where}) read it as {shape} ({read.get('format')!r} records), "
                   f"which {kind} does not train on: audit it as "
                   + ("documents (--format text)" if kind == "midtrain" else "chats (--format chat)"))
    elif kind == "sft" and read.get("turns", "all") != "all":
        problem = (f"its audit ({where}) looked at the {read['turns']} assistant turn only "
                   "(--turns); SFT learns every assistant turn: audit it with --turns all")
    elif read.get("rejected", 0) > read.get("audited", 0):
        problem = (f"its audit ({where}) rejected {read['rejected']} of {read.get('read')} "
                   f"records, so most of it was never audited; fix them (see "
                   f"{Path(where).parent / 'rejected.jsonl'}) and audit again")
    return replace(outcome, problem=f"{data}: {problem}" if problem else None)


def check_counts(outcome: GateResult, data: str | Path, n_read: int, n_records: int) -> GateResult:
    """The outcome, refused where reading the data as audited gave other counts than the audit
    (a reader changed between versions)."""
    if not outcome.passed:
        return outcome
    read = outcome.manifest["input"]
    if (n_read, n_records) == (read.get("read"), read.get("audited")):
        return outcome
    return replace(outcome, problem=(
        f"{data}: read as its audit did, it gives {n_records} records of {n_read}, "
        f"where the audit ({outcome.manifest_path}) had {read.get('audited')} of "
        f"{read.get('read')}; audit it again"))
