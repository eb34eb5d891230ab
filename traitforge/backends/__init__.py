"""Model backends shared by generate, audit (its LLM pass) and evaluate: a local transformers
model, any OpenAI-compatible server, and a disk cache of calls in front of either."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from traitforge.io import atomic_write_text


def open_backend(spec: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 batch_size: int = 8, device: str | None = None, concurrency: int | None = None,
                 timeout: float | None = None, cache_dir: str | Path | None = None):
    """`spec` names a local model ('default', a checkpoint, a train run), or the served model
    when `base_url` is given. With `cache_dir`, every call is cached on disk."""
    if base_url:
        from traitforge.backends.http import HTTPBackend, http_config_from

        backend = HTTPBackend(http_config_from(base_url, spec, api_key, concurrency=concurrency,
                                               timeout=timeout))
        identity = f"{backend.config.base_url.rstrip('/')} {backend.config.model}"
    else:
        from traitforge.backends.local import LocalBackend

        backend = LocalBackend(spec or "default", batch_size, device)
        identity = backend.sha256 or backend.description
    return CachedBackend(backend, cache_dir, identity) if cache_dir else backend


class CachedBackend:
    """`generate` answered from disk where the same request was made before; only the misses
    reach the backend. A rerun of finished work makes no calls at all."""

    def __init__(self, backend, cache_dir: str | Path, identity: str):
        self.backend, self.dir, self.identity = backend, Path(cache_dir), identity
        self.name = backend.name
        self.hits = 0

    @property
    def stats(self) -> dict:
        return {**self.backend.stats, "cache_hits": self.hits}

    def _path(self, request: dict) -> Path:
        key = hashlib.sha256(json.dumps({"model": self.identity, **request}, sort_keys=True,
                                        ensure_ascii=False).encode()).hexdigest()
        return self.dir / key[:2] / f"{key}.json"

    def _read(self, path: Path) -> str | None:
        try:
            return json.loads(path.read_text(encoding="utf-8"))["reply"]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent, or damaged: a miss: asked again and rewritten

    def choose(self, chats: list[list[dict]], options: list[list[str]]) -> list[int]:
        """The option each chat's reply would be (the backend's own way), cached like replies."""
        requests = [{"messages": c, "choose": o} for c, o in zip(chats, options)]
        paths = [self._path(r) for r in requests]
        picks = [self._read(p) for p in paths]
        missing = [i for i, k in enumerate(picks) if k is None]
        self.hits += len(chats) - len(missing)
        if missing:
            fresh = self.backend.choose([chats[i] for i in missing], [options[i] for i in missing])
            for i, k in zip(missing, fresh):
                picks[i] = k
                atomic_write_text(paths[i], json.dumps({"request": requests[i], "reply": k},
                                                       ensure_ascii=False))
        return picks

    def generate(self, chats: list[list[dict]], max_new_tokens: int = 256, temperature: float = 0.0,
                 seed: int = 0, progress=None) -> list[str]:
        requests = [{"messages": c, "max_new_tokens": max_new_tokens, "temperature": temperature,
                     "seed": seed} for c in chats]
        paths = [self._path(r) for r in requests]
        replies = [self._read(p) for p in paths]
        missing = [i for i, r in enumerate(replies) if r is None]
        self.hits += len(chats) - len(missing)
        if progress and len(missing) < len(chats):
            progress(len(chats) - len(missing))
        if missing:
            step = (lambda: progress(1)) if progress and self.name == "http" else progress
            fresh = self.backend.generate([chats[i] for i in missing], max_new_tokens, temperature,
                                          seed, progress=step)
            for i, reply in zip(missing, fresh):
                replies[i] = reply
                atomic_write_text(paths[i], json.dumps({"request": requests[i], "reply": reply},
                                                       ensure_ascii=False))
        return replies

