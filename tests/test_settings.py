"""One settings source per stage: every audit, clean and train setting can be set from the
command line and from PIPELINE.toml, to the same effect and with the same default, and a
misspelt or mistyped one is one line naming the file and the key."""
from __future__ import annotations

import json
from dataclasses import fields

import pytest

from traitforge.audit import AuditConfig
from traitforge.clean import CleanConfig
from traitforge.cli import _parser
from traitforge.io import InputError
from traitforge.pipeline import load_pipeline
from traitforge.settings import Spec, build, given, specs
from traitforge.train.config import TrainConfig

COMMANDS = {AuditConfig: (["audit", "c.jsonl", "--out", "o"], "audit"),
            CleanConfig: (["clean", "c.jsonl", "--audit", "a", "--out", "o.jsonl"], "clean"),
            TrainConfig: (["train", "sft", "c.jsonl", "--out", "o"], "train")}
SETTABLE = [(cls, s) for cls in COMMANDS for s in specs(cls) if s.meta("role") == "both"]


def other_value(s: Spec, tmp_path):
    """A valid value of the setting that is not its default."""
    if s.meta("choices"):
        return next(c for c in s.meta("choices") if c != s.default)
    if s.name in ("patterns", "policy"):
        path = tmp_path / f"{s.name}.toml"
        path.write_text('[[pattern]]\nid = "x"\nregex = "x"\n' if s.name == "patterns" else "alpha = 0.01\n")
        return str(path)
    if s.name == "llm_sample":
        return 7
    if getattr(s.hint, "__origin__", None) in (tuple, list):
        return ("trait",) if s.hint.__origin__ is tuple else ["trait"]
    kind = s.hint if isinstance(s.hint, type) else next(
        t for t in getattr(s.hint, "__args__", ()) if t is not type(None))
    if kind is bool:
        return not s.default
    if kind in (int, float):
        return (s.default or 0) + (2 if kind is int else 0.25)
    assert kind is str, s
    return "model-x" if s.name in ("model", "llm") else str(tmp_path / "somewhere")


def value_at(config, s: Spec):
    for part in s.path:
        config = getattr(config, part)
    return config


def with_switch(s: Spec, values: dict) -> dict:
    """An LLM-pass setting needs the pass switched on."""
    return {"llm": "model-x", **values} if s.name.startswith("llm_") else values


def cli_config(cls, values: dict):
    argv, _ = COMMANDS[cls]
    extra = []
    for name, value in values.items():
        s = next(x for x in specs(cls) if x.name == name)
        if s.hint is bool:
            extra += [s.flag] if value != s.default else []
        elif s.meta("append"):
            extra += [a for v in value for a in (s.flag, str(v))]
        else:
            extra += [s.flag, str(value)]
    args = _parser().parse_args(argv[:1] + (argv[1:2] if cls is TrainConfig else []) + extra
                                + argv[1 + (cls is TrainConfig):])
    inputs = {"corpus": "c.jsonl", "audit": "a", "out": "o.jsonl"}
    return build(cls, {**{k: v for k, v in inputs.items() if k in {f.name for f in fields(cls)}},
                       **given(args, cls)})


def toml(value) -> str:
    return json.dumps(list(value) if isinstance(value, tuple) else value)


@pytest.fixture
def pipeline(tmp_path):
    for name in ("chats.jsonl", "reference.jsonl", "suite.toml"):
        (tmp_path / name).write_text("")

    def load(table: str, values: dict):
        top = {"model": values.pop("model")} if table == "train" and "model" in values else {}
        body = "".join(f"{k} = {toml(v)}\n" for k, v in values.items())
        path = tmp_path / "pipeline.toml"
        head = "".join(f"{k} = {toml(v)}\n" for k, v in top.items())  # the base model is top-level
        path.write_text(f'{head}out = "run"\n[data]\nchats = "chats.jsonl"\nreference = "reference.jsonl"\n'
                        f'[{table}]\n{body}[[arm]]\nname = "base"\n[eval]\nsuite = "suite.toml"\n')
        p = load_pipeline(path)
        return {"audit": lambda: p.audit_config("c.jsonl", None),
                "clean": lambda: p.clean_config("c.jsonl", "a", "o.jsonl"),
                "train": lambda: p.train_config("sft")}.get(table, lambda: p)()
    return load


@pytest.mark.parametrize("cls, s", SETTABLE, ids=[f"{c.__name__}.{s.name}" for c, s in SETTABLE])
def test_every_setting_is_set_alike_from_the_cli_and_the_pipeline(cls, s, tmp_path, pipeline):
    value = other_value(s, tmp_path)
    table = COMMANDS[cls][1]
    from_cli = cli_config(cls, with_switch(s, {s.name: value}))
    from_file = pipeline(table, with_switch(s, {s.name: value}))
    assert value_at(from_cli, s) == value_at(from_file, s) == value != s.default
    if s.switch_of:  # the switch of an optional section: left alone, the section is off in both
        assert getattr(cli_config(cls, {}), s.switch_of) is None
        assert getattr(pipeline(table, {}), s.switch_of) is None
    else:  # left alone, both give the dataclass default
        alone = with_switch(s, {})
        assert value_at(cli_config(cls, alone), s) == value_at(pipeline(table, alone), s) == s.default


@pytest.mark.parametrize("table", ["audit", "clean", "train", "train.sft", "generate"])
def test_a_misspelt_key_is_one_line_naming_the_file_and_the_key(table, tmp_path, pipeline):
    (tmp_path / "traits.md").write_text("# T\n- **Honest**: says what it knows.\n")
    values = {"max_nn": 3} if table != "generate" else {"traits": "traits.md", "max_nn": 3}
    with pytest.raises(InputError) as e:
        pipeline(table, values)
    message = str(e.value)
    assert "\n" not in message and str(tmp_path / "pipeline.toml") in message
    assert f"[{table}] has unknown setting 'max_nn'" in message


def test_a_mistyped_value_names_the_file_and_the_key(pipeline):
    with pytest.raises(InputError, match=r"pipeline.toml: \[audit\] max_n must be an integer, "
                                         r"not 'five'$"):
        pipeline("audit", {"max_n": "five"})
    with pytest.raises(InputError, match=r"\[clean\] strategy must be one of strip, drop"):
        pipeline("clean", {"strategy": "burn"})


def test_an_llm_setting_without_the_llm_pass_is_refused(pipeline):
    with pytest.raises(InputError, match=r"\[audit\] llm_batches needs llm"):
        pipeline("audit", {"llm_batches": 3})
    with pytest.raises(SystemExit):
        _parser().parse_args(["audit", "c.jsonl", "--out", "o", "--max-n", "five"])
