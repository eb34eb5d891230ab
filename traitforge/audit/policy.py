"""Policy: the thresholds that turn findings into severities and a verdict.

Defaults (override any of them in a TOML or YAML policy file):

With a reference corpus, a finding must be significant (Benjamini-Hochberg q < `alpha`) and
  - `fail` when its excess over the reference is >= `fail_excess` and its lift >= `fail_lift`;
  - `warn` when its excess is >= `warn_excess` and its lift >= `warn_lift`;
  - `info` otherwise.
Without a reference, prevalence alone decides:
  - `fail` at >= `fail_prevalence`, `warn` at >= `warn_prevalence`, else `info`.
`severity` maps a finding id to a fixed severity, and `ignore` lists finding ids to drop.
The verdict is `fail` if any finding fails, `warn` if any warns, else `pass`.
`clean` brings a finding down to its reference prevalence, or to `clean_cap` without one.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from traitforge.io import InputError, load_config
from traitforge.settings import build, setting

SEVERITIES = ("fail", "warn", "info")


@dataclass(frozen=True)
class Policy:
    alpha: float = setting(0.05, "significance: the largest BH q-value that can warn or fail")
    warn_excess: float = setting(0.03, "excess over the reference that warns")
    warn_lift: float = setting(1.5, "lift over the reference that warns")
    fail_excess: float = setting(0.10, "excess over the reference that fails")
    fail_lift: float = setting(2.0, "lift over the reference that fails")
    warn_prevalence: float = setting(0.20, "reference-free: prevalence that warns")
    fail_prevalence: float = setting(0.40, "reference-free: prevalence that fails")
    clean_cap: float = setting(0.05, "clean's target prevalence for a finding with no reference")
    severity: dict = setting(help="finding id -> a fixed severity", factory=dict)
    ignore: tuple[str, ...] = setting((), "finding ids to drop")

    def grade(self, finding_id: str, prevalence: float, ref: float | None, lift: float | None,
              q: float | None) -> str:
        if finding_id in self.severity:
            return self.severity[finding_id]
        if ref is None:
            if prevalence >= self.fail_prevalence:
                return "fail"
            return "warn" if prevalence >= self.warn_prevalence else "info"
        if q is None or q >= self.alpha:
            return "info"
        excess = prevalence - ref
        if excess >= self.fail_excess and lift >= self.fail_lift:
            return "fail"
        if excess >= self.warn_excess and lift >= self.warn_lift:
            return "warn"
        return "info"

    def severity_of(self, finding_id: str, inputs: dict) -> str:
        """A finding's severity from its `grade_inputs`: phrasing made only of function words
        and punctuation (", and the", "!") is at most info, whatever its prevalence: it says how
        a text reads, not a move."""
        severity = self.grade(finding_id, inputs["prevalence"], inputs["baseline"],
                              inputs["lift"], inputs["q"])
        if inputs["function_words_only"] and finding_id not in self.severity:
            return "info"
        return severity

    def as_dict(self) -> dict:
        out = asdict(self)
        out["ignore"] = list(self.ignore)
        return out


def load_policy(path: str | Path | None) -> Policy:
    if path is None:
        return Policy()
    path = Path(path)
    data = load_config(path, "policy")
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a table of policy settings")
    if any(v not in SEVERITIES for v in data.get("severity", {}).values()) \
            if isinstance(data.get("severity"), dict) else "severity" in data:
        raise InputError(f"{path}: 'severity' maps finding ids to fail, warn or info")
    return build(Policy, data, str(path))
