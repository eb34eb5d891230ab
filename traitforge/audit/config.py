"""Every setting of an audit, in one place: AuditConfig and the settings of each pass. The
`traitforge audit` flags and PIPELINE.toml's [audit] table are both made from these fields."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from traitforge.audit.stats import TESTS
from traitforge.audit.units import TURNS
from traitforge.io import FORMATS, InputError
from traitforge.settings import section, setting


@dataclass(frozen=True)
class DiscoverySettings:
    """The statistics shared by the passes, the n-gram pass, sentence templates and families."""

    max_n: int = setting(5, "longest n-gram counted")
    min_df: int = setting(5, "fewest units an n-gram needs to be tested")
    min_prevalence: float = setting(0.005, "smallest share of units an n-gram needs to be tested")
    test: str = setting("z", "over-representation test against the reference", choices=TESTS)
    prior_strength: float = setting(100.0, "strength of the log-odds test's informative prior")
    merge_jaccard: float = setting(0.5, "unit Jaccard that merges two n-grams into one finding")
    lead: int = setting(3, "leading sentences per unit read by the template and cluster passes")
    tail: int = setting(2, "trailing sentences read by the template and cluster passes")
    middle: bool = setting(True, "template pass: skip the sentences between the leading and "
                                 "trailing ones")
    clauses: bool = setting(True, "template pass: skip the leading clause of the first sentence "
                                  "(up to its first comma, colon or dash)")
    frame_share: float = setting(0.05, "share of units (corpus and reference together) a word "
                                       "must be in to stay in sentence skeletons")
    template_similarity: float = setting(0.65, "token edit similarity that joins two skeletons")
    family_prevalence: float = setting(0.02, "reference-free: least prevalence of a reported family")
    variant_prevalence: float = setting(0.005, "reference-free: least prevalence of one phrasing "
                                              "that may join a family")
    topic_cos: float = setting(0.05, "reference-free: mean centred cosine of its replies, above "
                                     "random replies', from which a recurring phrase is a topic")
    family_lift: float = setting(1.5, "with a reference: least lift of a reported family")
    reconcile_jaccard: float = setting(0.5, "unit Jaccard that merges findings of two passes")
    families: bool = setting(True, "skip joining the alternatives and parts of one move into "
                                   "one finding")
    frame_cos: float = setting(0.5, "frame cosine at which two findings are alternatives of one "
                                    "move")


@dataclass(frozen=True)
class ClusterSettings:
    """The embedding-cluster pass."""

    dims: int = setting(16, "PCA dimensions the sentence embeddings are reduced to")
    min_cluster_size: int = setting(0, "HDBSCAN's least cluster (0: 0.2% of the fitted corpus "
                                       "sentences, at least 10)")
    min_samples: int = setting(5, "HDBSCAN's min_samples")
    fit_sample: int = setting(5000, "most corpus sentences the clustering is fitted on (with a "
                                    "reference, its sentences at the same rate, up to as many)")
    radius_quantile: float = setting(0.05, "quantile of its members' similarities that bounds "
                                           "a cluster")
    merge_cos: float = setting(0.9, "centroid cosine that joins two clusters into one family")
    accurate: bool = setting(False, "embed with all-MiniLM-L6-v2 itself, not the fast static "
                                    "model")
    chunk: int = setting(16384, "sentences embedded at a time")


def _sample(value: str) -> str | int:
    """--llm-sample's value: auto, all or a positive number."""
    if value in ("auto", "all"):
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise argparse.ArgumentTypeError("expected auto, all or a positive number")


@dataclass(frozen=True)
class LLMSettings:
    """The LLM pass (scan, merge, autorate); off unless `--llm` names a model."""

    spec: str = setting("default", "run the LLM pass (scan, merge, autorate) with 'default' "
                        "(embedded SmolLM2), a model path, or with --llm-base-url the served "
                        "model's name", name="llm", metavar="SPEC")
    base_url: str | None = setting(None, "an OpenAI-compatible server for --llm", metavar="URL")
    cache_dir: str | None = setting(None, "cache every LLM call here (default: OUT/llm_cache)")
    sample: str | int = setting("auto", "units autorated per pattern: sized by --llm-halfwidth "
                                "(auto), all, or N", parse=_sample, metavar="{auto,all,N}")
    halfwidth: float = setting(0.05, "target 95% interval half-width of the auto sample")
    batches: int = setting(8, "scan batches")
    batch_docs: int = setting(8, "documents per scan batch")
    min_batches: int | None = setting(None, "batches that must find a pattern (default: a "
                                      "quarter of them, at least 2)")
    max_patterns: int = setting(10, "most patterns kept from the scan")
    merge_similarity: float = setting(0.5, "cosine (all-MiniLM-L6-v2) that merges candidates")
    scan_chars: int = setting(600, "characters of each unit shown to the scan")
    rate_chars: int = setting(2000, "characters of each unit shown to the autorater")
    retries: int = setting(1, "asks again after an unparseable reply")

    def __post_init__(self):
        if self.batches < 1 or self.batch_docs < 1 or not 0 < self.halfwidth < 1:
            raise InputError("the LLM pass needs batches and batch documents >= 1 and an "
                             "interval half-width between 0 and 1")
        if not (self.sample in ("auto", "all") or isinstance(self.sample, int) and self.sample > 0):
            raise InputError(f"llm_sample must be auto, all or a positive number, not {self.sample!r}")


@dataclass(frozen=True)
class AuditConfig:
    corpus: str = setting(help="JSONL, JSONL.gz, Parquet or CSV of chats or documents",
                          role="flag", positional=True)
    reference: str | None = setting(None, "a corpus of the same shape to compare against",
                                    role="flag")
    patterns: str | None = setting(None, "TOML or YAML file of your own patterns")
    policy: str | None = setting(None, "TOML or YAML file of severity thresholds")
    format: str | None = setting(None, "record shape (detected when omitted)", choices=FORMATS)
    id_field: str = setting("id", "field holding record ids")
    turns: str = setting("all", "assistant turns to audit", choices=TURNS)
    builtin: bool = setting(True, "switch off the built-in detectors")
    strict: bool = setting(False, "stop at the first bad record (exit 2)")
    seed: int = setting(0, "seed for the example choice and the samples")
    sample: int = setting(20000, "records of a larger corpus (or reference) the passes look "
                                 "for patterns in, drawn at random; every finding is then "
                                 "counted in all records (0: look in all)")
    ray: str | None = setting(None, "run the per-block work as Ray Data tasks: on a Ray instance "
                              "started here (no ADDRESS), the cluster this machine is in "
                              "('auto'), or a cluster's address", metavar="ADDRESS", const="local")
    n_examples: int = setting(3, "examples shown per finding")
    ngrams: bool = setting(True, "skip the n-gram pass")
    templates: bool = setting(True, "skip the sentence-template pass")
    clusters: bool = setting(True, "skip the embedding-cluster pass")
    discovery: DiscoverySettings = section(DiscoverySettings)
    clustering: ClusterSettings = section(ClusterSettings)
    llm: LLMSettings | None = section(LLMSettings, prefix="llm_", switch="spec")
