"""The one place a backend is built from settings: a local model or a served one, with a disk
cache in front when asked."""
from __future__ import annotations

from pathlib import Path

from traitforge.backends.cache import CachedBackend


def open_backend(spec: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 batch_size: int = 8, device: str | None = None, concurrency: int | None = None,
                 *, timeout: float | None = None, retries: int | None = None, served: bool = False,
                 cache_dir: str | Path | None = None):
    """`spec` names a local model ('default', a checkpoint, a train run), or the served model
    when `base_url` is given or `served` is set (the URL then comes from the environment).
    None for an HTTP setting means its default. With `cache_dir`, every call is cached on disk."""
    if base_url or served:
        from traitforge.backends.http import HTTPBackend, http_config_from

        backend = HTTPBackend(http_config_from(base_url, spec, api_key, concurrency=concurrency,
                                               timeout=timeout, retries=retries))
        identity = f"{backend.config.base_url.rstrip('/')} {backend.config.model}"
    else:
        from traitforge.backends.local import LocalBackend

        backend = LocalBackend(spec or "default", batch_size, device)
        identity = backend.sha256 or backend.description
    return CachedBackend(backend, cache_dir, identity) if cache_dir else backend
