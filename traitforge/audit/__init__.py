"""The auditor: finds structural patterns over-represented in a synthetic corpus.

Its names are loaded on first use, so that a process that needs one module of the auditor (a
census process, say) does not import all of it."""
from __future__ import annotations

import importlib

_WHERE = {"AuditResult": "auditor", "run_audit": "auditor", "AuditConfig": "config",
          "ClusterSettings": "config", "DiscoverySettings": "config", "LLMSettings": "config",
          "Finding": "findings", "AuditDir": "outputs", "audit_inputs": "outputs",
          "check_outputs": "outputs", "load_audit": "outputs", "write_outputs": "outputs",
          "Policy": "policy", "load_policy": "policy"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
