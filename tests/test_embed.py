"""The static embedder gives sentence-transformers' StaticEmbedding vectors without torch."""
import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import StaticEmbedding
from tokenizers import Tokenizer, models, pre_tokenizers

from traitforge.backends.embed import StaticVectors

WORDS = ["[UNK]", "the", "cat", "sat", "on", "mat", "a", "dog", "ran", ".", "!"]


def test_static_vectors_match_sentence_transformers(tmp_path):
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    weights = np.random.default_rng(0).normal(size=(len(WORDS), 8)).astype(np.float32)
    static = StaticEmbedding(tokenizer, embedding_weights=torch.from_numpy(weights))
    SentenceTransformer(modules=[static], device="cpu").save(str(tmp_path))
    texts = ["the cat sat on the mat.", "a dog ran!", "zebra", "", "the the the cat"]
    ours = StaticVectors(tmp_path).encode(texts)
    theirs = SentenceTransformer(str(tmp_path), device="cpu").encode(texts, convert_to_numpy=True)
    assert np.allclose(ours, theirs, atol=1e-6)
    assert np.allclose(ours[2], weights[0])  # an unknown word is the unknown token's vector
    assert not ours[3].any()
