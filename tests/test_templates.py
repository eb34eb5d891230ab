"""Pass 3 building blocks: sentence skeletons, skeleton families, and the edge sentences they
are read from."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from traitforge.audit.sentences import edge_sentences
from traitforge.audit.ngram_counts import STOP_WORDS
from traitforge.audit.skeletons import family_table, frame_words, skeleton_families, skeletons
from traitforge.audit.units import make_unit

KEEP = sorted({*STOP_WORDS, "sure", "honestly"})  # stop words and two frame words


def _skel(texts: list[str], prompts: list[str], units: list[int] | None = None) -> pl.DataFrame:
    units = list(range(len(texts))) if units is None else units
    return skeletons(pl.DataFrame({"unit": units, "text": texts},
                                  schema={"unit": pl.UInt32, "text": pl.String}), prompts, KEEP)


def test_frame_words_are_the_stop_words_and_the_words_frequent_across_texts():
    texts = [f"Honestly, topic{i} matters." for i in range(60)] + [f"Plain topic{i}." for i in range(40)]
    words = frame_words(texts, 0.5)
    assert "honestly" in words and "matters" in words and "plain" not in words
    assert not any(w.startswith("topic") for w in words) and set(STOP_WORDS) <= set(words)
    assert "plain" in frame_words(texts, 0.4)
    # an evenly spaced sample: every second text, the same shares
    assert frame_words(texts, 0.5, sample=50) == words
    # a share of texts, not of occurrences: a word said four times in one text of four is rare
    assert "echo" not in frame_words(["Echo echo echo echo."] + ["Plain."] * 3, 0.5)


# --- skeletons -------------------------------------------------------------------------------

def test_skeleton_of_the_docstring_example():
    out = _skel(["Before I dive in, could you clarify Python decorators?"],
                ["How do Python decorators work?"])
    # function words and punctuation kept; "dive", "clarify" -> W; "Python decorators" are echoed
    # from the prompt and collapse into one ECHO slot.
    assert out["skeleton"].to_list() == ["before i W in , could you W ECHO ?"]
    assert out["masked"].to_list() == ["Before I dive in , could you clarify this this ?"]


@pytest.mark.parametrize("text, prompt, skeleton, masked", [
    # numbers -> NUM (each one masked to 0); a run of content words collapses to one W
    ("It costs 42 dollars and 7 cents.", "What is the price?",
     "it W NUM W and NUM W .", "It costs 0 dollars and 0 cents ."),
    # capitalised words after the first token -> NAME (runs collapse); kept words stay lowercased
    ("Sure, Alice and Bob met in New York last week.", "Tell me a story.",
     "sure , NAME and NAME W in NAME last W .", "Sure , Alice and Bob met in New York last week ."),
    # a capitalised first word is not a name; a run of numbers is one NUM; repeated kept words
    # and punctuation are not collapsed (only slots are)
    ("Gardening takes 2 3 4 weeks, no no no!!", "",
     "W NUM W , no no no ! !", "Gardening takes 0 0 0 weeks , no no no ! !"),
    # an echo wins over NAME and is matched case-insensitively; frame words ("honestly") and
    # stop words ("often") are kept
    ("Honestly, Kubernetes pods restart often.", "why do my kubernetes PODS restart?",
     "honestly , ECHO often .", "Honestly , this this this often ."),
])
def test_skeleton_slots(text, prompt, skeleton, masked):
    out = _skel([text], [prompt])
    assert out.row(0) == (skeleton, masked)


def test_echo_is_per_unit_prompt_and_rows_keep_their_order():
    texts = ["Sourdough needs a starter.", "Sourdough needs a starter.", "Tides follow the moon.",
             ""]
    prompts = ["Tell me about sourdough", "Tell me about tides"]
    out = _skel(texts, prompts, units=[0, 1, 1, 0])
    assert out["skeleton"].to_list() == ["ECHO W a W .", "W a W .", "ECHO W the W .", ""]
    assert out["masked"].to_list() == ["this needs a starter .", "Sourdough needs a starter .",
                                       "this follow the moon .", ""]
    assert out.columns == ["skeleton", "masked"] and len(out) == len(texts)


# --- skeleton families -------------------------------------------------------------------------

A = "before i W in , could you W ECHO ?"
A1 = "before we W in , could you W ECHO ?"  # one token from A
A2 = "before we W in , can you W ECHO more ?"  # two tokens from A1, three from A
B = "W is W than it W ."


def test_paraphrase_skeletons_form_one_family_and_an_unrelated_one_stays_apart():
    fam = skeleton_families([A, B, A1, A2])
    assert fam[0] == fam[2] == fam[3]  # A2 joins through A1 (single linkage)
    assert fam[1] != fam[0]
    assert len(set(fam.tolist())) == 2


def test_family_threshold_matters():
    assert len(set(skeleton_families([A, A1, A2, B], similarity=0.99).tolist())) == 4
    # A-A1 share 9 of 10 tokens: joined at 0.9, not above
    assert len(set(skeleton_families([A, A1], similarity=0.9).tolist())) == 1
    assert len(set(skeleton_families([A, A1], similarity=0.91).tolist())) == 2


def test_families_do_not_depend_on_chunking():
    skels = [A, B, A1, A2, "W , W ?", "W , W !", B + " W"]
    whole = skeleton_families(skels)
    chunked = skeleton_families(skels, chunk=2)
    same = lambda f: [[f[i] == f[j] for j in range(len(f))] for i in range(len(f))]  # noqa: E731
    assert same(whole) == same(chunked)
    assert len(skeleton_families([])) == 0


def test_family_table_keeps_informative_skeletons_seen_in_two_units():
    sc = pl.DataFrame({
        "unit": [0, 1, 2, 0, 3, 4, 5, 5],
        "slot": ["opening"] * 6 + ["closing"] * 2,
        "skeleton": [A, A1, A, "W .", "W .", B, "hope this W !", "hope this W !"],
    })
    table = family_table(sc, similarity=0.75)
    opening = table.filter(pl.col("slot") == "opening")
    # A (2 units) and A1 (1 unit, dropped); "W ." has no kept words; B in one unit only;
    # the closing skeleton recurs only inside one unit.
    assert opening["skeleton"].to_list() == [A]
    assert opening["group"].to_list()[0].startswith("opening-")
    assert table.filter(pl.col("slot") == "closing").is_empty()


# --- edge sentences ----------------------------------------------------------------------------

def test_edge_sentences_slots_and_spans():
    texts = ["  One here. Two there! Three? Four now.\nFive end.  ", "Only one sentence",
             "", "First bit. Second bit."]
    units = [make_unit(str(i), 1, t, "") for i, t in enumerate(texts)]
    df = edge_sentences(units, lead=3, tail=2)
    assert df.schema["unit"] == pl.UInt32
    for row in df.iter_rows(named=True):
        text = units[row["unit"]].text
        assert text[row["start"]:row["end"]] == row["text"]
    got = {(r["unit"], r["slot"]): [] for r in df.iter_rows(named=True)}
    for r in df.iter_rows(named=True):
        got[(r["unit"], r["slot"])].append((r["pos"], r["text"]))
    assert got[(0, "opening")] == [(0, "One here."), (1, "Two there!"), (2, "Three?")]
    assert got[(0, "closing")] == [(0, "Four now."), (1, "Five end.")]
    # too short to have both: the sentences sit in both slots
    assert got[(1, "opening")] == got[(1, "closing")] == [(0, "Only one sentence")]
    assert got[(3, "opening")] == got[(3, "closing")] == [(0, "First bit."), (1, "Second bit.")]
    assert 2 not in df["unit"].to_list()  # an empty unit has no sentences


def test_edge_sentences_lead_tail_and_max_chars():
    unit = make_unit("a", 1, "Alpha one. Beta two. Gamma three. Delta four.", "")
    df = edge_sentences([unit], lead=1, tail=1, max_chars=5)
    assert df.select("slot", "pos", "start", "end", "text").rows() == [
        ("opening", 0, 0, 10, "Alpha"), ("closing", 0, 34, 45, "Delta")]
    assert edge_sentences([unit], lead=2, tail=0)["slot"].to_list() == ["opening", "opening"]
    assert np.array_equal(edge_sentences([unit], lead=0, tail=3)["start"].to_numpy(),
                          [11, 21, 34])


def test_sentence_frames_do_not_depend_on_block_size():
    import random

    from traitforge.audit.sentences import sentence_frame
    from traitforge.audit.units import make_unit

    rng = random.Random(0)
    words = "alpha beta gamma delta epsilon zeta eta theta".split()
    units = [make_unit(str(i), 0, ". ".join(" ".join(rng.choices(words, k=5)).capitalize()
                                            for _ in range(6)) + ".", " ".join(rng.choices(words, k=3)))
             for i in range(300)]
    whole = sentence_frame(units, KEEP, 3, 2)
    assert whole.height == 1500 and whole["stock"].any()
    assert whole.equals(sentence_frame(units, KEEP, 3, 2, block=37))
    assert whole.equals(sentence_frame(units, KEEP, 3, 2, block_chars=500))


def test_only_the_sentences_a_pass_embeds_are_masked():
    from traitforge.audit.sentences import EMBEDDED, sentence_frame, with_texts

    units = [make_unit(str(i), 0, f"Sure, {i} is fine. Then we add salt. Next we stir it. "
                                  f"Finally we taste. Enjoy {i} meals.", f"cook {i} meals")
             for i in range(20)]
    frame = sentence_frame(units, KEEP, 1, 1, middle=True, clauses=True)
    edge = frame["slot"].is_in(EMBEDDED)
    assert set(frame.filter(~edge)["slot"]) == {"middle", "clause"}
    assert (frame.filter(~edge)["masked"] == "").all()
    edges = edge_sentences(units, 1, 1, middle=True, clauses=True, max_chars=12)
    assert "text" not in frame.columns  # kept as spans: with_texts reads it back
    assert with_texts(frame, units, max_chars=12)["text"].equals(edges["text"])
    everything = skeletons(with_texts(frame, units).select("unit", "text"),
                           [u.prompt for u in units], KEEP)
    assert frame.filter(edge)["masked"].equals(everything.filter(edge)["masked"])
    assert frame["skeleton"].equals(everything["skeleton"])
    assert frame.filter(edge)["masked"].str.contains("0").all()  # the numbers masked
    assert sentence_frame([], KEEP, 1, 1, middle=True).columns == frame.columns


def test_a_family_of_matchers_stores_its_frame_words_and_embedding_space_once():
    from traitforge.audit.match_context import MatchContext
    from traitforge.audit.matchers import AnyOf, ClusterMatcher, TemplateMatcher, any_of

    texts = ["Sure, here it is. The tide turns.", "Of course, here it is. The moon pulls.",
             "No. The kettle warms."]
    units = [make_unit(str(i), 1, t, "") for i, t in enumerate(texts)]
    a = TemplateMatcher("opening", ["sure , here it is ."], KEEP)
    b = TemplateMatcher("opening", ["of W , here it is ."], KEEP)
    space = {"mean": [0.0], "components": [[1.0]], "centroids": [[1.0]], "radius": [0.5]}
    c, d = ClusterMatcher("opening", [1], space, KEEP), ClusterMatcher("opening", [3], space, KEEP)
    joined = any_of(any_of(a, c), any_of(b, d))
    assert [type(m).__name__ for m in joined.matchers] == ["TemplateMatcher", "ClusterMatcher"]
    assert joined.matchers[0].skeletons == ["of W , here it is .", "sure , here it is ."]
    assert joined.matchers[1].clusters == [1, 3]
    # the folded template matcher flags what the two did
    ctx = MatchContext(units, frame_words=KEEP)
    both = AnyOf("opening", [a, b]).match(ctx)["unit"].to_list()
    assert joined.matchers[0].match(ctx)["unit"].to_list() == both == [0, 1]
    # other frame words or another slot stay apart
    other = TemplateMatcher("opening", ["no ."], sorted(STOP_WORDS))
    assert len(any_of(a, other).matchers) == 2
    assert len(any_of(a, TemplateMatcher("closing", ["no ."], KEEP)).matchers) == 2


def test_a_stock_skeleton_recurs_in_another_unit_of_its_slot():
    from traitforge.audit.sentences import sentence_frame

    texts = ["Sure thing. The fox ran. The fox ran. Bye now.",  # "the W W ." twice in one unit
             "Sure thing. A cat sat. Bye now.",
             "Bye now. A cat sat. Sure thing."]  # the same sentences in other slots
    frame = sentence_frame([make_unit(str(i), 0, t, "") for i, t in enumerate(texts)],
                           KEEP, 1, 1, middle=True)
    stock = {(r["unit"], r["slot"], r["pos"]): r["stock"] for r in frame.iter_rows(named=True)}
    assert stock[(0, "opening", 0)] and stock[(1, "opening", 0)]  # "sure W ." opens two units
    assert stock[(0, "closing", 0)] and stock[(1, "closing", 0)]
    assert not stock[(0, "middle", 0)] and not stock[(0, "middle", 1)]  # one unit only
    assert stock[(1, "middle", 0)] and stock[(2, "middle", 0)]  # "a W W ." in two units
    assert not stock[(2, "opening", 0)] and not stock[(2, "closing", 0)]  # other slots' skeletons


def test_families_are_those_of_comparing_every_pair():
    """Comparing skeletons only with those near their length loses no pair that joins."""
    from rapidfuzz.distance import Levenshtein
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(0)
    base = [" ".join(rng.choice(["W", "the", "you", ",", "?", "NUM"], size=k))
            for k in rng.integers(1, 30, size=60)]
    skels = sorted(set(base + [s + " W" for s in base[:30]] + [s[2:] for s in base[30:]] + [""]))
    for similarity in (0.5, 0.65, 0.8, 0.9):
        words = [s.split() for s in skels]
        linked = np.array([[Levenshtein.normalized_similarity(a, b) >= similarity for b in words]
                           for a in words])
        expected = connected_components(linked, directed=False)[1]
        for chunk in (1, 7, 1024):
            got = skeleton_families(skels, similarity, chunk)
            assert (got[:, None] == got[None, :]).tolist() == \
                (expected[:, None] == expected[None, :]).tolist()


def test_a_frame_read_from_the_units_sentence_spans_is_the_frame_split_afresh(monkeypatch):
    """The spans `units_and_sentences` keeps give each block the frame it would split itself,
    whatever the blocks (and a unit with no sentence, and one of several paragraphs), and the
    same units and spans when the units are split in several blocks."""
    from traitforge.audit import units as units_module
    from traitforge.audit.sentences import sentence_frame
    from traitforge.audit.units import units_and_sentences
    from traitforge.io import Record

    texts = ["Sure! Here it is.\n\n- one\n- two\n\nHope this helps.", "   ", "Short one",
             "A. B? C! D.\nE"] * 40
    records = [Record(str(i), "chat", messages=({"role": "user", "content": "a b"},
                                                {"role": "assistant", "content": t}))
               for i, t in enumerate(texts)]
    units, spans = units_and_sentences(records)
    assert spans["unit"].max() == len(units) - 1 and spans["unit"].is_sorted()
    for block, chars in ((20_000, 4_000_000), (7, 4_000_000), (20_000, 300)):
        fresh = sentence_frame(units, KEEP, 2, 1, True, True, block, chars)
        kept = sentence_frame(units, KEEP, 2, 1, True, True, block, chars, table=spans)
        assert kept.equals(fresh) and fresh.height > len(units)
    monkeypatch.setattr(units_module, "BLOCK", 33)
    in_blocks = units_and_sentences(records)
    assert in_blocks[0] == units and in_blocks[1].equals(spans)
