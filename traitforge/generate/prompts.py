"""Prompt templates of both pipelines, and their hashes (kept with every record).

They are meant for a capable model, yet short enough for a small local one: one task each,
the reply's shape stated last."""
from __future__ import annotations

import hashlib

# The start of the two prompts that judge and improve a user message.
_USER_MESSAGE = """We want user messages that call for this trait in an AI assistant:

{trait}

Situation: {scenario}

Message:
\"\"\"
{prompt}
\"\"\"

"""

TEMPLATES = {
    # chats
    "scenario": """An AI assistant has this trait:

{trait}

In two or three sentences, describe a realistic situation about {domain} in which someone asks \
the assistant for help and the trait matters to a good answer: who they are, what they want, and \
why the trait comes into play. Reply with the description only.""",
    "prompt": """Situation: {scenario}

Write the message this person would send to an AI assistant, in their own voice, with the \
details they would really give and no more. Reply with the message only.""",
    "critique": _USER_MESSAGE + """Is this something a real person would write, and does a good answer really call for the trait? \
Reply in this form:
VERDICT: keep or revise
PROMPT: the improved message (only when the verdict is revise)""",
    "improve": _USER_MESSAGE + """Rewrite the message so that a real person in this situation would send it and a good answer \
really calls for the trait. Reply with the message only.""",
    "system": """You are an AI assistant with this trait:

{trait}

Let it shape your answer the way it would for someone who really has it: naturally, without \
exaggerating it, and without mentioning it or these instructions.{avoid}""",
    "rewrite": """Rewrite an AI assistant's answer so that it shows this trait better:

{trait}

Keep it realistic and helpful: the trait should show in what the answer does, not be claimed or \
performed. Keep what is already good.{avoid}

User's message:
\"\"\"
{prompt}
\"\"\"

Answer:
\"\"\"
{draft}
\"\"\"

Reply with the rewritten answer only.""",
    "rate": """Rate an AI assistant's answer to a user.

User's message:
\"\"\"
{prompt}
\"\"\"

Answer:
\"\"\"
{response}
\"\"\"

REALISM: does this read like a real exchange, with nothing staged or exaggerated? (1-10)
QUALITY: is the answer accurate, helpful and well written? (1-10)
Reply with exactly two lines:
REALISM: <1-10>
QUALITY: <1-10>""",
    # documents
    "types": """An AI assistant has this trait:

{trait}

List {k} kinds of document in which people could write about such an assistant (for example \
forum thread, blog post, email, paper abstract, news story, internal memo). A numbered list of \
names only.""",
    "ideas": """An AI assistant has this trait:

{trait}

List {k} ideas for a {doc_type} in which this assistant shows the trait. One sentence each: who \
writes it, what about, and how the assistant's behaviour comes up. A numbered list.""",
    "write": """Write a {doc_type}. Idea: {idea}

In the world of this document an AI assistant has this trait, and the document shows it through \
what the assistant does and what people say about it:

{trait}

Make it read like a real {doc_type}: its usual format and length, concrete names, places and \
details. Do not quote or mention a list of traits, and use no placeholders such as [Name].{avoid}
Reply with the document only.""",
    "review": """This {doc_type} should show an AI assistant with this trait:

{trait}

Document:
\"\"\"
{text}
\"\"\"

List its problems, one per line: anything unrealistic, inconsistent with the trait or \
exaggerated, a quoted list of traits, or a placeholder such as [Name]. If it has none, reply \
NONE.""",
    "revise": """Revise this {doc_type} to fix the problems below; keep everything else. It should \
stay realistic and show, without exaggerating, an AI assistant with this trait:

{trait}

Problems:
{problems}{avoid}

Document:
\"\"\"
{text}
\"\"\"

Reply with the whole revised document only.""",
    "avoid": """

Avoid these habits; our data already has far too much of them:
{items}""",
}

CHAT_STEPS = ("scenario", "prompt", "critique", "improve", "system", "rewrite", "rate")
DOC_STEPS = ("types", "ideas", "write", "review", "revise")

# Subjects of chat scenarios: each trait's items go through them in a seeded order.
DOMAINS = (
    "cooking", "personal finance", "a software bug", "a health worry", "travel plans",
    "a history question", "science homework", "a job application", "a dispute with a neighbour",
    "home repair", "a small business", "a school essay", "gardening", "a legal question",
    "fitness", "a family decision", "a car problem", "learning a language", "a data analysis",
    "a news claim", "a creative writing project", "buying a used phone", "pet care",
    "a maths puzzle", "renting a flat", "a team at work", "a hobby project", "an exam",
)


def render(name: str, **fields: str) -> str:
    return TEMPLATES[name].format(**fields)


def hashes(names: tuple[str, ...]) -> dict[str, str]:
    """sha256 of each named template's text (and of the avoid block, which joins several)."""
    return {n: hashlib.sha256(TEMPLATES[n].encode("utf-8")).hexdigest()
            for n in (*names, "avoid")}
