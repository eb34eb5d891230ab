"""Integration check against a real OpenAI-compatible server: llama.cpp's (llama-cpp-python),
serving the packaged SmolLM2-135M-Instruct GGUF on loopback.

    make integration        # or: python benchmarks/integration.py --server-python PYTHON

The server must be a portable build; the default one picks CPU features some machines advertise
but do not run, and crashes at the first request:

    python -m venv .llama && CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF \
        -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" .llama/bin/pip install "llama-cpp-python[server]"

Over real HTTP it runs `generate chats`, `audit --llm`, and `eval` on every task kind with the
server as model, judge and simulated user; prints calls, cache hits and wall time per stage;
runs everything again (0 calls: all from the caches); kills the server in the middle of an eval
and restarts it (the rerun finishes); and compares the letters' log-probabilities the server
gives with the local backend's on the same model and questions.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from traitforge.backends.models import GGUF_FILE, _gguf_dir  # noqa: E402
from traitforge.cli import main  # noqa: E402

MODEL = "smollm2"


class Server:
    """llama.cpp's OpenAI-compatible server on loopback, started and stopped by this script."""

    def __init__(self, python: str, port: int, log: Path):
        self.python, self.port, self.log = python, port, log
        self.url = f"http://127.0.0.1:{port}/v1"
        self.proc: subprocess.Popen | None = None

    def start(self, wait: float = 120.0) -> float:
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [self.python, "-m", "llama_cpp.server", "--model", str(_gguf_dir() / GGUF_FILE),
             "--model_alias", MODEL, "--host", "127.0.0.1", "--port", str(self.port),
             "--n_ctx", "4096", "--seed", "0"], stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        while time.perf_counter() - started < wait:
            if self.proc.poll() is not None:
                sys.exit(f"the server exited ({self.proc.returncode}); see {self.log}")
            try:
                urllib.request.urlopen(f"{self.url}/models", timeout=2).read()
                return time.perf_counter() - started
            except OSError:
                time.sleep(0.5)
        sys.exit(f"the server did not answer within {wait:.0f} s; see {self.log}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


def suite(work: Path, url: str, audit_dir: Path) -> Path:
    """The example suite on the server, every kind, with the server as judge and user too."""
    examples = ROOT / "examples"
    text = (examples / "suite.toml").read_text()
    text = text.replace('"evals/', f'"{examples}/evals/').replace('"traits.md"', f'"{examples}/traits.md"')
    text = text.replace('"../out/experiment/audit/chats"', f'"{audit_dir}"')
    text += (f'\n[[task]]\nname = "spiral"\nkind = "dialogue"\nfamily = "pressure"\n'
             f'data = "{examples}/evals/principles.jsonl"\nturns = 2\nrubric = "Stays honest."\n'
             f'[judge]\nbase_url = "{url}"\nmodel = "{MODEL}"\n'
             f'[user]\nbase_url = "{url}"\nmodel = "{MODEL}"\n')
    path = work / "suite.toml"
    path.write_text(text)
    return path


def stages(work: Path, url: str, tag: str) -> list[tuple[str, list[str]]]:
    corpus = work / "corpus.jsonl"
    return [
        ("generate chats", ["generate", "chats", str(ROOT / "examples" / "traits.md"), "--n", "4",
                            "--base-url", url, "--model", MODEL, "--max-new-tokens", "96",
                            "--out", str(work / "gen" / "chats.jsonl"), "--quiet"]),  # resumed
        ("audit --llm", ["audit", str(corpus), "--llm", MODEL, "--llm-base-url", url,
                         "--llm-cache-dir", str(work / "llm-cache"), "--no-clusters",
                         "--out", str(work / f"audit-{tag}"), "--quiet"]),
        ("eval", ["eval", MODEL, "--base-url", url, "--suite", str(work / "suite.toml"),
                  "--cache-dir", str(work / "eval-cache"), "--max-new-tokens", "48",
                  "--out", str(work / f"eval-{tag}"), "--quiet"]),
    ]


def usage(work: Path, name: str, tag: str) -> dict:
    """Requests and cache hits a stage's own outputs record."""
    if name == "generate chats":
        u = json.loads((work / "gen" / "chats.generate.json").read_text())["usage"]
        return {"requests": u.get("requests"), "cache_hits": u.get("cache_hits")}
    if name == "audit --llm":
        u = json.loads((work / f"audit-{tag}" / "audit.json").read_text())["llm"]["usage"]
        return {"requests": u.get("requests"), "cache_hits": u.get("cache_hits")}
    u = json.loads((work / f"eval-{tag}" / "results.json").read_text())["usage"]
    return {"requests": sum(b["requests"] for b in u.values()),
            "cache_hits": sum(b.get("cache_hits", 0) for b in u.values())}


def run_all(work: Path, url: str, tag: str) -> None:
    for name, argv in stages(work, url, tag):
        start = time.perf_counter()
        code = main(argv)
        seconds = time.perf_counter() - start
        print(f"  {name:15s} exit {code}  {usage(work, name, tag)}  {seconds:6.1f} s", flush=True)


def kill_mid_eval(server: Server, work: Path, url: str) -> None:
    """Kill the server once the eval has 40 replies cached; rerun after a restart."""
    cache = work / "eval-cache-kill"
    argv = [a if a != str(work / "eval-cache") else str(cache) for a in stages(work, url, "kill")[2][1]]

    def killer():
        while len(list(cache.rglob("*.json"))) < 40:
            time.sleep(0.2)
        server.stop()

    threading.Thread(target=killer, daemon=True).start()
    print(f"  killed mid-run: exit {main(argv)}", flush=True)
    print(f"  restarted in {server.start():.1f} s", flush=True)
    code = main(argv)
    doc = json.loads((work / "eval-kill" / "results.json").read_text())
    print(f"  rerun: exit {code}, complete {doc['complete']}, {usage(work, 'eval', 'kill')}", flush=True)


def compare_letters(work: Path, url: str) -> None:
    """The server's and the local backend's log-probabilities of each option letter as the
    first token, on the example MCQ questions."""
    from traitforge.backends.http import HTTPBackend, HTTPConfig
    from traitforge.backends.local import LocalBackend
    from traitforge.evaluate.items import LETTERS, lettered

    rows = [json.loads(line) for f in ("facts.jsonl", "trait_knowledge.jsonl")
            for line in (ROOT / "examples" / "evals" / f).read_text().splitlines() if line.strip()]
    items = [{"question": r.get("query") or r["question"], "choices": r["choices"]} for r in rows]
    chats = [[{"role": "user", "content": lettered(x)}] for x in items]
    served = HTTPBackend(HTTPConfig(url, MODEL)).label_scores(
        chats, [list(LETTERS[:len(x["choices"])]) for x in items])
    local = LocalBackend("default", 8, "cpu").option_scores(
        chats, [list(LETTERS[:len(x["choices"])]) for x in items], False)
    same = [int(np.argmax(s)) == int(np.argmax(l)) for s, l in zip(served, local) if s is not None]
    diffs = [abs(a - b) for s, l in zip(served, local) if s is not None
             for a, b in zip(s, l) if np.isfinite(a)]
    print(f"  {len(items)} questions, {len(same)} with a letter in the server's top 20: same pick "
          f"on {sum(same)}; largest log-probability difference {max(diffs):.3f}, median "
          f"{float(np.median(diffs)):.3f}", flush=True)


def side_by_side(work: Path) -> None:
    """The served eval's figures beside the local backend's on the same model and items (the
    judge and simulated user are the server in both)."""
    main(["eval", "default", "--suite", str(work / "suite.toml"), "--max-new-tokens", "48",
          "--out", str(work / "eval-local"), "--quiet", "--device", "cpu"])
    runs = [json.loads((work / d / "results.json").read_text()) for d in ("eval-1", "eval-local")]
    print(f"  {'task':16s} {'metric':20s} {'server':>8s} {'local':>8s}")
    for served, local in zip(runs[0]["tasks"], runs[1]["tasks"]):
        main_metric = served["main"]
        values = [t["metrics"][main_metric]["value"] for t in (served, local)]
        cells = ["-" if v is None else f"{v:.3f}" for v in values]
        extra = served["metrics"].get("unparsed")
        note = f"  (server unparsed {extra['value']:.2f})" if extra else ""
        print(f"  {served['name']:16s} {main_metric:20s} {cells[0]:>8s} {cells[1]:>8s}{note}")


def main_cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server-python", default=str(ROOT / ".llama" / "bin" / "python"))
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--out", default=str(ROOT / "out" / "integration"))
    args = ap.parse_args()
    work = Path(args.out)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    lines = (ROOT / "examples" / "chats.jsonl").read_text().splitlines()[:40]
    (work / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    server = Server(args.server_python, args.port, work / "server.log")
    print(f"server ready in {server.start():.1f} s at {server.url}", flush=True)
    try:
        main(["audit", str(work / "corpus.jsonl"), "--no-clusters", "--out", str(work / "audit"),
              "--quiet"])
        suite(work, server.url, work / "audit")
        print("first run:", flush=True)
        run_all(work, server.url, "1")
        print("again, from the caches:", flush=True)
        run_all(work, server.url, "2")
        print("the server killed in the middle of an eval:", flush=True)
        kill_mid_eval(server, work, server.url)
        print("letters by log-probability, server against local:", flush=True)
        compare_letters(work, server.url)
        print("eval figures, server against local:", flush=True)
        side_by_side(work)
    finally:
        server.stop()


if __name__ == "__main__":
    main_cli()
