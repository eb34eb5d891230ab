"""An audit SIGKILLed at each point of writing its files leaves its directory holding either the
old complete set or the new one, never a mix; the next audit clears what the kill left."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from traitforge.audit.manifest import mismatched_file
from traitforge.cli import main

QUICK = ["--no-clusters", "--no-builtin", "--no-ngrams", "--no-templates", "--quiet"]

# Runs the CLI with os.replace (each file's atomic write), the directory swap and the removal
# of the old set wrapped, so that the process SIGKILLs itself at the chosen call of one of them.
KILLER = """
import os, shutil, signal, sys
import traitforge.swap as swap
from traitforge.cli import main

point, nth, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
seen = {}

def reached(name):
    seen[name] = seen.get(name, 0) + 1
    if name == point and seen[name] == nth:
        os.kill(os.getpid(), signal.SIGKILL)

def wrap(owner, attr, before, after=None):
    real = getattr(owner, attr)
    def wrapped(*args, **kwargs):
        if before(*args):
            reached(attr)
        out = real(*args, **kwargs)
        if after:
            reached(after)
        return out
    setattr(owner, attr, wrapped)

wrap(os, "replace", lambda src, dst: ".new-" in str(dst))
wrap(swap, "_exchange", lambda a, b: True, "exchanged")
wrap(shutil, "rmtree", lambda path, *rest: ".new-" in str(path))
sys.exit(main(argv))
"""

POINTS = [("replace", k) for k in range(1, 6)] + [("_exchange", 1), ("exchanged", 1), ("rmtree", 1)]


def _which_set(audit_dir: Path) -> str:
    """"old" or "new" for a complete set (its files the ones its manifest names), else fail."""
    manifest = json.loads((audit_dir / "manifest.json").read_text())
    assert mismatched_file(manifest, audit_dir) is None
    assert sorted(p.name for p in audit_dir.iterdir()) == sorted(
        ["manifest.json", "report.html", *manifest["files"]])
    doc = json.loads((audit_dir / "audit.json").read_text())
    assert doc["input_sha256"] == manifest["input"]["sha256"]
    return "new" if doc["config"]["patterns"] else "old"


@pytest.mark.parametrize("point,nth", POINTS)
def test_a_killed_audit_leaves_the_old_set_or_the_new(write_jsonl, tmp_path, point, nth):
    data = write_jsonl("chats.jsonl", [
        {"id": f"c{i}", "messages": [{"role": "user", "content": f"Sum {i}?"},
                                     {"role": "assistant", "content": f"It is {i + i}."}]}
        for i in range(30)])
    audit_dir = tmp_path / "audit"
    assert main(["audit", str(data), "--out", str(audit_dir), *QUICK]) == 0
    patterns = tmp_path / "patterns.toml"
    patterns.write_text('[[pattern]]\nid = "habit"\nregex = "^It is"\n')
    argv = ["audit", str(data), "--out", str(audit_dir), "--patterns", str(patterns), *QUICK]
    proc = subprocess.run([sys.executable, "-c", KILLER, point, str(nth), *argv],
                          env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr  # it was killed, not finished
    expected = "new" if point in ("exchanged", "rmtree") else "old"
    assert _which_set(audit_dir) == expected
    assert main(argv) == 1  # the audit again, with the pattern failing every reply
    assert _which_set(audit_dir) == "new"
    assert not list(tmp_path.glob(".audit.new-*")), "the kill's staging directory was left"


def test_the_fallback_without_an_exchange_also_swaps_whole_sets(write_jsonl, tmp_path, monkeypatch):
    import traitforge.swap as swap

    monkeypatch.setattr(swap, "_exchange", lambda a, b: False)
    data = write_jsonl("docs.jsonl", [{"text": f"Memo {i}: all is well."} for i in range(20)])
    audit_dir = tmp_path / "audit"
    (audit_dir / "llm_cache").mkdir(parents=True)
    (audit_dir / "llm_cache" / "call.json").write_text("{}")
    assert main(["audit", str(data), "--out", str(audit_dir), *QUICK]) == 0
    assert (audit_dir / "llm_cache" / "call.json").is_file()  # the cache moves to the new set
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".audit.")]
    shutil.rmtree(audit_dir / "llm_cache")
    assert _which_set(audit_dir) == "old"


def test_an_out_that_links_to_a_folder_is_written_through_the_link(write_jsonl, tmp_path):
    data = write_jsonl("docs.jsonl", [{"text": f"Memo {i}: all is well."} for i in range(20)])
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    for _ in range(2):  # a new set, then one replacing it
        assert main(["audit", str(data), "--out", str(tmp_path / "link"), *QUICK]) == 0
        assert (tmp_path / "link").is_symlink() and _which_set(tmp_path / "real") == "old"
