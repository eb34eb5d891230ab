"""A chat backend for any OpenAI-compatible server (vLLM, Ollama, llama.cpp, hosted APIs).

Requests run concurrently and are retried with exponential backoff on 429, 5xx, timeouts and
connection errors. Caching is CachedBackend's, in front (see `open_backend`).
"""
from __future__ import annotations

import http.client
import json
import math
import os
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Callable

import numpy as np

from traitforge.backends.choices import pick_option
from traitforge.io import InputError

MAX_RETRY_AFTER = 60.0
TOP_LOGPROBS = 20  # the most OpenAI's API returns


@dataclass(frozen=True)
class HTTPConfig:
    base_url: str  # e.g. "http://127.0.0.1:8000/v1"
    model: str
    api_key: str | None = None
    concurrency: int = 4  # requests in flight at most
    retries: int = 4  # retries after the first attempt
    backoff: float = 1.0  # seconds before retry k: backoff * 2**k, or the server's Retry-After
    timeout: float = 60.0  # per request, seconds


def http_config_from(base_url: str | None = None, model: str | None = None,
                     api_key: str | None = None, **rest) -> HTTPConfig:
    """An HTTPConfig from flags, falling back on environment variables; None in `rest` means default."""
    env = os.environ.get
    base_url = base_url or env("TRAITFORGE_BASE_URL") or env("OPENAI_BASE_URL")
    model = model or env("TRAITFORGE_MODEL")
    api_key = api_key or env("TRAITFORGE_API_KEY") or env("OPENAI_API_KEY") or None
    if not base_url:
        raise InputError("no server URL: pass --base-url or set TRAITFORGE_BASE_URL (or OPENAI_BASE_URL)")
    if not base_url.startswith(("http://", "https://")):
        raise InputError(f"{base_url}: the server URL must start with http:// or https://")
    if not model:
        raise InputError("no model name: pass --model or set TRAITFORGE_MODEL")
    return HTTPConfig(base_url=base_url, model=model, api_key=api_key,
                      **{k: v for k, v in rest.items() if v is not None})


class _Failure(Exception):
    """One failed attempt: `head` ("HTTP 503", "timed out"), the server's words, and whether to retry."""

    def __init__(self, head: str, detail: str = "", retryable: bool = True, delay: float | None = None,
                 unreachable: bool = False):
        super().__init__(head)
        self.head, self.detail, self.retryable, self.delay = head, detail, retryable, delay
        self.unreachable = unreachable  # no answer at all: refused, reset, timed out


class HTTPBackend:
    """Chat completions from an OpenAI-compatible `/chat/completions` endpoint."""

    name = "http"

    def __init__(self, config: HTTPConfig):
        self.config = config
        self.url = f"{config.base_url.rstrip('/')}/chat/completions"
        self.stats = {"requests": 0, "retries": 0, "failures": 0,
                      "prompt_tokens": 0, "completion_tokens": 0}
        self._lock = threading.Lock()
        self._answered = 0  # replies this backend has had

    def generate(self, chats: list[list[dict]], max_new_tokens: int = 256, temperature: float = 0.0,
                 seed: int = 0, progress: Callable[[], object] | None = None,
                 on_reply: Callable[[int, str], object] | None = None) -> list[str]:
        """One assistant reply per chat, in order; as each one arrives, `on_reply(index, reply)`
        and `progress()` are called."""
        bodies = [{"model": self.config.model, "messages": chat, "max_tokens": max_new_tokens,
                   "temperature": temperature, "seed": seed} for chat in chats]
        return self._post_all(bodies, _content, progress, on_reply)

    def label_scores(self, chats: list[list[dict]], labels: list[list[str]],
                     progress: Callable[[], object] | None = None,
                     on_reply: Callable[[int, list | None], object] | None = None) -> list:
        """Per chat, the log-probability of each option's label (a letter, "Yes") as the first
        token of the reply, from the server's `top_logprobs` (a label not among them is -inf);
        None where the reply carries no log-probabilities or none of the labels."""
        bodies = [{"model": self.config.model, "messages": chat, "max_tokens": 1,
                   "temperature": 0.0, "seed": 0, "logprobs": True, "top_logprobs": TOP_LOGPROBS}
                  for chat in chats]
        return self._post_all(bodies, lambda reply, i: _label_logprobs(reply, labels[i]),
                              progress, on_reply)

    def _post_all(self, bodies: list[dict], read, progress, on_reply) -> list:
        """POST every body concurrently; `read(reply, index)` makes each answer."""
        answers: list = [None] * len(bodies)
        with ThreadPoolExecutor(max_workers=max(1, self.config.concurrency)) as pool:
            futures = {pool.submit(self._post, body, read, i): i for i, body in enumerate(bodies)}
            try:
                for future in as_completed(futures):
                    i = futures[future]
                    answers[i] = future.result()
                    if on_reply is not None:
                        on_reply(i, answers[i])
                    if progress is not None:
                        progress()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return answers

    def choose(self, chats: list[list[dict]], options: list[list[str]],
               on_reply: Callable[[int, int], object] | None = None) -> list[int]:
        """The index of the option each short reply names, or -1 when it names none or is
        ambiguous; `on_reply(index, pick)` is called as each reply arrives."""
        hook = on_reply and (lambda i, reply: on_reply(i, pick_option(reply, options[i])))
        replies = self.generate(chats, max_new_tokens=16, on_reply=hook)
        return [pick_option(reply, opts) for reply, opts in zip(replies, options, strict=True)]

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] += n

    def _post(self, body: dict, read, index: int):
        """POST with retries; a failure that ends the request becomes a one-line InputError."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return read(self._attempt(body), index)
            except _Failure as e:
                if not e.retryable or attempt > self.config.retries:
                    self._count("failures")
                    plural = "s" if attempt > 1 else ""
                    raise self._error(f"{e.head} after {attempt} attempt{plural}"
                                      + (self._gone() if e.unreachable else ""), e.detail) from None
                self._count("retries")
                time.sleep(e.delay if e.delay is not None else self.config.backoff * 2 ** (attempt - 1))

    def _attempt(self, body: dict) -> dict:
        """One request's parsed reply (with choices[0].message.content)."""
        headers = {"Content-Type": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode("utf-8"),
                                         headers=headers, method="POST")
        self._count("requests")
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            retryable = e.code in (408, 429) or e.code >= 500
            raise _Failure(f"HTTP {e.code}", _read_quietly(e), retryable,
                           _retry_after(e.headers.get("Retry-After"))) from None
        except (OSError, http.client.HTTPException) as e:  # URLError, timeouts, resets
            raise _Failure(str(getattr(e, "reason", "") or e) or type(e).__name__,
                           unreachable=True) from None
        try:
            reply = json.loads(raw)
            reply["choices"][0]["message"]["content"]  # present, or the reply is malformed
        except (ValueError, KeyError, IndexError, TypeError):
            raise _Failure("malformed reply (no choices[0].message.content)",
                           raw.decode("utf-8", errors="replace"), retryable=False) from None
        usage = reply.get("usage")
        if isinstance(usage, dict):
            for key in ("prompt_tokens", "completion_tokens"):
                if isinstance(usage.get(key), int):
                    self._count(key, usage[key])
        with self._lock:
            self._answered += 1
        return reply

    def _gone(self) -> str:
        """What a request that got no answer at all says of the server."""
        if not self._answered:
            return "; the server was never reachable: is it running, at this address and port?"
        return (f"; the server stopped answering mid-run, after {self._answered} replies; those "
                "are kept in the cache where there is one, so the same command, run again once "
                "the server is back, picks up where this stopped")

    def _error(self, what: str, detail: str = "") -> InputError:
        """A one-line InputError naming the server, with the API key masked."""
        message = f"{self.config.base_url}: {what}" + (f": {detail}" if detail.strip() else "")
        if self.config.api_key:
            message = message.replace(self.config.api_key, "***")
        return InputError(_short(message, 400))


def _content(reply: dict, index: int) -> str:
    content = reply["choices"][0]["message"]["content"]
    return content if isinstance(content, str) else ""


def _label_of(text: str) -> str:
    """A token or an option as a label: no spaces, brackets or closing punctuation, any case."""
    return text.strip().lstrip("(").rstrip(").:").lower()


def _label_logprobs(reply: dict, labels: list[str]) -> list[float] | None:
    """The log-probability of each label as the reply's first token, from its top_logprobs;
    spellings of one label (" A", "(A", "A)") add up."""
    try:
        top = reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    except (KeyError, IndexError, TypeError):
        return None
    wanted = [_label_of(x) for x in labels]
    scores = [-math.inf] * len(labels)
    for entry in top if isinstance(top, list) else []:
        token, logprob = (entry.get("token"), entry.get("logprob")) if isinstance(entry, dict) \
            else (None, None)
        if isinstance(token, str) and isinstance(logprob, (int, float)) \
                and (label := _label_of(token)) in wanted:
            k = wanted.index(label)
            scores[k] = float(np.logaddexp(scores[k], logprob))
    return scores if max(scores, default=-math.inf) > -math.inf else None


def _read_quietly(error: urllib.error.HTTPError) -> str:
    try:
        return error.read().decode("utf-8", errors="replace")
    except (OSError, http.client.HTTPException):
        return ""


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds, capped; None when absent, negative or an HTTP date."""
    try:
        delay = float(value) if value is not None else -1.0
    except ValueError:
        return None
    return min(delay, MAX_RETRY_AFTER) if delay >= 0 else None


def _short(text: str, limit: int) -> str:
    """`text` on one line, at most `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
