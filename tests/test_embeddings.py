"""Word-vector loading (GloVe text, word2vec text/binary) and the offline default."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from afg.embeddings import OFFLINE_SOURCE, load_word_vectors, offline_word_vectors

VOCAB = {
    "happy": [1.0, 0.0, 0.5],
    "sad": [-1.0, 0.5, 0.0],
    "surprised": [0.0, 2.0, 1.0],
    "Anger": [3.0, 3.0, 3.0],
    "happily": [0.5, 0.5, 0.5],
    "happily_surprised": [9.0, 9.0, 9.0],
}


def _glove(path):
    path.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in VOCAB.items()))
    return path


def test_glove_text_words_and_phrases(tmp_path):
    p = _glove(tmp_path / "glove.txt")
    vec, src = load_word_vectors(p, ["happy", "sad", "happily surprised", "sad surprised", "anger"])
    assert vec.dtype == np.float32 and vec.shape == (5, 3)
    assert src.startswith("glove-text:") and "d=3" in src
    np.testing.assert_allclose(vec[0], VOCAB["happy"])
    np.testing.assert_allclose(vec[2], VOCAB["happily_surprised"])  # whole phrase wins
    np.testing.assert_allclose(vec[3], np.mean([VOCAB["sad"], VOCAB["surprised"]], 0))  # token mean
    np.testing.assert_allclose(vec[4], VOCAB["Anger"])  # token lookup falls back to exact case


def test_word2vec_text_and_binary_and_gzip(tmp_path):
    words = list(VOCAB)
    txt = tmp_path / "w2v.txt"
    txt.write_text(f"{len(words)} 3\n" + "".join(f"{w} {' '.join(map(str, VOCAB[w]))}\n" for w in words))
    binf = tmp_path / "w2v.bin"
    with open(binf, "wb") as f:
        f.write(f"{len(words)} 3\n".encode())
        f.writelines(w.encode() + b" " + np.asarray(VOCAB[w], dtype="<f4").tobytes() + b"\n" for w in words)
    gz = tmp_path / "glove.txt.gz"
    with gzip.open(gz, "wt") as f:
        f.write("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in VOCAB.items()))
    query = ["sad", "surprised", "happy"]
    expected = np.array([VOCAB[w] for w in query])
    for path, fmt in [(txt, "word2vec-text"), (binf, "word2vec-binary"), (gz, "glove-text")]:
        vec, src = load_word_vectors(path, query)
        assert src.startswith(fmt + ":"), src
        np.testing.assert_allclose(vec, expected, rtol=1e-6)


def test_missing_words(tmp_path):
    p = _glove(tmp_path / "glove.txt")
    with pytest.raises(KeyError, match="valence"):
        load_word_vectors(p, ["happy", "valence"])
    vec, src = load_word_vectors(p, ["happy", "valence"], on_missing="zero")
    assert not vec[1].any() and "valence" in src
    vec, src = load_word_vectors(p, ["happy", "valence"], on_missing="offline")
    assert np.linalg.norm(vec[1]) == pytest.approx(np.linalg.norm(vec[0]), rel=1e-5)
    with pytest.raises(FileNotFoundError):
        load_word_vectors(tmp_path / "nope.txt", ["happy"])


def test_offline_default_is_deterministic_and_affective():
    words = ["neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "valence", "arousal"]
    a, src = load_word_vectors(None, words)
    b = offline_word_vectors(words, 300)
    assert src == f"{OFFLINE_SOURCE} (d=300)" and a.shape == (9, 300) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert load_word_vectors(None, ["x", "y"], dim=16)[0].shape == (2, 16)

    def cos(u, v):
        return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))

    e = dict(zip(words, a))
    happiness, table = offline_word_vectors(["happiness", "table"])
    assert cos(e["happy"], happiness) > 0.3 > abs(cos(e["happy"], table))  # word forms share a term
    assert cos(e["happy"], e["valence"]) > 0.2 > cos(e["sad"], e["valence"])
    assert cos(e["anger"], e["arousal"]) > 0.2
    # phrases: mean of tokens, so a compound lies between its parts
    comp = offline_word_vectors(["happily surprised"])[0]
    assert cos(comp, e["happy"]) > 0.3 and cos(comp, e["surprise"]) > 0.3
