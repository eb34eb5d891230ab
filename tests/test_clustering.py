"""The cluster pass's clustering (fitted here or in a process apart) and its labels: class-based
TF-IDF terms of a family's sentences."""
from __future__ import annotations

import os
import random
import signal
import time
import zlib

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from traitforge.audit.clustering import (Fitter, cluster_texts, distinctive_terms, fit_indices,
                                         hdbscan_labels, pca_axes, plane)
from traitforge.audit.config import ClusterSettings
from traitforge.io import InputError


class _Embedder:
    """Three tight groups of sentences and scattered others, as vectors of 8 dimensions."""

    def encode(self, texts: list[str]) -> np.ndarray:
        out = []
        for t in texts:
            rng = np.random.default_rng(zlib.crc32(t.encode()))
            group = int(t.split()[0])
            centre = np.eye(8)[group] * 5 if group < 3 else rng.normal(0, 3, 8)
            out.append(centre + rng.normal(0, 0.1, 8))
        return np.asarray(out, np.float32)


def _texts() -> list[str]:
    return [f"{i % 5} sentence {i}" for i in range(600)]


def test_a_fit_in_a_process_apart_gives_the_clustering_and_terms_of_a_fit_here():
    settings = ClusterSettings(dims=4, fit_sample=400, chunk=64)
    here = cluster_texts(_texts(), _Embedder(), settings)
    docs, background = ["great question ! great", "happy to help"], "plain words here"
    with Fitter(processes=True) as fitter:
        apart = cluster_texts(_texts(), _Embedder(), settings, fitter=fitter)  # HDBSCAN there
        terms = fitter.run(distinctive_terms, docs, background)()
        pick, xy = fitter.run(plane, here.points, 0, 100)()
    assert terms == distinctive_terms(docs, background)
    assert np.array_equal(pick, plane(here.points, 0, 100)[0])
    assert np.array_equal(xy, plane(here.points, 0, 100)[1])
    assert len(set(here.labels[here.labels >= 0])) >= 3  # the three groups found
    assert np.array_equal(here.labels, apart.labels)
    assert np.array_equal(here.points, apart.points)
    assert np.array_equal(here.centroids, apart.centroids)
    assert np.array_equal(here.radius, apart.radius)


def test_a_fitting_process_that_dies_is_one_clear_error():
    for pause in (0.0, 0.5):  # seen dead when the labels are awaited, or already at submitting
        with Fitter(processes=True) as fitter:
            fitter.run(hdbscan_labels, np.zeros((30, 2)), 5, 5)()  # the process is up
            for pid in list(fitter._pool._processes):
                os.kill(pid, signal.SIGKILL)
            time.sleep(pause)
            with pytest.raises(InputError, match="the clustering process died"):
                fitter.run(hdbscan_labels, np.zeros((30, 2)), 5, 5)()


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


def test_an_audit_fits_apart_wherever_two_cores_are_free(monkeypatch):
    from traitforge.audit import clustering

    monkeypatch.setattr(clustering, "cores", lambda: 2)
    assert Fitter().processes
    monkeypatch.setattr(clustering, "cores", lambda: 1)
    assert not Fitter().processes


def test_the_map_plane_is_the_first_two_principal_axes_of_a_sample():
    from sklearn.decomposition import PCA

    points = np.random.default_rng(1).normal(size=(300, 4)) * [5, 2, 1, 0.5]
    pick, xy = plane(points, seed=3, most=100)
    assert len(pick) == 100 and np.all(np.diff(pick) > 0)  # a sample, each point once, in order
    assert np.allclose(np.abs(xy), np.abs(PCA(2).fit_transform(points[pick])))
    assert xy[:, 0].var() > xy[:, 1].var() > 0.5  # the widest axis first
    few, flat = plane(points[:2], seed=3)
    assert few.tolist() == [0, 1] and not flat.any()


def test_pca_axes_are_scikit_learns_covariance_pca():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(3)
    # tall; fewer than ten rows per feature; fewer rows than features (dims capped at n - 1)
    for n, d, dims in ((400, 24, 5), (30, 24, 5), (10, 24, 9)):
        x = (rng.normal(size=(n, d)) * rng.uniform(0.1, 3, d)).astype(np.float32)
        mean, axes = pca_axes(x, dims)
        pca = PCA(dims, svd_solver="covariance_eigh").fit(x)
        assert mean.dtype == axes.dtype == np.float32 and axes.shape == (dims, d)
        assert np.allclose(mean, pca.mean_) and np.allclose(axes, pca.components_, atol=1e-5)


def test_each_slot_s_cluster_findings_are_those_of_clustering_that_slot_alone(write_jsonl,
                                                                              monkeypatch):
    """Both slots are clustered before either's findings are made (a slot's terms worked out
    apart while the next is embedded); each slot's findings must be those of an audit that
    clusters that slot alone."""
    from tests.test_discovery import generate
    from traitforge.audit import AuditConfig, run_audit
    from traitforge.audit.passes import clusters

    rows, _ = generate(600, 3, 0.3)
    for k, row in enumerate(rows):  # a stock closer in a third of the replies
        if k % 3 == 0:
            row["messages"][1]["content"] += " Hope this helps, and good luck with it!"
    config = AuditConfig(corpus=str(write_jsonl("c.jsonl", rows)), ngrams=False,
                         templates=False, builtin=False)
    made, find = [], clusters.cluster_findings

    def recording(*args, **kwargs):  # as the pass made them, before the audit merges them
        found, maps = find(*args, **kwargs)
        made.append([(f.slot, f.id, f.label, f.units.tolist(), f.spans.tolist()) for f in found])
        return found, maps

    def seen(slots: tuple[str, ...]) -> list[tuple]:
        monkeypatch.setattr(clusters, "EMBEDDED", slots)
        run_audit(config)
        return made[-1]

    monkeypatch.setattr(clusters, "cluster_findings", recording)

    both = seen(("opening", "closing"))
    assert {f[0] for f in both} == {"opening", "closing"}
    assert both == seen(("opening",)) + seen(("closing",))


def test_a_fit_sample_draws_the_corpus_and_the_reference_at_one_rate():
    """With a reference, both sides at one rate (neither likelier to shape the clusters), the
    highest that keeps the corpus's part within `most` and the whole within twice that."""
    def parts(n, reference_from, most):
        fit, mine = fit_indices(n, reference_from, most)
        assert np.all(np.diff(fit) > 0) and mine == int((fit < (reference_from or n)).sum())
        return mine, len(fit) - mine

    assert parts(1000, None, 300) == (300, 0)
    assert parts(1000, 500, 300) == (300, 300)
    assert parts(1000, 400, 300) == (240, 360)  # the whole bounds it: 600 of 1000
    assert parts(1000, 900, 300) == (300, 33)  # the corpus's part bounds it
    assert parts(1000, 100, 300) == (60, 540)  # a small corpus beside a large reference
    assert parts(300, 100, 300) == (100, 200)  # all of both
    # without a reference, the sample is the one a uniform draw of `most` gives, as before
    rng = np.random.default_rng(7)
    assert np.array_equal(fit_indices(1000, None, 300, seed=7)[0],
                          np.sort(rng.choice(1000, size=300, replace=False)))


def test_the_pass_counts_its_embedding_steps_as_it_takes_them(write_jsonl, monkeypatch):
    """The progress bar's total is the chunks the pass embeds: per slot, the fit sample (both
    sides at one rate), then the rest a chunk at a time."""
    from tests.test_discovery import generate
    from traitforge.audit import AuditConfig, run_audit
    from traitforge.audit.passes import clusters

    rows, _ = generate(400, 3, 0.3)
    ref, _ = generate(700, 5, 0.0)
    config = AuditConfig(corpus=str(write_jsonl("c.jsonl", rows)),
                         reference=str(write_jsonl("r.jsonl", ref)), ngrams=False,
                         templates=False, builtin=False,
                         clustering=ClusterSettings(fit_sample=1000, chunk=100))
    planned, taken = [], [0]
    steps, fit = clusters._embedding_steps, clusters.cluster_texts
    monkeypatch.setattr(clusters, "_embedding_steps",
                        lambda *a: planned.append(steps(*a)) or planned[-1])

    def counting(texts, embedder, settings, seed, step, *rest):
        def counted(advance=1):
            taken[0] += advance
            step(advance)
        return fit(texts, embedder, settings, seed, counted, *rest)

    monkeypatch.setattr(clusters, "cluster_texts", counting)
    run_audit(config)
    assert len(planned) == 1 and planned[0] == taken[0] > 2
