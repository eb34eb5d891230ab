"""Tolerant readers of model replies: lists numbered or bulleted or on one line, labelled fields
in any case and with stray markdown, free text with a preface, fences or quotes around it.
A reply that cannot be used raises Unusable, and the engine asks again."""
from __future__ import annotations

import re

MARKS = "\\s#>*_`"  # markdown that may wrap a label or a value
ITEM = re.compile(r"^\s*(?:\d{1,3}[.):]|\(\d{1,3}\)|[-*•+])\s+(.*\S)\s*$")
PREFACE = re.compile(r"^\W*(?:sure|certainly|of course|okay|ok|great|here(?:'s| is| are))\b.*:\s*$",
                     re.I)
FENCE = re.compile(r"^```[\w-]*\n(.*?)\n?```$", re.S)
QUOTES = (('"""', '"""'), ('"', '"'), ("\u201c", "\u201d"), ("'", "'"))
NONE = re.compile(r"^\W*(?:none|no problems?(?: found)?|nothing)\W*$", re.I)
PLACEHOLDER = re.compile(
    r"\[(?:(?i:insert|your|enter|add)\b[^\]\n]{0,40}"
    r"|[A-Z][A-Za-z'.]+(?:[ _/-](?:[A-Z][A-Za-z'.]*|of|or))*|[A-Z]{2,}(?:[ _][A-Z]+)*)\](?!\()"
    r"|\{\{[^}\n]{1,40}\}\}|<(?i:your|insert)\b[^>\n]{0,40}>|(?i:\blorem ipsum\b)")


class Unusable(Exception):
    """A reply that cannot be used: `reason` is its kind for the counts, the message its detail."""

    def __init__(self, detail: str, reason: str = "parse failure"):
        super().__init__(detail)
        self.reason = reason


def _strip_marks(s: str) -> str:
    s = s.strip()
    while len(s) > 1 and s[0] in "*_`" and s[-1] == s[0]:
        s = s[1:-1].strip()
    return s


def text(reply: str, labels: tuple[str, ...] = (), min_words: int = 1) -> str:
    """Free text: the reply without a code fence, a "Here is...:" preface, a leading label
    such as "Scenario:", or quotes around the whole."""
    s = reply.strip()
    m = FENCE.match(s)
    if m:
        s = m.group(1).strip()
    first, _, rest = s.partition("\n")
    if rest.strip() and PREFACE.match(first):
        s = rest.strip()
    if labels:
        alt = "|".join(re.escape(label) for label in labels)
        s = re.sub(rf"^[{MARKS}]*(?:{alt})[*_`]*\s*:[*_`]*\s*", "", s, flags=re.I).strip()
    for left, right in QUOTES:
        if len(s) > len(left) + len(right) and s.startswith(left) and s.endswith(right) \
                and left not in s[len(left):-len(right)]:
            s = s[len(left):-len(right)].strip()
            break
    n = len(s.split())
    if n < min_words:
        raise Unusable("empty reply" if not n else f"too short ({n} words)")
    return s


def items(reply: str, short: bool = False) -> list[str]:
    """A list: its numbered or bulleted lines, or else its lines, or else one line split at
    commas. `short` keeps names only, cutting an explanation after ':', ' - ' or '('."""
    lines = [ln for ln in reply.splitlines() if ln.strip()]
    found = [m.group(1) for m in map(ITEM.match, lines) if m]
    if not found:
        found = [ln for ln in lines if not PREFACE.match(ln) and not ln.rstrip().endswith(":")]
        if len(found) == 1 and short:
            found = re.split(r"\s*[,;]\s*", found[0])
    out, seen = [], set()
    for item in found:
        item = _strip_marks(item)
        if short:
            item = _strip_marks(re.split(r":|\s[-\u2013\u2014]\s|\(", item)[0]).rstrip(".")
        item = item.strip(" \"'")
        if item and item.lower() not in seen and not (short and len(item) > 60):
            seen.add(item.lower())
            out.append(item)
    if not out:
        raise Unusable("no list items")
    return out


def fields(reply: str, labels: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Labelled fields ("VERDICT: keep", "**Prompt:**" then lines): each field's text runs to the
    next label. `labels` maps a field to the spellings it may take, longest first."""
    spell = {s.lower(): f for f, alts in labels.items() for s in alts}
    alt = "|".join(re.escape(s) for s in sorted(spell, key=len, reverse=True))
    head = re.compile(rf"^[{MARKS}]*({alt})[*_`]*\s*(?::[*_`]*\s*(.*)|[{MARKS}]*)$", re.I)
    out: dict[str, list[str]] = {}
    current = None
    for line in reply.splitlines():
        m = head.match(line)
        if m:
            current = spell[m.group(1).lower()]
            out.setdefault(current, [])
            line = m.group(2) or ""
        if current is not None:
            out[current].append(line)
    return {f: _strip_marks("\n".join(lines)) for f, lines in out.items()}


def verdict(reply: str) -> str | None:
    """The critique's outcome: None to keep the prompt, or the revised prompt."""
    got = fields(reply, {"verdict": ("verdict", "decision"),
                         "prompt": ("revised prompt", "improved prompt", "revised message",
                                    "improved message", "prompt", "message")})
    said = re.findall(r"\b(keep|revise)\b", got.get("verdict") or reply, re.I)
    if not said:
        raise Unusable("no verdict (keep or revise)")
    if said[0].lower() == "keep":
        return None
    revised = got.get("prompt", "")
    if not revised.strip():
        raise Unusable("verdict revise without a revised prompt")
    return text(revised)


def ratings(reply: str, names: tuple[str, ...] = ("realism", "quality")) -> dict[str, float]:
    """Each named 1-10 rating, from "REALISM: 8", "**Quality** - 7/10" or '"quality": 7'."""
    out = {}
    for name in names:
        m = re.search(rf"\b{name}\b[*_\s]*(?:\(1\s*-\s*10\))?\W{{0,6}}"
                      r"(\d{1,2}(?:\.\d+)?)(?!\s*-\s*\d)", reply, re.I)
        if not m:
            raise Unusable(f"no {name.upper()} rating")
        value = float(m.group(1))
        if not 1 <= value <= 10:
            raise Unusable(f"{name.upper()} {value:g} outside 1-10")
        out[name] = value
    return out


def problems(reply: str) -> list[str]:
    """A critique's problems: [] for NONE, else its list (or its text as one problem)."""
    s = text(reply)
    if NONE.match(s.splitlines()[0]):
        return []
    try:
        return items(s)
    except Unusable:
        return [s]


def placeholders(doc: str) -> list[str]:
    """Template slots left in a text: [Name], [Your Company], [insert date], {{name}}..."""
    return sorted({m.group(0) for m in PLACEHOLDER.finditer(doc)})


def quoted(reply: str, source: str, n: int = 8) -> str | None:
    """The first run of `n` words the reply copies from `source` (the traits text), if any."""
    def words(s: str) -> list[str]:
        return re.findall(r"[a-z0-9']+", s.lower())

    src = words(source)
    grams = {tuple(src[i:i + n]) for i in range(len(src) - n + 1)}
    got = words(reply)
    for i in range(len(got) - n + 1):
        if tuple(got[i:i + n]) in grams:
            return " ".join(got[i:i + n])
    return None
