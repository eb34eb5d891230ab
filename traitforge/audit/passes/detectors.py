"""The detector pass: named detectors, built-in and user-defined.

A detector is a named, described regex applied to one slot of a unit: `start` looks in the
opening sentence, `end` in the closing sentence, `anywhere` in the whole text. It returns
the matched span, so every flag can be shown and replayed. A user pattern may instead give a
plain-language `definition`; those are kept for the LLM autorater and not matched by regex.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from traitforge.audit.findings import Finding, from_spans
from traitforge.audit.matchers import RegexMatcher
from traitforge.audit.passes.base import PassBase, PassContext, register, set_q_values
from traitforge.audit.reconcile import MergeRule
from traitforge.audit.units import Unit
from traitforge.io import InputError, load_config

POSITIONS = {"start": "opening", "end": "closing", "anywhere": "body"}


@dataclass(frozen=True)
class Detector:
    id: str
    description: str
    regex: str | None = None
    position: str = "anywhere"
    definition: str | None = None
    builtin: bool = False

    @property
    def slot(self) -> str:
        return POSITIONS[self.position]

    @property
    def matchable(self) -> bool:
        return self.regex is not None

    @property
    def matcher(self) -> RegexMatcher:
        return RegexMatcher(self.slot, self.regex)

    def as_dict(self) -> dict:
        out = {"id": self.id, "description": self.description, "position": self.position,
               "builtin": self.builtin}
        if self.regex is not None:
            out["regex"] = self.regex
        if self.definition is not None:
            out["definition"] = self.definition
        return out


def _b(id: str, description: str, regex: str, position: str) -> Detector:
    return Detector(id, description, regex, position, builtin=True)


def active_detectors(builtin: bool, user: list[Detector]) -> list[Detector]:
    """The detectors an audit runs: built-ins (unless switched off) that the user did not
    replace, then the user's own."""
    replaced = {d.id for d in user}
    return [d for d in BUILTIN if builtin and d.id not in replaced] + user


_LEAD = r"^[\s>*_#\"'“(]*"  # leading markup or quotes before the first word

BUILTIN: tuple[Detector, ...] = (
    _b("clarifying_question", "Opens by asking the user a question (for context or "
       "clarification) instead of, or before, answering.",
       r"(?is)\b(?:could|can|would|will|do|did|are|is|what|which|how)\b[^.!]*\b(?:you|your)\b[^.!]*\?",
       "start"),
    _b("bluf_verdict", "Opens with a bottom-line-up-front verdict (Yes / No / In short / "
       "Short answer / Not quite ...) before any explanation.",
       _LEAD + r"(?i:yes|no|nope|yep|correct|incorrect|true|false|not quite|not really|partly|"
       r"partially|in short|short answer|the short answer is|bottom line|tl;?dr|verdict)"
       r"\b\s*(?:[,.:;!—–]|-\s|\*\*|$)", "start"),
    _b("validation_buffer", "Opens by validating the user's feelings (\"It's completely "
       "understandable to feel...\") before the substance.",
       r"(?i)\b(?:i (?:completely |totally |really |fully )?(?:understand|hear you|can see why|"
       r"appreciate (?:how|that|your))|it(?:'|’)?s (?:completely |totally |perfectly |only |so )?"
       r"(?:natural|understandable|normal|okay|ok|valid) (?:to|that)|(?:your|those) feelings are "
       r"(?:valid|understandable)|(?:it |that )?makes (?:total |complete |perfect )?sense (?:that|to "
       r"feel|you)|you(?:'|’)?re not alone|that sounds (?:really |so |incredibly )?(?:hard|difficult|"
       r"tough|frustrating|stressful|overwhelming|painful))", "start"),
    _b("offer_to_help_closer", "Closes by offering more help (\"Let me know if...\", \"Feel "
       "free to ask...\", \"Happy to help!\").",
       r"(?i)\b(?:let me know|feel free to|don(?:'|’)?t hesitate|happy to help|(?:i(?:'|’)?m|i am) "
       r"(?:always |here |happy |glad )+(?:to )?help|hope (?:this|that|it) helps|if you (?:have|need) "
       r"any (?:other|more|further)|(?:just )?(?:ask|tell me) if you)", "end"),
    _b("praise_opener", "Opens by praising the question or the user (\"Great question!\").",
       _LEAD + r"(?i:(?:what an? |that(?:'|’)?s an? |such an? |this is an? )?(?:really |very )?"
       r"(?:great|good|excellent|fantastic|wonderful|fascinating|thoughtful|interesting|insightful|"
       r"brilliant) (?:question|point|idea|observation|thought|query)|thank(?:s| you) for (?:asking|"
       r"your (?:question|thoughtful|great)))", "start"),
    _b("as_an_ai", "Refers to itself as an AI or language model.",
       r"(?i)\b(?:as an? (?:ai|artificial intelligence|(?:large )?language model|ai (?:language )?"
       r"model|ai assistant|virtual assistant),? (?:i|my|i(?:'|’)?m|i(?:'|’)?ve|myself)\b|"
       r"i(?:'|’)?m (?:just |only )?an? (?:ai|language model|ai (?:language )?model)\b|"
       r"i am (?:just |only )?an? (?:ai|language model)\b)", "anywhere"),
    _b("disclaimer_caveat", "Adds a disclaimer or caveat (\"It's important to note\", \"I'm "
       "not a doctor\", \"consult a professional\").",
       r"(?i)\b(?:it(?:'|’)?s (?:important|worth) (?:to (?:note|remember|mention)|noting)|please "
       r"(?:note|remember|keep in mind|consult)|keep in mind that|i(?:'|’)?m not an? (?:doctor|lawyer|"
       r"financial (?:advisor|adviser)|medical professional|licensed)|(?:consult|speak (?:to|with)|talk "
       r"to) (?:an? |your )?(?:qualified |licensed )?(?:doctor|physician|professional|lawyer|attorney|"
       r"healthcare|medical|financial|therapist)|(?:is|does) not (?:constitute |intended as )?"
       r"(?:medical|legal|financial|professional) advice|disclaimer)", "anywhere"),
    _b("apology_opener", "Opens with an apology or regret (\"I'm sorry\", \"Unfortunately\").",
       _LEAD + r"(?i:(?:i(?:'|’)?m|i am) (?:so |very |really |truly )?sorry|i apologi[sz]e|"
       r"(?:my )?apologies|sorry|unfortunately|regrettably)\b", "start"),
    _b("restates_question", "Opens by restating the user's question (\"You're asking about...\", "
       "\"So you want to know...\").",
       _LEAD + r"(?i:(?:so,? )?(?:you(?:'|’)?re|you are) (?:asking|wondering|curious|looking to know)|"
       r"(?:so,? )?you (?:want|would like|asked|ask|are asking) (?:to know|about|how|what|why|whether|if)|"
       r"you(?:'|’)?d like to know|the question (?:is|of|here is)|your question (?:is|asks|about))",
       "start"),
    _b("ends_with_question", "Ends on a question to the user.",
       r"\?[\"'”’)\]*_\s]*$", "end"),
    _b("markdown_headers", "Uses markdown headers.", r"(?m)^ {0,3}#{1,6}[ \t]+\S", "anywhere"),
    _b("markdown_bold", "Uses bold text.", r"\*\*[^*\n]+?\*\*|__[^_\n]+?__", "anywhere"),
    _b("markdown_lists", "Uses bullet or numbered lists.",
       r"(?m)^[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]+\S", "anywhere"),
)


def load_patterns(path: str | Path) -> list[Detector]:
    """User patterns from a TOML or YAML file holding a list under `pattern` (or `patterns`).

    A user pattern that reuses a built-in detector's id replaces that detector.
    """
    path = Path(path)
    data = load_config(path, "patterns")
    items = data.get("pattern", data.get("patterns")) if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise InputError(f"{path}: expected a list of patterns under 'pattern'")
    out, seen = [], set()
    for k, item in enumerate(items, 1):
        where = f"{path}: pattern {k}"
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise InputError(f"{where}: needs a string 'id'")
        where = f"{path}: pattern '{item['id']}'"
        if item["id"] in seen:
            raise InputError(f"{where}: id is used twice")
        seen.add(item["id"])
        regex, definition = item.get("regex"), item.get("definition")
        if (regex is None) == (definition is None):
            raise InputError(f"{where}: give exactly one of 'regex' or 'definition'")
        position = item.get("position", "anywhere")
        if position not in POSITIONS:
            raise InputError(f"{where}: position must be start, end or anywhere, not {position!r}")
        if regex is not None:
            try:
                re.compile(regex)
            except (re.error, TypeError) as e:
                raise InputError(f"{where}: invalid regex ({e})") from None
        out.append(Detector(item["id"], str(item.get("description", definition or regex)),
                            regex, position, definition))
    return out


@register
class DetectorPass(PassBase):
    """Each detector's regex, in its slot; against a reference, tested and BH-corrected."""

    name = "detector"
    merge = MergeRule(rank=0, alone=True)
    concurrent = True

    def find(self, units: list[Unit], reference: list[Unit] | None,
             ctx: PassContext) -> list[Finding]:
        detectors = [d for d in ctx.detectors if d.matchable]
        tick = ctx.steps.task("pass 1: detectors", len(detectors))
        s = ctx.config.discovery
        findings = []
        for d in detectors:
            hits = d.matcher.match(ctx.corpus_match)
            tick()
            if hits.is_empty():
                continue
            f = from_spans("detector", d.id, d.id.replace("_", " "), d.description, d.matcher,
                           hits, len(units))
            if reference is not None:
                f.against(d.matcher.match(ctx.reference_match)["unit"].to_numpy(), len(reference),
                          s.test, s.prior_strength)
            findings.append(f)
        set_q_values(findings)
        return findings
