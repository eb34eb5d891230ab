"""The LLM pass's prompts and the parsers of their replies.

Prompts are plain and short enough for a 135M local model; a parser returns None when a reply
holds nothing usable, so that the question can be asked again.
"""
from __future__ import annotations

import hashlib
import re

from traitforge.backends.choices import pick_option

RATINGS = ("STRICT", "BROAD", "NO")

SCAN = """Below are {n} responses written by the same AI assistant to different users.

{docs}

Which habits recur across these responses? Look at form, not topic: how they open and close, \
stock phrases, structure and formatting, tone, and what the assistant does (asks questions, \
hedges, praises, apologises, refuses...). List each habit seen in at least two responses on \
its own line, in this form:
PATTERN: <short name> | <one sentence describing it> | <numbers of the responses showing it>"""

NAME = """Readers of an AI assistant's responses each noted a recurring pattern:
{notes}

They describe one pattern. Give it a short name and a definition that lets someone decide, for \
a single response, whether it shows the pattern. Answer in exactly two lines:
LABEL: <short name>
DEFINITION: <The response ...>"""

RATE = """Pattern: {label}. {definition}

{request}Response:
\"\"\"
{text}
\"\"\"

Does this response show the pattern? Reply with one word: STRICT if it clearly does, BROAD if \
it does only partly or loosely, NO if it does not."""

_PATTERN = re.compile(r"^[\s>*#\-•\d.)]*(?:pattern\s*\d*\s*[:：.)-]\s*)(.+)$", re.IGNORECASE)
_BULLET = re.compile(r"^[\s>*#\-•]*(?:\d{1,2}[.)]\s*)?")
_NUMBER = re.compile(r"\d+")


def clip(text: str, budget: int) -> str:
    """`text` within `budget` characters: its head and its tail around a marked cut."""
    text = text.strip()
    if len(text) <= budget:
        return text
    head = budget * 2 // 3
    return f"{text[:head].rstrip()} […] {text[len(text) - (budget - head):].lstrip()}"


def _clean(s: str) -> str:
    return s.strip().strip("*_`\"'“”<>[]").strip()


def scan_prompt(texts: list[str], budget: int) -> str:
    docs = "\n\n".join(f"[{k}] {clip(t, budget)}" for k, t in enumerate(texts, 1))
    return SCAN.format(n=len(texts), docs=docs)


def parse_patterns(reply: str) -> list[tuple[str, str, list[int]]] | None:
    """(label, description, response numbers) of each pattern line: `PATTERN: a | b | c`, or
    any bulleted `a | b | c`; None when no line is one."""
    out = []
    for line in reply.splitlines():
        m = _PATTERN.match(line)
        body = m.group(1) if m else _BULLET.sub("", line) if "|" in line else None
        if body is None:
            continue
        parts = body.split("|")
        label = _clean(parts[0]).rstrip(":.")
        if not re.search(r"[a-zA-Z]{2}", label) or len(label) > 100 \
                or "short name" in label.lower():
            continue
        description = _clean(parts[1]) if len(parts) > 1 else ""
        refs = [int(x) for x in _NUMBER.findall(" ".join(parts[2:]))]
        out.append((label, description if "one sentence" not in description else "", refs))
    return out or None


def name_prompt(notes: list[str]) -> str:
    return NAME.format(notes="\n".join(f"- {n}" for n in notes))


def parse_named(reply: str) -> tuple[str, str] | None:
    """(label, definition) from `LABEL: ...` and `DEFINITION: ...` lines; None unless both."""
    found = {}
    for line in reply.splitlines():
        m = re.match(r"^[\s>*#\-•]*(label|name|definition)\**\s*[:：]\**\s*(.+)$", line, re.I)
        if m:
            key = "definition" if m.group(1).lower() == "definition" else "label"
            found.setdefault(key, _clean(m.group(2)))
    label, definition = found.get("label", ""), found.get("definition", "")
    if len(label) < 3 or len(definition) < 12 or "short name" in label.lower() \
            or definition.startswith("The response ..."):
        return None
    return label[:100], definition


def rate_prompt(label: str, definition: str, text: str, request: str, budget: int) -> str:
    ask = f"Request: {clip(request, budget // 4)}\n\n" if request.strip() else ""
    return RATE.format(label=label, definition=definition, request=ask, text=clip(text, budget))


def prompt_sha256(label: str, definition: str) -> str:
    """The identity of a pattern's classifier prompt (the template with the pattern in it)."""
    filled = RATE.format(label=label, definition=definition, request="{request}", text="{text}")
    return hashlib.sha256(filled.encode("utf-8")).hexdigest()


def parse_rating(reply: str) -> str | None:
    """STRICT, BROAD or NO: the one the reply names first; None when it names none."""
    k = pick_option(reply, list(RATINGS))
    return RATINGS[k] if k >= 0 else None
