"""The auditor: finds structural patterns over-represented in a synthetic corpus."""
from traitforge.audit.auditor import AuditResult, run_audit
from traitforge.audit.config import AuditConfig, ClusterSettings, DiscoverySettings, LLMSettings
from traitforge.audit.findings import Finding
from traitforge.audit.outputs import (AuditDir, audit_inputs, check_outputs, load_audit,
                                      write_outputs)
from traitforge.audit.policy import Policy, load_policy

__all__ = ["AuditConfig", "AuditDir", "AuditResult", "ClusterSettings", "DiscoverySettings",
           "Finding", "LLMSettings", "Policy", "audit_inputs", "check_outputs", "load_audit",
           "load_policy", "run_audit", "write_outputs"]
