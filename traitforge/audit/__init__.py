"""The auditor: finds structural patterns over-represented in a synthetic corpus."""
from traitforge.audit.auditor import AuditConfig, AuditResult, run_audit, write_outputs
from traitforge.audit.detectors import BUILTIN, Detector, load_patterns
from traitforge.audit.discovery import DiscoverySettings
from traitforge.audit.findings import Finding
from traitforge.audit.policy import Policy, load_policy

__all__ = ["AuditConfig", "AuditResult", "BUILTIN", "Detector", "DiscoverySettings", "Finding",
           "Policy", "load_patterns", "load_policy", "run_audit", "write_outputs"]
