"""traitforge: audit, clean, train and evaluate trait-instilling synthetic data."""
__version__ = "0.1.0"
