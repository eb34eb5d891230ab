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

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from traitforge.io import InputError, load_config

SEVERITIES = ("fail", "warn", "info")


@dataclass(frozen=True)
class Policy:
    alpha: float = 0.05
    warn_excess: float = 0.03
    warn_lift: float = 1.5
    fail_excess: float = 0.10
    fail_lift: float = 2.0
    warn_prevalence: float = 0.20
    fail_prevalence: float = 0.40
    clean_cap: float = 0.05  # clean's target prevalence for a finding with no reference
    severity: dict = field(default_factory=dict)
    ignore: tuple = ()

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
    known = {f.name: f for f in fields(Policy)}
    for key, value in data.items():
        if key not in known:
            raise InputError(f"{path}: unknown policy setting {key!r} (known: {', '.join(known)})")
        if key == "severity":
            if not isinstance(value, dict) or any(v not in SEVERITIES for v in value.values()):
                raise InputError(f"{path}: 'severity' maps finding ids to fail, warn or info")
        elif key == "ignore":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InputError(f"{path}: 'ignore' is a list of finding ids")
        elif not isinstance(value, (int, float)) or isinstance(value, bool):
            raise InputError(f"{path}: {key!r} must be a number")
    if "ignore" in data:
        data["ignore"] = tuple(data["ignore"])
    return Policy(**data)
