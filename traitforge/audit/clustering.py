"""Embedding clusters of leading and trailing sentences, what the cluster pass groups.

Sentences (prompt echoes and numbers masked) are embedded, reduced with PCA, and clustered with
HDBSCAN on a sample of at most `fit_sample` sentences of the corpus and reference together.
Every sentence, in the sample or not, then joins the cluster with the nearest centroid if it lies
within that cluster's own radius (the `radius_quantile` of its members' similarities); others
stay noise. Memory stays flat: only the PCA coordinates are kept.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Clustering:
    labels: np.ndarray  # per sentence, corpus then reference; -1 noise
    points: np.ndarray  # (n, dims) unit-normalised PCA coordinates
    centroids: np.ndarray  # (k, dims), unit-normalised
    mean: np.ndarray  # PCA mean, (embedding dims,)
    components: np.ndarray  # PCA axes, (dims, embedding dims)
    radius: np.ndarray  # (k,) least cosine to its centroid a member may have

    def space(self) -> dict:
        """What a matcher needs to place new sentences in this clustering (exact float32s)."""
        return {"mean": self.mean.tolist(), "components": self.components.tolist(),
                "centroids": self.centroids.tolist(), "radius": self.radius.tolist()}


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def cluster_texts(texts: list[str], embedder, settings, seed: int = 0,
                  step=lambda advance=1: None) -> Clustering:
    """Embed, reduce and cluster `texts`; `step` advances once per embedded chunk."""
    import hdbscan

    n = len(texts)
    rng = np.random.default_rng(seed)
    fit = np.sort(rng.choice(n, size=min(n, settings.fit_sample), replace=False))
    sample = embedder.encode([texts[i] for i in fit])
    dims = min(settings.dims, sample.shape[1], max(1, len(fit) - 1))
    from sklearn.decomposition import PCA  # here: a census process only assigns (`nearest`)

    pca = PCA(dims, random_state=seed).fit(sample)
    mean, axes = pca.mean_.astype(np.float32), pca.components_.astype(np.float32)
    fit_points = project(sample, mean, axes)
    size = settings.min_cluster_size or max(10, round(0.002 * len(fit)))
    model = hdbscan.HDBSCAN(min_cluster_size=size, min_samples=min(settings.min_samples, size),
                            core_dist_n_jobs=1).fit(fit_points) if len(fit) > size else None
    fit_labels = model.labels_ if model is not None else np.full(len(fit), -1)
    k = int(fit_labels.max()) + 1
    centroids = _normalise(np.stack([fit_points[fit_labels == c].mean(0) for c in range(k)])) \
        if k else np.zeros((0, dims), np.float32)
    radius = np.array([np.quantile(fit_points[fit_labels == c] @ centroids[c],
                                   settings.radius_quantile) for c in range(k)], np.float32)
    result = Clustering(np.full(n, -1, np.int64), np.zeros((n, dims), np.float32),
                        centroids.astype(np.float32), mean, axes, radius)
    result.points[fit] = fit_points
    step()
    rest = np.setdiff1d(np.arange(n), fit)
    for lo in range(0, len(rest), settings.chunk):
        idx = rest[lo:lo + settings.chunk]
        result.points[idx] = project(embedder.encode([texts[i] for i in idx]), mean, axes)
        step()
    for lo in range(0, n, settings.chunk):
        result.labels[lo:lo + settings.chunk] = nearest(result.points[lo:lo + settings.chunk],
                                                        result.centroids, radius)
    return result


def project(vectors: np.ndarray, mean: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Unit-normalised PCA coordinates."""
    return _normalise((vectors.astype(np.float32) - mean) @ axes.T).astype(np.float32)


def nearest(points: np.ndarray, centroids: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """The nearest centroid of each point if the point lies within its radius, else -1."""
    if not len(centroids) or not len(points):
        return np.full(len(points), -1, np.int64)
    sim = points @ centroids.T
    best = sim.argmax(1)
    return np.where(sim[np.arange(len(best)), best] >= radius[best], best, -1)


def distinctive_terms(docs: list[str], background: str, top: int = 3) -> list[list[str]]:
    """Class-based TF-IDF (as in BERTopic): the `top` 1-3-grams of each class document that
    are frequent in it and rare across classes, with `background` as one more class. Only the
    class documents' terms are counted (a term of the background alone scores nothing); the
    background's length in terms, which its frequencies are shares of, is worked out from its
    word count."""
    from sklearn.feature_extraction.text import CountVectorizer

    vec = CountVectorizer(ngram_range=(1, 3), token_pattern=r"(?u)\b\w[\w']*\b", min_df=1)
    try:
        vec.fit(docs)
    except ValueError:  # no class document has a word (emoji, marks): no terms to name them by
        return [[] for _ in docs]
    tf = vec.transform(docs + [background]).astype(np.float64)
    lengths = np.asarray(tf.sum(1)).ravel()
    words = len(vec.build_tokenizer()(vec.build_preprocessor()(background)))
    lengths[-1] = sum(max(0, words - n + 1) for n in range(1, 4))  # its 1-, 2- and 3-grams
    tf = tf.multiply(1 / np.maximum(lengths, 1)[:, None]).tocsr()
    avg = np.asarray(tf.sum(0)).ravel() / tf.shape[0]
    idf = np.log(1 + 1 / np.maximum(avg, 1e-12))
    scores = tf.multiply(idf).tocsr()
    names = vec.get_feature_names_out()
    out = []
    for i in range(len(docs)):
        row = scores.getrow(i)
        order = row.indices[np.argsort(-row.data)]
        out.append([names[j] for j in order[:top]])
    return out
