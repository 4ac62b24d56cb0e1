r"""Label (node) embeddings: pre-trained word vectors, or a deterministic offline stand-in.

Emotion-GCN (and ML-GCN before it) feeds the GCN with the word embedding of every label; the
paper uses 300-d GloVe trained on Wikipedia (``glove.6B.300d.txt``). :func:`load_word_vectors`
reads such a file — GloVe text, word2vec text (with its ``"<count> <dim>"`` header) or word2vec
binary, optionally gzip-compressed — and embeds any list of words or phrases
(``"happily surprised"``: the mean of its tokens' vectors).

Without a file there are two deterministic offline sets, neither a language model and both the
same on every machine:

* ``offline:hash-v1`` (:func:`hash_word_vectors`) — **prior-free**: only the pseudo-random token
  vectors below. The models' default (``embeddings: null`` / ``word_vectors: null``), so the GCN
  rows of an ablation get no information that their linear baselines lack.
* ``offline:affect-hash-v1`` (:func:`offline_word_vectors`, what ``load_word_vectors(None, …)``
  returns) — **carries a hand-set affect prior**, selected in a model config with
  ``embeddings: offline:affect``. Only the graph rows (Emotion-GCN, SVML-RGCN) receive it, so
  it can inflate them against their baselines; use it knowingly and report it. It is:

* every token gets a pseudo-random vector ``N(0, 0.4^2)^d`` seeded by the SHA-256 of the token
  (distinct words are nearly orthogonal, like unrelated GloVe words);
* tokens of a small hand-made affect lexicon (basic/compound emotion words and their word
  forms, ``valence``, ``arousal``, ``dominance``) add a shared term ``P·[v, a, d]`` —
  hand-set valence/arousal/dominance coordinates in [-1, 1] after Russell's circumplex,
  through one fixed random projection ``P`` (d×3) — so ``happy``/``happiness``/``happily``
  are close, ``happy`` leans towards ``valence``, ``anger`` towards ``arousal``.

:func:`resolve_embeddings` maps a model's ``embeddings`` option (``None``, ``"offline:hash"``,
``"offline:affect"`` or a GloVe / word2vec file a user brings) to vectors. Which source a run
used is returned with the vectors; report it with any result.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

__all__ = ["AFFECT_LEXICON", "OFFLINE_PLAIN", "OFFLINE_SOURCE", "hash_word_vectors", "load_word_vectors",
           "offline_word_vectors", "resolve_embeddings", "tokenize"]

OFFLINE_SOURCE = "offline:affect-hash-v1"  # with the hand-set affect prior
OFFLINE_PLAIN = "offline:hash-v1"  # prior-free

# token -> (valence, arousal, dominance), hand-set in [-1, 1] (Russell's circumplex positions).
_VAD = {
    "neutral": (0.0, -0.2, 0.0),
    "happy": (0.8, 0.3, 0.4),
    "sad": (-0.7, -0.4, -0.4),
    "surprise": (0.2, 0.8, 0.0),
    "fear": (-0.6, 0.7, -0.6),
    "disgust": (-0.7, 0.3, 0.1),
    "anger": (-0.6, 0.8, 0.4),
    "contempt": (-0.5, 0.1, 0.5),
    "calm": (0.3, -0.7, 0.2),
    "excited": (0.6, 0.8, 0.3),
    "valence": (1.0, 0.0, 0.0),
    "arousal": (0.0, 1.0, 0.0),
    "dominance": (0.0, 0.0, 1.0),
}
_FORMS = {
    "neutral": ("neutral", "neutrality", "none"),
    "happy": ("happy", "happiness", "happily", "joy", "joyful", "joyfully", "smile", "happier"),
    "sad": ("sad", "sadness", "sadly", "sorrow", "unhappy"),
    "surprise": ("surprise", "surprised", "surprisingly", "astonished", "astonishment"),
    "fear": ("fear", "fearful", "fearfully", "afraid", "scared"),
    "disgust": ("disgust", "disgusted", "disgustedly", "disgusting"),
    "anger": ("anger", "angry", "angrily", "mad", "rage"),
    "contempt": ("contempt", "contemptuous", "contemptuously"),
    "calm": ("calm", "relaxed", "peaceful"),
    "excited": ("excited", "excitement"),
    "valence": ("valence", "pleasure", "pleasantness"),
    "arousal": ("arousal", "activation"),
    "dominance": ("dominance", "control"),
}
#: token -> (valence, arousal, dominance) of the affect term of ``offline:affect-hash-v1``
AFFECT_LEXICON: dict[str, tuple[float, float, float]] = {
    form: _VAD[key] for key, forms in _FORMS.items() for form in forms
}
_HASH_STD = 0.4
_AFFECT_SCALE = 1.0


def tokenize(phrase: str) -> list[str]:
    """Lower-cased tokens of a label: split on spaces, ``_``, ``-`` and ``/``."""
    return [t for t in re.split(r"[\s_\-/]+", phrase.strip().lower()) if t]


def _hash_vector(token: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(token.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng(seed).normal(0.0, _HASH_STD, dim)


def _projection(dim: int) -> np.ndarray:
    rng = np.random.default_rng(20210101)  # fixed: the same P for every call with this dim
    p = rng.normal(0.0, 1.0, (dim, 3))
    q, _ = np.linalg.qr(p)  # orthonormal columns: valence, arousal, dominance directions
    return q * np.sqrt(dim) * _HASH_STD  # each axis as long as a typical hash vector


def _offline(words: Sequence[str], dim: int, affect: bool) -> np.ndarray:
    proj = _projection(dim) if affect else None
    out = np.zeros((len(words), dim))
    for i, w in enumerate(words):
        toks = tokenize(w) or [w]
        vecs = []
        for t in toks:
            v = _hash_vector(t, dim)
            if proj is not None and t in AFFECT_LEXICON:
                v = v + _AFFECT_SCALE * proj @ np.asarray(AFFECT_LEXICON[t])
            vecs.append(v)
        out[i] = np.mean(vecs, 0)  # a phrase: the mean of its tokens
    return out.astype(np.float32)


def offline_word_vectors(words: Sequence[str], dim: int = 300) -> np.ndarray:
    """``offline:affect-hash-v1`` (see module docstring): token hashes **plus the hand-set affect
    prior**. ``(len(words), dim)`` float32, deterministic."""
    return _offline(words, dim, affect=True)


def hash_word_vectors(words: Sequence[str], dim: int = 300) -> np.ndarray:
    """``offline:hash-v1``: the prior-free token hashes only (each token ``N(0, 0.4²)^d`` seeded by
    its SHA-256; a phrase is the mean of its tokens). ``(len(words), dim)`` float32."""
    return _offline(words, dim, affect=False)


def resolve_embeddings(spec: str | os.PathLike | None, words: Sequence[str], dim: int = 300,
                       on_missing: str = "error") -> tuple[np.ndarray, str]:
    """A model's ``embeddings`` option as ``(vectors (len(words), d) float32, source)``.

    ``None``/``""``/``"offline:hash"`` → :func:`hash_word_vectors` (prior-free, the default);
    ``"offline:affect"`` → :func:`offline_word_vectors` (hand-set affect prior, explicit only);
    anything else is a word-vector file read by :func:`load_word_vectors` (e.g. the paper's
    ``glove.6B.300d.txt``, which the user brings).
    """
    key = "" if spec is None else str(spec)
    if key in ("", "offline:hash", OFFLINE_PLAIN):
        return hash_word_vectors(words, dim), f"{OFFLINE_PLAIN} (d={dim})"
    if key in ("offline:affect", OFFLINE_SOURCE):
        return offline_word_vectors(words, dim), f"{OFFLINE_SOURCE} (d={dim})"
    if key.startswith("offline:"):
        raise ValueError(f"unknown offline embeddings {key!r}: use 'offline:hash' (prior-free), "
                         "'offline:affect' (hand-set affect prior) or a GloVe/word2vec file")
    return load_word_vectors(key, words, dim=dim, on_missing=on_missing)


def _open(path: Path, binary: bool):
    if path.suffix == ".gz":
        return gzip.open(path, "rb" if binary else "rt", encoding=None if binary else "utf-8")
    return open(path, "rb") if binary else open(path, encoding="utf-8", errors="replace")


def _read_text(path: Path, wanted: set[str]) -> tuple[dict[str, np.ndarray], int, str]:
    found: dict[str, np.ndarray] = {}
    dim = 0
    fmt = "glove-text"
    with _open(path, binary=False) as f:
        for ln, line in enumerate(f):
            line = line.rstrip("\n").rstrip()
            if not line:
                continue
            if ln == 0:
                head = line.split()
                if len(head) == 2 and all(h.isdigit() for h in head):
                    dim, fmt = int(head[1]), "word2vec-text"
                    continue
            if dim == 0:
                dim = len(line.split(" ")) - 1
            parts = line.rsplit(" ", dim)  # GloVe 840B has a few words containing spaces
            if len(parts) != dim + 1:
                continue
            word = parts[0]
            if word in wanted and word not in found:
                found[word] = np.asarray(parts[1:], dtype=np.float64)
                if len(found) == len(wanted):
                    break
    return found, dim, fmt


def _read_word2vec_binary(path: Path, wanted: set[str]) -> tuple[dict[str, np.ndarray], int, str]:
    found: dict[str, np.ndarray] = {}
    with _open(path, binary=True) as f:
        count, dim = (int(x) for x in f.readline().split())
        nbytes = 4 * dim
        for _ in range(count):
            chars = bytearray()
            while True:
                ch = f.read(1)
                if ch == b" " or ch == b"":
                    break
                if ch != b"\n":
                    chars.extend(ch)
            vec = f.read(nbytes)
            if len(vec) < nbytes:
                break
            word = chars.decode("utf-8", errors="replace")
            if word in wanted and word not in found:
                found[word] = np.frombuffer(vec, dtype="<f4").astype(np.float64)
                if len(found) == len(wanted):
                    break
    return found, dim, "word2vec-binary"


def _is_binary(path: Path) -> bool:
    with _open(path, binary=True) as f:
        head = f.readline()
        chunk = f.read(4096)
    try:
        head.decode("ascii")
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _candidates(phrase: str) -> Iterable[str]:
    """Exact, then lower-case, then capitalised forms (word2vec files are case-sensitive)."""
    for form in (phrase, phrase.lower(), phrase.capitalize()):
        yield form
        yield form.replace(" ", "_")


def load_word_vectors(
    path: str | os.PathLike | None,
    words: Sequence[str],
    dim: int = 300,
    binary: bool | None = None,
    on_missing: str = "error",
) -> tuple[np.ndarray, str]:
    """Embed labels (words or phrases) with a word-vector file or the prior-carrying offline set.

    A phrase is looked up whole first (``"happily surprised"``, ``"happily_surprised"``, then
    lower-cased), else as the mean of its tokens (each exact, lower-case, then capitalised).
    The file is streamed and reading stops once every needed entry is found.

    Args:
        path: GloVe / word2vec text or word2vec binary file (``.gz`` allowed); ``None`` (or ``""``)
            → the prior-carrying offline set :data:`OFFLINE_SOURCE` of dimension ``dim`` (models
            go through :func:`resolve_embeddings`, whose default is prior-free).
        words: labels to embed, any length.
        dim: dimension of the offline set (a file's dimension is its own).
        binary: force word2vec binary (True) or text (False); None = detect.
        on_missing: a label none of whose forms/tokens is in the file: ``"error"`` (KeyError),
            ``"offline"`` (use the offline vector, rescaled to the file's mean norm) or ``"zero"``.

    Returns:
        ``(vectors, source)``: ``(len(words), d)`` float32 array and a string naming the source,
        e.g. ``"glove-text:/data/glove.6B.300d.txt (d=300)"`` or ``"offline:affect-hash-v1 (d=300)"``;
        labels filled by ``on_missing`` are listed in it.
    """
    words = list(words)
    if path is None or str(path) == "":
        return offline_word_vectors(words, dim), f"{OFFLINE_SOURCE} (d={dim})"
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"word-vector file not found: {path}")
    wanted: set[str] = set()
    for w in words:
        wanted.update(_candidates(w))
        for t in re.split(r"[\s_\-/]+", w.strip()):
            if t:
                wanted.update(_candidates(t))
    is_bin = _is_binary(path) if binary is None else binary
    found, d, fmt = (_read_word2vec_binary if is_bin else _read_text)(path, wanted)
    out = np.zeros((len(words), d))
    missing: list[int] = []
    for i, w in enumerate(words):
        whole = next((found[c] for c in _candidates(w) if c in found), None)
        if whole is not None:
            out[i] = whole
            continue
        toks = [t for t in re.split(r"[\s_\-/]+", w.strip()) if t]
        vecs = [next((found[c] for c in _candidates(t) if c in found), None) for t in toks]
        vecs = [v for v in vecs if v is not None]
        if vecs:
            out[i] = np.mean(vecs, 0)
        else:
            missing.append(i)
    source = f"{fmt}:{path} (d={d})"
    if missing:
        names = [words[i] for i in missing]
        if on_missing == "error":
            raise KeyError(f"{path}: no vector for {names} (use on_missing='offline' or 'zero')")
        if on_missing == "offline":
            fill = offline_word_vectors(names, d).astype(np.float64)
            ok = [i for i in range(len(words)) if i not in missing]
            if ok:
                target = np.linalg.norm(out[ok], axis=1).mean()
                fill *= target / np.linalg.norm(fill, axis=1, keepdims=True).clip(1e-12)
            out[missing] = fill
        elif on_missing != "zero":
            raise ValueError(f"on_missing must be 'error', 'offline' or 'zero', got {on_missing!r}")
        source += f"; {on_missing} for {names}"
    return out.astype(np.float32), source
