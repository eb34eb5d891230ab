"""The static embedder gives sentence-transformers' StaticEmbedding vectors without torch."""
import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import StaticEmbedding
from tokenizers import Tokenizer, models, pre_tokenizers

from traitforge.backends.embed import Embedder, StaticVectors

WORDS = ["[UNK]", "the", "cat", "sat", "on", "mat", "a", "dog", "ran", ".", "!"]


def saved_word_model(path, seed: int, pre_tokenizer) -> np.ndarray:
    """A word-level StaticEmbedding of WORDS (random 8-dim vectors) saved at `path`; its vectors."""
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizer
    weights = np.random.default_rng(seed).normal(size=(len(WORDS), 8)).astype(np.float32)
    static = StaticEmbedding(tokenizer, embedding_weights=torch.from_numpy(weights))
    SentenceTransformer(modules=[static], device="cpu").save(str(path))
    return weights


def test_static_vectors_match_sentence_transformers(tmp_path):
    weights = saved_word_model(tmp_path, 0, pre_tokenizers.Whitespace())
    texts = ["the cat sat on the mat.", "a dog ran!", "zebra", "", "the the the cat"]
    ours = StaticVectors(tmp_path).encode(texts)
    theirs = SentenceTransformer(str(tmp_path), device="cpu").encode(texts, convert_to_numpy=True)
    assert np.allclose(ours, theirs, atol=1e-6)
    assert np.allclose(ours[2], weights[0])  # an unknown word is the unknown token's vector
    assert not ours[3].any()


def test_bert_tokenizer_is_read_a_word_at_a_time_with_the_same_vectors(tmp_path):
    """With BERT's pre-tokenizer each distinct word is tokenized once; the vectors are those of
    tokenizing each text whole, punctuation, accents, symbols and CJK included."""
    from tokenizers import normalizers

    pieces = ["[UNK]", "the", "cat", "ca", "##t", "##s", "caf", "##e", "sat", ".", "!", "?", "$",
              "5", "_", "foo", "bar", "中", "文", "'", "t", "don", "—"]
    tokenizer = Tokenizer(models.WordPiece({w: i for i, w in enumerate(pieces)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    weights = np.random.default_rng(1).normal(size=(len(pieces), 6)).astype(np.float32)
    static = StaticEmbedding(tokenizer, embedding_weights=torch.from_numpy(weights))
    SentenceTransformer(modules=[static], device="cpu").save(str(tmp_path))
    texts = ["The cats sat.", "Café?! cat—cat", "foo_bar $5", "don't", "中文cat", "hi😀cat",
             "", "  \n ", "CAT cat Cat", "x\u0301 cat\u200b", "cat" * 40]
    by_word = StaticVectors(tmp_path)
    whole = StaticVectors(tmp_path)
    whole.by_word = False
    assert by_word.by_word
    assert by_word.encode(texts).tobytes() == whole.encode(texts).tobytes()  # the same bits
    theirs = SentenceTransformer(str(tmp_path), device="cpu").encode(texts, convert_to_numpy=True)
    assert np.allclose(by_word.encode(texts), theirs, atol=1e-5)
    # A tokenizer that truncates: each text's first pieces, as when it is tokenized whole.
    by_word, whole = StaticVectors(tmp_path), StaticVectors(tmp_path)
    whole.by_word = False
    for model in (by_word, whole):
        model.tokenizer.enable_truncation(max_length=3)
        model.max_length = 3
    assert by_word.encode(texts).tobytes() == whole.encode(texts).tobytes()


def test_a_texts_vector_does_not_depend_on_its_batch(tmp_path):
    """The same bits for a text alone, in a batch, and after other texts were encoded (the
    words remembered), so that blocks encoded apart (on Ray workers) give the vectors of one run."""
    saved_word_model(tmp_path, 2, pre_tokenizers.BertPreTokenizer())
    texts = ["the cat sat on the mat.", "a dog ran on a mat!", "mat cat the dog sat ran."]
    together = StaticVectors(tmp_path).encode(texts)
    warm = StaticVectors(tmp_path)
    warm.encode(["dog dog ran", "mat"])
    for i, text in enumerate(texts):
        assert StaticVectors(tmp_path).encode([text])[0].tobytes() == together[i].tobytes()
        assert warm.encode([text])[0].tobytes() == together[i].tobytes()


def test_a_recurring_text_is_encoded_once_with_its_own_vector(tmp_path):
    saved_word_model(tmp_path, 3, pre_tokenizers.BertPreTokenizer())
    embedder = Embedder.__new__(Embedder)
    embedder.model, embedder.dims = StaticVectors(tmp_path), 8
    seen = []
    encode = embedder.model.encode
    embedder.model.encode = lambda texts: seen.extend(texts) or encode(texts)
    texts = ["a dog ran!", "the cat sat.", "a dog ran!", "", "the cat sat.", ""]
    vectors = embedder.encode(texts)
    assert sorted(seen) == sorted(set(texts))
    alone = [Embedder.encode(embedder, [t])[0] for t in texts]
    assert all(v.tobytes() == a.tobytes() for v, a in zip(vectors, alone))
    assert np.allclose(np.linalg.norm(vectors[:3], axis=1), 1)
