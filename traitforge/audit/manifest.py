"""The audit manifest: what the training gate reads to know that data was audited and passed.

`AUDIT_DIR/manifest.json` holds the sha256 of the exact bytes audited, how they were read
(format, id field, turns) and how many records were audited and rejected, the policy, the
verdict, the findings with what the policy graded, and the sha256 of the audit's other files.
It is signed with an HMAC over its canonical JSON under a key private to this user (made on
first use in the traitforge cache), so a manifest edited by hand, or written on another
machine, does not verify; `verify` says why.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from traitforge.audit.policy import Policy
from traitforge.backends.embed import cache_dir
from traitforge.io import InputError, atomic_write_text, sha256_file
from traitforge.settings import restore

MANIFEST = "manifest.json"
PASSING = ("pass", "warn")
KEY_FILE = "manifest.key"


def manifest_of(doc: dict, files: dict[str, str]) -> dict:
    """The manifest for an audit document (the content of audit.json) and the sha256 of each
    file of its set."""
    corpus, config = doc["stats"]["corpus"], doc["config"]
    return {
        "traitforge_version": doc["traitforge_version"],
        "created_at": doc["created_at"],
        "input": {"file": corpus["file"], "sha256": doc["input_sha256"],
                  "format": corpus["format"], "id_field": config["id_field"],
                  "turns": config["turns"], "read": corpus["read"],
                  "audited": corpus["audited"], "rejected": corpus["rejected"]},
        "reference": (doc["stats"].get("reference") or {}).get("file"),
        "policy": doc["policy"],
        "verdict": doc["verdict"],
        "passed": doc["verdict"] in PASSING,
        "counts": doc["counts"],
        "findings": [{"id": f["id"], "label": f["label"], "severity": f["severity"],
                      "prevalence": f["prevalence"],
                      "reference_prevalence": f.get("reference_prevalence"),
                      "grade_inputs": f["grade_inputs"]} for f in doc["findings"]],
        "files": files,
    }


def write_manifest(out_dir: str | Path, doc: dict, files: dict[str, str]) -> dict:
    manifest = sign(manifest_of(doc, files))
    atomic_write_text(Path(out_dir) / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest


def _key() -> bytes:
    """This user's signing key, made (readable by the user alone) on first use."""
    path = cache_dir() / KEY_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: the manifest signing key cannot be read ({e}); remove it "
                         "to make a new one (manifests signed with it will need a new audit)") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    return bytes.fromhex(path.read_text().strip())


def _digest(manifest: dict, key: bytes) -> str:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key, canonical.encode("ascii"), hashlib.sha256).hexdigest()


def sign(manifest: dict) -> dict:
    key = _key()
    return {**manifest, "signature": {"method": "hmac-sha256", "value": _digest(manifest, key),
                                      "key_id": hashlib.sha256(key).hexdigest()[:12]}}


def verify(manifest: dict, path: Path, data: str | Path) -> str | None:
    """Why the manifest at `path`, found for `data`, cannot be trusted, or None: its signature,
    its verdict (graded again from its findings and policy), and the files of its set beside it."""
    again = f"audit the data again (traitforge audit {data} --out {path.parent})"
    signature = manifest.get("signature")
    if not isinstance(signature, dict) or not isinstance(signature.get("value"), str):
        return f"{path}: is not signed (written by hand or by an older traitforge); {again}"
    if not hmac.compare_digest(signature["value"], _digest(manifest, _key())):
        return (f"{path}: its signature does not verify (edited since the audit, or signed on "
                f"another machine); {again}")
    try:
        problem = regrade(manifest, path)
    except (InputError, KeyError, TypeError, AttributeError) as e:
        problem = f"{path}: malformed ({e.__class__.__name__}: {e})"
    return f"{problem}; {again}" if problem else mismatched_file(manifest, path.parent)


def regrade(manifest: dict, path: Path) -> str | None:
    """Where the manifest's severities or verdict are not what its own policy gives its
    findings' graded figures, or None."""
    policy = restore(Policy, manifest["policy"], f"{path}: policy")
    severities = set()
    for f in manifest["findings"]:
        severity = policy.severity_of(f["id"], f["grade_inputs"])
        if severity != f["severity"]:
            return f"{path}: finding {f['id']!r} is recorded '{f['severity']}' but grades '{severity}'"
        severities.add(severity)
    verdict = "fail" if "fail" in severities else "warn" if "warn" in severities else "pass"
    if verdict != manifest["verdict"] or manifest.get("passed") is not (verdict in PASSING):
        return f"{path}: its verdict '{manifest['verdict']}' is not its findings' ('{verdict}')"
    return None


def mismatched_file(manifest: dict, folder: Path) -> str | None:
    """Why the audit files in `folder` are not the set the manifest was written with, or None."""
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return f"{folder / MANIFEST}: names no audit files; audit the data again"
    for name, digest in sorted(files.items()):
        path = folder / name
        if not path.is_file():
            return f"{path}: missing from the audit set its manifest describes; audit the data again"
        if sha256_file(path) != digest:
            return (f"{path}: not the file its manifest ({folder / MANIFEST}) was written with: "
                    "the audit's files do not belong together (an interrupted or mixed audit); "
                    "audit the data again")
    return None
