"""Cleaning: rebalance an audited corpus by its audit, then audit the result."""
from traitforge.clean.config import STRATEGIES, CleanConfig
from traitforge.clean.run import clean_corpus

__all__ = ["STRATEGIES", "CleanConfig", "clean_corpus"]
