"""Reference-free: whether a recurring finding is a topic, not a habit.

Without a reference nothing says how common a phrase should be, but a habit and a topic differ
in whom they visit. A habit (a stock closer, an emoji on every paragraph) is spread over replies
about anything; a topic's words ("ingredients:", "conditions.") come back in replies that are
about one thing. So the replies carrying a finding are embedded (a sample of at most
`per_finding`, each without the finding's own span, its first `chars` characters), centred on
the mean of a sample of all replies, and their mean pairwise cosine is the finding's topic
similarity. It is read against replies drawn at random: `topic_excess` is how far it lies above
the mean similarity of random sets of the same size from the sample, and how many of their
standard deviations.
"""
from __future__ import annotations

import numpy as np

from traitforge.audit.findings import Finding
from traitforge.audit.units import Unit


def topic_excess(findings: list[Finding], units: list[Unit], embedder, seed: int = 0,
                 base: int = 2000, per_finding: int = 60, chars: int = 500, draws: int = 20
                 ) -> dict[str, tuple[float, float]]:
    """Each finding's (excess similarity, its z against random sets), by id (see above)."""
    rng = np.random.default_rng(seed)
    background = rng.choice(len(units), size=min(base, len(units)), replace=False)
    texts = [units[i].text[:chars] for i in background]
    owners = []
    for f in findings:
        if len(f.units) < 2:
            continue
        for k in rng.choice(len(f.units), size=min(per_finding, len(f.units)), replace=False):
            text, (start, end) = units[f.units[k]].text, f.spans[k]
            texts.append((text[:start] + text[end:])[:chars])
            owners.append(f.id)
    vectors = embedder.encode(texts)
    vectors = vectors - vectors[:len(background)].mean(axis=0)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    rest, owner = vectors[len(background):], np.array(owners, dtype=object)
    out = {}
    for fid in dict.fromkeys(owners):
        mine = rest[owner == fid]
        null = [_mean_pairwise_cosine(vectors[rng.choice(len(background), size=len(mine),
                                                         replace=False)]) for _ in range(draws)]
        excess = _mean_pairwise_cosine(mine) - float(np.mean(null))
        out[fid] = (excess, excess / max(float(np.std(null)), 1e-9))
    return out


def _mean_pairwise_cosine(v: np.ndarray) -> float:
    n = len(v)
    total = v.sum(axis=0)
    return float((total @ total - n) / (n * (n - 1)))
