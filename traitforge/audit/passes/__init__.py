"""The audit's passes, one module each, registered in the order they run (see base.py)."""
from traitforge.audit.passes.base import (PASSES, Pass, PassContext, enabled_passes, merge_rules,
                                          register)
# The passes, in the order they run: each module registers its pass.
from traitforge.audit.passes import detectors, ngrams, templates, clusters, llm  # noqa: E402,F401,I001

__all__ = ["PASSES", "Pass", "PassContext", "enabled_passes", "merge_rules", "register"]
