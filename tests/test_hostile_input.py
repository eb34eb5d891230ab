"""Hostile input lines, each in a file of good chats, through `traitforge audit` in a child
process: no traceback, exit 2 for a file that cannot be read, otherwise every line read is
either audited or rejected with a reason naming what is wrong."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest


def _chat(i: int) -> str:
    return json.dumps({"id": f"c{i}", "messages": [
        {"role": "user", "content": f"Question {i}?"},
        {"role": "assistant", "content": f"Answer number {i}, with a few words."}]})


GOOD = [_chat(i) for i in range(8)]
HOSTILE = {  # a line, and a word its rejection's reason must hold
    "nested 5,000 deep": ("[" * 5000 + "]" * 5000, "nested too deeply"),
    "an integer of 5,000 digits": ('{"id": "x", "n": ' + "9" * 5000 + "}", "4300 digits"),
    "a lone surrogate": ('{"id": "s", "messages": [{"role": "user", "content": "a"}, '
                         '{"role": "assistant", "content": "\\ud800"}]}', "surrogate"),
    "bare null": ("null", "got null"),
    "a bare string": ('"just a string"', "got str"),
    "a bare number": ("17", "got int"),
    "a reply of zero-width spaces": ('{"id": "z", "messages": [{"role": "user", "content": "a"}, '
                                     '{"role": "assistant", "content": "\u200b\u200b \u2060"}]}',
                                     "only invisible characters"),
}


def _audit(path, tmp_path):
    return subprocess.run([sys.executable, "-m", "traitforge.cli", "audit", str(path), "--out",
                           str(tmp_path / "out"), "--quiet", "--no-clusters"],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_line_is_rejected_with_its_reason(tmp_path, name):
    line, needle = HOSTILE[name]
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(GOOD[:4] + [line] + GOOD[4:]) + "\n")
    proc = _audit(path, tmp_path)
    assert "Traceback" not in proc.stderr and proc.returncode in (0, 1), proc.stderr
    stats = json.loads((tmp_path / "out" / "audit.json").read_text())["stats"]["corpus"]
    rejected = [json.loads(r) for r in (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()]
    assert stats["read"] == 9 == stats["audited"] + stats["rejected"]
    assert [(r["line"], r["raw"]) for r in rejected] == [(5, line)]
    assert needle in rejected[0]["reason"] and rejected[0]["reason"] != line


@pytest.mark.parametrize("kind", ["truncated gzip", "text named .gz"])
def test_an_unreadable_gzip_file_is_refused_in_one_line(tmp_path, kind):
    path = tmp_path / "corpus.jsonl.gz"
    body = ("\n".join(GOOD * 40) + "\n").encode()
    path.write_bytes(gzip.compress(body)[:200] if kind == "truncated gzip" else body)
    proc = _audit(path, tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert f"{path}:" in proc.stderr and "stops being readable" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_file_of_bad_records_is_refused_with_the_first_reason(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"id": "a", "x": 1}\n{"id": "b", "y": 2}\n')
    proc = _audit(path, tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert "2 read, 2 rejected" in proc.stderr
    assert f"{path}:1: cannot tell the record shape from fields ['id', 'x']" in proc.stderr


def _random_line(rng) -> bytes:
    """A line a careless or hostile writer might leave: random bytes, a cut chat, odd types."""
    good = _chat(rng.randrange(10**6)).encode()
    kind = rng.randrange(6)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80))).replace(b"\n", b" ")
    if kind == 1:
        return good[:rng.randrange(1, len(good))]
    if kind == 2:
        value = rng.choice([None, 7, -1.5, True, [], {}, "", "\u200b", [1, [2]], {"a": None}])
        key = rng.choice(["messages", "role", "content", "id"])
        return good.replace(f'"{key}"'.encode(), f'"{key}": {json.dumps(value)}, "x"'.encode(), 1)
    if kind == 3:
        return json.dumps(rng.choice([None, 1, "s", [], [{}], {"text": 5}, {"text": "ok"}])).encode()
    if kind == 4:
        i = rng.randrange(len(good))
        return good[:i] + bytes([rng.randrange(256)]) + good[i + 1:]
    return good


@pytest.mark.parametrize("seed", range(3))
def test_random_lines_never_crash_the_reader_and_every_line_is_accounted_for(tmp_path, seed):
    import random

    from traitforge.io import read_corpus

    rng = random.Random(seed)
    lines = [_random_line(rng) for _ in range(300)]
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(b"\n".join([GOOD[0].encode()] + lines) + b"\n")
    corpus = read_corpus(path)
    assert corpus.n_read == len(corpus.records) + len(corpus.rejected)
    assert corpus.n_read == sum(1 for x in [GOOD[0].encode()] + lines if x.strip())
    assert all(r.reason and r.line >= 1 for r in corpus.rejected)
    proc = _audit(path, tmp_path)
    assert "Traceback" not in proc.stderr and proc.returncode in (0, 1), proc.stderr[-500:]
