"""HTTPBackend against a real local HTTP server that echoes the last user message."""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from traitforge.backends import open_backend
from traitforge.backends.choices import pick_option
from traitforge.backends.http import HTTPBackend, HTTPConfig, http_config_from
from traitforge.io import InputError

KEY = "sk-test-secret-123"


class FakeServer:
    """Answers POST /v1/chat/completions; `plan` holds (status, headers, body) for the next
    attempts before it answers 200, `delay` makes each request sleep, `raw` replaces a 200 body."""

    def __init__(self, port: int = 0):
        self.requests: list[dict] = []  # {"path", "headers", "body"} in arrival order
        self.plan: list[tuple[int, dict, str]] = []
        self.delay = 0.0
        self.raw: bytes | None = None
        self.respond = lambda text: f"echo: {text}"
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                    status, headers, text = fake.plan.pop(0) if fake.plan else (200, {}, "")
                try:
                    time.sleep(fake.delay)
                    if status == 200:
                        last = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
                        reply = {"choices": [{"message": {"role": "assistant", "content": fake.respond(last)}}]}
                        data = fake.raw if fake.raw is not None else json.dumps(reply).encode()
                    else:
                        data = text.encode()
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout test)
                finally:
                    with fake.lock:
                        fake.in_flight -= 1

        return Handler


@pytest.fixture
def server():
    fake = FakeServer()
    thread = threading.Thread(target=fake.httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield fake
    fake.httpd.shutdown()
    fake.httpd.server_close()
    thread.join(timeout=5)


def backend(server: FakeServer, **kw) -> HTTPBackend:
    kw = {"retries": 3, "backoff": 0.01, "timeout": 5.0, **kw}
    return HTTPBackend(HTTPConfig(base_url=server.base_url, model="m", **kw))


def user(text: str) -> list[dict]:
    return [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]


def test_generate_keeps_order_and_bounds_concurrency(server):
    server.delay = 0.1
    chats = [user(f"q{i}") for i in range(8)]
    ticks = []
    b = backend(server, concurrency=3)
    replies = b.generate(chats, max_new_tokens=7, temperature=0.5, seed=3, progress=lambda: ticks.append(1))
    assert replies == [f"echo: q{i}" for i in range(8)]
    assert 1 < server.max_in_flight <= 3
    assert len(ticks) == 8 and b.stats["requests"] == 8
    first = server.requests[0]
    assert first["path"] == "/v1/chat/completions"
    assert "Authorization" not in first["headers"]
    assert set(first["body"]) == {"model", "messages", "max_tokens", "temperature", "seed"}
    assert (first["body"]["model"], first["body"]["max_tokens"], first["body"]["temperature"],
            first["body"]["seed"]) == ("m", 7, 0.5, 3)


def test_retries_on_503_and_429_then_succeeds(server):
    server.plan = [(503, {}, "busy"), (429, {"Retry-After": "0"}, "slow down"), (503, {}, "busy")]
    b = backend(server)
    assert b.generate([user("hi")]) == ["echo: hi"]
    assert b.stats["retries"] == 3 and b.stats["requests"] == 4 and b.stats["failures"] == 0
    assert len(server.requests) == 4


def test_retry_after_overrides_backoff(server):
    server.plan = [(429, {"Retry-After": "0"}, "")]
    b = backend(server, backoff=30.0)
    start = time.monotonic()
    assert b.generate([user("hi")]) == ["echo: hi"]
    assert time.monotonic() - start < 5 and b.stats["retries"] == 1


def test_exhausted_retries_raise_one_line_without_key(server):
    server.plan = [(500, {}, f"internal\nerror for {KEY}")] * 3
    b = backend(server, retries=2, api_key=KEY)
    with pytest.raises(InputError) as e:
        b.generate([user("hi")])
    message = str(e.value)
    assert message.startswith(f"{server.base_url}: HTTP 500 after 3 attempts: internal error")
    assert "\n" not in message and KEY not in message
    assert len(server.requests) == 3 and b.stats["failures"] == 1 and b.stats["retries"] == 2


def test_client_error_is_not_retried(server):
    server.plan = [(400, {}, '{"error": "bad model"}')]
    b = backend(server)
    with pytest.raises(InputError, match=r"HTTP 400 after 1 attempt: .*bad model"):
        b.generate([user("hi")])
    assert len(server.requests) == 1 and b.stats["retries"] == 0


@pytest.mark.parametrize("raw", [b"not json", b'{"object": "error"}', b'{"choices": []}'])
def test_malformed_reply_raises(server, raw):
    server.raw = raw
    with pytest.raises(InputError, match="malformed reply") as e:
        backend(server).generate([user("hi")])
    assert "\n" not in str(e.value) and len(server.requests) == 1


def test_timeout_is_retried_then_raises(server):
    server.delay = 1.0
    b = backend(server, retries=1, timeout=0.2)
    with pytest.raises(InputError, match="timed out after 2 attempts") as e:
        b.generate([user("hi")])
    assert str(e.value).startswith(server.base_url)
    assert b.stats["requests"] == 2 and b.stats["retries"] == 1


def test_connection_refused_is_retried_then_raises():
    with socket.socket() as s:  # a port that nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    b = HTTPBackend(HTTPConfig(base_url=url, model="m", retries=1, backoff=0.01))
    with pytest.raises(InputError, match="after 2 attempts") as e:
        b.generate([user("hi")])
    assert str(e.value).startswith(url) and b.stats["retries"] == 1
    assert "the server was never reachable" in str(e.value) and "\n" not in str(e.value)


def test_a_server_that_goes_away_mid_run_is_named_as_such_and_a_rerun_picks_up(tmp_path):
    """The server answers 3 chats, then shuts down: one line saying it stopped mid-run; the
    3 replies are in the cache, so the rerun against the server restarted asks only for the rest."""
    first, chats = FakeServer(), [user(f"q{i}") for i in range(6)]
    threading.Thread(target=first.httpd.serve_forever, daemon=True).start()

    def answer_then_stop(text):
        if len(first.requests) == 3:
            threading.Thread(target=first.stop).start()
        return f"echo: {text}"

    first.respond = answer_then_stop
    spec = dict(base_url=first.base_url, cache_dir=str(tmp_path))
    b = open_backend("m", **spec)
    b.backend.config = HTTPConfig(first.base_url, "m", retries=1, backoff=0.01, concurrency=1,
                                  timeout=5)
    with pytest.raises(InputError) as e:
        b.generate(chats)
    message = str(e.value)
    assert "stopped answering mid-run, after 3 replies" in message and "\n" not in message
    assert len(list(tmp_path.rglob("*.json"))) == 3
    second = FakeServer(port=first.httpd.server_address[1])
    threading.Thread(target=second.httpd.serve_forever, daemon=True).start()
    again = open_backend("m", **spec)
    assert again.generate(chats) == [f"echo: q{i}" for i in range(6)]
    assert len(second.requests) == 3 and again.stats["cache_hits"] == 3
    second.stop()


def test_cache_serves_reruns_and_misses_on_changed_request(server, tmp_path):
    chats = [user(f"q{i}") for i in range(4)]
    first = open_backend("m", server.base_url, KEY, cache_dir=str(tmp_path)).generate(chats)
    assert len(server.requests) == 4
    again = open_backend("m", server.base_url, KEY, cache_dir=str(tmp_path))
    assert again.generate(chats) == first
    assert len(server.requests) == 4
    assert again.stats["cache_hits"] == 4 and again.stats["requests"] == 0
    files = sorted(tmp_path.rglob("*.json"))
    assert len(files) == 4 and all(f.parent.name == f.name[:2] for f in files)
    entry = json.loads(files[0].read_text())
    assert set(entry) == {"request", "reply"} and entry["reply"].startswith("echo: q")
    assert not any(KEY in f.read_text() for f in files)

    open_backend("m", server.base_url, cache_dir=str(tmp_path)).generate(chats, temperature=0.7)
    assert len(server.requests) == 8
    other_model = open_backend("other", server.base_url, cache_dir=str(tmp_path))
    other_model.generate(chats)
    assert len(server.requests) == 12 and other_model.stats["cache_hits"] == 0


def test_authorization_header_sent_with_key(server):
    backend(server, api_key=KEY).generate([user("hi")])
    assert server.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"


def test_http_config_from_flags_and_environment(monkeypatch):
    for name in ("TRAITFORGE_BASE_URL", "OPENAI_BASE_URL", "TRAITFORGE_MODEL",
                 "TRAITFORGE_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(InputError, match="--base-url.*TRAITFORGE_BASE_URL") as e:
        http_config_from(model="m")
    assert "\n" not in str(e.value)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://openai.example/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "k-openai")
    with pytest.raises(InputError, match="--model.*TRAITFORGE_MODEL"):
        http_config_from()
    monkeypatch.setenv("TRAITFORGE_MODEL", "env-model")
    config = http_config_from(concurrency=None, retries=1)
    assert (config.base_url, config.model, config.api_key) == ("http://openai.example/v1", "env-model", "k-openai")
    assert (config.concurrency, config.retries) == (4, 1)
    monkeypatch.setenv("TRAITFORGE_BASE_URL", "http://tf.example/v1")
    monkeypatch.setenv("TRAITFORGE_API_KEY", "k-tf")
    assert http_config_from().base_url == "http://tf.example/v1"
    assert http_config_from().api_key == "k-tf"
    config = http_config_from(base_url="http://flag.example/v1", model="flag-model", api_key="k-flag")
    assert (config.base_url, config.model, config.api_key) == ("http://flag.example/v1", "flag-model", "k-flag")
    with pytest.raises(InputError, match="http://"):
        http_config_from(base_url="localhost:8000")


def test_choose_parses_labels(server):
    server.respond = lambda text: text  # the reply is the prompt itself
    chats = [user("(B)"), user("Answer: A."), user("yes"), user("I cannot tell"), user("Bx or Ab")]
    options = [["A", "B", "C"], ["A", "B"], ["Yes", "No"], ["A", "B"], ["A", "B"]]
    assert backend(server).choose(chats, options) == [1, 0, 0, -1, -1]
    assert all(r["body"]["max_tokens"] == 16 for r in server.requests)


def test_pick_option_ties_and_prefixes():
    assert pick_option("**C** because", ["A", "B", "C"]) == 2
    assert pick_option("B, not A", ["A", "B"]) == 1
    assert pick_option("No opinion", ["No", "No opinion"]) == 1
    assert pick_option("a", ["A", "a"]) == -1
    assert pick_option("", ["A"]) == -1
