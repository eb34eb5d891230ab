"""The traits document: a Markdown title, then one bullet per trait, with optional sub-bullets
that explain why and give examples."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from traitforge.io import InputError

BULLET = re.compile(r"^(\s*)(?:[-*+]|\d{1,3}[.)])\s+(.*)$")
BOLD = re.compile(r"^(?:\*\*|__)(.+?)(?:\*\*|__)")


@dataclass(frozen=True)
class Trait:
    id: str  # slug of the bold name, or of the text
    name: str  # the bold name, or the bullet's text
    text: str  # the bullet and its sub-bullets, as written
    line: int


def slug(text: str, limit: int = 48) -> str:
    words = re.sub(r"[^a-z0-9]+", " ", text.lower()).split()
    out = ""
    for w in words:
        if out and len(out) + 1 + len(w) > limit:
            break
        out = f"{out}-{w}" if out else w[:limit]
    return out


def parse_traits(path: str | Path) -> list[Trait]:
    """The traits of a document, in order; a document without usable bullets is an InputError
    naming the file (and the line where there is one)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such traits file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    blocks: list[tuple[int, list[str]]] = []  # (line number, source lines) per trait
    open_ = False  # whether indented lines still belong to the last trait
    for n, line in enumerate(lines, 1):
        m = BULLET.match(line)
        if m and not m.group(1):
            blocks.append((n, [line]))
            open_ = True
        elif m and not blocks:
            raise InputError(f"{path}:{n}: an indented bullet before any trait bullet")
        elif open_ and line[:1].isspace() and line.strip():
            blocks[-1][1].append(line)
        elif line.strip():
            open_ = False  # a heading or an unindented paragraph ends the trait
    traits = [_trait(path, n, block) for n, block in blocks]
    if not traits:
        raise InputError(f"{path}: no traits found; write one '- ' bullet per trait under a title")
    seen: dict[str, int] = {}
    for t in traits:
        if t.id in seen:
            raise InputError(f"{path}:{t.line}: trait id {t.id!r} repeats line {seen[t.id]}; "
                             "give the traits distinct bold names")
        seen[t.id] = t.line
    return traits


def _trait(path: Path, n: int, block: list[str]) -> Trait:
    body = BULLET.match(block[0]).group(2).strip()
    bold = BOLD.match(body)
    name = bold.group(1).strip(" :") if bold else body
    tid = slug(name)
    if not tid:
        raise InputError(f"{path}:{n}: a trait bullet with no words")
    return Trait(tid, name, "\n".join(line.rstrip() for line in block), n)
