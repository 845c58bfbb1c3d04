"""How many layers the dual filter needs: measurement and linear analysis (chapter 9).

Depth. For a tolerance eps the depth of a run is

    L_eps = min{ l >= 1 : max_t ||rho_t^(l) - pi_t||_1 < eps },

measured by :func:`measure_depth` from the prior start, with or without relaxation; a run that
does not reach eps within its layer cap is *censored* (``None``), never a depth.
:func:`measure_depth_exact` measures the same depth of the unrelaxed iteration in fixed-point
integer arithmetic (160 bits by default), so that float64 depths can be checked where rounding
errors, amplified by the transient, might set an error floor near eps.
:func:`run_study` measures a grid of random models (stickiness, emission concentration,
seeds, horizons T): ``DEFAULT_GRID`` is the small grid the chapter computes live,
``FULL_GRID`` the one ``benchmarks/depth_study.py`` runs once and stores in
``book/data/depth_study.json``. The runs of the grid's ``exact_cells`` also get the
fixed-point depth (:func:`add_exact_depths`; chapter 9 compares the two).

Linear analysis. Linearised at the fixed point pi, the layer map sends an error sequence e to
(J e)_t = sum_{u<t} e_u J_u A^{t-u}, with J_s the Jacobian of the normalised innovation at
position s (:func:`gain_jacobians`, :func:`apply_jacobian`): a strictly block-lower-triangular,
hence nilpotent, operator. :func:`conditioning_study` computes the transient norms of its
powers, the conditioning of I - J and the depths they predict; :func:`symbol_radius` the
block-Toeplitz symbol (1 - a) I + a J w A (I - w A)^{-1} of a constant gain.

These are analysis tools of the book: their arguments go to the package's public functions,
which validate them.
"""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
from numba import njit

from ._validate import check_hmm, check_int, check_real, check_tokens
from .filtering import predict
from .fixed_point import dual_filter, fixed_point_map, prior_measures
from .model import HMM, random_hmm, sample

__all__ = ["DEFAULT_GRID", "FULL_GRID", "measure_depth", "measure_depth_exact",
           "second_eigenvalue", "forgetting_rate",
           "gain_jacobians", "apply_jacobian", "block_norm", "conditioning_study",
           "symbol_radius", "linear_depth", "run_study", "add_exact_depths", "runs", "ratio_table"]

# The small grid of the default build (the chapter runs it live, in a few seconds).
DEFAULT_GRID = dict(
    n_states=8,
    stickiness=[0.0, 0.5, 0.8, 0.9, 0.95],
    concentration=[0.3, 1.0, 10.0],
    seeds=[0, 1, 2, 3],
    horizons=[50, 100, 200],
    eps=1e-6,
    relaxed_cap=2,
    exact_cells=[[0.95, 10.0, 200]],      # [stickiness, concentration, largest T]: exact depths
)
# The full-size grid (DUALFILTER_FULL=1 or this script): more seeds, a finer grid, T to 1600.
FULL_GRID = dict(
    n_states=8,
    stickiness=[0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95],
    concentration=[0.1, 0.3, 1.0, 3.0, 10.0],
    seeds=list(range(10)),
    horizons=[50, 100, 200, 400, 800, 1600],
    eps=1e-6,
    relaxed_cap=2,
    exact_cells=[[0.95, 10.0, 1600], [0.5, 0.1, 400]],
)


def measure_depth(hmm, tokens, eps, *, relax=1.0, cap, normalize=True):
    """L_eps of the dual filter from the prior start, or None if censored.

    Iterates rho^(l+1) = (1 - relax) rho^(l) + relax N(rho^(l)) (N = ``fixed_point_map``,
    normalised unless ``normalize=False``) and returns the first layer l in 1..cap with
    max_t ||rho_t^(l) - pi_t||_1 < eps, where pi is the forward algorithm; None if no layer up
    to ``cap`` reaches eps (a censored run).
    """
    pi = predict(hmm, tokens)
    rho = prior_measures(hmm, len(tokens))
    for layer in range(1, cap + 1):
        nxt = fixed_point_map(hmm, tokens, rho, normalize=normalize)
        rho = nxt if relax == 1.0 else (1.0 - relax) * rho + relax * nxt
        if np.abs(rho - pi).sum(axis=1).max() < eps:
            return layer
    return None


def _to_fixed(values, bits: int) -> list:
    """Float64 values as the integers x * 2**bits, exactly (a float64 is such a multiple)."""
    out = []
    for v in np.ravel(np.asarray(values, dtype=np.float64)):
        scaled = Fraction(float(v)) * 2**bits
        if scaled.denominator != 1:
            raise ValueError(f"bits={bits} is too few to hold {v!r} exactly")
        out.append(int(scaled))
    return out


def measure_depth_exact(hmm, tokens, eps, *, cap, bits=160):
    """L_eps of the unrelaxed normalised dual filter, in fixed-point integer arithmetic.

    The same depth as ``measure_depth(hmm, tokens, eps, cap=cap)`` (relax = 1, normalised),
    computed with rounding errors of 2**-bits instead of float64's 2**-53 relative, so that a
    float64 depth can be checked where rounding errors, amplified by the transient of the
    iteration (chapter 9), set an error floor near eps. Every number is an integer multiple of
    2**-bits: the model is converted exactly (a float64 is such a multiple when bits is large
    enough), sums are exact, and each product or quotient is rounded once to the grid. The
    iteration is that of (FP) from the prior start, rho^(0)_t = mu A^t, and the layer map
    N(rho)_t by the scan (eq-df-scan) with the normalised innovation,
    r_{t+1} = (r_t + P(rho_t)^{z_t} - P(rho_t)) A, where P clips negative entries and always
    renormalises (the float64 kernel skips renormalising a measure whose mass is one to
    rounding: the same map). pi is the forward algorithm in the same arithmetic.

    Parameters
    ----------
    hmm : HMM
        The model (d states).
    tokens : array_like of int, shape (T,)
        The observed tokens z_0, ..., z_{T-1}.
    eps : float
        The tolerance, > 0, on max_t ||rho_t^(l) - pi_t||_1 (L^1 norm of the measures).
    cap : int
        The largest number of layers tried, >= 1.
    bits : int, optional
        Binary digits after the point, >= 53 (default 160).

    Returns
    -------
    int or None
        The first layer l in 1..cap with max_t ||rho_t^(l) - pi_t||_1 < eps, or None if no
        layer up to ``cap`` reaches eps (a censored run).

    Raises
    ------
    ValueError
        If eps <= 0, cap < 1 or bits < 53; if an entry of the model is not a multiple of
        2**-bits (raise ``bits``); if an iterate has no positive entry or a Bayes step sees
        zero evidence (the package's kernel covers those degenerate cases, this check does not).
    TypeError
        If ``hmm`` is not an HMM, or an argument has the wrong type.

    Notes
    -----
    The rows of the float64 matrix A sum to one only to rounding, and the scan (unlike the
    forward algorithm) does not renormalise r_t, so even the fixed point of this arithmetic
    differs from its forward algorithm by about T * 2**-53: eps must lie well above that.
    Pure Python: about 60 microseconds per position and layer at d = 8, so a run costs about
    T * L_eps * 60 microseconds.
    """
    check_hmm(hmm)
    tokens = [int(z) for z in check_tokens(hmm, tokens)]
    eps = check_real(eps, "eps")
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    cap = check_int(cap, "cap", low=1)
    bits = check_int(bits, "bits", low=53)
    d = hmm.n_states
    a_cols = [_to_fixed(hmm.A[:, j], bits) for j in range(d)]
    c_cols = [_to_fixed(hmm.C[:, z], bits) for z in range(hmm.n_tokens)]
    mu = _to_fixed(hmm.mu, bits)

    def times_a(v):
        return [sum(x * a for x, a in zip(v, col)) >> bits for col in a_cols]

    def bayes(q, c):                     # q^z for a non-negative q of positive evidence
        w = [x * y for x, y in zip(q, c)]
        evidence = sum(w) >> bits
        if evidence <= 0:
            raise ValueError("a Bayes step sees zero evidence")
        return [x // evidence for x in w]

    pi, rho = [mu], [mu]
    for z in tokens:
        pi.append(times_a(bayes(pi[-1], c_cols[z])))
        rho.append(times_a(rho[-1]))
    tol = eps * 2.0**bits
    for layer in range(1, cap + 1):
        r, out = mu, [mu]
        for x, z in zip(rho, tokens):
            q = [v if v > 0 else 0 for v in x]
            mass = sum(q)
            if mass <= 0:
                raise ValueError("an iterate has no positive entry")
            q = [(v << bits) // mass for v in q]
            r = times_a([a + b - c for a, b, c in zip(r, bayes(q, c_cols[z]), q)])
            out.append(r)
        rho = out
        if max(sum(abs(a - b) for a, b in zip(x, p)) for x, p in zip(rho, pi)) < tol:
            return layer
    return None


def second_eigenvalue(A) -> float:
    """|lambda_2|: the second largest modulus among the eigenvalues of A."""
    return float(np.sort(np.abs(np.linalg.eigvals(A)))[-2])


def forgetting_rate(hmm, tokens, seed) -> float | None:
    """Rate r of ||pi_t^a - pi_t^b||_1 ~ exp(-r t) for two random initial laws a, b.

    Runs the forward algorithm from two Dirichlet initial laws on the same tokens and fits a
    line to the log distance over its initial run above 1e-12; None if that run is shorter
    than three positions (the filter forgot at once).
    """
    laws = np.random.default_rng(seed).dirichlet(np.ones(hmm.n_states), size=2)
    p, q = (predict(HMM(hmm.A, hmm.C, law), tokens) for law in laws)
    dist = np.abs(p - q).sum(axis=1)
    ok = np.flatnonzero(dist > 1e-12)
    ok = ok[: np.argmax(np.diff(np.append(ok, -1)) != 1) + 1]  # the initial run above 1e-12
    if len(ok) < 3:
        return None
    return float(-np.polyfit(ok, np.log(dist[ok]), 1)[0])


# ---------------------------------------------------------------- linear analysis (chapter 9)
def gain_jacobians(hmm, tokens, pi):
    """J_s = (I - 1 pi_s)(G_s - I), s < T, shape (T, d, d) (proposition prop-depth-jacobian).

    G_s = (diag(C_z) - C_z pi_s^z) / pi_s(C_z), z = z_s, is the derivative of the Bayes map at
    pi_s, I - 1 pi_s that of the normalisation P; both act on row vectors from the right, so
    J_s is the derivative at pi_s of the normalised innovation P(rho)^{z_s} - P(rho).
    Requires pi_s > 0 (no clipping near pi_s).
    """
    d = hmm.n_states
    J = np.empty((len(tokens), d, d))
    for s, z in enumerate(tokens):
        c, p = hmm.C[:, z], pi[s]
        G = (np.diag(c) - np.outer(c, p * c / (p @ c))) / (p @ c)
        J[s] = (np.eye(d) - np.outer(np.ones(d), p)) @ (G - np.eye(d))
    return J


def apply_jacobian(hmm, J, E):
    """(J E)_t = sum_{u<t} E_u J_u A^{t-u}: the linearised layer map, by the scan of a layer.

    E has shape (..., T+1, k, d): k row vectors per position (k = 1 for one error sequence,
    k = d for blocks); returns the same shape, position 0 zero.
    """
    out = np.zeros_like(E)
    r = np.zeros_like(E[..., 0, :, :])
    for u in range(len(J)):
        r = (r + E[..., u, :, :] @ J[u]) @ hmm.A
        out[..., u + 1, :, :] = r
    return out


@njit(cache=True)
def block_norm(E):
    """max_t sum_s tau(E[s, t]) for d x d blocks E[s, t] acting on row vectors, (S, n, d, d).

    tau(B) = max_{i<j} ||B_i - B_j||_1 / 2 bounds ||eta B||_1 / ||eta||_1 over mass-zero eta, so
    this bounds the operator norm in the metric max_t ||e_t||_1 on mass-zero sequences.
    """
    best = 0.0
    for t in range(E.shape[1]):
        total = 0.0
        for s in range(E.shape[0]):
            tau = 0.0
            for i in range(E.shape[2]):
                for j in range(i + 1, E.shape[2]):
                    dist = 0.0
                    for k in range(E.shape[3]):
                        dist += abs(E[s, t, i, k] - E[s, t, j, k])
                    tau = max(tau, dist)
            total += 0.5 * tau
        best = max(best, total)
    return best


def conditioning_study(hmm, tokens, eps):
    """The quantities of theorem thm-depth-transient for one run (chapter 9).

    Returns a dict: ``norms`` (T+2,), the block norms of J^l, l = 0..T+1; ``cond``, the block
    norm of (I - J)^{-1} (by forward substitution, which float64 resolves, unlike the sum of the
    powers); ``forget``, its bound 2 max_t sum_{s<=t} tau(F_s ... F_{t-1}), F_s = (I + J_s)A;
    ``e0``, max_t ||mu A^t - pi_t||_1; ``measured``, the worst error of the normalised dual
    filter at each layer; and the first layers below ``eps`` of the dual filter (``depth``), of
    the linearised iteration from the same start (``lin``) and of the bound norms * e0 (``pred``).
    """
    T, d = len(tokens), hmm.n_states
    pi = predict(hmm, tokens)
    J = gain_jacobians(hmm, tokens, pi)
    E = np.zeros((T + 1, T + 1, d, d))
    E[np.arange(T + 1), np.arange(T + 1)] = np.eye(d)       # E[s, t] = (J^0)_{ts}
    X, norms = E.copy(), []
    for _ in range(T + 2):
        norms.append(block_norm(E))
        E = apply_jacobian(hmm, J, E)                        # E[s, t] = (J^l)_{ts}
    r = np.zeros((T + 1, d, d))
    for t in range(T + 1):                                   # X = (I - J)^{-1}
        X[:, t] += r
        if t < T:
            r = (r + X[:, t] @ J[t]) @ hmm.A
    F, forget = (np.eye(d) + J) @ hmm.A, 0.0
    for t in range(T + 1):
        prod, total = np.eye(d), 1.0
        for s in range(t - 1, -1, -1):
            prod = F[s] @ prod
            total += block_norm(prod[None, None])
        forget = max(forget, total)
    lin = [(prior_measures(hmm, T) - pi)[:, None, :]]
    for _ in range(T + 1):
        lin.append(apply_jacobian(hmm, J, lin[-1]))
    lin = np.array([np.abs(x).sum(axis=(1, 2)).max() for x in lin])
    err = np.abs(dual_filter(hmm, tokens, T + 1, return_all=True) - pi).sum(axis=2).max(axis=1)
    norms = np.array(norms)
    first = lambda x: int(np.argmax(x < eps))
    return dict(norms=norms, cond=block_norm(X), forget=2 * forget, e0=lin[0], measured=err,
                depth=first(err), lin=first(lin), pred=first(norms * lin[0]))


def symbol_radius(hmm, J, a=1.0, n=360):
    """max over |w| = 1 (n points) of the spectral radius of the symbol (eq-depth-symbol)
    phi_a(w) = (1 - a) I + a J w A (I - w A)^{-1} on mass-zero row vectors."""
    d = hmm.n_states
    Q = np.linalg.qr(np.eye(d) - 1 / d)[0][:, :d - 1]       # orthonormal columns, Q^T 1 = 0
    A0, J0, I0 = Q.T @ hmm.A @ Q, Q.T @ J @ Q, np.eye(d - 1)
    return max(np.abs(np.linalg.eigvals((1 - a) * I0 + a * J0 @ (w * A0)
                                        @ np.linalg.inv(I0 - w * A0))).max()
               for w in np.exp(2j * np.pi * np.arange(n) / n))


def linear_depth(hmm, J, e0, eps):
    """First layer l with max_t ||(J^l e0)_t||_1 < eps (the linearised iteration), or None."""
    lin = e0[:, None, :]
    for layer in range(1, len(J) + 2):
        lin = apply_jacobian(hmm, J, lin)
        if np.abs(lin).sum(axis=(1, 2)).max() < eps:
            return layer
    return None


def run_study(params: dict, progress: bool = False) -> dict:
    """Measure every (stickiness, concentration, seed, T) of ``params``; see the module doc.

    Returns {"params": params, "records": [...], "seconds": wall time}, one record a run.
    Runs of the cells listed in ``params["exact_cells"]`` ([stickiness, concentration, largest
    T]) also get ``depth_exact`` (:func:`measure_depth_exact`).
    """
    start = time.perf_counter()
    d, eps = params["n_states"], params["eps"]
    records = []
    for s in params["stickiness"]:
        for c in params["concentration"]:
            for seed in params["seeds"]:
                hmm = _study_model(d, s, c, seed)
                lam2 = second_eigenvalue(hmm.A)
                a = 1.0 - lam2**2
                for T in params["horizons"]:
                    tokens = _study_tokens(hmm, T, seed)
                    plain = measure_depth(hmm, tokens, eps, cap=T + 1)
                    cap_r = params["relaxed_cap"] * T
                    relaxed = measure_depth(hmm, tokens, eps, relax=a, cap=cap_r)
                    records.append(dict(
                        stickiness=s, concentration=c, seed=seed, T=T, lambda2=lam2,
                        forgetting_rate=forgetting_rate(hmm, tokens, seed),
                        depth=plain, censored=plain is None, cap=T + 1,
                        relax=a, depth_relaxed=relaxed, censored_relaxed=relaxed is None,
                        cap_relaxed=cap_r))
                if progress:
                    print(f"  s={s} c={c} seed={seed}: {time.perf_counter() - start:.0f} s",
                          flush=True)
    result = {"params": params, "records": records,
              "seconds": round(time.perf_counter() - start, 1)}
    add_exact_depths(result, progress=progress)
    return result


def _study_model(d, s, c, seed) -> HMM:
    """The random model of one run of the study (d states, d tokens)."""
    return random_hmm(d, d, seed=seed, stickiness=s, emission_concentration=c)


def _study_tokens(hmm, T, seed) -> np.ndarray:
    """The tokens of one run of the study."""
    return sample(hmm, T, seed=1000 + seed)[1]


def add_exact_depths(result: dict, progress: bool = False) -> dict:
    """Add ``depth_exact`` (:func:`measure_depth_exact`) to the runs of ``params["exact_cells"]``.

    Each entry of ``exact_cells`` is [stickiness, concentration, largest T]; the runs of that
    cell up to that T that have no ``depth_exact`` yet get one (same model and tokens as
    :func:`run_study`). Updates and returns ``result``; the time spent is added to
    ``result["seconds_exact"]``.
    """
    start = time.perf_counter()
    P = result["params"]
    for rec in result["records"]:
        if "depth_exact" in rec or not any(
                rec["stickiness"] == s_x and rec["concentration"] == c_x and rec["T"] <= T_x
                for s_x, c_x, T_x in P.get("exact_cells", [])):
            continue
        hmm = _study_model(P["n_states"], rec["stickiness"], rec["concentration"], rec["seed"])
        rec["depth_exact"] = measure_depth_exact(hmm, _study_tokens(hmm, rec["T"], rec["seed"]),
                                                 P["eps"], cap=rec["T"] + 1)
        if progress:
            print(f"  exact s={rec['stickiness']} c={rec['concentration']} seed={rec['seed']} "
                  f"T={rec['T']}: {rec['depth_exact']} (float64 {rec['depth']}), "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
    result["seconds_exact"] = round(result.get("seconds_exact", 0.0)
                                    + time.perf_counter() - start, 1)
    return result


def runs(records, stickiness, concentration, T, key="depth") -> list:
    """The values ``key`` of the runs of one cell of the grid (None for censored runs)."""
    return [r[key] for r in records if r["stickiness"] == stickiness
            and r["concentration"] == concentration and r["T"] == T]


def ratio_table(result, key="depth") -> str:
    """Markdown table: median L_eps / T [min-max over seeds] per (stickiness, concentration)
    and horizon, over the uncensored runs ("censored" if every run of the cell is)."""
    P, recs = result["params"], result["records"]
    lines = ["| $s$ | $c$ | " + " | ".join(f"$T = {T}$" for T in P["horizons"]) + " |",
             "|---|---|" + "---|" * len(P["horizons"])]
    for s in P["stickiness"]:
        for c in P["concentration"]:
            cells = []
            for T in P["horizons"]:
                L = np.array([x for x in runs(recs, s, c, T, key) if x is not None]) / T
                cells.append(f"{np.median(L):.2f} [{L.min():.2f}–{L.max():.2f}]" if len(L)
                             else "censored")
            lines.append(f"| {s} | {c} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


