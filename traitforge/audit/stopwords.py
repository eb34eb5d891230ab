"""scikit-learn's English stop words, read without importing scikit-learn.

Importing scikit-learn costs a process about 150 MB; a census process (see `census`) needs only
this list, so it runs the one file of scikit-learn that defines it. Where that file is not where
it was, scikit-learn is imported as usual.
"""
from __future__ import annotations

import importlib.util
import runpy
from pathlib import Path


def _english_stop_words() -> frozenset[str]:
    spec = importlib.util.find_spec("sklearn")
    origin = Path(spec.origin).parent if spec and spec.origin else None
    words = origin / "feature_extraction" / "_stop_words.py" if origin else None
    if words is not None and words.is_file():
        found = runpy.run_path(str(words)).get("ENGLISH_STOP_WORDS")
        if isinstance(found, frozenset):
            return found
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return ENGLISH_STOP_WORDS


ENGLISH_STOP_WORDS = _english_stop_words()
