"""Argument checks at the package's public boundary (private module).

Every public function validates its arguments once, with the functions below, and then calls
private functions and numba kernels that trust their arrays. Each check returns the argument
in the form the kernels need (a C-contiguous float64 or int64 array, a Python int, float or
bool) or raises an exception whose message names the argument:

- :class:`ArgumentTypeError` when the argument is of the wrong kind altogether (not an
  ``HMM``, a string where a number is needed, a float where an integer is needed, a non-bool
  flag). It subclasses both ``TypeError`` (Python's convention) and ``ValueError`` (the
  package's promise: every bad argument raises ValueError), as numpy's ``AxisError`` does;
- ``ValueError`` when it has the right kind but a wrong value (a shape, a NaN, a negative
  entry, a row that does not sum to one, a token outside the vocabulary or of zero
  probability, a size that would not fit in memory).

Where an argument of the wrong kind is one that numpy would silently convert (a complex
array, a string flag, ``True`` for a number), it is refused, never converted.
"""

from __future__ import annotations

import numbers
import operator

import numpy as np

ROW_SUM_TOLERANCE = 1e-9
MAX_ARRAY_BYTES = 2**32  # 4 GiB: the largest single array a call may allocate


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type: both a TypeError and a ValueError."""


def check_array_size(shape, name: str, itemsize: int = 8) -> None:
    """Raise ValueError if an array of ``shape`` would take more than MAX_ARRAY_BYTES.

    Called before a call allocates an array whose size its arguments choose (a horizon, a
    number of states, a number of layers kept), so that a huge argument gets a clear message
    instead of a MemoryError or an hour of swapping.
    """
    n = 1
    for s in shape:
        n *= int(s)
    if n * itemsize > MAX_ARRAY_BYTES:
        dims = " x ".join(str(int(s)) for s in shape)
        raise ValueError(
            f"{name} would need an array of {dims} entries ({n * itemsize / 2**30:.3g} GiB), more "
            f"than the {MAX_ARRAY_BYTES / 2**30:g} GiB this package allocates in one array"
        )


def as_real_array(x, name: str, ndim: int | None = None, *, copy: bool = True) -> np.ndarray:
    """``x`` as a C-contiguous float64 array (a copy unless ``copy=False``), checked finite.

    Raises ValueError for a complex, string or object array, a ragged nested list, a wrong
    number of dimensions, or a NaN or infinite entry.
    """
    probe = np.asarray(x) if not isinstance(x, np.ndarray) else x
    if probe.dtype.kind == "c":
        raise ValueError(f"{name} must be real, got a complex array")
    if probe.dtype.kind not in "biuf":
        try:
            probe = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be an array of real numbers ({exc})") from None
    arr = np.array(probe, dtype=np.float64, copy=copy, order="C")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return arr


def check_real(value, name: str) -> float:
    """A real scalar (not a bool, a string, None or an array) as a Python float.

    Raises ArgumentTypeError for a non-number, ValueError for one that does not fit in a float64
    (an integer such as 10**400) or is NaN or infinite.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(f"{name} must be a real number, got {value!r}")
    try:
        out = float(value)
    except OverflowError:
        raise ValueError(f"{name} = {value!r} is too large for a float64") from None
    if not np.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return out


def check_int(value, name: str, low: int | None = None, high: int | None = None) -> int:
    """An integer (Python or numpy, not a bool or a float) in [low, high], as a Python int."""
    if low == 0 and high is None:
        what = "a non-negative integer"
    elif low == 1 and high is None:
        what = "a positive integer"
    elif low is not None and high is not None:
        what = f"an integer in {low}..{high}"
    elif low is not None:
        what = f"an integer >= {low}"
    else:
        what = "an integer" if high is None else f"an integer <= {high}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{name} must be {what}, got {value!r}")
    value = operator.index(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {what}, got {value}")
    return value


def check_flag(value, name: str) -> bool:
    """A bool (Python or numpy); strings such as "False" and numbers are refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_horizon(T, name: str = "T") -> int:
    """The horizon as a Python int >= 0."""
    return check_int(T, name, low=0)


def check_stochastic(arr: np.ndarray, name: str) -> None:
    """Raise ValueError unless every row of ``arr`` (or the vector ``arr``) sums to one."""
    if np.any(arr < 0):
        i = np.argwhere(arr < 0)[0]
        raise ValueError(f"{name} has a negative entry at index {tuple(int(k) for k in i)}")
    sums = np.atleast_1d(arr.sum(axis=-1))
    bad = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOLERANCE)
    if bad.size:
        row = int(bad[0])
        where = f"row {row} of {name}" if arr.ndim == 2 else name
        raise ValueError(
            f"{where} sums to {float(sums[row])!r}, not 1 (tolerance {ROW_SUM_TOLERANCE}): "
            f"{name} must be {'row-' if arr.ndim == 2 else 'a probability vector, '}stochastic"
        )


def check_hmm(hmm):
    """Raise ArgumentTypeError unless ``hmm`` is a :class:`dualfilter.HMM`."""
    from .model import HMM  # model imports this module

    if not isinstance(hmm, HMM):
        raise ArgumentTypeError(
            f"hmm must be a dualfilter.HMM (build one with df.HMM(A, C, mu)), got "
            f"{type(hmm).__name__}"
        )
    return hmm


def _integer_array(tokens, name: str) -> np.ndarray:
    """``tokens`` as an integer numpy array; ragged, float, bool and string input refused."""
    if isinstance(tokens, np.ndarray):
        arr = tokens
    else:
        try:
            arr = np.asarray(tokens)
        except ValueError:
            raise ValueError(
                f"{name} must be a rectangular array: the sequences of a batch must all have "
                f"the same length"
            ) from None
    if arr.dtype == object:
        raise ValueError(
            f"{name} must be a rectangular array of integers (got a ragged or mixed list)"
        )
    if arr.dtype.kind not in "iu":
        if arr.size == 0 and arr.dtype.kind == "f":
            return arr.astype(np.int64)  # np.asarray([]) is float64: an empty sequence is fine
        raise ValueError(f"{name} must be integers, got dtype {arr.dtype}")
    return arr


def _position(flat_index: int, shape) -> int | tuple:
    pos = np.unravel_index(flat_index, shape)
    return int(pos[0]) if len(shape) == 1 else tuple(int(p) for p in pos)


def check_tokens(hmm, tokens, *, allow_batch: bool = False, name: str = "tokens") -> np.ndarray:
    """Tokens as a C-contiguous int64 array of shape (T,) or, with ``allow_batch``, (B, T).

    Every entry must be an integer in 0..n_tokens-1 that some hidden state emits (a column
    of C that is zero gives the token probability zero under every law of the state).
    Floats are refused even when integral, so that a probability vector passed by mistake is
    not silently truncated.
    """
    arr = _integer_array(tokens, name)
    allowed = (1, 2) if allow_batch else (1,)
    if arr.ndim not in allowed:
        shapes = "(T,) or (B, T)" if allow_batch else "(T,)"
        raise ValueError(f"{name} must have shape {shapes}, got {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    if arr.size:
        flat = arr.reshape(-1)
        bad = np.flatnonzero((flat < 0) | (flat >= hmm.n_tokens))
        if bad.size:
            pos = _position(bad[0], arr.shape)
            raise ValueError(
                f"token {int(flat[bad[0]])} at position {pos} is outside the vocabulary "
                f"0..{hmm.n_tokens - 1}"
            )
        mute = np.flatnonzero(~hmm.emitted[flat])
        if mute.size:
            pos = _position(mute[0], arr.shape)
            z = int(flat[mute[0]])
            raise ValueError(
                f"token {z} at position {pos} has zero probability under the model: no "
                f"hidden state emits it (column {z} of C is zero)"
            )
    return arr


def check_function(hmm, f, name: str = "f") -> np.ndarray:
    """A function on the hidden states as a float64 vector of shape (d,)."""
    arr = as_real_array(f, name, 1)
    if arr.shape != (hmm.n_states,):
        raise ValueError(
            f"{name} must be a function on the {hmm.n_states} hidden states, shape "
            f"({hmm.n_states},), got {arr.shape}"
        )
    return arr


def check_measures(hmm, rho, tokens: np.ndarray, name: str = "rho") -> np.ndarray:
    """Measures for validated tokens: (T,) -> (T+1, d), (B, T) -> (B, T+1, d), float64.

    Signed measures are allowed (the raw layer map produces them). An input that is already
    a C-contiguous float64 array is not copied (a batch can be large).
    """
    arr = as_real_array(rho, name, copy=False)
    shape = tokens.shape[:-1] + (tokens.shape[-1] + 1, hmm.n_states)
    if arr.shape != shape:
        what = "(B, T+1, n_states)" if tokens.ndim == 2 else "(T+1, n_states)"
        raise ValueError(
            f"{name} must have shape {what} = {shape} for tokens of shape {tokens.shape}, "
            f"got {arr.shape}"
        )
    return arr


def check_finite_result(value, what: str):
    """Return ``value`` if every entry is finite, else raise ValueError.

    Used on results that finite inputs of huge magnitude (around 1e154 and beyond, whose
    squares overflow) can push to inf or NaN: a silent inf/NaN result is never returned.
    """
    if not np.all(np.isfinite(value)):
        raise ValueError(
            f"{what} overflowed to inf/NaN in float64: the inputs are of extreme magnitude "
            f"(rescale them, e.g. so that their entries are at most 1e100)"
        )
    return value


def check_token_sequences(tokens, n_tokens=None, name: str = "tokens"):
    """Training data as a list of C-contiguous int64 sequences, and the vocabulary size.

    ``tokens`` is one sequence (a 1-D array_like of integers), a batch of sequences of the
    same length (a 2-D array, one sequence per row), or a list or tuple of 1-D sequences of
    any lengths. Every sequence must be non-empty and its entries integers in
    0..n_tokens-1; ``n_tokens=None`` takes the largest token plus one. Floats are refused
    even when integral, as in :func:`check_tokens`.

    Returns
    -------
    sequences : list of ndarray of int64, each of shape (T_k,), T_k >= 1
    n_tokens : int

    Raises
    ------
    ValueError
        On empty data (no sequence, or a sequence of length zero), a ragged nested list
        that is not a list of 1-D sequences, non-integer entries, or a token out of range;
        the message names the sequence and position.
    """
    if n_tokens is not None:
        n_tokens = check_int(n_tokens, "n_tokens", low=1)
    if isinstance(tokens, (list, tuple)) and tokens and all(
        np.ndim(seq) >= 1 for seq in tokens
    ):
        raw = [_integer_array(seq, f"sequence {k} of {name}") for k, seq in enumerate(tokens)]
    else:
        arr = _integer_array(tokens, name)
        if arr.ndim == 1:
            raw = [arr]
        elif arr.ndim == 2:
            raw = list(arr)
        else:
            raise ValueError(
                f"{name} must be one sequence (T,), a batch (B, T) or a list of sequences, "
                f"got an array of shape {arr.shape}"
            )
    if not raw:
        raise ValueError(f"{name} is empty: there is no sequence to learn from")
    sequences = []
    for k, seq in enumerate(raw):
        where = f"sequence {k} of {name}" if len(raw) > 1 else name
        if seq.ndim != 1:
            raise ValueError(f"{where} must be 1-dimensional, got shape {seq.shape}")
        if seq.size == 0:
            raise ValueError(f"{where} is empty: every sequence needs at least one token")
        sequences.append(np.ascontiguousarray(seq, dtype=np.int64))
    low = min(int(seq.min()) for seq in sequences)
    if low < 0:
        k = next(k for k, seq in enumerate(sequences) if seq.min() < 0)
        t = int(np.argmax(sequences[k] < 0))
        raise ValueError(
            f"token {int(sequences[k][t])} at position {t} of sequence {k} of {name} is "
            f"negative: tokens are integers 0..n_tokens-1"
        )
    high = max(int(seq.max()) for seq in sequences)
    if n_tokens is None:
        n_tokens = high + 1
    elif high >= n_tokens:
        k = next(k for k, seq in enumerate(sequences) if seq.max() >= n_tokens)
        t = int(np.argmax(sequences[k] >= n_tokens))
        raise ValueError(
            f"token {int(sequences[k][t])} at position {t} of sequence {k} of {name} is "
            f"outside the vocabulary 0..{n_tokens - 1} (n_tokens = {n_tokens})"
        )
    return sequences, n_tokens
