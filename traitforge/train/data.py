"""Training examples from a corpus: token ids, and for chats the assistant-token mask.

Midtraining takes documents (`text`), each followed by the eos token, later packed to a fixed
length. SFT takes chats: the system prompt is dropped unless kept, and the loss falls on the
assistant turns only. The mask comes from rendering the chat template on growing prefixes of the
conversation, so it works with any template that renders a prefix as a prefix. Records that
cannot be used are rejected with their file, line and reason; none is silently lost.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from traitforge.io import Corpus, InputError, Rejected


@dataclass
class Examples:
    rows: list[dict]  # input_ids (and assistant_masks for chats), one per used record
    rejected: list[Rejected]
    n_read: int
    sha256: str
    n_tokens: int = 0
    dropped_system: int = 0
    ids: list[str] = field(default_factory=list)


def _render(tok, messages: list[dict], generation_prompt: bool) -> list[int]:
    return tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=generation_prompt,
                                   return_dict=False)


def chat_example(tok, messages: list[dict]) -> tuple[list[int], list[int]]:
    """(input_ids, assistant_masks) of a chat: 1 on every token an assistant turn adds,
    its end-of-turn marker included, 0 on the rest."""
    ids: list[int] = []
    mask: list[int] = []
    for k, m in enumerate(messages):
        if m["role"] == "assistant":
            prompt = _render(tok, messages[:k], True)
            full = _render(tok, messages[:k + 1], False)
            if full[:len(ids)] != ids or prompt[:len(ids)] != ids or full[:len(prompt)] != prompt:
                raise ValueError("the chat template does not render a prefix of the chat as a "
                                 "prefix; it cannot mark assistant tokens")
            mask += [0] * (len(prompt) - len(ids)) + [1] * (len(full) - len(prompt))
            ids = full
    full = _render(tok, messages, False)
    mask += [0] * (len(full) - len(ids))
    return full, mask


def prepare(corpus: Corpus, kind: str, tok, max_length: int, keep_system: bool = False) -> Examples:
    """Tokenize a training corpus; `kind` is "midtrain" or "sft"."""
    out = Examples([], list(corpus.rejected), corpus.n_read, corpus.sha256)
    for r in corpus.records:
        try:
            if kind == "midtrain":
                if r.kind != "document":
                    raise ValueError("a chat; midtrain takes documents ({'text': ...})")
                row = {"input_ids": tok(r.text, add_special_tokens=False)["input_ids"]
                       + [tok.eos_token_id]}
            else:
                if r.kind != "chat":
                    raise ValueError("a document; sft takes chats ({'messages': [...]})")
                messages = [dict(m) for m in r.messages]
                if not keep_system and any(m["role"] == "system" for m in messages):
                    messages = [m for m in messages if m["role"] != "system"]
                    out.dropped_system += 1
                if not any(m["role"] == "assistant" for m in messages):
                    raise ValueError("no assistant turn to learn from")
                ids, mask = chat_example(tok, messages)
                row = {"input_ids": ids, "assistant_masks": mask}
                if len(ids) > max_length:
                    raise ValueError(f"{len(ids)} tokens, over max_length {max_length}; "
                                     "raise --max-length or shorten the record")
        except ValueError as e:
            out.rejected.append(Rejected(r.source, r.line, str(e), json.dumps(r.as_row(),
                                                                                ensure_ascii=False)))
            continue
        out.rows.append(row)
        out.ids.append(r.id)
        out.n_tokens += len(row["input_ids"])
    if not out.rows:
        raise InputError(f"{corpus.source}: no usable {kind} records (read {out.n_read}, rejected "
                         f"{len(out.rejected)}" + (f"; first: {out.rejected[0]}" if out.rejected
                                                   else "") + ")")
    return out
