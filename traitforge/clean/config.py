"""CleanConfig: every setting of `traitforge clean`; its flags and PIPELINE.toml's [clean] table
are made from these fields."""
from __future__ import annotations

from dataclasses import dataclass

from traitforge.settings import setting

STRATEGIES = ("strip", "drop")


@dataclass(frozen=True)
class CleanConfig:
    corpus: str = setting(help="the corpus that was audited", role="flag", positional=True)
    audit: str = setting(help="its audit directory", role="flag", required=True)
    out: str = setting(help="the cleaned corpus (JSONL); beside it go NAME.removed.jsonl and the "
                       "re-audit in NAME.audit/", role="flag", required=True)
    findings: tuple[str, ...] = setting((), "a finding id to bring down (repeatable; default: "
                                        "every fail and warn)", flag="--finding", append=True,
                                        metavar="ID")
    strategy: str = setting("strip", "strip a detachable flagged opener or closer (dropping the "
                            "document when it is not), or drop every flagged document",
                            choices=STRATEGIES)
    stratify: tuple[str, ...] = setting((), "a field whose values are balanced separately, e.g. "
                                        "trait (repeatable)", append=True, metavar="FIELD")
    cap: float | None = setting(None, "target prevalence for findings with no reference "
                                "(default: the policy's clean_cap, 0.05)")
    seed: int = setting(0, "seed for ties between documents")
