"""Characters as tokens: the vocabulary, the corpus and the n-gram baselines of chapter 13.

The vocabulary
--------------
``VOCABULARY`` lists the 55 symbols, token z being ``VOCABULARY[z]``: space, newline, the 26
lower-case letters, the 10 digits, 16 punctuation marks, and a last token ``OTHER`` that
stands for every other character. Text is folded before it is encoded:

- case: every character is replaced by its lower-case form (when that is one character;
  ``"A" -> "a"``);
- typography: curly quotes become straight ones (``’ ‘ -> '``, ``“ ” -> "``) and en and em
  dashes become ``-``;
- rare symbols: any other character (``;``, ``<``, ``{``, ``/``, ``é``, a tab, ...) is an error
  for :func:`encode` unless ``unknown="other"`` maps it to the token ``OTHER``, which
  decodes to ``OTHER_SYMBOL`` (``"¤"``).

The punctuation marks kept are those that occur at least 500 times in the corpus; together
the folded-away characters are 0.3 % of it.

The corpus
----------
The prose of Python's own reference documentation, shipped with the standard library as
``pydoc_data.topics`` (about 465,000 characters in Python 3.11; its text varies a little
between Python versions, which :func:`corpus_sha256` identifies). Nothing is downloaded. Its
79 topics (``"assert"``, ``"assignment"``, ...) are split, once and for all, into training
and held-out topics: a topic is held out when the SHA-256 digest of its name, read as an
integer, is divisible by 10 (10 topics, 9.7 % of the characters in Python 3.11). The rule
depends on the topic's name only, not on the Python version's list of topics.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ._validate import ArgumentTypeError, _integer_array, check_int, check_real

__all__ = [
    "VOCABULARY",
    "OTHER",
    "OTHER_SYMBOL",
    "N_TOKENS",
    "fold",
    "encode",
    "decode",
    "labels",
    "corpus",
    "corpus_sha256",
    "is_heldout",
    "split",
    "windows",
    "ngram_probs",
]

OTHER_SYMBOL = "¤"
VOCABULARY = (
    " \n"
    + "abcdefghijklmnopqrstuvwxyz"
    + "0123456789"
    + "-\"_.*,=():|'>+[]"
    + OTHER_SYMBOL
)
OTHER = len(VOCABULARY) - 1
N_TOKENS = len(VOCABULARY)

_TYPOGRAPHY = {"’": "'", "‘": "'", "“": '"', "”": '"', "—": "-", "–": "-"}
_INDEX = {ch: z for z, ch in enumerate(VOCABULARY)}


def fold(text: str) -> str:
    """The text with the case and typographic folding of the module docstring applied.

    Each character is folded on its own, so the result has the length of ``text``.
    """
    if not isinstance(text, str):
        raise ArgumentTypeError(f"text must be a str, got {type(text).__name__}")
    out = []
    for ch in text:
        low = ch.lower()
        ch = low if len(low) == 1 else ch
        out.append(_TYPOGRAPHY.get(ch, ch))
    return "".join(out)


def encode(text: str, *, unknown: str = "error") -> np.ndarray:
    """Tokens of a text: fold it, then map each character to its index in ``VOCABULARY``.

    Parameters
    ----------
    text : str
    unknown : {"error", "other"}
        What to do with a character that is not in the vocabulary after folding: raise
        ValueError (default), or map it to the token ``OTHER``.

    Returns
    -------
    ndarray of int64, shape (len(text),)

    Raises
    ------
    ValueError
        For a character outside the vocabulary (with ``unknown="error"``); the message names
        the character, its code point and its position.
    """
    if unknown not in ("error", "other"):
        raise ValueError(f'unknown must be "error" or "other", got {unknown!r}')
    folded = fold(text)
    tokens = np.empty(len(folded), dtype=np.int64)
    for t, ch in enumerate(folded):
        z = _INDEX.get(ch)
        if z is None:
            if unknown == "error":
                raise ValueError(
                    f"character {text[t]!r} (U+{ord(text[t]):04X}) at position {t} of text is "
                    f"not in the vocabulary; encode(text, unknown=\"other\") maps it to the "
                    f"token OTHER ({OTHER_SYMBOL!r})"
                )
            z = OTHER
        tokens[t] = z
    return tokens


def decode(tokens) -> str:
    """The text of a sequence of tokens (``OTHER`` decodes to ``OTHER_SYMBOL``).

    Parameters
    ----------
    tokens : array_like of int, shape (T,)

    Returns
    -------
    str of length T

    Raises
    ------
    ValueError
        For tokens that are not integers, not one-dimensional, or outside 0..N_TOKENS-1.
    """
    arr = _integer_array(tokens, "tokens")
    if arr.ndim != 1:
        raise ValueError(f"tokens must have shape (T,), got {arr.shape}")
    bad = np.flatnonzero((arr < 0) | (arr >= N_TOKENS))
    if bad.size:
        raise ValueError(
            f"token {int(arr[bad[0]])} at position {int(bad[0])} is outside the vocabulary "
            f"0..{N_TOKENS - 1}"
        )
    return "".join(VOCABULARY[z] for z in arr.tolist())


def labels() -> list[str]:
    """Printable labels of the tokens for figures: space as "␣", newline as "⏎"."""
    return ["␣", "⏎"] + list(VOCABULARY[2:])


def corpus() -> dict[str, str]:
    """The topics of ``pydoc_data.topics``, name -> raw text, sorted by name."""
    from pydoc_data.topics import topics

    return {name: topics[name] for name in sorted(topics)}


def corpus_sha256() -> str:
    """SHA-256 (hex) of the corpus: topic names and texts in order, UTF-8.

    Identifies the Python version's corpus (the stored models of chapter 13 were fitted to
    one of them).
    """
    digest = hashlib.sha256()
    for name, text in corpus().items():
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


def is_heldout(name: str) -> bool:
    """Whether a topic is held out: the SHA-256 of its name is divisible by 10."""
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 10 == 0


def split() -> tuple[list[np.ndarray], list[np.ndarray], list[str], list[str]]:
    """The fixed train / held-out split of the corpus, encoded (``unknown="other"``).

    Returns
    -------
    train, heldout : list of ndarray of int64
        One sequence per topic, in order of topic name.
    train_names, heldout_names : list of str
        The topic names.
    """
    train, heldout, train_names, heldout_names = [], [], [], []
    for name, text in corpus().items():
        tokens = encode(text, unknown="other")
        if is_heldout(name):
            heldout.append(tokens)
            heldout_names.append(name)
        else:
            train.append(tokens)
            train_names.append(name)
    return train, heldout, train_names, heldout_names


def windows(sequences, length) -> np.ndarray:
    """The sequences concatenated and cut into consecutive windows of ``length`` tokens.

    Parameters
    ----------
    sequences : list of array_like of int
    length : int >= 1

    Returns
    -------
    ndarray of int64, shape (B, length)
        B = (total length) // length; the last incomplete window is dropped.
    """
    length = check_int(length, "length", low=1)
    flat = np.concatenate([_integer_array(s, "sequences").reshape(-1) for s in sequences])
    B = flat.size // length
    if B == 0:
        raise ValueError(f"the sequences hold {flat.size} tokens, fewer than one window of "
                         f"length {length}")
    return np.ascontiguousarray(flat[: B * length].reshape(B, length), dtype=np.int64)


# ------------------------------------------------------------------ n-gram baselines
def _codes(seq: np.ndarray, k: int, base: int) -> np.ndarray:
    """Integer codes of the k-grams of seq (positions k-1..T-1), shape (T-k+1,)."""
    code = np.zeros(seq.size - k + 1, dtype=np.int64)
    for i in range(k):
        code = code * base + seq[i: seq.size - k + 1 + i]
    return code


def ngram_probs(train, tokens, order, n_tokens, *, discount=0.75) -> np.ndarray:
    """Next-token laws of the interpolated Kneser-Ney n-gram model (Kneser and Ney 1995).

    The model of order n predicts token t from the n - 1 tokens before it (fewer at the start
    of a sequence: it never looks before position 0). With the discount D, for a context h of
    length k - 1 and c_k(h, z) the counts of order k,

        P_k(z | h) = max(c_k(h, z) - D, 0) / c_k(h) + D N_k(h) / c_k(h) P_{k-1}(z | h'),

    h' the context without its first token, c_k(h) = sum_z c_k(h, z), N_k(h) the number of
    z with c_k(h, z) > 0, and P_k = P_{k-1} where c_k(h) = 0. The counts of the highest order
    are the occurrences of (h, z) in ``train``; those of the lower orders are continuation
    counts, the number of distinct tokens (or sequence starts) that precede (h, z)
    (Chen and Goodman 1999). P_0 is uniform, so every token has positive probability.
    Order 1 is the (discounted) unigram model, order 2 the bigram model.

    Parameters
    ----------
    train : list of array_like of int
        Training sequences (n-grams never straddle two of them).
    tokens : array_like of int, shape (T,) or (B, T)
        Sequences to predict.
    order : int >= 1
    n_tokens : int >= 1
    discount : float in (0, 1)

    Returns
    -------
    ndarray, shape (T+1, n_tokens) or (B, T+1, n_tokens)
        Row t is the law of token t given the tokens before it (row T: the next token).

    Raises
    ------
    ValueError
        For tokens outside 0..n_tokens-1 or a bad order or discount.
    """
    order = check_int(order, "order", low=1)
    n_tokens = check_int(n_tokens, "n_tokens", low=1)
    discount = check_real(discount, "discount")
    if not 0.0 < discount < 1.0:
        raise ValueError(f"discount must lie in (0, 1), got {discount!r}")
    train = [np.asarray(_integer_array(s, "train"), dtype=np.int64).reshape(-1) for s in train]
    query = _integer_array(tokens, "tokens")
    if query.ndim not in (1, 2):
        raise ValueError(f"tokens must have shape (T,) or (B, T), got {query.shape}")
    for name, arrays in (("train", train), ("tokens", [query.reshape(-1)])):
        for a in arrays:
            if a.size and (a.min() < 0 or a.max() >= n_tokens):
                raise ValueError(f"{name} has a token outside 0..{n_tokens - 1}")
    batch = query.reshape(-1, query.shape[-1]).astype(np.int64)
    B, T = batch.shape
    base = n_tokens + 1                  # token n_tokens marks "start of sequence"
    # contexts of every query position: padded[b, t + order - 1 - i] is token t - i
    padded = np.full((B, T + order - 1), n_tokens, dtype=np.int64)
    padded[:, order - 1:] = batch
    probs = np.full((B, T + 1, n_tokens), 1.0 / n_tokens)
    for k in range(1, order + 1):
        keys, counts = _order_counts(train, k, k == order, n_tokens, base)
        # context code (tokens t-k+1..t-1) of each query position t = 0..T
        ctx = np.zeros((B, T + 1), dtype=np.int64)
        for j in range(k - 1):
            ctx = ctx * base + padded[:, order - k + j: order - k + j + T + 1]
        # positions t < k - 1 see fewer than k - 1 tokens: they keep the lower order
        valid = np.arange(T + 1)[None, :] >= k - 1
        uctx, inverse = np.unique(ctx, return_inverse=True)
        where = np.minimum(np.searchsorted(uctx, keys // base), uctx.size - 1)
        hit = uctx[where] == keys // base
        dense = np.zeros((uctx.size, n_tokens))
        np.add.at(dense, (where[hit], keys[hit] % base), counts[hit])
        table = dense[inverse.reshape(ctx.shape)]     # (B, T+1, n_tokens): c_k(h, .)
        total = table.sum(axis=-1, keepdims=True)
        types = (table > 0).sum(axis=-1, keepdims=True)
        seen = (total > 0) & valid[..., None]
        safe = np.where(total > 0, total, 1.0)
        interpolated = (np.maximum(table - discount, 0.0) + discount * types * probs) / safe
        probs = np.where(seen, interpolated, probs)
    return probs[0] if query.ndim == 1 else probs


def _order_counts(train, k, highest, n_tokens, base):
    """Sorted keys code(h) * base + z of the k-grams (h, z) of train and their counts
    (occurrences if ``highest``, else continuation counts)."""
    keys = []
    for seq in train:
        if highest:
            if seq.size >= k:
                keys.append(_codes(seq, k, base))
        else:
            padded = np.concatenate([[n_tokens], seq])     # a start precedes the first token
            if padded.size >= k + 1:
                keys.append(_codes(padded, k + 1, base))
    if not keys:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    keys = np.concatenate(keys)
    if not highest:
        keys = np.unique(keys) % base**k          # distinct (x, h, z), then drop x
    keys, counts = np.unique(keys, return_counts=True)
    return keys, counts.astype(float)
