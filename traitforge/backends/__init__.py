"""Model backends shared by generate, audit (its LLM pass) and evaluate: a local transformers
model (local.py), any OpenAI-compatible server (http.py), a disk cache of calls in front of
either (cache.py), the factory that builds them (factory.py), and reply parsing (choices.py)."""
from traitforge.backends.cache import CachedBackend
from traitforge.backends.factory import open_backend

__all__ = ["CachedBackend", "open_backend"]
