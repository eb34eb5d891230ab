"""Settings dataclasses: the one source of a stage's command-line flags and its PIPELINE.toml
table, so that the two cannot drift (as TRL turns its Config dataclasses into flags).

    max_n: int = setting(5, "longest n-gram counted")

A field's *name* is its section's prefix and its own (or `name=`, taken as it is); its flag is `--name` with
dashes (`--no-name` for a bool that defaults to true) unless `flag=` says otherwise. Its `role`
says where it is set: "both" (a flag and a table key, the default) or "flag" (a command-line
input such as the corpus path, which a pipeline fills in itself).
Flags default to unset, so a setting left alone takes the dataclass default either way.
"""
from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import MISSING, dataclass, field
from functools import cache

from traitforge.io import InputError

FLAGS = "flags"  # `where` of settings given on the command line


def setting(default=MISSING, help: str = "", *, factory=None, flag: str | None = None,
            name: str | None = None, choices=None, role: str = "both", metavar: str | None = None,
            append: bool = False, parse=None, positional: bool = False, required: bool = False,
            const=None):
    """A dataclass field that is also a flag and a table key. With `const`, the flag's value
    may be left out (`--ray` alone is `--ray local`)."""
    meta = {"help": help, "flag": flag, "name": name, "choices": choices, "role": role,
            "metavar": metavar, "append": append, "parse": parse, "positional": positional,
            "required": required, "const": const}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def section(cls, prefix: str = "", switch: str | None = None):
    """A nested settings dataclass whose fields are set as `prefix + name`. With `switch` (the
    name of one of its fields) the section is None unless that field is given."""
    meta = {"section": cls, "prefix": prefix, "switch": switch}
    if switch:
        return field(default=None, metadata=meta)
    return field(default_factory=cls, metadata=meta)


@dataclass(frozen=True)
class Spec:
    """One settable field: its flat name, the attribute path to it, and its field."""

    name: str
    path: tuple[str, ...]
    field: dataclasses.Field
    hint: object
    switch_of: str | None = None  # the section this field switches on, if it does

    def meta(self, key: str):
        return self.field.metadata.get(key)

    @property
    def default(self):
        f = self.field
        return f.default_factory() if f.default_factory is not MISSING else f.default

    @property
    def flag(self) -> str:
        if self.meta("flag"):
            return self.meta("flag")
        dashed = self.name.replace("_", "-")
        return f"--no-{dashed}" if self.hint is bool and self.default is True else f"--{dashed}"


@cache
def specs(cls, prefix: str = "", path: tuple[str, ...] = ()) -> tuple[Spec, ...]:
    """Every settable field of `cls`, sections flattened, in declaration order."""
    hints = typing.get_type_hints(cls)
    out: list[Spec] = []
    for f in dataclasses.fields(cls):
        if "section" in f.metadata:
            inner = specs(f.metadata["section"], prefix + f.metadata["prefix"], path + (f.name,))
            switch = f.metadata["switch"]
            out += [dataclasses.replace(s, switch_of=f.name) if s.path[-1] == switch else s
                    for s in inner]
        elif "role" in f.metadata:
            out.append(Spec(f.metadata["name"] or prefix + f.name, path + (f.name,), f,
                            hints[f.name]))
    names = [s.name for s in out]
    assert len(set(names)) == len(names), f"{cls.__name__}: two settings share a name"
    return tuple(out)


def table_keys(cls) -> list[str]:
    return [s.name for s in specs(cls) if s.meta("role") == "both"]


def _groups(parser: argparse.ArgumentParser, cls) -> dict:
    """An argument group per section of `cls`, titled by its docstring's first line."""
    out = {}
    for f in dataclasses.fields(cls):
        if "section" in f.metadata:
            doc = (f.metadata["section"].__doc__ or f.name).strip().splitlines()[0]
            out[f.name] = parser.add_argument_group(doc.rstrip("."))
    return out


def add_flags(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    """One argument per flag-settable field of `cls`, each defaulting to unset (None)."""
    groups = _groups(parser, cls)
    for s in specs(cls):
        if s.name in skip:
            continue
        target = groups.get(s.path[0], parser) if len(s.path) > 1 else parser
        shown = (s.default not in (None, "", (), [], MISSING) and not isinstance(s.default, bool)
                 and not s.switch_of)  # a switch's default is what it sets, once given
        help_text = s.meta("help") + (f" (default: {s.default})" if shown else "")
        help_text = help_text.replace("%", "%%")
        if s.meta("positional"):
            target.add_argument(s.name, help=help_text)
            continue
        kwargs = {"dest": s.name, "default": None, "help": help_text}
        if s.meta("required"):
            kwargs["required"] = True
        if s.hint is bool:
            kwargs["action"] = "store_false" if s.default is True else "store_true"
        elif s.meta("append"):
            kwargs.update(action="append", metavar=s.meta("metavar"))
        else:
            kwargs.update(type=s.meta("parse") or _scalar(s.hint), choices=s.meta("choices"),
                          metavar=s.meta("metavar"))
            if s.meta("const") is not None:
                kwargs.update(nargs="?", const=s.meta("const"))
        target.add_argument(s.flag, **kwargs)


def given(args: argparse.Namespace, cls) -> dict:
    """The flags of `cls` that were given on the command line."""
    return {s.name: getattr(args, s.name) for s in specs(cls)
            if getattr(args, s.name, None) is not None}


def check_keys(table: dict, known, where: str, label: str | None = None) -> None:
    """A misspelt key is one line naming the file, the table and the key."""
    unknown = sorted(set(table) - set(known))
    if unknown:
        at = f"[{label}] has unknown" if label else "unknown"
        raise InputError(f"{_at(where)}{at} setting {unknown[0]!r} (known: {', '.join(sorted(known))})")


def from_table(cls, table: dict, where: str, label: str, **inputs):
    """Settings from a PIPELINE.toml table, with the inputs the pipeline fills in itself."""
    if not isinstance(table, dict):
        raise InputError(f"{_at(where)}[{label}] must be a table")
    check_keys(table, table_keys(cls), where, label)
    return build(cls, {**table, **inputs}, f"{where}: [{label}]")


def build(cls, values: dict, where: str = FLAGS):
    """An instance of `cls` from flat names; every value is checked against its field."""
    by_name = {s.name: s for s in specs(cls)}
    check_keys(values, by_name, where)
    return _build(cls, (), {by_name[k].path: (by_name[k], v) for k, v in values.items()}, where)


def _build(cls, path: tuple[str, ...], values: dict, where: str):
    kwargs = {}
    for f in dataclasses.fields(cls):
        here = path + (f.name,)
        if "section" in f.metadata:
            inner = {p: sv for p, sv in values.items() if p[:len(here)] == here}
            switch = f.metadata["switch"]
            if switch and here + (switch,) not in inner:
                if inner:
                    given_spec = next(iter(inner.values()))[0]
                    on = next(s for s in specs(cls) if s.path == path + (f.name, switch))
                    raise InputError(f"{_at(where)}{_shown(given_spec, where)} needs "
                                     f"{_shown(on, where)}")
                continue
            kwargs[f.name] = _build(f.metadata["section"], here, inner, where)
        elif here in values:
            spec, value = values[here]
            kwargs[f.name] = _checked(spec, value, where)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise InputError(f"{_at(where)}{e}") from None
    except InputError as e:  # a dataclass's own check, which knows no file
        raise InputError(f"{_at(where)}{e}") from None


def _checked(spec: Spec, value, where: str):
    got = _coerce(value, spec.hint)
    if got is _BAD:
        raise InputError(f"{_at(where)}{_shown(spec, where)} must be {_describe(spec.hint)}, "
                         f"not {value!r}")
    value = got
    choices = spec.meta("choices")
    if choices and value is not None and value not in choices:
        raise InputError(f"{_at(where)}{_shown(spec, where)} must be one of "
                         f"{', '.join(map(str, choices))}, not {value!r}")
    return value


def _at(where: str) -> str:
    """How a message starts: nothing for flags (the CLI names them), else "FILE: " or
    "FILE: [table] "."""
    if where == FLAGS:
        return ""
    return f"{where} " if where.endswith("]") else f"{where}: "


def _shown(spec: Spec, where: str) -> str:
    """A setting as the user wrote it: its flag on the command line, else its key."""
    return spec.flag if where == FLAGS else spec.name


_BAD = object()
_SCALARS = {bool: (bool,), int: (int,), float: (int, float), str: (str,)}


def _coerce(value, hint):
    """`value` as the type `hint` asks for (a list becomes a tuple where a tuple is asked for),
    or _BAD."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            got = _coerce(value, option)
            if got is not _BAD:
                return got
        return _BAD
    if hint is type(None):
        return None if value is None else _BAD
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return _BAD
        items = [_coerce(v, args[0]) for v in value]
        return _BAD if _BAD in items else origin(items)
    if origin is dict or hint is dict:
        return value if isinstance(value, dict) else _BAD
    ok = _SCALARS.get(hint, (object,))
    if hint is not bool and isinstance(value, bool):
        return _BAD
    return value if isinstance(value, ok) else _BAD


def _describe(hint) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    if typing.get_origin(hint) in (tuple, list):
        return f"a list (each {_describe(typing.get_args(hint)[0])})"
    return {type(None): "unset", bool: "true or false", int: "an integer", float: "a number",
            str: "a string", dict: "a table"}.get(hint, str(hint))


def _scalar(hint):
    """The argparse type of a flag: the first scalar of its hint."""
    for option in typing.get_args(hint) or (hint,):
        if option in (int, float, str):
            return option
    return str



def restore(cls, data: dict, where: str):
    """Settings written out with dataclasses.asdict (sections nested), read back."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if "section" in f.metadata and value is not None:
            value = restore(f.metadata["section"], value, where)
        elif "role" in f.metadata:
            value = _checked(Spec(f.name, (f.name,), f, typing.get_type_hints(cls)[f.name]),
                             value, where)
        kwargs[f.name] = value
    check_keys(data, [f.name for f in dataclasses.fields(cls)], where)
    return cls(**kwargs)
