"""The training gate against manifests written by real audits: each way around it that once
trained a model is refused with one line, and `--allow-unaudited` stays the one way through."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from traitforge.audit.manifest import sign
from traitforge.cli import main
from traitforge.io import sha256_file
from traitforge.train import trainer

QUICK = ["--no-clusters", "--no-builtin", "--no-ngrams", "--no-templates", "--quiet"]


def _chats(n: int, offset: int = 0) -> list[dict]:
    return [{"id": f"c{i}", "messages": [{"role": "user", "content": f"What is {i} doubled?"},
                                         {"role": "assistant", "content": f"It is {2 * i}."}]}
            for i in range(offset, offset + n)]


def _audit(data: Path, out: Path, *flags: str) -> int:
    return main(["audit", str(data), "--out", str(out), *QUICK, *flags])


def _pattern(tmp_path: Path, regex: str) -> list[str]:
    path = tmp_path / "patterns.toml"
    path.write_text(f'[[pattern]]\nid = "habit"\nregex = "{regex}"\n')
    return ["--patterns", str(path)]


def _train(tiny, data: Path, out: Path, *flags: str) -> int:
    return main(["train", "sft", str(data), "--out", str(out), "--model", str(tiny),
                 "--max-steps", "1", "--batch-size", "2", "--quiet", *flags])


def _refused(capsys, code: int, *phrases: str) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.count("\n") == 0 and "Traceback" not in err, err
    for phrase in phrases:
        assert phrase in err, err
    return err


def test_train_trains_on_the_bytes_it_hashed_when_the_file_is_swapped(
        tiny, write_jsonl, tmp_path, monkeypatch):
    """The data is a symlink, swapped to other bytes while the model loads: the run still
    trains on (and records the hash of) the audited bytes."""
    audited, other = write_jsonl("a.jsonl", _chats(6)), write_jsonl("b.jsonl", _chats(9, 100))
    data = tmp_path / "data" / "chats.jsonl"
    data.parent.mkdir()
    data.symlink_to(audited)
    assert _audit(data, data.parent / "audit") == 0
    load = trainer.load_model

    def swap_then_load(name):
        data.unlink()
        data.symlink_to(other)
        return load(name)

    monkeypatch.setattr(trainer, "load_model", swap_then_load)
    assert _train(tiny, data, tmp_path / "run") == 0
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["data"]["sha256"] == record["gate"]["data_sha256"] == sha256_file(audited)
    assert (record["data"]["read"], record["data"]["used"], record["gate"]["passed"]) == (6, 6, True)


def test_train_refuses_to_read_the_data_otherwise_than_its_audit(tiny, write_jsonl, tmp_path, capsys):
    both = [{**row, "text": f"Note {k}: a short memo."} for k, row in enumerate(_chats(8))]
    mixed = write_jsonl("mixed/m.jsonl", both)
    assert _audit(mixed, mixed.parent / "audit", "--format", "text") == 0
    _refused(capsys, _train(tiny, mixed, tmp_path / "r1", "--format", "chat"),
             "read it as 'text' records", "--format chat")
    # Without --format it would be read as audited: documents, which SFT does not train on.
    _refused(capsys, _train(tiny, mixed, tmp_path / "r2"), "read it as documents",
             "--format chat")

    docs = [{"text": f"Memo {k}."} for k in range(3)]
    mostly_bad = write_jsonl("bad/m.jsonl", docs + _chats(40))
    assert _audit(mostly_bad, mostly_bad.parent / "audit", "--format", "text") == 0
    capsys.readouterr()  # the audit's lines on its 40 rejects
    _refused(capsys, main(["train", "midtrain", str(mostly_bad), "--out", str(tmp_path / "r3"),
                           "--model", str(tiny), "--quiet"]), "rejected 40 of 43")

    chats = write_jsonl("turns/c.jsonl", _chats(8))
    assert _audit(chats, chats.parent / "audit", "--turns", "last") == 0
    _refused(capsys, _train(tiny, chats, tmp_path / "r4"), "--turns", "audit it with --turns all")
    assert not any((tmp_path / f"r{k}" / "run.json").exists() for k in range(1, 5))


def test_hand_edited_forged_or_inconsistent_manifests_are_refused(tiny, write_jsonl, tmp_path, capsys):
    data = write_jsonl("d/chats.jsonl", _chats(8))
    assert _audit(data, data.parent / "audit", *_pattern(tmp_path, "^It is")) == 1
    path = data.parent / "audit" / "manifest.json"
    signed = json.loads(path.read_text())
    assert signed["verdict"] == "fail" and signed["signature"]["method"] == "hmac-sha256"

    path.write_text(path.read_text().replace('"verdict": "fail"', '"verdict": "pass"'))
    _refused(capsys, _train(tiny, data, tmp_path / "r1"), "signature does not verify")

    path.write_text(json.dumps({"input": {"sha256": sha256_file(data)}, "verdict": "pass"}))
    _refused(capsys, _train(tiny, data, tmp_path / "r2"), "is not signed")

    # Signed with this user's key, yet not what its own policy makes of its findings.
    passed = {**signed, "verdict": "pass", "passed": True}
    path.write_text(json.dumps(sign(passed)))
    _refused(capsys, _train(tiny, data, tmp_path / "r3"), "its verdict 'pass' is not its findings' ('fail')")
    quiet = {**passed, "findings": [{**f, "severity": "info"} for f in signed["findings"]]}
    path.write_text(json.dumps(sign(quiet)))
    _refused(capsys, _train(tiny, data, tmp_path / "r4"), "recorded 'info' but grades 'fail'")

    assert _train(tiny, data, tmp_path / "r5", "--allow-unaudited") == 0
    assert json.loads((tmp_path / "r5" / "run.json").read_text())["gate"]["unaudited"]


def test_stale_bytes_a_named_manifest_and_a_warn_verdict(tiny, write_jsonl, tmp_path, capsys):
    data = write_jsonl("d/chats.jsonl", _chats(20))
    # "It is N." with one digit: 5 of 20 replies, 25%: warn without a reference, and it trains.
    assert _audit(data, data.parent / "audit", *_pattern(tmp_path, "^It is [0-9][.]$")) == 0
    assert json.loads((data.parent / "audit" / "manifest.json").read_text())["verdict"] == "warn"
    assert _train(tiny, data, tmp_path / "r1") == 0
    assert json.loads((tmp_path / "r1" / "run.json").read_text())["gate"]["verdict"] == "warn"

    other = write_jsonl("e/chats.jsonl", _chats(8, 50))
    assert _audit(other, other.parent / "audit") == 0
    _refused(capsys, _train(tiny, data, tmp_path / "r2", "--manifest", str(other.parent / "audit")),
             "no audit manifest for these exact bytes", "in ")

    with open(data, "a") as f:
        f.write(json.dumps(_chats(1, 99)[0]) + "\n")
    _refused(capsys, _train(tiny, data, tmp_path / "r3"), "no audit manifest for these exact bytes")


def test_train_and_clean_refuse_an_audit_whose_files_do_not_belong_together(
        tiny, write_jsonl, tmp_path, capsys):
    data = write_jsonl("d/chats.jsonl", _chats(8))
    audit_dir = data.parent / "audit"
    assert _audit(data, audit_dir) == 0
    assert _audit(data, tmp_path / "other", *_pattern(tmp_path, "^It is")) == 1
    shutil.copy(tmp_path / "other" / "flags.parquet", audit_dir / "flags.parquet")
    _refused(capsys, _train(tiny, data, tmp_path / "r1"), "flags.parquet", "do not belong together")
    _refused(capsys, main(["clean", str(data), "--audit", str(audit_dir), "--out",
                           str(tmp_path / "clean.jsonl"), "--quiet"]), "do not belong together")
    (audit_dir / "manifest.json").unlink()
    _refused(capsys, main(["clean", str(data), "--audit", str(audit_dir), "--out",
                           str(tmp_path / "clean.jsonl"), "--quiet"]), "manifest.json: missing")


@pytest.fixture(autouse=True)
def _no_stray_runs(tmp_path):
    yield
    assert not list(tmp_path.rglob(".*.new-*")), "a staging directory was left behind"
