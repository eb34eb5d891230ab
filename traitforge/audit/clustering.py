"""Embedding clusters of leading and trailing sentences, what the cluster pass groups.

Sentences (prompt echoes and numbers masked) are embedded, reduced with PCA, and clustered with
HDBSCAN on a sample (`fit_indices`): at most `fit_sample` sentences without a reference; with
one, the corpus's and the reference's drawn at one rate, up to `fit_sample` of the corpus's
and twice that in all, so that a habit of the corpus is about as dense in the sample as without
a reference and neither side is likelier to shape the clusters. Every sentence, in the sample or
not, then joins the cluster with the nearest centroid if it lies
within that cluster's own radius (the `radius_quantile` of its members' similarities); others
stay noise. Memory stays flat: only the PCA coordinates are kept. The PCA runs here, in numpy;
the scikit-learn and hdbscan work (HDBSCAN, the terms that name a family, the map's plane) runs
where a `Fitter` runs it.
"""
from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from traitforge.executors import cores, spawn_pool
from traitforge.io import InputError


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
                  step=lambda advance=1: None, fitter: Fitter | None = None,
                  reference_from: int | None = None) -> Clustering:
    """Embed, reduce and cluster `texts` (HDBSCAN fitted by `fitter`, here by default), the
    reference's from `reference_from` on where there is one; `step` advances once per embedded
    chunk."""
    n = len(texts)
    fit, mine = fit_indices(n, reference_from, settings.fit_sample, seed)
    fitter = fitter or Fitter(processes=False)
    sample = embedder.encode([texts[i] for i in fit])
    dims = min(settings.dims, sample.shape[1], max(1, len(fit) - 1))
    mean, axes = pca_axes(sample, dims)
    points = np.zeros((n, dims), np.float32)
    points[fit] = project(sample, mean, axes)
    size = settings.min_cluster_size or max(10, round(0.002 * mine))
    fit_labels = fitter.run(hdbscan_labels, points[fit], size, min(settings.min_samples, size)) \
        if len(fit) > size else lambda: np.full(len(fit), -1)
    step()
    rest = np.setdiff1d(np.arange(n), fit)
    for lo in range(0, len(rest), settings.chunk):  # while the fit runs, where it runs apart
        idx = rest[lo:lo + settings.chunk]
        points[idx] = project(embedder.encode([texts[i] for i in idx]), mean, axes)
        step()
    centroids, radius = _clusters(points[fit], fit_labels(), settings.radius_quantile)
    result = Clustering(np.full(n, -1, np.int64), points, centroids, mean, axes, radius)
    for lo in range(0, n, settings.chunk):
        result.labels[lo:lo + settings.chunk] = nearest(result.points[lo:lo + settings.chunk],
                                                        result.centroids, radius)
    return result


def fit_indices(n: int, reference_from: int | None, most: int, seed: int = 0
                ) -> tuple[np.ndarray, int]:
    """The indices (ascending) of the sentences a clustering of `n` is fitted on, and how many
    of them are the corpus's. Without a reference: at most `most`, drawn uniformly. With one
    (from `reference_from` on): both sides drawn at one rate, the highest that keeps the
    corpus's part within `most` and the whole within twice that, so that no side's sentences
    are likelier to shape the clusters they are then tested in."""
    rng = np.random.default_rng(seed)
    if reference_from is None:
        fit = rng.choice(n, size=min(n, most), replace=False)
        return np.sort(fit), len(fit)
    mine, theirs = reference_from, n - reference_from
    rate = min(1.0, most / max(mine, 1), 2 * most / max(n, 1))
    picked = [rng.choice(mine, size=min(mine, round(rate * mine)), replace=False),
              mine + rng.choice(theirs, size=min(theirs, round(rate * theirs)), replace=False)]
    return np.sort(np.concatenate(picked)), len(picked[0])


def _clusters(points: np.ndarray, labels: np.ndarray, quantile: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """Each fitted cluster's unit-normalised centroid and radius (float32)."""
    k = int(labels.max()) + 1 if len(labels) else 0
    centroids = _normalise(np.stack([points[labels == c].mean(0) for c in range(k)])) \
        if k else np.zeros((0, points.shape[1]), np.float32)
    radius = np.array([np.quantile(points[labels == c] @ centroids[c], quantile)
                       for c in range(k)], np.float32)
    return centroids.astype(np.float32), radius


def pca_axes(sample: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the `dims` principal axes of `sample` (float32): the top eigenvectors of
    its covariance, each signed so that its largest-magnitude entry is positive. This is
    scikit-learn's PCA with its covariance solver, to the bit, in this process: a few
    milliseconds of BLAS that releases the lock. (For a sample of fewer than ten rows per
    feature, under 3,840 sentences of 384 dimensions, scikit-learn's default picks a randomized
    solver instead; here the axes are always the exact ones.)"""
    x = np.asarray(sample, np.float32)
    mean = x.mean(0)
    cov = x.T @ x
    cov -= len(x) * mean[:, None] * mean[None, :]
    cov /= max(1, len(x) - 1)
    axes = np.linalg.eigh(cov)[1][:, ::-1][:, :dims].T
    signs = np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(1)])
    return mean, np.ascontiguousarray(axes * signs[:, None])


def plane(points: np.ndarray, seed: int, most: int = 2500) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D view of a sample of at most `most` of `points`: the sample's indices (ascending)
    and their coordinates on its first two principal axes."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(points), size=min(len(points), most), replace=False))
    if len(pick) <= 2:
        return pick, np.zeros((len(pick), 2))
    from sklearn.decomposition import PCA

    return pick, PCA(2, random_state=0).fit_transform(points[pick])


def hdbscan_labels(points: np.ndarray, size: int, samples: int) -> np.ndarray:
    import hdbscan

    return hdbscan.HDBSCAN(min_cluster_size=size, min_samples=samples,
                           core_dist_n_jobs=1).fit(points).labels_


def _load_libraries() -> None:
    """The fitting process's libraries, and BLAS there on one thread as in the audit's own
    process (the map's plane is a PCA)."""
    import hdbscan  # noqa: F401
    import sklearn.feature_extraction.text  # noqa: F401
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


class Fitter:
    """Where the clustering's scikit-learn and hdbscan work runs (`run`): in a spawned process
    of its own where a core is free for it (`spawn_pool`'s, which never runs the main module
    again). hdbscan's Boruvka loop holds the interpreter lock from
    start to end, so a fit in this process stalls the n-gram pass's thread for all of it (about
    3 s per 10,000 sentences); apart, it runs beside that thread while this one embeds the
    other sentences, and this process never imports scikit-learn (1.6 s that holds the lock
    too). The results are the same either way. Use it as a context: the process lasts as long
    as the context."""

    def __init__(self, processes: bool | None = None):
        self.processes = cores() >= 2 if processes is None else processes
        self._pool = None

    def __enter__(self) -> Fitter:
        if self.processes:
            self._pool = spawn_pool(1)
            self._pool.submit(_load_libraries)  # loads there while this process embeds
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def run(self, fn, *args):
        """Start fn(*args) (a module-level function); returns a function that waits for its
        result."""
        if self._pool is None:
            result = fn(*args)
            return lambda: result
        with _died():
            job = self._pool.submit(fn, *args)

        def result():
            with _died():
                return job.result()
        return result


@contextmanager
def _died():
    """A dead fitting process as one clear error."""
    try:
        yield
    except BrokenProcessPool:
        raise InputError("the clustering process died (out of memory?); run the audit again "
                         "with a smaller --fit-sample") from None


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
