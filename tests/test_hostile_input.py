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


def _main_audit(corpus, out, *flags) -> int:
    from traitforge.cli import main

    return main(["audit", str(corpus), "--out", str(out), "--quiet", "--no-clusters", *flags])


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_reference_line_is_rejected_and_strict_stops_at_it(tmp_path, capsys, name):
    line, needle = HOSTILE[name]
    corpus, ref = tmp_path / "corpus.jsonl", tmp_path / "reference.jsonl"
    corpus.write_text("\n".join(GOOD) + "\n")
    ref.write_text("\n".join(GOOD[:4] + [line] + GOOD[4:]) + "\n")
    assert _main_audit(corpus, tmp_path / "out", "--reference", str(ref)) in (0, 1)
    stats = json.loads((tmp_path / "out" / "audit.json").read_text())["stats"]["reference"]
    assert stats["read"] == 9 == stats["audited"] + stats["rejected"]
    rejected = [json.loads(r) for r in (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()]
    assert [(r["file"], r["line"]) for r in rejected] == [(str(ref), 5)] and needle in rejected[0]["reason"]
    capsys.readouterr()
    for flags in (["--reference", str(ref), "--strict"], ["--strict"]):
        target = ref if "--reference" in flags else corpus
        if target == corpus:
            corpus.write_text(ref.read_text())
        assert _main_audit(corpus, tmp_path / "strict", *flags) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and f"{target}:5: " in err and needle in err
        assert not (tmp_path / "strict").exists()


def _parquet(path, rows: dict) -> None:
    import polars as pl

    pl.DataFrame(rows).write_parquet(path)


MESSAGES = [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "An answer here."}]
TABLES = {  # a file, whether it is refused as a whole, and a word of the reason
    "parquet of wrong columns": ("x.parquet", lambda p: _parquet(p, {"foo": [1, 2], "bar": ["a", "b"]}),
                                 "cannot tell the record shape"),
    "parquet with a null reply": ("x.parquet", lambda p: _parquet(p, {"messages": [
        MESSAGES, [MESSAGES[0], {"role": "assistant", "content": None}]] * 3}), "NoneType"),
    "parquet with null texts": ("x.parquet", lambda p: _parquet(p, {"text": ["A memo.", None] * 3}),
                                "NoneType"),
    "parquet that is not one": ("x.parquet", lambda p: p.write_bytes(b"PAR1 not really"),
                                "not a readable Parquet file"),
    "csv with broken messages": ("x.csv", lambda p: p.write_text(
        'id,messages\na,"' + json.dumps(MESSAGES).replace('"', '""') + '"\nb,"[{oops"\n'),
        "not a JSON list"),
    "csv with invalid UTF-8": ("x.csv", lambda p: p.write_bytes(
        b"prompt,response\nQ?,fine answer\nQ?,bad \xff\xfe bytes\n"), "invalid UTF-8"),
    "csv with short and long rows": ("x.csv", lambda p: p.write_text(
        "prompt,response\nQ?,fine answer\nonly a prompt\nQ?,an answer,and,more,cells\n"), "cells"),
}


@pytest.mark.parametrize("name", list(TABLES))
def test_hostile_parquet_and_csv_files(tmp_path, capsys, name):
    """Each is audited with its bad rows rejected (read = audited + rejected, each with its
    reason), or refused whole in one line naming the file, with exit 2; never a traceback."""
    filename, write, needle = TABLES[name]
    path = tmp_path / filename
    write(path)
    code = _main_audit(path, tmp_path / "out")
    err = capsys.readouterr().err.strip()
    if code == 2:
        assert err.count("\n") == 0 and str(path) in err and needle in err, err
        return
    assert code in (0, 1), err
    stats = json.loads((tmp_path / "out" / "audit.json").read_text())["stats"]["corpus"]
    rejected = [json.loads(r) for r in (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()]
    assert stats["read"] == stats["audited"] + stats["rejected"] and stats["rejected"] == len(rejected) > 0
    assert all(r["reason"] and r["line"] >= 1 for r in rejected)
    assert any(needle in r["reason"] for r in rejected), rejected
    if name == "csv with short and long rows":
        assert [r["reason"] for r in rejected] == ["fewer cells than the header's 2 columns",
                                                   "3 more cells than the header's 2 columns"]
