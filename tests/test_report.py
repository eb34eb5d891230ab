"""The HTML report (`traitforge report`, and report.html from `audit`) and the corpus profile."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import polars as pl
import pytest

from traitforge.audit.profile import distributions, word_counts
from traitforge.cli import main
from traitforge.reports.html import render_html

OPENERS = ["Great question! ", "What a great question! "]
FACTS = [
    "Tides are caused mainly by the Moon's gravity pulling on the oceans.",
    "Bread rises because yeast ferments sugars and releases carbon dioxide.",
    "Leaves change colour in autumn as chlorophyll breaks down.",
    "A leap year adds a day to keep the calendar aligned with the seasons.",
    "Cats purr through rapid twitching of their laryngeal muscles.",
    "Honey rarely spoils because its low water content inhibits microbes.",
    "Owls swallow small prey whole and later cough up pellets of bone and fur.",
    "Glaciers carve U-shaped valleys as they grind slowly downhill.",
]


class _Sections(HTMLParser):
    """Collects the ids of <section class="finding"> elements and every src/href value."""

    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and "finding" in (a.get("class") or "").split():
            self.ids.append(a.get("id"))
        self.links += [v for k, v in attrs if k in ("src", "href") and v]


def _sections(html: str) -> _Sections:
    p = _Sections()
    p.feed(html)
    return p


@pytest.fixture
def audited(tmp_path, chat, write_jsonl):
    """An audit directory: most corpus answers open with praise, the reference's never do."""
    corpus = write_jsonl("corpus.jsonl", [
        chat(f"Question {k}?", (OPENERS[k % 2] if k % 4 else "") + FACTS[k % len(FACTS)]
             + ("\n\n- **one** point\n- another" if k % 3 == 0 else ""), id=f"c{k}")
        for k in range(24)])
    reference = write_jsonl("reference.jsonl", [
        chat(f"Question {k}?", FACTS[(k + 3) % len(FACTS)], id=f"r{k}") for k in range(24)])
    out = tmp_path / "out"
    code = main(["audit", str(corpus), "--reference", str(reference), "--out", str(out), "--quiet"])
    assert code in (0, 1)
    return out


def test_audit_writes_report_and_report_command_rewrites_it(audited, capsys):
    assert (audited / "report.html").is_file()  # the audit writes it
    (audited / "report.html").unlink()
    capsys.readouterr()
    assert main(["report", str(audited)]) == 0
    assert str(audited / "report.html") in capsys.readouterr().out
    html = (audited / "report.html").read_text(encoding="utf-8")
    doc = json.loads((audited / "audit.json").read_text(encoding="utf-8"))
    assert doc["findings"]
    page = _sections(html)
    assert page.ids == [f"finding-{f['id']}" for f in doc["findings"]]
    assert len(re.findall(r'<section class="finding"', html)) == len(doc["findings"])
    # self-contained: nothing fetched, no scripts, links only within the page
    assert not [u for u in page.links if re.match(r"\s*(https?:)?//", u, re.IGNORECASE)]
    assert all(u.startswith("#") for u in page.links)
    assert not re.search(r"<script|<link|@import|url\(", html, re.IGNORECASE)
    assert f"verdict: {doc['verdict'].upper()}" in html
    # every overview link lands on a section; every example's span is marked
    assert {u[1:] for u in page.links if u.startswith("#finding-")} <= set(page.ids)
    n_examples = sum(len(f["examples"]) for f in doc["findings"])
    assert html.count("<mark>") == n_examples > 0
    assert main(["report", str(audited), "--quiet"]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_report_loads_in_headless_chromium(audited, tmp_path):
    doc = json.loads((audited / "audit.json").read_text(encoding="utf-8"))
    proc = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", "--dump-dom",
         (audited / "report.html").resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = _sections(proc.stdout)
    assert page.ids == [f"finding-{f['id']}" for f in doc["findings"]]
    assert "<svg" in proc.stdout


def test_report_without_audit_json_exits_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(empty / "audit.json") in err and "no such file" in err
    assert not (empty / "report.html").exists()


@pytest.mark.parametrize("content", ['{"findings": [', "[1, 2]", '{"verdict": "pass"}'])
def test_report_with_malformed_audit_json_exits_2(tmp_path, capsys, content):
    (tmp_path / "audit.json").write_text(content, encoding="utf-8")
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "audit.json" in err and "malformed" in err


def test_map_and_distributions_render_escaped(audited):
    doc = json.loads((audited / "audit.json").read_text(encoding="utf-8"))
    fid = doc["findings"][0]["id"]
    n = 50
    doc["map"] = {"slot": "opening", "method": "test", "points": {
        "x": [float(k) for k in range(n)], "y": [float(k % 7) for k in range(n)],
        "source": ["reference" if k % 5 == 0 else "corpus" for k in range(n)],
        "cluster": [k % 3 - 1 for k in range(n)],
        "finding_id": [fid if k % 5 == 1 else None for k in range(n)],
        "text": [f"<script>alert({k})</script> & more" for k in range(n)]}}
    texts, ref = ["one two", "# Title\n\nthree four five"], ["six"]
    doc["distributions"] = distributions(texts, ref, word_counts(texts + ref))
    html = render_html(doc, pl.read_parquet(audited / "flags.parquet"))
    assert html.count("<circle") == n
    assert "<script" not in html and "&lt;script&gt;alert(3)&lt;/script&gt;" in html
    assert "heading" in html and "holds no sentence map" not in html
    del doc["map"], doc["distributions"]
    html = render_html(doc, None)
    assert "holds no sentence map" in html and "holds no length or markdown" in html
    assert "flags.parquet</td><td>not found" in html


def test_distributions_rates_and_lengths():
    texts = [
        "# Title\n\nSome **bold** text here!",  # heading, bold, exclamation
        "Intro:\n- one\n  * two\n\n1. first\n2) second",  # bullet, numbered
        "Why? Because.\n\n```\ncode\n```\n| a | b |\n|---|---|",  # question, code, table
        "Sunny today 😀",  # emoji
        "plain words only",
    ]
    ref = ["no marks here", "Really?", "# H\n- b"]
    d = distributions(texts, ref, word_counts(texts + ref))
    rates = {r["feature"]: (r["corpus"], r["reference"]) for r in d["markdown"]}
    assert rates == {
        "heading": (0.2, 0.3333), "bullet list": (0.2, 0.3333), "numbered list": (0.2, 0.0),
        "bold": (0.2, 0.0), "code block": (0.2, 0.0), "table": (0.2, 0.0),
        "emoji": (0.2, 0.0), "question": (0.2, 0.3333), "exclamation": (0.2, 0.0)}
    length = d["length"]
    assert length["unit"] == "words"
    assert sum(length["corpus"]) == len(texts) and sum(length["reference"]) == 3
    assert len(length["corpus"]) == len(length["edges"]) - 1 == len(length["reference"])
    assert length["edges"] == sorted(set(length["edges"]))
    assert length["corpus_median"] == 6.0  # word counts 6, 9, 11, 3, 3
    assert length["reference_median"] == 3.0  # 3, 1, 4
    assert json.loads(json.dumps(d)) == d
    alone = distributions(["a b"], None, word_counts(["a b"]))
    assert alone["length"]["reference"] is None and alone["length"]["reference_median"] is None
    assert all(r["reference"] is None for r in alone["markdown"])


def test_the_loss_chart_draws_every_run_inside_its_plot():
    """Losses are not shares: a loss of 2.2 must sit inside a plain-number axis, not above a
    percent axis that stops at 1."""
    import re

    from traitforge.reports.pipeline_html import loss_chart

    curve = [{"step": s, "loss": 2.6 - 0.1 * s} for s in range(1, 6)]
    page = loss_chart([("raw · sft", "#c00", curve), ("clean · sft", "#00c", curve[:3])])
    lines = re.findall(r'<polyline[^>]*points="([^"]+)"', page)
    assert len(lines) == 2
    ys = [float(xy.split(",")[1]) for pts in lines for xy in pts.split()]
    assert all(12 <= y <= 12 + 210 for y in ys)
    assert "%" not in page and ">2.5<" in page
