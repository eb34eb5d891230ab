"""The cluster pass's labels: class-based TF-IDF terms of a family's sentences."""
from __future__ import annotations

import random

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from traitforge.audit.clustering import distinctive_terms


def _every_term(docs: list[str], background: str, top: int) -> list[list[str]]:
    """c-TF-IDF counted over every term of the documents and the background alike."""
    vec = CountVectorizer(ngram_range=(1, 3), token_pattern=r"(?u)\b\w[\w']*\b", min_df=1)
    tf = vec.fit_transform(docs + [background]).astype(np.float64)
    tf = tf.multiply(1 / np.maximum(tf.sum(1), 1)).tocsr()
    idf = np.log(1 + 1 / np.maximum(np.asarray(tf.sum(0)).ravel() / tf.shape[0], 1e-12))
    scores, names = tf.multiply(idf).tocsr(), vec.get_feature_names_out()
    return [[names[j] for j in scores.getrow(i).indices[np.argsort(-scores.getrow(i).data)][:top]]
            for i in range(len(docs))]


def test_distinctive_terms_are_those_of_c_tf_idf_over_every_term():
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(60)]
    for trial in range(6):
        docs = [" ".join(rng.choices(vocab[:15 + 5 * k], k=80)) for k in range(4)]
        background = " ".join(rng.choices(vocab, k=300 + 200 * trial))
        assert distinctive_terms(docs, background, top=6) == _every_term(docs, background, 6)
    assert distinctive_terms(["Great question! Great."], "")[0][0] == "great"


def test_classes_without_a_word_have_no_terms():
    docs = ["🙂 ✅ !", "— …"]
    background = "plain words here"
    assert distinctive_terms(docs, background) == [[], []] == _every_term(docs, background, 3)
