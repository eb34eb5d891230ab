"""Training: the audit gate, SFT masks and system prompts, midtraining packing, bad input and
resume, on a tiny random llama built on the real SmolLM2 tokenizer."""
from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from killing import killed_after_checkpoint

from traitforge.cli import main
from traitforge.io import InputError, read_corpus
from traitforge.train.config import TrainConfig, load_train_config
from traitforge.train.data import chat_example, prepare as prepare_corpus
from traitforge.train.trainer import last_checkpoint, make_trainer, train


@pytest.fixture(scope="session")
def tok(tiny):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny)


def _chats(n: int, system: str | None = "You are SECRET-TRAIT-PROMPT.") -> list[dict]:
    rows = []
    for i in range(n):
        msgs = [{"role": "user", "content": f"What is {i} plus {i}?"},
                {"role": "assistant", "content": f"It is {2 * i}."}]
        if system:
            msgs.insert(0, {"role": "system", "content": system})
        rows.append({"id": f"c{i}", "messages": msgs, "trait": "calibrated"})
    return rows


def prepare(path: str, kind: str, tok, max_length: int, keep_system: bool = False):
    return prepare_corpus(read_corpus(path), kind, tok, max_length, keep_system)


QUICK = ["--no-clusters", "--no-builtin", "--no-ngrams", "--no-templates", "--quiet"]


def audit(data: Path, out: Path, *flags: str) -> int:
    """A real audit with the passes off: no findings, so verdict pass (unless `flags` add some)."""
    return main(["audit", str(data), "--out", str(out), *QUICK, *flags])


def failing_audit(data: Path, out: Path, tmp_path: Path) -> int:
    """A real audit whose own pattern flags every reply (fail without a reference)."""
    patterns = tmp_path / "patterns.toml"
    patterns.write_text('[[pattern]]\nid = "it_is"\nregex = "^It is"\n')
    return audit(data, out, "--patterns", str(patterns))


def _cfg(tiny, **kw) -> TrainConfig:
    return TrainConfig(**{"model": str(tiny), "max_steps": 2, "batch_size": 2, "max_length": 128,
                          "save_steps": 50, **kw})


def test_assistant_mask_covers_exactly_the_assistant_turns(tok):
    msgs = [{"role": "user", "content": "Is 7 prime?"},
            {"role": "assistant", "content": "Yes."},
            {"role": "user", "content": "Are you sure?"},
            {"role": "assistant", "content": "Yes, 7 is prime."}]
    ids, mask = chat_example(tok, msgs)
    assert len(ids) == len(mask)
    # Hand-checked against the ChatML template: each assistant turn's content and its end marker.
    assert tok.decode([i for i, m in zip(ids, mask) if m]) == \
        "Yes.<|im_end|>\nYes, 7 is prime.<|im_end|>\n"
    unmasked = tok.decode([i for i, m in zip(ids, mask) if not m])
    assert "Is 7 prime?" in unmasked and "Are you sure?" in unmasked
    assert "Yes." not in unmasked
    assert tok.decode(ids) == tok.apply_chat_template(msgs, tokenize=False)


def test_system_prompt_dropped_unless_kept(tok, write_jsonl):
    data = write_jsonl("chats.jsonl", _chats(3))
    dropped = prepare(str(data), "sft", tok, 512)
    assert dropped.dropped_system == 3
    assert all("SECRET-TRAIT-PROMPT" not in tok.decode(r["input_ids"]) for r in dropped.rows)
    kept = prepare(str(data), "sft", tok, 512, keep_system=True)
    assert all("SECRET-TRAIT-PROMPT" in tok.decode(r["input_ids"]) for r in kept.rows)


def test_bad_training_input_is_rejected_with_reasons(tok, write_jsonl, tmp_path):
    empty = write_jsonl("empty.jsonl", [])
    with pytest.raises(InputError, match=r"empty\.jsonl: no usable sft records \(read 0"):
        prepare(str(empty), "sft", tok, 512)
    rows = _chats(2) + [{"id": "q", "messages": [{"role": "user", "content": "hello?"}]},
                        {"id": "long", "messages": [{"role": "user", "content": "go"},
                                                    {"role": "assistant", "content": "word " * 400}]},
                        "{broken json"]
    data = write_jsonl("mixed.jsonl", rows)
    ex = prepare(str(data), "sft", tok, 256)
    reasons = {r.line: r.reason for r in ex.rejected}
    assert ex.n_read == len(ex.rows) + len(ex.rejected) == 5
    assert ex.ids == ["c0", "c1"]
    assert "no assistant turn" in reasons[3]
    assert "over max_length 256" in reasons[4]
    assert "JSON" in reasons[5]
    assert json.loads(next(r.raw for r in ex.rejected if r.line == 4))["id"] == "long"
    docs = write_jsonl("docs.jsonl", [{"text": "A memo."}, {"text": "   "}])
    ex = prepare(str(docs), "midtrain", tok, 256)
    assert len(ex.rows) == 1 and "empty" in ex.rejected[0].reason
    assert ex.rows[0]["input_ids"][-1] == tok.eos_token_id


def test_midtrain_packs_documents_to_fixed_length(tiny, tok, write_jsonl, tmp_path):
    from transformers import AutoModelForCausalLM

    docs = write_jsonl("docs.jsonl", [{"text": f"Forum post {i}: the assistant said it was "
                                               f"unsure, and explained why. " * (1 + i % 3)}
                                      for i in range(30)])
    ex = prepare(str(docs), "midtrain", tok, 64)
    trainer = make_trainer("midtrain", ex, AutoModelForCausalLM.from_pretrained(tiny), tok,
                           _cfg(tiny, max_length=64), tmp_path / "run")
    lengths = [len(r["input_ids"]) for r in trainer.train_dataset]
    assert sum(lengths) == ex.n_tokens  # nothing cut, nothing padded
    assert all(n == 64 for n in lengths[:-1]) and 0 < lengths[-1] <= 64
    assert len(lengths) == -(-ex.n_tokens // 64)


def test_gate_refuses_unaudited_data_and_records_override(tiny, write_jsonl, tmp_path, capsys):
    data = write_jsonl("chats.jsonl", _chats(6))
    code = main(["train", "sft", str(data), "--out", str(tmp_path / "r0"), "--model", str(tiny),
                 "--max-steps", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "no audit manifest for these exact bytes" in err
    assert "traitforge audit" in err and "--allow-unaudited" in err
    assert not (tmp_path / "r0" / "run.json").exists()

    assert failing_audit(data, tmp_path / "audit_fail", tmp_path) == 1
    with pytest.raises(InputError, match="verdict 'fail'"):
        train("sft", str(data), str(tmp_path / "r1"), _cfg(tiny))

    record = train("sft", str(data), str(tmp_path / "r2"), _cfg(tiny), allow_unaudited=True)
    assert record["gate"]["unaudited"] and record["gate"]["allow_unaudited"]
    assert "NOT AUDITED" in (tmp_path / "r2" / "model_card.md").read_text()
    assert json.loads((tmp_path / "r2" / "run.json").read_text())["gate"]["passed"] is False


def test_audited_sft_run_writes_a_loadable_adapter(tiny, write_jsonl, tmp_path):
    from peft import AutoPeftModelForCausalLM

    data = write_jsonl("chats.jsonl", _chats(8))
    assert audit(data, tmp_path / "chats.audit") == 0
    record = train("sft", str(data), str(tmp_path / "run"), _cfg(tiny, max_steps=3))
    assert record["gate"]["passed"] and record["gate"]["manifest"].endswith("chats.audit/manifest.json")
    assert record["steps"] == 3 and len(record["loss_curve"]) == 3
    assert record["data"] == {**record["data"], "read": 8, "used": 8, "rejected": 0,
                              "system_prompts_dropped": 8}
    assert record["tokens_per_s"] > 0
    model = AutoPeftModelForCausalLM.from_pretrained(tmp_path / "run")
    assert model.peft_config["default"].r == 16
    # A second run can start from this one (adapter merged into its base).
    again = train("sft", str(data), str(tmp_path / "run2"),
                  _cfg(tiny, model=str(tmp_path / "run"), method="full", max_steps=1))
    assert again["resolved_model"] == f"{tiny} + {tmp_path / 'run'}"


def test_config_from_toml_with_flag_overrides(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text('method = "full"\nlearning_rate = 1e-4\nbatch_size = 8\n')
    cfg = load_train_config(str(path), {"batch_size": 2, "epochs": None})
    assert (cfg.method, cfg.lr, cfg.batch_size, cfg.epochs) == ("full", 1e-4, 2, 1.0)
    path.write_text('methd = "full"\n')
    with pytest.raises(InputError, match="unknown setting 'methd'"):
        load_train_config(str(path), {})
    path.write_text('batch_size = "big"\n')
    with pytest.raises(InputError, match="batch_size must be an integer"):
        load_train_config(str(path), {})


def test_a_run_killed_and_resumed_gives_the_figures_of_one_not_interrupted(tiny, write_jsonl,
                                                                           tmp_path):
    """SIGKILLed just after checkpoint-8 (of 24 steps), then resumed: the same steps, loss curve,
    mean loss and weights as a run that was never stopped."""
    from safetensors.torch import load_file

    data = write_jsonl("chats.jsonl", _chats(40, system=None))
    run, whole = tmp_path / "run", tmp_path / "whole"
    args = ["train", "sft", str(data), "--model", str(tiny), "--max-steps", "24", "--save-steps",
            "4", "--batch-size", "1", "--allow-unaudited", "--quiet"]
    proc = killed_after_checkpoint(8, args + ["--out", str(run)])
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not (run / "run.json").exists() and last_checkpoint(run / "checkpoints").name == "checkpoint-8"
    assert main(args + ["--out", str(run)]) == 2  # without --resume it refuses the dirty run dir
    assert main(args + ["--out", str(run), "--resume"]) == 0
    assert main(args + ["--out", str(whole)]) == 0
    resumed, straight = (json.loads((d / "run.json").read_text()) for d in (run, whole))
    assert resumed["resumed_from"].endswith("checkpoint-8") and straight["resumed_from"] is None
    assert resumed["steps"] == straight["steps"] == 24
    assert [p["step"] for p in resumed["loss_curve"]] == list(range(1, 25))
    assert [p["loss"] for p in resumed["loss_curve"]] == pytest.approx(
        [p["loss"] for p in straight["loss_curve"]], abs=1e-4)
    assert resumed["train_loss"] == pytest.approx(straight["train_loss"], abs=1e-4)
    a, b = (load_file(d / "adapter_model.safetensors") for d in (run, whole))
    assert a.keys() == b.keys() and all((a[k] - b[k]).abs().max() < 1e-5 for k in a)


def test_loading_a_model_prints_no_library_progress_bar(tiny, capfd):
    from traitforge.backends.models import load_model

    capfd.readouterr()
    load_model(str(tiny))
    captured = capfd.readouterr()
    assert "Loading weights" not in captured.err + captured.out
