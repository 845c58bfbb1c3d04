"""dualfilter: optimal next-token prediction for hidden Markov models, and the dual filter.

The package follows the book's chapters, one module a concept:

- ``model``: the HMM, random models, sampling (chapter 2)
- ``filtering``: the nonlinear predictor by the forward algorithm (chapter 2)
- ``control``: estimators as controls, the dual BΔE, the optimal control (chapters 3, 4, 6)
- ``linear``: the best additive predictor by the Riccati recursion (chapter 5)
- ``fixed_point``: the fixed-point equation and the dual filter (chapters 7-9)
- ``scan``: the predictor by a parallel prefix scan in O(log T) levels (chapter 11)
- ``solvers``: Jacobi, damped Jacobi and Anderson solvers of the fixed-point equation (chapter 11)
- ``streaming``: online prediction, by the forward step or the windowed dual filter (chapter 11)
- ``learning``: Baum-Welch (EM), an HMM learned from tokens (chapter 13)
- ``text``: the character vocabulary and the corpus of chapter 13 (``dualfilter.text``)
- ``brute_force``: exhaustive enumeration, the oracle for small models
"""

from .control import control_cost, dual_backward, estimate, optimal_control
from .filtering import log_likelihood, next_token_probs, predict
from .fixed_point import contributions, dual_filter, fixed_point_map, prior_measures
from .learning import fit_hmm
from .linear import LinearPredictor, linear_predictor
from .model import HMM, random_hmm, sample
from .scan import parallel_scan
from .solvers import solve_fixed_point
from .streaming import StreamingPredictor
from . import text  # noqa: E402  (the submodule dualfilter.text, also df.text)

__version__ = "0.1.0"

__all__ = [
    "HMM",
    "random_hmm",
    "sample",
    "predict",
    "log_likelihood",
    "next_token_probs",
    "dual_backward",
    "control_cost",
    "optimal_control",
    "estimate",
    "linear_predictor",
    "LinearPredictor",
    "fixed_point_map",
    "dual_filter",
    "contributions",
    "prior_measures",
    "parallel_scan",
    "solve_fixed_point",
    "StreamingPredictor",
    "fit_hmm",
]
