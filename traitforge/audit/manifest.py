"""The audit manifest: what the training gate reads to know that data was audited and passed.

`AUDIT_DIR/manifest.json` holds the sha256 of the exact bytes audited, the policy, the verdict,
a summary of the findings and the traitforge version. A manifest passes when its verdict is not
"fail". `find_manifest` looks for one that matches a data file's bytes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from traitforge.io import InputError, atomic_write_text, sha256_file

MANIFEST = "manifest.json"
PASSING = ("pass", "warn")


def manifest_of(doc: dict) -> dict:
    """The manifest for an audit document (the content of audit.json)."""
    return {
        "traitforge_version": doc["traitforge_version"],
        "created_at": doc["created_at"],
        "input": {"file": doc["stats"]["corpus"]["file"], "sha256": doc["input_sha256"],
                  "audited": doc["stats"]["corpus"]["audited"]},
        "reference": (doc["stats"].get("reference") or {}).get("file"),
        "policy": doc["policy"],
        "verdict": doc["verdict"],
        "passed": doc["verdict"] in PASSING,
        "counts": doc["counts"],
        "findings": [{"id": f["id"], "label": f["label"], "severity": f["severity"],
                      "prevalence": f["prevalence"],
                      "reference_prevalence": f.get("reference_prevalence")}
                     for f in doc["findings"]],
    }


def write_manifest(out_dir: str | Path, doc: dict) -> dict:
    manifest = manifest_of(doc)
    atomic_write_text(Path(out_dir) / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest


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


def check_gate(data: str | Path, manifest: str | Path | None = None) -> GateResult:
    """Look for a passing manifest of exactly these bytes, given or next to the data; a
    failing one for the same bytes wins over any passing one."""
    data = Path(data)
    if not data.is_file():
        raise InputError(f"{data}: no such file")
    digest = sha256_file(data)
    if manifest is not None:
        path = Path(manifest)
        path = path / MANIFEST if path.is_dir() else path
        if not path.is_file():
            raise InputError(f"{path}: no such manifest")
        paths = [path]
    else:
        paths = candidates(data)
    matching = [(p, m) for p in paths if (m := _load(p)) and m["input"].get("sha256") == digest]
    failing = [(p, m) for p, m in matching if m.get("verdict") not in PASSING]
    if matching and not failing:
        return GateResult(digest, str(matching[0][0]), matching[0][1], None)
    hint = f"run `traitforge audit {data} --out DIR` (or `traitforge clean`), or pass --allow-unaudited"
    if failing:
        p, m = failing[0]
        return GateResult(digest, str(p), m, f"{data}: its audit ({p}) has verdict "
                                             f"'{m.get('verdict')}'; clean it first ({hint})")
    where = f"in {paths[0]}" if manifest is not None else f"beside it ({data.parent})"
    return GateResult(digest, None, None,
                      f"{data}: no audit manifest for these exact bytes (sha256 {digest[:12]}…) "
                      f"{where}; {hint}")
