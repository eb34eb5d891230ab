"""An OpenAI-compatible chat server on loopback that answers from a script, for the tests of
everything that talks to a model (generate, the audit's LLM pass, evaluate)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class ScriptedServer:
    """`script(messages) -> str` writes each reply; every request body is kept in `requests`.
    Replies report token usage (words) as a real server would. With `top_logprobs(messages)
    -> {token: logprob}`, a request asking for logprobs gets them for its first token, in the
    OpenAI shape. Use as a context manager."""

    def __init__(self, script: Callable[[list[dict]], str], top_logprobs=None):
        self.script, self.top_logprobs = script, top_logprobs
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(body)
                reply = server.script(body["messages"])
                words = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
                choice = {"message": {"role": "assistant", "content": reply}}
                if body.get("logprobs") and server.top_logprobs:
                    top = server.top_logprobs(body["messages"])
                    choice["logprobs"] = {"content": [{"token": reply, "logprob": 0.0, "top_logprobs": [
                        {"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top.items()]}]}
                data = json.dumps({"choices": [choice],
                                   "usage": {"prompt_tokens": words,
                                             "completion_tokens": len(reply.split())}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def __enter__(self) -> "ScriptedServer":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
