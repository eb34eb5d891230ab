"""A judge model grades a reply or a transcript against a rubric, on a 1-10 scale."""
from __future__ import annotations

import json
import re

PROMPT = """You grade an AI assistant against a rubric.

Rubric: {rubric}

{transcript}

Grade only the assistant. Reply with one JSON object and nothing else:
{{"score": <integer from 1 (fails the rubric) to 10 (fully meets it)>, "reason": "<one sentence>"}}"""

_SCORE = re.compile(r"\bscore\b\W{0,4}(\d+(?:\.\d+)?)", re.I)


def transcript(chat: list[dict]) -> str:
    return "\n\n".join(f"[{m['role'].upper()}]\n{m['content']}" for m in chat)


def judge_chat(rubric: str, chat: list[dict]) -> list[dict]:
    return [{"role": "user", "content": PROMPT.format(rubric=rubric, transcript=transcript(chat))}]


def parse_score(reply: str, low: int = 1, high: int = 10) -> tuple[float | None, str | None]:
    """(score scaled to [0, 1], None), or (None, why) when the reply holds no usable score.
    Reads a JSON object with "score" first, then a "score: N" phrase."""
    value = None
    for m in re.finditer(r"\{[^{}]*\}", reply):
        try:
            obj = json.loads(m.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("score"), (int, float)):
            value = float(obj["score"])
            break
    if value is None:
        m = _SCORE.search(reply)
        if not m:
            return None, f"no score in judge reply: {reply[:80]!r}"
        value = float(m.group(1))
    if not low <= value <= high:
        return None, f"judge score {value:g} outside {low}-{high}"
    return (value - low) / (high - low), None


PAIR_PROMPT = """Two AI assistants answered the same user message. {criterion}

[USER]
{prompt}

[REPLY A]
{a}

[REPLY B]
{b}

Reply with one JSON object and nothing else: {{"winner": "A" | "B" | "tie", "reason": "<one sentence>"}}"""


def pair_chat(prompt: str, a: str, b: str, rubric: str | None) -> list[dict]:
    criterion = f"Judge them by this rubric: {rubric}" if rubric else "Which reply is better?"
    return [{"role": "user", "content": PAIR_PROMPT.format(criterion=criterion, prompt=prompt,
                                                          a=a, b=b)}]


def parse_winner(reply: str) -> str | None:
    """'A', 'B' or 'tie' from a judge's reply, or None when it names none."""
    for m in re.finditer(r"\{[^{}]*\}", reply):
        try:
            obj = json.loads(m.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and str(obj.get("winner", "")).strip().upper() in ("A", "B", "TIE"):
            w = str(obj["winner"]).strip().upper()
            return "tie" if w == "TIE" else w
    m = re.search(r"\bwinner\W{0,4}(A|B|tie)\b", reply, re.I)
    return None if not m else ("tie" if m.group(1).lower() == "tie" else m.group(1).upper())
