"""dualfilter.text: vocabulary, encode/decode, the corpus split and the n-gram baselines."""

from collections import Counter

import numpy as np
import pytest

from dualfilter import text


def test_vocabulary():
    assert text.N_TOKENS == len(text.VOCABULARY) == len(set(text.VOCABULARY)) == 55
    assert text.VOCABULARY[text.OTHER] == text.OTHER_SYMBOL
    assert text.VOCABULARY[:2] == " \n"
    assert len(text.labels()) == text.N_TOKENS


def test_encode_folds_case_and_typography_and_round_trips():
    z = text.encode("Hello, World “quoted” it’s — x")
    assert text.decode(z) == "hello, world \"quoted\" it's - x"
    np.testing.assert_array_equal(text.encode(text.decode(z)), z)
    every = np.arange(text.N_TOKENS)
    np.testing.assert_array_equal(text.encode(text.decode(every)), every)
    assert text.encode("").shape == (0,)


def test_unknown_characters():
    with pytest.raises(ValueError, match=r"character ';' \(U\+003B\) at position 3 of text"):
        text.encode("abc;d")
    z = text.encode("abc;dé\t", unknown="other")
    assert text.decode(z) == "abc¤d¤¤"
    with pytest.raises(ValueError, match="unknown must be"):
        text.encode("abc", unknown="ignore")
    with pytest.raises(ValueError, match="text must be a str"):
        text.encode(b"abc")


def test_decode_refuses_bad_tokens():
    with pytest.raises(ValueError, match="token 55 at position 1 is outside"):
        text.decode([0, 55])
    with pytest.raises(ValueError, match="must be integers"):
        text.decode([0.0, 1.0])
    with pytest.raises(ValueError, match=r"shape \(T,\)"):
        text.decode([[0, 1]])


def test_corpus_and_split():
    topics = text.corpus()
    assert len(topics) > 50 and list(topics) == sorted(topics)
    total = sum(len(t) for t in topics.values())
    assert 300_000 < total < 1_000_000
    train, heldout, train_names, heldout_names = text.split()
    assert sorted(train_names + heldout_names) == list(topics)
    assert all(text.is_heldout(n) for n in heldout_names)
    assert not any(text.is_heldout(n) for n in train_names)
    share = sum(map(len, heldout)) / total
    assert 0.05 < share < 0.15
    for seq, name in zip(train, train_names):
        np.testing.assert_array_equal(seq, text.encode(topics[name], unknown="other"))
    everything = np.concatenate(train + heldout)
    assert np.mean(everything == text.OTHER) < 0.005        # the documented 0.3 %
    assert len(text.corpus_sha256()) == 64


def test_windows():
    w = text.windows([np.arange(5), np.arange(7)], 4)
    np.testing.assert_array_equal(w, [[0, 1, 2, 3], [4, 0, 1, 2], [3, 4, 5, 6]])
    with pytest.raises(ValueError, match="fewer than one window"):
        text.windows([np.arange(3)], 4)
    with pytest.raises(ValueError, match="length must be a positive integer"):
        text.windows([np.arange(3)], 0)


def _kn_oracle(train, seq, order, n, D):
    """Interpolated Kneser-Ney, by counting with dictionaries (the docstring's formulas)."""
    counts = {}
    for k in range(1, order + 1):
        c = Counter()
        seen = set()                     # distinct (predecessor, h, z) over all sequences
        for s in train:
            s = list(s)
            if k == order:
                for i in range(len(s) - k + 1):
                    c[tuple(s[i:i + k])] += 1
            else:
                padded = [None] + s
                for i in range(len(padded) - k):
                    seen.add(tuple(padded[i:i + k + 1]))
        for gram in seen:
            c[gram[1:]] += 1
        counts[k] = c

    def prob(k, h, z):
        if k == 0:
            return 1.0 / n
        lower = prob(k - 1, h[1:], z)
        row = {y: counts[k].get(h + (y,), 0) for y in range(n)}
        total = sum(row.values())
        if total == 0:
            return lower
        types = sum(v > 0 for v in row.values())
        return (max(row[z] - D, 0) + D * types * lower) / total

    out = np.empty((len(seq) + 1, n))
    for t in range(len(seq) + 1):
        k = min(order, t + 1)
        h = tuple(seq[t - k + 1:t]) if k > 1 else ()
        out[t] = [prob(k, h, z) for z in range(n)]
    return out


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_ngram_probs_match_a_dictionary_oracle(order):
    rng = np.random.default_rng(order)
    n = 5
    train = [rng.integers(0, n - 1, size=L) for L in (60, 25, 3)]    # token 4 never occurs
    query = np.stack([rng.integers(0, n, size=12) for _ in range(3)])
    got = text.ngram_probs(train, query, order, n, discount=0.6)
    assert got.shape == (3, 13, n)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-14)
    assert got.min() > 0
    for b in range(3):
        np.testing.assert_allclose(got[b], _kn_oracle(train, list(query[b]), order, n, 0.6),
                                   atol=1e-14)
    np.testing.assert_array_equal(text.ngram_probs(train, query[0], order, n, discount=0.6),
                                  got[0])


def test_ngram_bad_input():
    with pytest.raises(ValueError, match="order must be a positive integer"):
        text.ngram_probs([[0, 1]], [0], 0, 2)
    with pytest.raises(ValueError, match="discount must lie in"):
        text.ngram_probs([[0, 1]], [0], 1, 2, discount=1.0)
    with pytest.raises(ValueError, match="tokens has a token outside"):
        text.ngram_probs([[0, 1]], [0, 2], 1, 2)
