"""A disk cache of backend calls, in front of any backend: a rerun of finished work makes no
calls at all."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from traitforge.io import atomic_write_text


_MISS = object()  # what `_read` gives for a request not in the cache


class CachedBackend:
    """`generate` and `choose` answered from disk where the same request was made before; only
    the misses reach the backend. Entries are keyed by the request and the model's `identity`."""

    def __init__(self, backend, cache_dir: str | Path, identity: str):
        self.backend, self.dir, self.identity = backend, Path(cache_dir), identity
        self.name = backend.name
        self.hits = 0

    @property
    def stats(self) -> dict:
        return {**self.backend.stats, "cache_hits": self.hits}

    def generate(self, chats: list[list[dict]], max_new_tokens: int = 256, temperature: float = 0.0,
                 seed: int = 0, progress=None) -> list[str]:
        """One reply per chat, as the backend's `generate` gives it."""
        requests = [{"messages": c, "max_new_tokens": max_new_tokens, "temperature": temperature,
                     "seed": seed} for c in chats]
        step = (lambda: progress(1)) if progress and self.name == "http" else progress
        return self._answer(requests, lambda asked, extra: self.backend.generate(
            [chats[i] for i in asked], max_new_tokens, temperature, seed, progress=step, **extra),
            progress)

    def choose(self, chats: list[list[dict]], options: list[list[str]]) -> list[int]:
        """The option each chat's reply would be (the backend's own way), cached like replies."""
        requests = [{"messages": c, "choose": o} for c, o in zip(chats, options)]
        return self._answer(requests, lambda asked, extra: self.backend.choose(
            [chats[i] for i in asked], [options[i] for i in asked], **extra))

    def label_scores(self, chats: list[list[dict]], labels: list[list[str]], progress=None) -> list:
        """The served model's log-probabilities of each option's label (HTTPBackend's), cached;
        a reply without any is cached too, so a rerun asks nothing."""
        requests = [{"messages": c, "labels": x} for c, x in zip(chats, labels)]
        step = (lambda: progress(1)) if progress else None
        return self._answer(requests, lambda asked, extra: self.backend.label_scores(
            [chats[i] for i in asked], [labels[i] for i in asked], progress=step, **extra),
            progress)

    def _answer(self, requests: list[dict], ask, progress=None) -> list:
        """Each request's answer from disk, else from `ask(indices, extra)` and stored. For an
        HTTP backend `extra` holds `on_reply`, which stores each answer as it arrives: a request
        failing late in a batch loses none of those before it."""
        paths = [self._path(r) for r in requests]
        answers = [self._read(p) for p in paths]
        missing = [i for i, a in enumerate(answers) if a is _MISS]
        self.hits += len(requests) - len(missing)
        if progress and len(missing) < len(requests):
            progress(len(requests) - len(missing))
        if not missing:
            return answers

        def keep(k: int, answer) -> None:
            i = missing[k]
            answers[i] = answer
            atomic_write_text(paths[i], json.dumps({"request": requests[i], "reply": answer},
                                                   ensure_ascii=False))

        streams = self.name == "http"
        fresh = ask(missing, {"on_reply": keep} if streams else {})
        if not streams:
            for k, answer in enumerate(fresh):
                keep(k, answer)
        return answers

    def _path(self, request: dict) -> Path:
        key = hashlib.sha256(json.dumps({"model": self.identity, **request}, sort_keys=True,
                                        ensure_ascii=False).encode()).hexdigest()
        return self.dir / key[:2] / f"{key}.json"

    def _read(self, path: Path):
        try:
            return json.loads(path.read_text(encoding="utf-8"))["reply"]
        except (OSError, ValueError, KeyError, TypeError):
            return _MISS  # absent, or damaged: asked again and rewritten
