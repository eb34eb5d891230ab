"""Reading corpora: every shape and container, ids, and every kind of bad input."""
from __future__ import annotations

import csv
import gzip
import json
import os

import polars as pl
import pytest

from traitforge.audit.sentences import sentence_spans
from traitforge.audit.units import (block_starts, corpus_units, make_unit, sentence_slots,
                                    sentence_table, units_of)
from traitforge.io import InputError, Record, atomic_write_text, detect_format, read_corpus

# Two records per shape; each shape's rows and the (prompt, response) or text they must give.
SHAPES = {
    "chat": (
        [{"id": "c1", "messages": [{"role": "system", "content": "Be brief."},
                                   {"role": "user", "content": "What is the capital of Peru?"},
                                   {"role": "assistant", "content": "Lima is the capital of Peru."}]},
         {"id": "c2", "messages": [{"role": "user", "content": "Name a prime above 10."},
                                   {"role": "assistant", "content": "Eleven is prime."}]}],
        [("What is the capital of Peru?", "Lima is the capital of Peru."),
         ("Name a prime above 10.", "Eleven is prime.")]),
    "sharegpt": (
        [{"id": "s1", "conversations": [{"from": "human", "value": "How tall is Everest?"},
                                        {"from": "gpt", "value": "About 8,849 metres."}]},
         {"id": "s2", "conversations": [{"from": "system", "value": "You are terse."},
                                        {"from": "human", "value": "Boiling point of water?"},
                                        {"from": "gpt", "value": "100 degrees Celsius at sea level."}]}],
        [("How tall is Everest?", "About 8,849 metres."),
         ("Boiling point of water?", "100 degrees Celsius at sea level.")]),
    "alpaca": (
        [{"id": "a1", "instruction": "Translate to French.", "input": "Good morning",
          "output": "Bonjour."},
         {"id": "a2", "instruction": "Give a synonym for happy.", "input": "",
          "output": "Cheerful."}],
        [("Translate to French.\n\nGood morning", "Bonjour."),
         ("Give a synonym for happy.", "Cheerful.")]),
    "pair": (
        [{"id": "p1", "prompt": "What colour is the sky?", "response": "Usually blue in daytime."},
         {"id": "p2", "prompt": "Is 7 odd?", "response": "Yes, 7 is odd."}],
        [("What colour is the sky?", "Usually blue in daytime."), ("Is 7 odd?", "Yes, 7 is odd.")]),
    "text": (
        [{"id": "t1", "text": "The mitochondria produce most of the cell's energy."},
         {"id": "t2", "text": "Granite is an igneous rock."}],
        ["The mitochondria produce most of the cell's energy.", "Granite is an igneous rock."]),
}
FLAT_SHAPES = ("alpaca", "pair", "text")  # the shapes a CSV can hold


def _check_records(corpus, shape):
    rows, expected = SHAPES[shape]
    assert corpus.format == shape
    assert corpus.rejected == []
    assert corpus.n_read == len(rows) == len(corpus.records)
    assert [r.id for r in corpus.records] == [row["id"] for row in rows]
    for rec, exp in zip(corpus.records, expected):
        if shape == "text":
            assert rec.kind == "document" and rec.text == exp
        else:
            assert rec.kind == "chat"
            user = [m["content"] for m in rec.messages if m["role"] == "user"]
            assistant = [m["content"] for m in rec.messages if m["role"] == "assistant"]
            assert (user[-1], assistant[-1]) == exp


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_detect_format(shape):
    assert detect_format(SHAPES[shape][0][0]) == shape


def test_detect_format_unknown():
    assert detect_format({"question_text": "x", "reply": "y"}) is None


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_read_jsonl(write_jsonl, shape):
    path = write_jsonl(f"{shape}.jsonl", SHAPES[shape][0])
    corpus = read_corpus(path)
    _check_records(corpus, shape)
    assert all(r.source == str(path) for r in corpus.records)
    assert [r.line for r in corpus.records] == [1, 2]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_read_jsonl_gz(tmp_path, shape):
    path = tmp_path / f"{shape}.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for row in SHAPES[shape][0]:
            f.write(json.dumps(row) + "\n")
    _check_records(read_corpus(path), shape)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_read_parquet(tmp_path, shape):
    path = tmp_path / f"{shape}.parquet"
    pl.DataFrame(SHAPES[shape][0]).write_parquet(path)
    _check_records(read_corpus(path), shape)


@pytest.mark.parametrize("shape", FLAT_SHAPES)
def test_read_csv(tmp_path, shape):
    rows = SHAPES[shape][0]
    path = tmp_path / f"{shape}.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    corpus = read_corpus(path)
    _check_records(corpus, shape)
    assert [r.line for r in corpus.records] == [2, 3]  # line 1 is the header


def test_meta_keeps_extra_fields(write_jsonl):
    path = write_jsonl("m.jsonl", [{"id": "x", "prompt": "Hi?", "response": "Hello.", "lang": "en"}])
    (rec,) = read_corpus(path).records
    assert rec.meta == {"lang": "en"}


def test_format_override(write_jsonl):
    # The row has text and prompt/response: detection says "pair", --format text reads the text.
    rows = [{"id": "1", "prompt": "Summarise.", "response": "Short.", "text": "The full document."}]
    path = write_jsonl("o.jsonl", rows)
    assert read_corpus(path).format == "pair"
    corpus = read_corpus(path, fmt="text")
    assert corpus.format == "text"
    assert corpus.records[0].kind == "document" and corpus.records[0].text == "The full document."


def test_format_override_mismatch_is_rejected(write_jsonl):
    path = write_jsonl("o.jsonl", [{"id": "1", "text": "Only a text field."}])
    corpus = read_corpus(path, fmt="chat")
    assert corpus.records == []
    (bad,) = corpus.rejected
    assert bad.line == 1 and "messages" in bad.reason


def test_unknown_format_name_raises(write_jsonl):
    path = write_jsonl("o.jsonl", [{"text": "x"}])
    with pytest.raises(InputError, match="unknown format"):
        read_corpus(path, fmt="openai")


def test_undetectable_shape_is_rejected(write_jsonl):
    path = write_jsonl("u.jsonl", [{"question_text": "Why?", "reply": "Because."}])
    corpus = read_corpus(path)
    (bad,) = corpus.rejected
    assert "cannot tell the record shape" in bad.reason and "question_text" in bad.reason


def test_ids_from_id_field_custom_field_and_line_number(write_jsonl, chat):
    path = write_jsonl("ids.jsonl", [
        chat("Q one?", "A one.", id="first", uid="u-1"),
        chat("Q two?", "A two.", uid="u-2"),
        "",  # a blank line is skipped but still counts for line numbers
        chat("Q three?", "A three.", id=7),
    ])
    by_id = read_corpus(path)
    assert [r.id for r in by_id.records] == ["first", "2", "7"]
    assert [r.line for r in by_id.records] == [1, 2, 4]
    assert by_id.n_read == 3
    by_uid = read_corpus(path, id_field="uid")
    assert [r.id for r in by_uid.records] == ["u-1", "u-2", "4"]


def test_ids_from_row_number_in_parquet_and_csv(tmp_path):
    pq = tmp_path / "noid.parquet"
    pl.DataFrame({"text": ["Alpha document.", "Beta document."]}).write_parquet(pq)
    assert [r.id for r in read_corpus(pq).records] == ["1", "2"]
    path = tmp_path / "noid.csv"
    path.write_text("text\nAlpha document.\nBeta document.\n")
    assert [r.id for r in read_corpus(path).records] == ["2", "3"]


def test_parquet_is_read_a_slice_at_a_time_in_order(tmp_path, monkeypatch):
    import traitforge.rows as rows

    monkeypatch.setattr(rows, "PARQUET_ROWS", 3)
    texts = [f"Document number {i}." for i in range(10)]
    path = tmp_path / "many.parquet"
    pl.DataFrame({"text": texts, "n": list(range(10))}).write_parquet(path, row_group_size=4)
    corpus = read_corpus(path)
    assert [r.text for r in corpus.records] == texts
    assert [r.line for r in corpus.records] == list(range(1, 11))
    exact = tmp_path / "six.parquet"  # a last slice that is exactly full, then an empty one
    pl.DataFrame({"text": texts[:6]}).write_parquet(exact)
    assert len(read_corpus(exact).records) == 6


# ---------------------------------------------------------------- bad input

def _bad_jsonl_rows(chat):
    """Lines 1..12 of a chat corpus; the good ones are on lines 1, 6 and 12."""
    return [
        chat("What is 2+2?", "2+2 is 4.", id="g1"),                                    # 1 good
        '{"id": "b2", "messages": [{"role": "user", "content": "hi"}',                # 2 malformed
        {"id": "b3", "msgs": []},                                                      # 3 missing
        chat("Say something.", "   ", id="b4"),                                        # 4 empty
        chat("Say a number.", "x", id="b5") | {"messages": [                           # 5 non-str
            {"role": "user", "content": "Say a number."}, {"role": "assistant", "content": 42}]},
        chat("Name a colour.", "Teal is a nice colour.", id="g6"),                     # 6 good
        {"id": "b7", "messages": [{"role": "user", "content": "hi"},                   # 7 role
                                  {"role": "robot", "content": "beep"}]},
        {"id": "b8", "messages": [{"role": "user", "content": "anyone there?"}]},      # 8 no asst
        b'{"id": "b9", "messages": [{"role": "user", "content": "caf\xe9?"}, '         # 9 bytes
        b'{"role": "assistant", "content": "Yes."}]}',
        chat("Repeat me.", "A duplicate id.", id="g1"),                                # 10 dup
        '[1, 2, 3]',                                                                   # 11 not obj
        chat("Last one?", "Yes, the last good one.", id="g12"),                        # 12 good
    ]


EXPECTED_REASONS = {
    2: "malformed JSON",
    3: "missing field 'messages'",
    4: "messages[1].content is empty",
    5: "messages[1].content is int, not a string",
    7: "unknown role 'robot'",
    8: "no assistant turn",
    9: "invalid UTF-8 at byte",
    10: "duplicate id 'g1'",
    11: "expected a JSON object, got list",
}


def test_bad_lines_become_rejected_with_file_line_reason(write_jsonl, chat):
    rows = _bad_jsonl_rows(chat)
    path = write_jsonl("bad.jsonl", rows)
    corpus = read_corpus(path)
    assert [r.id for r in corpus.records] == ["g1", "g6", "g12"]
    assert [r.line for r in corpus.records] == [1, 6, 12]
    got = {r.line: r for r in corpus.rejected}
    assert sorted(got) == sorted(EXPECTED_REASONS)
    for line, needle in EXPECTED_REASONS.items():
        r = got[line]
        assert r.source == str(path)
        assert needle in r.reason, (line, r.reason)
        assert str(r) == f"{path}:{line}: {r.reason}"
        assert r.as_dict() == {"file": str(path), "line": line, "reason": r.reason, "raw": r.raw}
    # the byte offset of the bad byte is the one in the raw line
    bad_byte = rows[8].index(b"\xe9")
    assert got[9].reason == f"invalid UTF-8 at byte {bad_byte}"
    assert got[2].raw == rows[1]
    assert corpus.n_read == len(corpus.records) + len(corpus.rejected) == 12


def test_missing_fields_in_other_shapes(write_jsonl):
    path = write_jsonl("alp.jsonl", [
        {"id": "1", "instruction": "Add 1 and 2.", "output": "3."},
        {"id": "2", "instruction": "Add 2 and 2."},
        {"id": "3", "instruction": "Add 3 and 3.", "input": ["six"], "output": "6."},
    ])
    corpus = read_corpus(path)
    assert [r.id for r in corpus.records] == ["1"]
    reasons = {r.line: r.reason for r in corpus.rejected}
    assert "missing field 'output'" in reasons[2]
    assert "input is list, not a string" in reasons[3]

    path = write_jsonl("pair.jsonl", [{"id": "1", "prompt": "Hi?", "response": "Hello."},
                                      {"id": "2", "prompt": "Bye?"}])
    corpus = read_corpus(path)
    assert corpus.rejected[0].line == 2 and "prompt/response" in corpus.rejected[0].reason

    path = write_jsonl("text.jsonl", [{"id": "1", "text": "A doc."}, {"id": "2", "body": "x"},
                                      {"id": "3", "text": 3.5}, {"id": "4", "text": ""}])
    corpus = read_corpus(path)
    reasons = {r.line: r.reason for r in corpus.rejected}
    assert "missing field 'text'" in reasons[2]
    assert "text is float, not a string" in reasons[3]
    assert "text is empty" in reasons[4]
    assert corpus.n_read == 4 == len(corpus.records) + len(corpus.rejected)


def test_sharegpt_wrong_role(write_jsonl):
    path = write_jsonl("sg.jsonl", [
        {"id": "1", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hey."}]},
        {"id": "2", "conversations": [{"from": "human", "value": "Hi"}, {"from": "alien", "value": "Zz."}]},
        {"id": "3", "conversations": [{"from": "human", "value": "Hi"}]},
    ])
    corpus = read_corpus(path)
    reasons = {r.line: r.reason for r in corpus.rejected}
    assert "unknown role 'alien'" in reasons[2]
    assert "no assistant turn" in reasons[3]
    assert [r.id for r in corpus.records] == ["1"]


def test_bad_rows_in_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"id,prompt,response\n"
                     b"1,What is 3x3?,Nine.\n"
                     b"2,Say nothing.,\n"
                     b"3,Caf\xe9 hours?,Eight to six.\n"
                     b"1,Again?,A duplicate.\n"
                     b"5,Last?,Yes.\n")
    corpus = read_corpus(path)
    assert [r.id for r in corpus.records] == ["1", "5"]
    reasons = {r.line: r.reason for r in corpus.rejected}
    assert sorted(reasons) == [3, 4, 5]
    assert "response is empty" in reasons[3]
    assert "invalid UTF-8" in reasons[4]
    assert "duplicate id '1'" in reasons[5]
    assert all(r.source == str(path) for r in corpus.rejected)
    assert corpus.n_read == 5 == len(corpus.records) + len(corpus.rejected)


def test_strict_raises_naming_file_and_line(write_jsonl, chat):
    path = write_jsonl("strict.jsonl", _bad_jsonl_rows(chat))
    with pytest.raises(InputError) as err:
        read_corpus(path, strict=True)
    assert str(err.value).startswith(f"{path}:2: malformed JSON")


def test_strict_passes_a_clean_file(write_jsonl, chat):
    path = write_jsonl("ok.jsonl", [chat("Hi?", "Hello.", id="1")])
    assert len(read_corpus(path, strict=True).records) == 1


def test_missing_unsupported_and_corrupt_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_corpus(tmp_path / "nope.jsonl")
    odd = tmp_path / "corpus.txt"
    odd.write_text("hello\n")
    with pytest.raises(InputError, match="unsupported file type"):
        read_corpus(odd)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputError, match="broken.parquet"):
        read_corpus(broken)


def test_sha256_of_input(write_jsonl):
    import hashlib

    path = write_jsonl("h.jsonl", [{"text": "A document."}])
    assert read_corpus(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfprompt,response\nWhat is 5+5?,Ten.\n")
    corpus = read_corpus(path)
    assert corpus.rejected == [] and len(corpus.records) == 1
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "First doc."}\n{"text": "Second doc."}\n')
    corpus = read_corpus(path)
    assert corpus.rejected == [] and len(corpus.records) == 2


# ---------------------------------------------------------------- units and slots

def _multi_turn() -> Record:
    msgs = (
        {"role": "system", "content": "You are a helpful tutor."},
        {"role": "user", "content": "What is a noun?"},
        {"role": "assistant", "content": "A noun names a thing. Examples: cat, city."},
        {"role": "user", "content": "And a verb?"},
        {"role": "assistant", "content": "A verb names an action. Run is a verb."},
        {"role": "user", "content": "Give me an adjective."},
        {"role": "assistant", "content": "Blue. It describes a noun."},
    )
    return Record("mt", "chat", messages=msgs)


def test_units_of_all_first_last():
    rec = _multi_turn()
    units = units_of(rec, "all")
    assert [u.turn for u in units] == [2, 4, 6]
    assert [u.text for u in units] == [rec.messages[k]["content"] for k in (2, 4, 6)]
    assert [u.prompt for u in units] == ["What is a noun?", "And a verb?", "Give me an adjective."]
    assert all(u.doc_id == "mt" for u in units)
    (first,) = units_of(rec, "first")
    (last,) = units_of(rec, "last")
    assert first == units[0] and last == units[-1]
    assert first.prompt == "What is a noun?" and last.prompt == "Give me an adjective."
    assert units_of(rec) == units


def test_units_of_document_and_pair():
    doc = Record("d", "document", text="Plain text. Two sentences.")
    (u,) = units_of(doc, "last")
    assert (u.doc_id, u.turn, u.prompt, u.text) == ("d", 0, "", doc.text)


def test_units_of_read_alpaca_prompt(write_jsonl):
    path = write_jsonl("a.jsonl", [{"instruction": "Translate.", "input": "Cat", "output": "Chat."}])
    (u,) = units_of(read_corpus(path).records[0])
    assert u.prompt == "Translate.\n\nCat" and u.text == "Chat." and u.turn == 1


def _sentences(text, first, last):
    return text.index(first), text.index(first) + len(first), text.index(last), text.index(last) + len(last)


@pytest.mark.parametrize("text,first,last", [
    ("Hello there. How are you today?", "Hello there.", "How are you today?"),
    ("  Leading space! Middle part. Trailing space.  \n", "Leading space!", "Trailing space."),
    ("Only one sentence without an end", "Only one sentence without an end",
     "Only one sentence without an end"),
    ("Is it safe?! Mostly. Check the label (always).", "Is it safe?!", "Check the label (always)."),
    ("Intro line\n- item one\n- item two", "Intro line", "- item two"),
    ("Version 3.5 is out. Upgrade soon.", "Version 3.5 is out.", "Upgrade soon."),
])
def test_sentence_slots(text, first, last):
    (o_start, o_end), (c_start, c_end) = sentence_slots(text)
    fs, fe, ls, le = _sentences(text, first, last)
    assert (o_start, o_end) == (fs, fe)
    assert (c_start, c_end) == (ls, le)
    unit = make_unit("x", 1, text, "")
    assert unit.slot_text("opening") == first and unit.slot_text("closing") == last
    assert unit.slot_text("body") == text


def test_sentence_slots_quote_after_full_stop_ends_the_sentence():
    text = 'He said "stop." Then he left. Done?'
    unit = make_unit("x", 1, text, "")
    assert unit.slot_text("opening").startswith('He said "stop.')
    assert "Then" not in unit.slot_text("opening")
    assert unit.slot_text("closing") == "Done?"


TRICKY = ["Hi. . Bye", "a.b. c", 'He said "stop." Then\n\n- x\n- y', "  lead\n\n\n trail  ", "",
          "...", "?!", "x\u3000y. z", "A.\n", "end.)   ", "“Quote.” Next", "\n\n", "Tab\tend.\tNext",
          "Version 3.5 is out. Upgrade soon.", "Is it safe?! Mostly. (always).", "word " * 300 + "end."]


def test_sentence_table_splits_as_the_regex_does():
    """All texts split at once in polars give the spans SENTENCE_END gives one text at a time."""
    table = sentence_table(TRICKY, base=7)
    for i, text in enumerate(TRICKY):
        rows = table.filter(pl.col("unit") == i + 7)
        spans = sentence_spans(text, len(text) - len(text.lstrip()), len(text.rstrip()))
        assert list(zip(rows["start"], rows["end"])) == spans, text
        assert rows["pos"].to_list() == list(range(len(spans)))


def test_corpus_units_equal_units_one_at_a_time():
    records = [_multi_turn()] + [Record(f"d{i}", "document", text=t) for i, t in enumerate(TRICKY)]
    for turns in ("all", "first", "last"):
        assert corpus_units(records, turns) == [u for r in records for u in units_of(r, turns)]


def test_sentence_slots_long_last_sentence():
    # The closing sentence is longer than the 600-character window first searched.
    long_tail = "word " * 300 + "end."
    text = "Short start. " + long_tail
    (o_start, o_end), (c_start, c_end) = sentence_slots(text)
    assert text[o_start:o_end] == "Short start."
    assert text[c_start:c_end] == long_tail


def test_csv_messages_may_be_a_json_string(tmp_path):
    path = tmp_path / "chats.csv"
    turns = [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "messages"])
        writer.writerow(["a", json.dumps(turns)])
        writer.writerow(["b", "not json"])
    corpus = read_corpus(path)
    assert [r.messages for r in corpus.records] == [tuple(turns)]
    assert [r.reason for r in corpus.rejected] == ["'messages' is a string that is not a JSON list"]


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_atomic_writes_honour_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "out.json", "{}\n")
    finally:
        os.umask(old)
    assert (tmp_path / "out.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_one_odd_first_record_does_not_decide_how_a_file_of_chats_is_read(write_jsonl, chat):
    rows = [{"id": "t", "text": "A plain document first."}] + [
        chat(f"Question {i}?", f"Answer {i}.", id=f"c{i}") for i in range(40)]
    corpus = read_corpus(write_jsonl("mixed.jsonl", rows))
    assert corpus.format == "chat" and len(corpus.records) == 40
    assert [(r.line, r.reason) for r in corpus.rejected] == [(1, "missing field 'messages'")]


def test_an_id_less_record_named_by_its_line_never_takes_a_given_id(write_jsonl, chat):
    rows = [chat("Q?", "A first.", id="a"), chat("Q?", "No id here."), chat("Q?", "A.", id="2"),
            chat("Q?", "Also none."), chat("Q?", "Again.", id="2")]
    corpus = read_corpus(write_jsonl("ids.jsonl", rows))
    assert [r.id for r in corpus.records] == ["a", "line-2", "2", "4"]
    assert [(r.line, r.reason) for r in corpus.rejected] == [(5, "duplicate id '2'")]


def test_no_room_for_the_snapshot_is_one_line_naming_the_file_and_tmpdir(tmp_path, monkeypatch,
                                                                         write_jsonl):
    import tempfile

    from traitforge.io import InputError, read_corpus

    corpus = write_jsonl("c.jsonl", [{"text": "A memo."}])
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setattr(tempfile, "tempdir", str(blocker / "tmp"))  # a folder that cannot be
    with pytest.raises(InputError, match=r"c\.jsonl: cannot be copied into .*a-file/tmp.*TMPDIR"):
        read_corpus(corpus)


def test_blocks_are_bounded_by_characters_and_units():
    texts = ["x" * n for n in [10, 10, 10, 95, 5, 5, 5, 5, 5, 5, 5, 5, 400, 1, 1]]
    prompts = ["p" * 5] * len(texts)
    starts = block_starts(texts, prompts, most_units=4, most_chars=100)
    ends = starts[1:] + [len(texts)]
    assert starts[0] == 0 and starts == sorted(set(starts))
    for lo, hi in zip(starts, ends):
        chars = [len(t) + 5 for t in texts[lo:hi]]
        assert hi - lo <= 4
        assert sum(chars[:-1]) < 100  # past the budget only by its last unit
    assert 12 in starts and 13 in starts  # the long text stands alone
    assert block_starts([], None) == []
    assert block_starts(texts, None, most_units=100, most_chars=10**9) == [0]


def test_a_text_is_refused_as_empty_exactly_when_no_character_of_it_shows():
    """Blank: every character whitespace or a format character (zero-width space, word
    joiner, byte-order mark), wherever they sit; one visible character anywhere is a text."""
    import random
    import unicodedata

    from traitforge.io import _text

    pieces = [" ", "\t", "\n", "\x1c", "\u00a0", "\u2003", "\u200b", "\u200d", "\u2060", "\ufeff",
              "a", "é", "\x00", "."]
    rng = random.Random(0)
    for _ in range(20000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        blank = all(c.isspace() or unicodedata.category(c) == "Cf" for c in value)
        if blank:
            with pytest.raises(ValueError, match="is empty"):
                _text(value, "reply")
        else:
            assert _text(value, "reply") == value
