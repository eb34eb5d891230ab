"""The work directory's journal: every finished record (done.jsonl) and every failure
(failed.jsonl), appended and synced to disk one at a time, so a killed run loses none."""
from __future__ import annotations

import json
import os
from pathlib import Path

from traitforge.io import InputError, atomic_write_text


class Journal:
    def __init__(self, work: Path):
        self.done = _load(work / "done.jsonl")
        self.failed = _load(work / "failed.jsonl")
        self._files = {"done": open(work / "done.jsonl", "a", encoding="utf-8"),
                       "failed": open(work / "failed.jsonl", "a", encoding="utf-8")}

    def finished(self, key: str) -> bool:
        return key in self.done or key in self.failed

    def add(self, kind: str, key: str, row: dict) -> None:
        """Append `row` to the done or failed journal and sync it."""
        table = self.done if kind == "done" else self.failed
        if key in table:
            return
        table[key] = row
        f = self._files[kind]
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())

    def close(self) -> None:
        for f in self._files.values():
            f.close()


def _load(path: Path) -> dict[str, dict]:
    """Rows by id; a line cut short by a kill is dropped, and cut from the file."""
    rows: dict[str, dict] = {}
    if not path.is_file():
        return rows
    data = path.read_bytes()
    keep = data[:data.rfind(b"\n") + 1]
    if keep != data:
        with open(path, "r+b") as f:
            f.truncate(len(keep))
    for line in keep.decode("utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        rows.setdefault(row["id"], row)
    return rows


def claim(work: Path, fingerprint: dict) -> None:
    """Make `work` the run's directory; refuse one left by a run with other settings."""
    path = work / "work.json"
    if path.is_file():
        try:
            before = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            before = None
        if before != fingerprint:
            changed = sorted(k for k in fingerprint if not isinstance(before, dict)
                             or before.get(k) != fingerprint[k])
            raise InputError(f"{work}: left by a run with other settings ({', '.join(changed)}); "
                             "delete it, or choose another --out")
    work.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(fingerprint, indent=1) + "\n")
