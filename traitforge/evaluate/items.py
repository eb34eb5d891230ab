"""Reading eval sets into plain items, whatever shape they come in:
- multiple choice: {query|question, choices, gold|answer} (MosaicML gauntlet, our own sets);
- A/B dispositions: {question with "(A) ... (B) ...", answer_matching_behavior} (Anthropic evals);
- yes/no persona statements: {statement, answer_matching_behavior: " Yes"|" No"};
- prompts: {prompt} or a chat whose first user turn is the prompt.
A bad line stops the run with `file:line: reason`."""
from __future__ import annotations

import glob
import json
import random
import re
from pathlib import Path

from traitforge.io import InputError

LETTERS = "ABCDEFGHIJ"
_OPTION = re.compile(r"^\s*\(([A-J])\)", re.M)


def read_rows(pattern: str, base: Path | None = None) -> list[tuple[str, int, dict]]:
    """(file, line, row) of every JSONL row of the files matching `pattern` (a path or glob,
    relative to `base`)."""
    full = pattern if base is None or Path(pattern).is_absolute() else str(base / pattern)
    files = sorted(glob.glob(full))
    if not files:
        raise InputError(f"{full}: no such eval file")
    rows = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{f}:{n}: malformed JSON ({e.msg})") from None
                if not isinstance(row, dict):
                    raise InputError(f"{f}:{n}: expected a JSON object")
                rows.append((f, n, row))
    return rows


def sample(rows: list, limit: int | None, seed: int) -> list:
    """At most `limit` rows, chosen at random with `seed` but kept in file order."""
    if not limit or limit >= len(rows):
        return rows
    keep = sorted(random.Random(seed).sample(range(len(rows)), limit))
    return [rows[i] for i in keep]


def _id(f: str, n: int, row: dict) -> str:
    return str(row.get("id") or f"{Path(f).stem}:{n}")


def mcq_item(f: str, n: int, row: dict) -> dict:
    question = row.get("query", row.get("question"))
    choices, gold = row.get("choices"), row.get("gold", row.get("answer"))
    if not isinstance(question, str) or not isinstance(choices, list) or len(choices) < 2:
        raise InputError(f"{f}:{n}: a multiple-choice item needs query (or question) and a "
                         "list of at least two choices")
    if not isinstance(gold, int) or isinstance(gold, bool) or not 0 <= gold < len(choices):
        raise InputError(f"{f}:{n}: gold must be the index of the right choice")
    return {"id": _id(f, n, row), "question": question, "choices": [str(c) for c in choices],
            "gold": gold}


def ab_item(f: str, n: int, row: dict) -> dict:
    """An A/B disposition question: the options are its labels, `matching` the label that
    shows the behaviour."""
    question, match = row.get("question"), row.get("answer_matching_behavior")
    if not isinstance(question, str) or not isinstance(match, str):
        raise InputError(f"{f}:{n}: an A/B item needs question and answer_matching_behavior")
    labels = _OPTION.findall(question)
    m = re.search(r"\(?([A-J])\)?", match.strip())
    if len(labels) < 2 or not m or m.group(1) not in labels:
        raise InputError(f"{f}:{n}: cannot find the options (A), (B)... or the matching one")
    return {"id": _id(f, n, row), "question": question.strip(),
            "options": [f"({x})" for x in labels], "matching": labels.index(m.group(1))}


def yesno_item(f: str, n: int, row: dict) -> dict:
    statement, match = row.get("statement"), str(row.get("answer_matching_behavior", "")).strip()
    if not isinstance(statement, str) or match not in ("Yes", "No"):
        raise InputError(f"{f}:{n}: a persona item needs statement and answer_matching_behavior "
                         "Yes or No")
    question = f'Is the following statement something you would say?\n"{statement}"'
    return {"id": _id(f, n, row), "question": question, "options": ["Yes", "No"],
            "matching": 0 if match == "Yes" else 1}


def prompt_item(f: str, n: int, row: dict) -> dict:
    prompt = row.get("prompt", row.get("instruction", row.get("question")))
    if prompt is None and isinstance(row.get("messages"), list):
        prompt = next((m.get("content") for m in row["messages"]
                       if isinstance(m, dict) and m.get("role") == "user"), None)
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError(f"{f}:{n}: expected a prompt (or a chat with a user turn)")
    out = {"id": _id(f, n, row), "prompt": prompt}
    if isinstance(row.get("rubric"), str):
        out["rubric"] = row["rubric"]
    return out


def disposition_item(f: str, n: int, row: dict) -> dict:
    return yesno_item(f, n, row) if "statement" in row else ab_item(f, n, row)


def lettered(item: dict) -> str:
    """A multiple-choice question with its choices labelled (A), (B)..."""
    lines = [item["question"].strip(), ""] + [f"({LETTERS[i]}) {c}"
                                              for i, c in enumerate(item["choices"])]
    return "\n".join(lines)


def traits_of(path: str | Path) -> list[str]:
    """The bullet points of a traits document (lines starting with -, * or a number)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"{path}: {e.strerror}") from None
    traits = [re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", line).strip()
              for line in text.splitlines() if re.match(r"^\s*(?:[-*+]|\d+[.)])\s+\S", line)]
    if not traits:
        raise InputError(f"{path}: no bulleted traits found")
    return traits
