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
