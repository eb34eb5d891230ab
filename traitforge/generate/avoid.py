"""Anti-pattern feedback: an audit's findings, told to the writing and rewriting prompts as
habits to avoid."""
from __future__ import annotations

import json
from pathlib import Path

from traitforge.generate.prompts import render
from traitforge.io import InputError, sha256_file

MAX_FINDINGS = 8
LABEL_CHARS, EXAMPLE_CHARS = 80, 100


def _short(s: str, limit: int) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= limit else s[:limit - 1] + "…"


def load_avoid(audit_dir: str | Path) -> tuple[list[dict], str]:
    """([{label, example}], audit.json's sha256) for the audit's warn and fail findings, or
    all of them when it has none of those."""
    path = Path(audit_dir) / "audit.json"
    if not path.is_file():
        raise InputError(f"{path}: not found; --avoid takes an audit directory")
    try:
        findings = json.loads(path.read_text(encoding="utf-8"))["findings"]
        if not isinstance(findings, list) or not all(isinstance(f, dict) and f.get("label")
                                                      for f in findings):
            raise ValueError("findings must be a list of objects with a label")
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"{path}: not an audit ({e})") from None
    chosen = [f for f in findings if f.get("severity") in ("warn", "fail")] or findings
    return [{"label": _short(f["label"], LABEL_CHARS), "example": _example(f)}
            for f in chosen[:MAX_FINDINGS]], sha256_file(path)


def _example(finding: dict) -> str:
    """The flagged words of the finding's first example, or the start of its excerpt."""
    for ex in finding.get("examples") or []:
        excerpt = ex.get("excerpt") if isinstance(ex, dict) else None
        if isinstance(excerpt, str) and excerpt.strip():
            span = ex.get("excerpt_span")
            if isinstance(span, list) and len(span) == 2 and all(isinstance(x, int) for x in span):
                excerpt = excerpt[span[0]:span[1]] or excerpt
            return _short(excerpt, EXAMPLE_CHARS)
    return ""


def avoid_block(found: list[dict]) -> str:
    """The text appended to a prompt: empty without findings."""
    if not found:
        return ""
    lines = "\n".join(f"- {f['label']}" + (f' (e.g. "{f["example"]}")' if f["example"] else "")
                      for f in found)
    return render("avoid", items=lines)
