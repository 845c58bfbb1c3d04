"""Solvers of the fixed-point equation rho = N(rho) (chapter 11 of the book).

All three iterate the package's layer map N (equation (FP) of chapter 7, normalised, computed
by ``fixed_point._layer_kernel``); one evaluation of N is one *layer*:

- ``"jacobi"``: rho^(l+1) = N(rho^(l)), the dual filter of chapter 8. Exact after T+1 layers.
- ``"damped"``: rho^(l+1) = (1 - a) rho^(l) + a N(rho^(l)), the relaxed dual filter, with the
  relaxation a chosen by :func:`damped_relaxation` (the rule derived from the block-Toeplitz
  symbol of the linearised map) unless given.
- ``"anderson"``: Anderson acceleration of type II (Anderson 1965; Walker & Ni 2011) over the
  whole sequence, as deep equilibrium models solve their fixed points: with the residuals
  g_j = N(x_j) - x_j of the last m iterates,

      gamma = argmin ||g_k - dG gamma||^2 + lambda ||gamma||^2,
      x_{k+1} = P( x_k + beta g_k - (dX + beta dG) gamma ),

  dX, dG the differences of consecutive iterates and residuals (flattened over positions and
  states), beta the mixing (``relax``, default 1), P the normalisation onto the simplex at
  every position (clip negatives, renormalise: the iterate is a sequence of probability
  vectors, as the normalised map requires). With beta = 1 the update is computed as
  N(x_k) - dF gamma (dF the differences of the N(x_j)), so that positions at which every
  stored N(x_j) agrees bit for bit keep that value exactly.

Damping and acceleration give up the nilpotency of Jacobi (position t exact after t layers).
With ``causal=True`` they keep it: position t of N(x_k) depends on x_k,0..x_k,t-1 only, so if
x_k is exact at positions 0..k, so is N(x_k) at 0..k+1, and the iterate x_{k+1} takes N(x_k)
there (undamped, unaccelerated) and the method's update elsewhere. Then every method is exact
after T+1 layers, like Jacobi, and the acceleration acts on the positions not yet final.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ._validate import (
    ArgumentTypeError,
    check_array_size,
    check_flag,
    check_hmm,
    check_int,
    check_measures,
    check_real,
    check_tokens,
)
from .fixed_point import _layer_kernel, _project
from .model import HMM, _prior_marginals

__all__ = ["solve_fixed_point", "FixedPointResult", "damped_relaxation"]

METHODS = ("jacobi", "damped", "anderson")
_REGULARISATION = 1e-10   # lambda = _REGULARISATION * ||dG||_F^2 / m in Anderson's least squares


@dataclass(frozen=True)
class FixedPointResult:
    """The result of :func:`solve_fixed_point`.

    Attributes
    ----------
    measures : ndarray, shape (T+1, d)
        The iterate after ``layers`` layers, x_L.
    layers : int
        The number L of layers (evaluations of N) used.
    residuals : ndarray, shape (L,)
        residuals[k] = max_t ||N(x_k)_t - x_k,t||_1 for the iterates x_0..x_{L-1}.
    converged : bool
        Whether residuals[-1] <= tol.
    method : str
    relax : float
        The relaxation a (``"damped"``) or the mixing beta (``"anderson"``); 1 for Jacobi.
    memory : int
        The memory m of Anderson acceleration (0 for the other methods).
    """

    measures: np.ndarray
    layers: int
    residuals: np.ndarray
    converged: bool
    method: str
    relax: float
    memory: int


# --------------------------------------------------------------------------- the rule
def _stationary_law(A: np.ndarray) -> np.ndarray:
    """A probability vector pi with pi A = pi (least squares; unique for an irreducible A)."""
    d = A.shape[0]
    M = np.vstack([A.T - np.eye(d), np.ones((1, d))])
    rhs = np.zeros(d + 1)
    rhs[-1] = 1.0
    pi = np.linalg.lstsq(M, rhs, rcond=None)[0]
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


def token_channel(hmm: HMM) -> tuple[np.ndarray, np.ndarray]:
    """The averaged Bayes gain at the stationary law: (Xi, pi_bar) (chapter 11).

    Xi[i, j] = sum_z C[i, z] pi_bar^z_j, the chance of moving from state i to state j by
    emitting a token and drawing a state from its posterior. For a mass-zero measure m,
    sum_z pi_bar(C_z) J(pi_bar, z) m = -m Xi, where J(pi, z) is the Jacobian of the normalised
    innovation pi -> pi^z - pi. Xi is stochastic and reversible with respect to pi_bar, so its
    eigenvalues are real and lie in [0, 1].

    Parameters
    ----------
    hmm : HMM

    Returns
    -------
    Xi : ndarray, shape (d, d)
    pi_bar : ndarray, shape (d,)
        The stationary law of A (least squares; unique for an irreducible chain).
    """
    check_hmm(hmm)
    pi_bar = _stationary_law(hmm.A)
    prob = pi_bar @ hmm.C                                # pi_bar(C_z)
    used = prob > 0
    post = (pi_bar[:, None] * hmm.C[:, used]) / prob[used]   # column z: pi_bar^z
    return hmm.C[:, used] @ post.T, pi_bar


def _mass_zero_basis(d: int) -> np.ndarray:
    """Orthonormal columns (d, d-1) spanning the measures of mass zero."""
    q, _ = np.linalg.qr(np.eye(d) - np.full((d, d), 1.0 / d))
    return q[:, : d - 1]


def symbol_spectrum(hmm: HMM, n_points: int = 256) -> np.ndarray:
    """Eigenvalues of the averaged symbol Phi(w) = -K_V w A_V (I - w A_V)^{-1} on |w| = 1.

    A_V, K_V are A and the token channel Xi (:func:`token_channel`) acting on measures of
    mass zero (K_V: the restriction of Xi; the book writes Xi). Returns an array of shape (n_points, d-1) (complex), or an empty array for
    d = 1. Raises ValueError if A has a second eigenvalue of modulus one (no contraction).
    """
    check_hmm(hmm)
    n_points = check_int(n_points, "n_points", low=8)
    d = hmm.n_states
    if d == 1:
        return np.zeros((n_points, 0), dtype=complex)
    Q = _mass_zero_basis(d)
    Xi, _ = token_channel(hmm)
    AV, KV = Q.T @ hmm.A @ Q, Q.T @ Xi @ Q
    if np.abs(np.linalg.eigvals(AV)).max() >= 1 - 1e-12:
        raise ValueError("A has a second eigenvalue of modulus 1: the symbol has a pole on |w| = 1")
    eye = np.eye(d - 1)
    out = np.empty((n_points, d - 1), dtype=complex)
    for k, psi in enumerate(np.linspace(0.0, 2 * np.pi, n_points, endpoint=False)):
        wA = np.exp(1j * psi) * AV
        out[k] = np.linalg.eigvals(-KV @ wA @ np.linalg.inv(eye - wA))
    return out


def _minimax_relaxation(points: np.ndarray) -> tuple[float, float]:
    """(a, q): a in (0, 1] minimising q(a) = max_z |1 - a + a z| over the points z."""
    z = points.ravel()
    if z.size == 0:
        return 1.0, 0.0

    def q(a):
        return float(np.abs(1.0 - a + a * z).max())

    lo, hi = 0.0, 1.0            # q is convex in a: golden-section search
    g = (np.sqrt(5.0) - 1.0) / 2.0
    x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
    f1, f2 = q(x1), q(x2)
    for _ in range(80):
        if f1 <= f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - g * (hi - lo)
            f1 = q(x1)
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + g * (hi - lo)
            f2 = q(x2)
    a = (lo + hi) / 2.0
    if q(1.0) <= q(a):
        a = 1.0
    return a, q(a)


def damped_relaxation(hmm: HMM) -> tuple[float, float]:
    """The relaxation of damped Jacobi chosen from the Toeplitz symbol (chapter 11).

    The linearised layer map is block-lower-triangular with blocks J_s A^{t-s}; freezing the
    gain J_s at its average over the tokens at the stationary law, -Xi (:func:`token_channel`),
    makes it block Toeplitz with symbol Phi(w) = -Xi w A (I - w A)^{-1} on measures of mass
    zero, and damped Jacobi has the symbol (1 - a) I + a Phi(w). The rule returns the a in
    (0, 1] that minimises q(a) = max over |w| = 1 and over the eigenvalues z of Phi(w) of
    |1 - a + a z|, and that q.

    When Xi and A commute on mass-zero measures and are normal there, this is the closed form
    a = (1 - lambda^2) / (1 - lambda^2 + kappa lambda^2), q = kappa lambda / (1 - lambda^2 +
    kappa lambda^2), with lambda = |lambda_2(A)| and kappa the second eigenvalue of Xi, and q
    bounds the error contraction per layer for every T (chapter 11, "The best damping of a
    frozen symbol"); no polynomial method (Krylov, Anderson on the linearised map) contracts
    faster there. It gives a = 1 - theta^2 for the perfectly observed chain of chapter 8.

    Parameters
    ----------
    hmm : HMM

    Returns
    -------
    a : float in (0, 1]
    q : float
        The predicted contraction factor per layer (>= 1: no contraction predicted; then
        a = 1). For a chain with a second eigenvalue of modulus one, (1.0, inf).
    """
    check_hmm(hmm)
    try:
        spectrum = symbol_spectrum(hmm)
    except ValueError:
        return 1.0, float("inf")
    a, q = _minimax_relaxation(spectrum)
    if q >= 1.0:
        return 1.0, q
    return a, q


# --------------------------------------------------------------------------- solver
@njit(cache=True)
def _project_all(x, mu, out):
    """out_t = P(x_t) for t >= 1 and out_0 = mu (x, out (T+1, d))."""
    out[0, :] = mu
    for t in range(1, x.shape[0]):
        _project(x[t], True, out[t])


def _check_method(method) -> str:
    if not isinstance(method, str):
        raise ArgumentTypeError(f"method must be one of {METHODS}, got {method!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


def solve_fixed_point(hmm: HMM, tokens, *, method="jacobi", tol=1e-10, max_layers=None,
                      relax=None, memory=5, init="prior", causal=False,
                      callback=None) -> FixedPointResult:
    """Solve the fixed-point equation rho = N(rho) of (FP) by Jacobi, damped Jacobi or Anderson.

    Parameters
    ----------
    hmm : HMM
    tokens : array_like of int, shape (T,)
        One sequence.
    method : {"jacobi", "damped", "anderson"}
        See the module docstring.
    tol : float >= 0
        Stop at the first iterate x_k with max_t ||N(x_k)_t - x_k,t||_1 <= tol.
    max_layers : int >= 0, optional
        The most layers to use; default 10 (T+1). Jacobi needs at most T+2 (exact after T+1).
    relax : float in (0, 1], optional
        ``"damped"``: the relaxation a (default: :func:`damped_relaxation`). ``"anderson"``:
        the mixing beta (default 1). ``"jacobi"`` takes none.
    memory : int >= 1
        The number m of past iterates Anderson acceleration combines (other methods ignore it).
    init : "prior" or array_like, shape (T+1, d)
        x_0; "prior" is mu A^t. Anderson projects its iterates onto the simplex.
    causal : bool
        Keep the exact prefix (module docstring): positions 0..k of x_k+1 are N(x_k) there,
        so that damped Jacobi and Anderson are exact after T+1 layers too (with an exact
        x_0,0 = mu, as "prior" is). Jacobi is causal already.
    callback : callable, optional
        Called as callback(layer, x) after each layer with the iterate x_layer (a read-only
        (T+1, d) view), and first with (0, x_0): e.g. to record the error against layer. If it
        returns True the solver stops after that layer (e.g. once an error is small enough).

    Returns
    -------
    FixedPointResult
        ``.measures`` (T+1, d), ``.layers``, ``.residuals`` (layers,), ``.converged``.

    Raises
    ------
    ValueError
        On a bad argument (the message names it), e.g. an unknown method, a negative tol, a
        relax outside (0, 1] or given to Jacobi, tokens of shape (B, T).
    """
    check_hmm(hmm)
    tokens = check_tokens(hmm, tokens)
    method = _check_method(method)
    tol = check_real(tol, "tol")
    if not tol >= 0.0:
        raise ValueError(f"tol must be >= 0, got {tol!r}")
    T = tokens.shape[0]
    d = hmm.n_states
    max_layers = 10 * (T + 1) if max_layers is None else check_int(max_layers, "max_layers", low=0)
    memory = check_int(memory, "memory", low=1)
    if relax is not None:
        if method == "jacobi":
            raise ValueError('relax applies to method="damped" or "anderson"; "jacobi" is relax = 1')
        relax = check_real(relax, "relax")
        if not 0.0 < relax <= 1.0:
            raise ValueError(f"relax must lie in (0, 1], got {relax!r}")
    elif method == "damped":
        relax = damped_relaxation(hmm)[0]
    else:
        relax = 1.0
    causal = check_flag(causal, "causal")
    if callback is not None and not callable(callback):
        raise ArgumentTypeError(f"callback must be callable, got {callback!r}")
    check_array_size(((memory + 1) * 2 + 3, T + 1, d), "solve_fixed_point(tokens, memory)")
    if isinstance(init, str):
        if init != "prior":
            raise ValueError(f'init must be "prior" or an array of measures, got {init!r}')
        x = _prior_marginals(hmm, T)
    else:
        x = check_measures(hmm, init, tokens, "init").copy()
    CT, index = hmm.CT, tokens[None]     # the layer kernel reads C_z as row z of C^T
    solver = _anderson if method == "anderson" else _jacobi
    x, layers, residuals = solver(hmm, CT, index, x, tol, max_layers,
                                  relax, memory, causal, callback)
    converged = bool(len(residuals) and residuals[-1] <= tol)
    return FixedPointResult(measures=x, layers=layers, residuals=np.asarray(residuals),
                            converged=converged, method=method, relax=float(relax),
                            memory=memory if method == "anderson" else 0)


def _layer(hmm, CT, index, x, out):
    """out = N(x) for one sequence (x, out (T+1, d))."""
    if not _layer_kernel(hmm.A, CT, hmm.mu, index, x[None], True, 1.0, out[None]):
        raise ValueError("the layer map overflowed to inf/NaN")   # not reached: normalised
    return out


def _emit(callback, layer, x) -> bool:
    """Call the callback with a read-only view of x; True if it asks to stop."""
    if callback is None:
        return False
    view = x.view()
    view.flags.writeable = False
    answer = callback(layer, view)
    return isinstance(answer, (bool, np.bool_)) and bool(answer)


def _residual(f, x) -> float:
    """max_t ||f_t - x_t||_1."""
    return float(np.abs(f - x).sum(axis=1).max(initial=0.0))


def _jacobi(hmm, CT, index, x, tol, max_layers, relax, memory, causal, callback):
    """(Damped) Jacobi: x_{k+1} = (1 - a) x_k + a N(x_k) (N(x_k) itself for a = 1)."""
    residuals = []
    if _emit(callback, 0, x):
        return x, 0, residuals
    for layer in range(1, max_layers + 1):
        f = _layer(hmm, CT, index, x, np.empty_like(x))
        residuals.append(_residual(f, x))
        if relax != 1.0:
            new = (1.0 - relax) * x + relax * f
            if causal:
                new[:layer + 1] = f[:layer + 1]
            f = new
        x = f
        if _emit(callback, layer, x) or residuals[-1] <= tol:
            break
    return x, len(residuals), residuals


def _anderson(hmm, CT, index, x, tol, max_layers, beta, memory, causal, callback):
    """Anderson acceleration of type II with memory m over the whole sequence."""
    shape = x.shape
    xs, fs = [], []                       # the last m+1 iterates and their images N(x)
    residuals = []
    x = x.copy()
    if _emit(callback, 0, x):
        return x, 0, residuals
    for layer in range(1, max_layers + 1):
        f = _layer(hmm, CT, index, x, np.empty(shape))
        g = f - x
        residuals.append(_residual(f, x))
        xs.append(x)
        fs.append(f)
        if len(xs) > memory + 1:
            xs.pop(0)
            fs.pop(0)
        m = len(xs) - 1
        if m == 0:
            new = f.copy() if beta == 1.0 else x + beta * g
        else:
            dF = np.stack([(fs[j + 1] - fs[j]).ravel() for j in range(m)], axis=1)
            dX = np.stack([(xs[j + 1] - xs[j]).ravel() for j in range(m)], axis=1)
            dG = dF - dX
            gram = dG.T @ dG
            scale = np.trace(gram)
            gamma = (np.linalg.solve(gram + _REGULARISATION * scale / m * np.eye(m),
                                     dG.T @ g.ravel())
                     if scale > 0 else np.zeros(m))
            new = f - (dF @ gamma).reshape(shape)
            if beta != 1.0:
                new = beta * new + (1.0 - beta) * (x - (dX @ gamma).reshape(shape))
        if causal:
            new[:layer + 1] = f[:layer + 1]
        x = np.empty(shape)
        _project_all(new, hmm.mu, x)
        if _emit(callback, layer, x) or residuals[-1] <= tol:
            break
    return x, len(residuals), residuals
