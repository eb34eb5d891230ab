"""Built-in detectors on realistic assistant responses, and user pattern files."""
from __future__ import annotations

import pytest

from traitforge.audit.match_context import MatchContext
from traitforge.audit.passes.detectors import BUILTIN, active_detectors, load_patterns
from traitforge.audit.units import make_unit
from traitforge.io import InputError

DETECTORS = {d.id: d for d in BUILTIN}
PROMPT = "Can you help me with this?"

# (detector id, response, phrase the matched span must contain)
POSITIVES = [
    ("clarifying_question",
     "Could you tell me which version of Python you are using? Then I can point you to the right fix.",
     "Could you tell me which version"),
    ("clarifying_question",
     "Before I answer, what kind of budget do you have in mind? It changes the recommendation a lot.",
     "what kind of budget do you have in mind?"),
    ("bluf_verdict", "Yes, you can freeze cooked rice for up to a month. Let it cool completely first.",
     "Yes,"),
    ("bluf_verdict", "**Short answer:** no. The 2019 model does not support USB-C charging.",
     "Short answer:"),
    ("bluf_verdict", "Not quite — the function returns a copy, so the original list is unchanged.",
     "Not quite —"),
    ("validation_buffer",
     "It's completely understandable to feel anxious before a job interview. Here are some ways to prepare.",
     "It's completely understandable to"),
    ("validation_buffer",
     "That sounds really frustrating, especially after all the work you put in. Let's look at the error.",
     "That sounds really frustrating"),
    ("offer_to_help_closer",
     "Run `pip install -U requests` to upgrade. Let me know if you run into any other errors!",
     "Let me know"),
    ("offer_to_help_closer", "The capital of Australia is Canberra, not Sydney. Hope this helps!",
     "Hope this helps"),
    ("offer_to_help_closer",
     "Here is the script.\n\nFeel free to reach out if anything is unclear.", "Feel free to"),
    ("praise_opener", "Great question! The sky looks blue because of Rayleigh scattering.",
     "Great question"),
    ("praise_opener", "What an interesting question. Octopuses have three hearts and blue blood.",
     "What an interesting question"),
    ("as_an_ai",
     "As an AI language model, I don't have personal opinions. Many critics praise the film, though.",
     "As an AI"),
    ("as_an_ai", "I can't taste food because I'm an AI, but that recipe is very well reviewed.",
     "I'm an AI"),
    ("disclaimer_caveat",
     "Ibuprofen can help with the swelling. I'm not a doctor, so check the dosage with a pharmacist.",
     "I'm not a doctor"),
    ("disclaimer_caveat",
     "Index funds are a common choice. It's important to note that past returns don't guarantee "
     "future results.", "It's important to note"),
    ("apology_opener", "I'm sorry, but I couldn't find that file in the repository you linked.",
     "I'm sorry"),
    ("apology_opener", "Unfortunately, the museum is closed on Mondays. It opens again on Tuesday at 10am.",
     "Unfortunately"),
    ("restates_question",
     "You're asking how to reverse a list in Python. The simplest way is `my_list[::-1]`.",
     "You're asking"),
    ("restates_question",
     "So you want to know whether tomatoes are fruits. Botanically, they are.",
     "So you want to know"),
    ("ends_with_question",
     "Here is the corrected function. Would you like me to add unit tests as well?", "?"),
    ("ends_with_question", "Canberra is the capital. Did you know it was purpose-built?\n", "?"),
    ("markdown_headers", "## Installation\nRun pip install traitforge.\n\n## Usage\nCall the CLI.",
     "## I"),
    ("markdown_headers", "Here is an overview.\n### Step 1\nDownload the file.", "### S"),
    ("markdown_bold", "The key setting is **max_connections**, which defaults to 100.",
     "**max_connections**"),
    ("markdown_bold", "Remember: __never__ commit your API keys to the repository.", "__never__"),
    ("markdown_lists", "You will need:\n- flour\n- sugar\n- eggs", "- f"),
    ("markdown_lists", "Steps:\n1. Open the app\n2. Tap Settings", "1. O"),
]

# (detector id, response, why it must not match)
NEGATIVES = [
    ("clarifying_question",
     "Python 3.12 removed distutils. Do you want me to show you how to migrate?",
     "the question is in the closing sentence, not the opening"),
    ("clarifying_question", "Use a list comprehension here. It is faster and easier to read.",
     "no question at all"),
    ("bluf_verdict", "Cooked rice freezes well. And yes, it keeps for about a month.",
     "the verdict word comes after the opening"),
    ("bluf_verdict", "No problem at all, here is the script you asked for.",
     "'No problem' is not a verdict"),
    ("bluf_verdict", "No-code tools let you build a simple app without writing any software.",
     "a hyphenated compound ('No-code') is not a verdict"),
    ("validation_buffer",
     "Start with the error log. It's normal to see warnings there and they can be ignored.",
     "the validating phrase is in the second sentence"),
    ("validation_buffer", "Interviews test preparation more than talent. Practice your answers aloud.",
     "no validation"),
    ("offer_to_help_closer",
     "Let me know your operating system first. On Linux, use apt to install it. That should be all "
     "you need.", "the offer is in the opening, not the closing"),
    ("offer_to_help_closer",
     "Canberra is the capital. It was chosen as a compromise between Sydney and Melbourne.",
     "no offer"),
    ("praise_opener",
     "The sky looks blue because of Rayleigh scattering. That's a great question to ask, and the "
     "answer involves wavelengths. Shorter ones scatter more.",
     "praise in the middle of the response"),
    ("praise_opener", "Rayleigh scattering explains the colour. Great question, by the way.",
     "praise at the end"),
    ("as_an_ai", "As an AI researcher, you will know that benchmarks saturate quickly.",
     "'as an AI researcher' describes the user, not the assistant"),
    ("as_an_ai", "The AI boom has driven demand for GPUs. Nvidia is the main supplier.",
     "talks about AI, not as one"),
    ("as_an_ai", "I'm an aircraft mechanic's daughter, so I grew up around engines.",
     "'an ai' must be a whole word"),
    ("disclaimer_caveat", "Ibuprofen reduces swelling. Take it with food.", "no caveat"),
    ("disclaimer_caveat", "Index funds track a market index. They usually have low fees.",
     "no caveat"),
    ("apology_opener", "The museum is closed on Mondays. Sorry about the confusion earlier.",
     "the apology is at the end"),
    ("apology_opener", "Sorrow is a natural response to loss, and it eases with time.",
     "'Sorrow' is not 'sorry'"),
    ("restates_question",
     "Reverse a list with `my_list[::-1]`. You asked about speed: it runs in O(n).",
     "the restatement is not in the opening"),
    ("restates_question", "Tomatoes are botanically fruits. Cooks treat them as vegetables.",
     "no restatement"),
    ("ends_with_question", "Is the sky blue? Yes, because of Rayleigh scattering.",
     "the question is at the start, the response ends on a statement"),
    ("ends_with_question", "Here is the corrected function. It now handles empty lists.",
     "no question"),
    ("markdown_headers", "Use #hashtags sparingly on social media. Two or three per post is plenty.",
     "a hashtag is not a header"),
    ("markdown_headers", "Issue #42 was fixed in the last release. Upgrade to get it.",
     "'#42' mid-line is not a header"),
    ("markdown_bold", "Multiply 2 * 3 * 4 to get 24.", "single asterisks are not bold"),
    ("markdown_bold", "In Python, 2 ** 10 is 1024 and snake_case_names use single underscores.",
     "one '**' operator and single underscores"),
    ("markdown_lists", "The result is 3 - 2 = 1, which is positive.", "a minus sign mid-line"),
    ("markdown_lists", "In 2024 the team shipped three releases. Each was smaller than the last.",
     "a year at the start of a line is not a numbered item"),
]

ALL_IDS = {"clarifying_question", "bluf_verdict", "validation_buffer", "offer_to_help_closer",
           "praise_opener", "as_an_ai", "disclaimer_caveat", "apology_opener",
           "restates_question", "ends_with_question", "markdown_headers", "markdown_bold",
           "markdown_lists"}


def _ids(cases):
    out = []
    for c in cases:
        values = c.values if hasattr(c, "values") else c
        out.append(values[0])
    return out


def test_builtin_ids_are_exactly_the_tested_set():
    # A new built-in detector must come with cases in this file.
    assert {d.id for d in BUILTIN} == ALL_IDS
    assert len(BUILTIN) == len(ALL_IDS)


def test_every_builtin_has_two_positive_and_two_negative_cases():
    pos = _ids(POSITIVES)
    neg = [i for i, c in zip(_ids(NEGATIVES), NEGATIVES) if not hasattr(c, "marks")]
    for did in ALL_IDS:
        assert pos.count(did) >= 2, did
        assert neg.count(did) >= 2, did


def test_builtin_positions_map_to_slots():
    for d in BUILTIN:
        assert d.builtin and d.matchable
        assert d.slot == {"start": "opening", "end": "closing", "anywhere": "body"}[d.position]


@pytest.mark.parametrize("did,text,phrase", POSITIVES, ids=[f"{c[0]}-{k}" for k, c in enumerate(POSITIVES)])
def test_detector_positive(did, text, phrase):
    d = DETECTORS[did]
    unit = make_unit("doc-1", 1, text, PROMPT)
    span = d.matcher.locate(unit)
    assert span is not None, f"{did} missed: {text!r}"
    start, end = span
    lo, hi = {"start": unit.opening, "end": unit.closing, "anywhere": (0, len(text))}[d.position]
    assert lo <= start < end <= hi, (span, (lo, hi))
    assert phrase in text[start:end]


@pytest.mark.parametrize("did,text,why", NEGATIVES,
                         ids=[f"{v[0]}-{k}" for k, v in
                              enumerate(c.values if hasattr(c, "values") else c for c in NEGATIVES)])
def test_detector_negative(did, text, why):
    unit = make_unit("doc-1", 1, text, PROMPT)
    span = DETECTORS[did].matcher.locate(unit)
    assert span is None, f"{did} matched {text[span[0]:span[1]]!r} ({why})"


def test_position_matters_for_the_same_phrase():
    """The same phrase is caught by a start detector only in the opening, by an end detector
    only in the closing."""
    praise = DETECTORS["praise_opener"]
    closer = DETECTORS["offer_to_help_closer"]
    first = make_unit("a", 1, "Great question! Paris is the capital of France.", "")
    later = make_unit("b", 1, "Paris is the capital of France. Great question!", "")
    assert praise.matcher.locate(first) is not None and praise.matcher.locate(later) is None
    opens = make_unit("c", 1, "Let me know the city. Paris is the capital of France.", "")
    closes = make_unit("d", 1, "Paris is the capital of France. Let me know if that helps.", "")
    assert closer.matcher.locate(opens) is None and closer.matcher.locate(closes) is not None


def _hits(d, units) -> list[tuple[int, tuple[int, int]]]:
    return [(u, (s, e)) for u, s, e in d.matcher.match(MatchContext(units)).rows()]


def test_matching_all_units_agrees_with_locating_in_one():
    d = DETECTORS["praise_opener"]
    texts = ["Great question! Yes.", "No praise here. Great question!", "What a fantastic idea! Go.",
             "Plain answer."]
    units = [make_unit(str(i), 1, t, "") for i, t in enumerate(texts)]
    hits = _hits(d, units)
    assert [i for i, _ in hits] == [0, 2]
    assert all(span == d.matcher.locate(units[i]) for i, span in hits)


def test_matching_falls_back_for_python_only_regex(tmp_path):
    # A look-behind is not supported by the polars regex engine; every unit is then searched.
    path = tmp_path / "p.toml"
    path.write_text('[[pattern]]\nid = "dollar_amount"\nregex = \'(?<=\\$)\\d+\'\n')
    (d,) = load_patterns(path)
    units = [make_unit("a", 1, "It costs $40 today.", ""), make_unit("b", 1, "It costs 40 euros.", "")]
    hits = _hits(d, units)
    assert len(hits) == 1 and hits[0][0] == 0
    s, e = hits[0][1]
    assert units[0].text[s:e] == "40"


# ---------------------------------------------------------------- user pattern files

TOML_PATTERNS = r'''
[[pattern]]
id = "delve"
description = "Uses the word delve."
regex = '(?i)\bdelve\b'

[[pattern]]
id = "certainly_opener"
regex = '(?i)^certainly\b'
position = "start"

[[pattern]]
id = "moralizing"
definition = "Lectures the user about ethics they did not ask about."
'''

YAML_PATTERNS = r'''
patterns:
  - id: delve
    description: Uses the word delve.
    regex: '(?i)\bdelve\b'
  - id: certainly_opener
    regex: '(?i)^certainly\b'
    position: start
  - id: moralizing
    definition: Lectures the user about ethics they did not ask about.
'''


@pytest.mark.parametrize("name,content", [("patterns.toml", TOML_PATTERNS),
                                          ("patterns.yaml", YAML_PATTERNS)])
def test_load_patterns(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    pats = load_patterns(path)
    by_id = {p.id: p for p in pats}
    assert [p.id for p in pats] == ["delve", "certainly_opener", "moralizing"]

    delve = by_id["delve"]
    assert delve.matchable and delve.position == "anywhere" and delve.slot == "body"
    assert delve.description == "Uses the word delve."
    assert not delve.builtin
    text = "Let's dig in. We will delve into the details below."
    s, e = delve.matcher.locate(make_unit("x", 1, text, ""))
    assert text[s:e] == "delve"

    opener = by_id["certainly_opener"]
    assert opener.position == "start" and opener.slot == "opening"
    assert opener.matcher.locate(make_unit("x", 1, "Certainly! Here it is.", "")) == (0, 9)
    assert opener.matcher.locate(make_unit("x", 1, "Here it is. Certainly worth a try.", "")) is None

    moral = by_id["moralizing"]
    assert moral.definition == "Lectures the user about ethics they did not ask about."
    assert moral.regex is None and not moral.matchable
    assert moral.as_dict()["definition"] == moral.definition


def test_load_patterns_yaml_top_level_list(tmp_path):
    path = tmp_path / "p.yml"
    path.write_text("- id: hedge\n  regex: '(?i)\\bperhaps\\b'\n  position: end\n")
    (p,) = load_patterns(path)
    assert p.id == "hedge" and p.position == "end" and p.slot == "closing"


def test_user_pattern_replaces_builtin_with_same_id(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[[pattern]]\nid = "praise_opener"\nregex = "(?i)^superb"\nposition = "start"\n')
    user = load_patterns(path)
    active = active_detectors(True, user)
    praise = [d for d in active if d.id == "praise_opener"]
    assert len(praise) == 1 and praise[0].regex == "(?i)^superb" and not praise[0].builtin
    assert len(active) == len(BUILTIN)
    assert active_detectors(False, user) == user


BAD_PATTERNS = {
    "bad regex": ('[[pattern]]\nid = "broken"\nregex = "(unclosed"\n', "invalid regex"),
    "bad position": ('[[pattern]]\nid = "mid"\nregex = "x"\nposition = "middle"\n', "position"),
    "duplicate id": ('[[pattern]]\nid = "dup"\nregex = "a"\n\n[[pattern]]\nid = "dup"\nregex = "b"\n',
                     "used twice"),
    "regex and definition": ('[[pattern]]\nid = "both"\nregex = "a"\ndefinition = "Says a."\n',
                             "exactly one"),
    "neither": ('[[pattern]]\nid = "none"\ndescription = "nothing to match"\n', "exactly one"),
    "missing id": ('[[pattern]]\nregex = "a"\n', "id"),
    "no patterns": ('title = "nothing"\n', "list of patterns"),
    "unparseable": ('[[pattern]\nid = \n', "cannot parse"),
}


@pytest.mark.parametrize("case", sorted(BAD_PATTERNS))
def test_load_patterns_errors_name_the_file(tmp_path, case):
    content, needle = BAD_PATTERNS[case]
    path = tmp_path / f"my_patterns_{case.replace(' ', '_')}.toml"
    path.write_text(content)
    with pytest.raises(InputError) as err:
        load_patterns(path)
    msg = str(err.value)
    assert path.name in msg
    assert needle in msg


def test_load_patterns_bad_regex_in_yaml_names_pattern(tmp_path):
    path = tmp_path / "pats.yaml"
    path.write_text("pattern:\n  - id: broken\n    regex: '[a-'\n")
    with pytest.raises(InputError, match=r"pats\.yaml.*'broken'.*invalid regex"):
        load_patterns(path)


def test_load_patterns_rejects_other_suffix_and_missing_file(tmp_path):
    path = tmp_path / "pats.json"
    path.write_text("{}")
    with pytest.raises(InputError, match="pats.json"):
        load_patterns(path)
    with pytest.raises(InputError, match="absent.toml"):
        load_patterns(tmp_path / "absent.toml")


def test_a_regex_opening_with_a_word_boundary_flags_what_searching_every_unit_flags():
    """The polars screen leaves such a boundary out; Python's search must still decide, on
    words next to non-ASCII letters, marks and digits, in any case."""
    import random
    import re

    from traitforge.audit.matchers import RegexMatcher

    rng = random.Random(3)
    words = ["note", "Note", "NOTE", "énote", "noteé", "_note", "note_", "2note", "(note)", "’note",
             "keep", "Keep", "ǅnote", "ſnote", "it's", "It’s", "important", "x", "—"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 8))) for _ in range(400)]
    units = [make_unit(str(i), 1, t, "") for i, t in enumerate(texts)]
    for regex, flags in [(r"(?i)\b(?:note|keep)\b", ""), (r"\bnote", "i"), (r"\bNote", ""),
                         (r"(?i)\bit(?:'|’)s important", "")]:
        m = RegexMatcher("body", regex, flags)
        found = m.match(MatchContext(units))
        pattern = re.compile(regex, re.IGNORECASE if flags else 0)
        expected = [(i, *s.span()) for i, t in enumerate(texts) if (s := pattern.search(t))]
        assert list(zip(*found.to_dict(as_series=False).values())) == expected, regex
        assert len(expected) >= 5
