/**
 * engine.js: the numerical engine of the live explorers (the dualfilter package in JavaScript).
 *
 * The static pages of the book have no Python, so the live twins of the ipywidgets explorers
 * compute here, in the browser, in float64 (JavaScript numbers) throughout. This module is a
 * second implementation of the package's equations by necessity: tests/test_web_engine.py
 * runs it in headless Chromium and compares every function with the package on the models it
 * exports, to 1e-9 (relative to the largest magnitude where values are huge; where the
 * problem itself amplifies rounding, see that file). An ES module with no dependency:
 *
 *     import * as engine from "./engine.js";
 *
 * ## Shapes
 *
 * - a vector (a measure on the states, a function f, a row): a `Float64Array`;
 * - a matrix (T+1, d): an `Array` of `Float64Array` rows, `m[t][i]`; the rows of one result
 *   are views of one buffer (`m[t].buffer` is shared: copy a row before keeping it alone);
 * - a stack (L+1, T+1, d): an `Array` of matrices, `history[l][t][i]`;
 * - tokens and states: `Int32Array` (arguments may be any array of integers).
 * Matrix arguments may be nested plain arrays too. `toPlain(x)` turns a result into plain
 * nested arrays for JSON (a float64 survives JSON.stringify exactly: shortest round trip).
 * Results are fresh arrays the engine never touches again; treat an HMM as read-only.
 *
 * ## Errors
 *
 * Every exported function checks its arguments and throws an `EngineError` (an `Error` with
 * the field `argument`, the name of the offending argument) whose message starts with the
 * function and names the argument, e.g. "dualFilter: relax must lie in (0, 1], got 0". A
 * result that would leave float64 (the raw, un-normalised iteration can overflow) throws an
 * `EngineError` saying so (argument "normalize" for the dual filter); no function returns NaN
 * or an infinity. Sizes are capped (at most 2e7 numbers in a result, T <= 1e6).
 *
 * ## API (notation of the book: states 0..d-1, tokens 0..m, n = m + 1 tokens)
 *
 * Random numbers (not numpy's streams: every model and path the engine makes is exported)
 *   rng(seed) -> {next(): double in [0, 1)}
 *       xoshiro128** (Blackman & Vigna); two 32-bit outputs make one 53-bit double; the
 *       128-bit state hashes the seed (four 32-bit lanes, each a chain of a 32-bit finaliser
 *       over the seed words' halves). seed: an integer in 0..2^53-1 or an array of them
 *       ([seed, k] plays numpy's (seed, k)). The same seed gives the same numbers in one
 *       JavaScript engine; Math.log/exp/cos are not correctly rounded by the standard, so
 *       another engine may differ in the last bits of a model.
 *   uniforms(seed, count) -> Float64Array (count)          the first doubles of rng(seed)
 *   logGammaVariates(shape, count, seed) -> Float64Array (count)
 *       log G, G ~ Gamma(shape, 1): Marsaglia & Tsang (2000); for shape < 1,
 *       log G = log G' + log(U) / shape, G' ~ Gamma(shape + 1), in log space, so
 *       Gamma(0.01) variates far below 1e-308 keep their logarithm.
 *       (shape, alpha and the concentrations below lie in [1e-300, 1e300].)
 *   dirichletRows(alpha, rows, cols, seed) -> (rows, cols)
 *       Dirichlet(alpha, ..., alpha) rows x_i = exp(l_i - max l) / sum_j exp(l_j - max l),
 *       l = log-Gammas: a row never underflows to all zeros (when every Gamma but the largest
 *       underflows it is one-hot at the largest log-Gamma, the package's limit law) and huge
 *       alpha does not overflow.
 *
 * The model (chapter 2)
 *   makeHmm(A, C, mu) -> hmm = {A (d, d), C (d, n), mu (d), nStates, nTokens}
 *       validated like df.HMM: finite, non-negative, rows summing to 1 within 1e-9.
 *   randomHmm(nStates, nTokens, {seed, transitionConcentration = 1,
 *             emissionConcentration = 1, stickiness = 0}) -> hmm
 *       rows of A_random ~ Dirichlet(transitionConcentration), rows of C ~
 *       Dirichlet(emissionConcentration), mu ~ Dirichlet(1), in that order from rng(seed);
 *       A = s I + (1 - s) A_random (df.random_hmm).
 *   sample(hmm, T, seed) -> {states (T+1), tokens (T), uniforms (2T+1)}
 *       inverse-CDF draws X_0 ~ mu (uniforms[0]), Z_t ~ C[X_t] (uniforms[2t+1]),
 *       X_{t+1} ~ A[X_t] (uniforms[2t+2]): df.sample's layout and rule, so the package's
 *       kernel draws the same path from the same uniforms.
 *   sampleFromUniforms(hmm, T, uniforms (>= 2T+1)) -> {states, tokens, uniforms}
 *       the same rule on given uniforms in [0, 1): with numpy.random.default_rng(seed)
 *       .random(2T+1), which a page embeds at build time, it is df.sample(hmm, T, seed=seed).
 *
 * The nonlinear predictor (chapter 2)
 *   forward(hmm, tokens) -> {pi (T+1, d), evidence (T), logLikelihood}
 *       pi_0 = mu, pi_{t+1} = pi_t^{z_t} A, rho^z = rho .* C_z / rho(C_z);
 *       evidence[t] = pi_t(C_{z_t}) = P(Z_t = z_t | Z_0..Z_{t-1}), which may underflow to 0
 *       where its logarithm is finite (take log-likelihoods from logLikelihood, not from
 *       log(evidence)); logLikelihood = sum_t log pi_t(C_{z_t}). Every step is normalised;
 *       when the normaliser is below 1e-280 the Bayes step is done in log space (as
 *       df.predict), so the tiny probabilities of sticky, informative models do not
 *       underflow. A token of zero probability throws.
 *   predict(hmm, tokens) -> pi (T+1, d);  logLikelihood(hmm, tokens) -> number;
 *   nextTokenProbs(hmm, tokens) -> pi C (T+1, n);  priorMeasures(hmm, T) -> p_t = mu A^t (T+1, d)
 *
 * The fixed-point equation and the dual filter (chapters 7-9)
 *   project(v) -> P(v) (length of v)
 *       clip negatives, renormalise: a subnormal mass is divided by (1/mass would overflow);
 *       no positive entry gives the uniform law (as the package).
 *   layerMap(hmm, tokens, rho (T+1, d), {normalize = true}) -> N(rho) (T+1, d)
 *       (FP): N(rho)_t = mu A^t + sum_{s<t} (P(rho_s)^{z_s} - P(rho_s)) A^{t-s}, as the scan
 *       r_0 = mu, r_{t+1} = ((r_t - P(rho_t)) + P(rho_t)^{z_t}) A; this order leaves a
 *       position that is already exact bitwise exact. normalize: false uses rho_t for
 *       P(rho_t). The Bayes step q^z = q .* C_z / q(C_z) uses the plain ratio when
 *       |q(C_z)| > 1e-280 and log magnitudes rescaled by their maximum otherwise; when the
 *       evidence q(C_z) is exactly zero (every product q_i C_z[i] is 0, or in raw mode the
 *       signed terms cancel exactly) it is the package's documented fallback
 *       C_z / sum(C_z), Bayes' rule from the uniform prior (fixed_point.py, _innovation).
 *   dualFilter(hmm, tokens, layers, {normalize = true, relax = 1, init = "prior"})
 *       -> history (L+1, T+1, d), history[0] = init (mu A^t or an array (T+1, d)),
 *       rho^(l+1) = (1 - a) rho^(l) + a N(rho^(l)). With a = 1 the rows that cannot change
 *       (N(rho)_t depends on rho_0..rho_{t-1} only) are copied, not recomputed, and once a
 *       layer equals the one before bitwise the rest are copies. Throws when the raw
 *       iteration overflows.
 *   dualFilterErrors(hmm, tokens, layers, target (T+1, d), options as dualFilter)
 *       -> {perLayer (L+1): max_t ||rho_t^(l) - target_t||_1, last: rho^(L) (T+1, d)}
 *       the same iteration without keeping the history (two buffers): for error-against-
 *       layer plots at large T (the depth chapter's sizes).
 *   l1Errors(history, pi) -> {perPosition (L+1, T+1), perLayer (L+1)}
 *       ||rho_t^(l) - pi_t||_1 and its maximum over t.
 *   contributions(hmm, tokens, rho (T+1, d), f (d), {normalize = true}) -> W (T+1, T+1)
 *       the attention matrix of one layer, W[t, s] = (P(rho_s)^{z_s} - P(rho_s)) A^{t-s} f
 *       for s < t, else 0; N(rho)_t(f) = mu A^t f + sum_s W[t, s] (df.contributions).
 *   simplexXY(rho (T+1, 3)) -> (T+1, 2)
 *       barycentric to Cartesian, rho @ [[0, 0], [1, 0], [1/2, sqrt(3)/2]] (the triangle).
 *
 * Estimators as controls (chapters 3, 4, 6)
 *   dualBackward(hmm, f, u (T, n) | null, T?) -> y (T+1, d)
 *       the BΔE y_t = A y_{t+1} + C u_t, y_T = f (u = null: zero controls, y_t = A^{T-t} f).
 *   controlCost(hmm, f, u (T, n)) -> Var_mu(y_0) + sum_t p_t(Gamma_A(y_{t+1}) + Gamma_C(u_t))
 *   optimalControl(hmm, tokens, f) -> U (T, n)
 *       U_t(z) = -(pi_t(C_z y_t) - pi_t(C_z) pi_t(y_t)) / pi_t(C_z), y_t = A^{T-t} f;
 *       0 where pi_t(C_z) = 0 (df.optimal_control).
 *   estimate(hmm, tokens, f, U (T, n)) -> mu(A^T f) - sum_t U_t(z_t)
 *
 * The best additive predictor (chapter 5) and the MMSE (chapter 6)
 *   linearPredictor(hmm, T) -> lp = {hmm, T, Sigma (T+1, d, d), gains (T, n, d)}
 *       Riccati: Sigma_0 = diag(mu) - mu^T mu, K_t = (C^T Sigma_t C + R_t)^+ C^T Sigma_t A,
 *       Sigma_{t+1} = sym((A^T Sigma_t A + Q_t) - (A^T Sigma_t C) K_t), Q_t = diag(p_{t+1}) -
 *       A^T diag(p_t) A, R_t = diag(p_t C) - C^T diag(p_t) C, sym(X) = (X + X^T) / 2
 *       (df.linear_predictor; the pseudo-inverse as pinvSymmetric, each step's Jacobi sweep
 *       warm-started from the previous step's eigenvectors).
 *   linearMse(lp, f) -> f^T Sigma_T f
 *   linearControls(lp, f) -> u (T, n), u_t = -K_t y_{t+1}, y_t = A y_{t+1} + C u_t, y_T = f
 *   linearEstimate(lp, tokens (T), f) -> mu(y_0) - sum_t u_t(z_t)
 *   linearEstimates(lp, tokens (<= T)) -> m (len + 1, d)
 *       the Kalman form m_0 = mu, m_{t+1} = m_t A + (K_t[z_t] - m_t C K_t): row t is the best
 *       additive estimate of the indicator of X_t, m_t f that of f(X_t)
 *       (explore.linear_estimates, LinearPredictor.estimates).
 *   pinvSymmetric(M (k, k)) -> M^+ (k, k);  symmetricEigen(M) -> {values (k), vectors (k, k)}
 *       the lower triangle is read (as LAPACK's eigh); cyclic Jacobi (Rutishauser's
 *       updates); eigenvalues with |lambda| <= 1e-12 max(1, max |lambda|) are dropped.
 *   priorVariance(hmm, f, T) -> p_T(f^2) - p_T(f)^2
 *   mmseExact(hmm, f, T) -> E[Var(f(X_T) | Z_0..Z_{T-1})]
 *       by enumerating the n^T sequences (brute_force.mmse; at most 2,000,000).
 *   mcMmse(lp, f, seed, paths) -> {mmse, paths (paths, T)}
 *       Monte Carlo with the linear predictor as control variate (explore.mc_mmse):
 *       f^T Sigma_T f - mean_k |pi_T(f) - S_lin(Z^k)|^2, S_lin(z) = mu(y_0) - sum_t u_t(z_t),
 *       on paths sample(lp.hmm, T, [...seed, k]); the token paths are returned so that Python
 *       can recompute the estimate on them.
 *
 * Export
 *   toPlain(x) -> plain nested arrays and objects (typed arrays become arrays)
 *   EngineError: the class of every error the engine throws.
 */

// ------------------------------------------------------------------------------------------
// Errors and argument checks
// ------------------------------------------------------------------------------------------

export class EngineError extends Error {
  constructor(fn, argument, message) {
    super(`${fn}: ${message}`);
    this.name = "EngineError";
    this.argument = argument;
  }
}

const UNDERFLOW = 1e-280;      // below this a normaliser is recomputed in log space
const ROW_SUM_TOLERANCE = 1e-9;
const PINV_RCOND = 1e-12;
const MAX_T = 1_000_000;
const MAX_ENTRIES = 20_000_000;  // largest history (L+1)(T+1)d the engine allocates
const MAX_SEQUENCES = 2_000_000;
const SQRT3_2 = Math.sqrt(3) / 2;

function show(value) {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value == null) return String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return `an array of length ${value.length}`;
  return `a value of type ${typeof value}`;
}

function checkInt(fn, name, value, low, high) {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new EngineError(fn, name, `${name} must be an integer, got ${show(value)}`);
  }
  if (value < low || value > high) {
    throw new EngineError(fn, name, `${name} must lie in ${low}..${high}, got ${value}`);
  }
  return value;
}

function checkReal(fn, name, value) {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new EngineError(fn, name, `${name} must be a finite number, got ${show(value)}`);
  }
  return value;
}

function checkBool(fn, name, value) {
  if (typeof value !== "boolean") {
    throw new EngineError(fn, name, `${name} must be true or false, got ${show(value)}`);
  }
  return value;
}

function checkOptions(fn, options, allowed) {
  if (options === undefined) return {};
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new EngineError(fn, "options", `options must be an object, got ${show(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new EngineError(fn, key, `unknown option ${key}; known: ${allowed.join(", ")}`);
    }
  }
  return options;
}

function isArrayLike(x) {
  return Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView));
}

function checkSeed(fn, seed, name = "seed") {
  const words = Array.isArray(seed) ? seed : [seed];
  if (Array.isArray(seed) && seed.length === 0) {
    throw new EngineError(fn, name, `${name} must be a non-negative integer or a non-empty array of them`);
  }
  for (const w of words) {
    if (typeof w !== "number" || !Number.isSafeInteger(w) || w < 0) {
      throw new EngineError(fn, name,
        `${name} must be an integer in 0..2^53-1 or an array of them, got ${show(w)}`);
    }
  }
  return words;
}

function toVector(fn, name, x, length) {
  const arg = name.split("[")[0];     // "rho[3]" (a row) names the argument rho
  if (!isArrayLike(x)) {
    throw new EngineError(fn, arg, `${name} must be an array of numbers, got ${show(x)}`);
  }
  if (length !== undefined && x.length !== length) {
    throw new EngineError(fn, arg, `${name} must have length ${length}, got ${x.length}`);
  }
  const v = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const value = x[i];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new EngineError(fn, arg, `${name}[${i}] must be a finite number, got ${show(value)}`);
    }
    v[i] = value;
  }
  return v;
}

function toMatrix(fn, name, x, rows, cols) {
  if (!Array.isArray(x)) {
    throw new EngineError(fn, name, `${name} must be an array of rows, got ${show(x)}`);
  }
  if (rows !== undefined && x.length !== rows) {
    throw new EngineError(fn, name, `${name} must have ${rows} rows, got ${x.length}`);
  }
  if (x.length === 0) throw new EngineError(fn, name, `${name} must not be empty`);
  const width = cols === undefined ? (isArrayLike(x[0]) ? x[0].length : -1) : cols;
  return x.map((row, i) => {
    if (!isArrayLike(row)) {
      throw new EngineError(fn, name, `row ${i} of ${name} must be an array, got ${show(row)}`);
    }
    if (row.length !== width) {
      throw new EngineError(fn, name, `row ${i} of ${name} must have length ${width}, got ${row.length}`);
    }
    return toVector(fn, `${name}[${i}]`, row, width);
  });
}

/**
 * The matrix x (rows x cols) checked: finite numbers, rectangular. Rows that are already
 * Float64Arrays are returned as they are (no copy) unless copy is true.
 */
function readMatrix(fn, name, x, rows, cols, copy = false) {
  if (!Array.isArray(x)) {
    throw new EngineError(fn, name, `${name} must be an array of rows, got ${show(x)}`);
  }
  if (rows !== undefined && x.length !== rows) {
    throw new EngineError(fn, name, `${name} must have ${rows} rows, got ${x.length}`);
  }
  if (!x.every((row) => row instanceof Float64Array)) return toMatrix(fn, name, x, rows, cols);
  if (x.length === 0) throw new EngineError(fn, name, `${name} must not be empty`);
  const width = cols === undefined ? x[0].length : cols;
  for (let i = 0; i < x.length; i++) {
    const row = x[i];
    if (row.length !== width) {
      throw new EngineError(fn, name, `row ${i} of ${name} must have length ${width}, got ${row.length}`);
    }
    for (let j = 0; j < width; j++) {
      if (!Number.isFinite(row[j])) {
        throw new EngineError(fn, name, `${name}[${i}][${j}] must be a finite number, got ${row[j]}`);
      }
    }
  }
  return copy ? copyMatrix(x) : x;
}

function checkStochastic(fn, name, rows) {
  rows.forEach((row, i) => {
    let sum = 0;
    for (let j = 0; j < row.length; j++) {
      if (row[j] < 0) {
        throw new EngineError(fn, name, `${name} has a negative entry at (${i}, ${j})`);
      }
      sum += row[j];
    }
    if (!(Math.abs(sum - 1) <= ROW_SUM_TOLERANCE)) {
      const where = rows.length > 1 || name !== "mu" ? `row ${i} of ${name}` : name;
      throw new EngineError(fn, name,
        `${where} sums to ${sum}, not 1 (tolerance ${ROW_SUM_TOLERANCE}): ${name} must be row-stochastic`);
    }
  });
}

const VALIDATED = new WeakSet();  // HMMs made by makeHmm (copies the engine owns)

function buildHmm(fn, A, C, mu) {
  const Am = toMatrix(fn, "A", A);
  const d = Am.length;
  if (Am[0].length !== d) {
    throw new EngineError(fn, "A", `A must be a square matrix, got ${d} x ${Am[0].length}`);
  }
  const Cm = toMatrix(fn, "C", C, d);
  if (Cm[0].length === 0) throw new EngineError(fn, "C", "C must have at least one column");
  const m = toVector(fn, "mu", mu, d);
  if (d * (d + Cm[0].length) > MAX_ENTRIES) {
    throw new EngineError(fn, "C", `a model of ${d} states and ${Cm[0].length} tokens is too large`);
  }
  checkStochastic(fn, "A", Am);
  checkStochastic(fn, "C", Cm);
  checkStochastic(fn, "mu", [m]);
  const hmm = { A: Am, C: Cm, mu: m, nStates: d, nTokens: Cm[0].length };
  VALIDATED.add(hmm);
  return hmm;
}

function checkHmm(fn, hmm) {
  if (VALIDATED.has(hmm)) return hmm;
  if (hmm === null || typeof hmm !== "object" || !("A" in hmm) || !("C" in hmm) || !("mu" in hmm)) {
    throw new EngineError(fn, "hmm", `hmm must be an object {A, C, mu} (see makeHmm), got ${show(hmm)}`);
  }
  return buildHmm(fn, hmm.A, hmm.C, hmm.mu);
}

function checkTokens(fn, hmm, tokens, name = "tokens") {
  if (!isArrayLike(tokens)) {
    throw new EngineError(fn, name, `${name} must be an array of integers, got ${show(tokens)}`);
  }
  if (tokens.length > MAX_T) {
    throw new EngineError(fn, name, `${name} has ${tokens.length} entries, more than ${MAX_T}`);
  }
  const n = hmm.nTokens;
  if ((tokens.length + 1) * Math.max(hmm.nStates, n) > MAX_ENTRIES) {
    throw new EngineError(fn, name, `${name} has ${tokens.length} entries: the results would ` +
      `exceed ${MAX_ENTRIES} numbers for ${hmm.nStates} states and ${n} tokens`);
  }
  const out = new Int32Array(tokens.length);
  const emitted = new Uint8Array(n);
  for (let i = 0; i < hmm.nStates; i++) {
    for (let z = 0; z < n; z++) if (hmm.C[i][z] > 0) emitted[z] = 1;
  }
  for (let t = 0; t < tokens.length; t++) {
    const z = tokens[t];
    if (typeof z !== "number" || !Number.isInteger(z)) {
      throw new EngineError(fn, name, `${name}[${t}] must be an integer, got ${show(z)}`);
    }
    if (z < 0 || z >= n) {
      throw new EngineError(fn, name,
        `token ${z} at position ${t} is outside the vocabulary 0..${n - 1}`);
    }
    if (!emitted[z]) {
      throw new EngineError(fn, name, `token ${z} at position ${t} has zero probability under ` +
        `the model: no hidden state emits it (column ${z} of C is zero)`);
    }
    out[t] = z;
  }
  return out;
}

function checkHorizon(fn, T, name = "T") {
  return checkInt(fn, name, T, 0, MAX_T);
}

function checkFunction(fn, hmm, f, name = "f") {
  return toVector(fn, name, f, hmm.nStates);
}

function checkFinite(fn, what, arrays, argument = "hmm") {
  for (const row of arrays) {
    for (let i = 0; i < row.length; i++) {
      if (!Number.isFinite(row[i])) {
        throw new EngineError(fn, argument, `${what} overflowed to inf/NaN in float64: the ` +
          `inputs are of extreme magnitude`);
      }
    }
  }
}

// ------------------------------------------------------------------------------------------
// Random numbers: SplitMix64 seeding, xoshiro128**, Gamma (Marsaglia-Tsang), Dirichlet
// ------------------------------------------------------------------------------------------

/** A 32-bit finaliser with low bias ("lowbias32", C. Wellons): a bijection of uint32. */
function mix32(x) {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

class Xoshiro128 {
  /**
   * The state: four 32-bit lanes, lane j = a chain of mix32 over the seed's 32-bit chunks
   * (the word count, then each word's low and high halves) from a lane constant; a change of
   * any chunk changes every lane.
   */
  constructor(words) {
    const chunks = [words.length];
    for (const w of words) chunks.push(w % 4294967296, Math.floor(w / 4294967296));
    this.s = new Uint32Array(4);
    for (let j = 0; j < 4; j++) {
      let h = (0x243F6A88 + Math.imul(j + 1, 0x9E3779B9)) >>> 0;
      for (const c of chunks) h = mix32((h ^ c) + 0x9E3779B9);
      this.s[j] = mix32(h + j);
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  nextUint32() {
    const s = this.s;
    const x = Math.imul(s[1], 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 11) | (s[3] >>> 21);
    return result;
  }

  /** A double in [0, 1) with 53 random bits. */
  next() {
    const a = this.nextUint32() >>> 5;   // 27 bits
    const b = this.nextUint32() >>> 6;   // 26 bits
    return (a * 67108864 + b) / 9007199254740992;
  }
}

export function rng(seed) {
  return new Xoshiro128(checkSeed("rng", seed));
}

export function uniforms(seed, count) {
  const words = checkSeed("uniforms", seed);
  checkInt("uniforms", "count", count, 0, 100_000_000);
  const g = new Xoshiro128(words);
  const u = new Float64Array(count);
  for (let i = 0; i < count; i++) u[i] = g.next();
  return u;
}

function standardNormal(g) {
  const u1 = 1 - g.next();               // (0, 1]
  const u2 = g.next();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** log G, G ~ Gamma(shape, 1): Marsaglia & Tsang (2000), the shape < 1 boost in log space. */
function logGamma(g, shape) {
  if (shape < 1) {
    const u = 1 - g.next();              // (0, 1]
    return logGamma(g, shape + 1) + Math.log(u) / shape;
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x, v;
    do {
      x = standardNormal(g);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - g.next();
    const x2 = x * x;
    if (u < 1 - 0.0331 * x2 * x2 || Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) {
      return Math.log(d) + Math.log(v);
    }
  }
}

function dirichletRow(g, alpha, cols) {
  const l = new Float64Array(cols);
  let top = -Infinity;
  for (let j = 0; j < cols; j++) {
    l[j] = logGamma(g, alpha);
    if (l[j] > top) top = l[j];
  }
  let sum = 0;
  for (let j = 0; j < cols; j++) {
    l[j] = Math.exp(l[j] - top);
    sum += l[j];
  }
  for (let j = 0; j < cols; j++) l[j] /= sum;
  return l;
}

function checkConcentration(fn, name, value) {
  checkReal(fn, name, value);
  if (!(value >= 1e-300 && value <= 1e300)) {      // log(U) / shape stays finite
    throw new EngineError(fn, name, `${name} must be a positive number in [1e-300, 1e300], got ${value}`);
  }
  return value;
}

export function logGammaVariates(shape, count, seed) {
  const fn = "logGammaVariates";
  checkConcentration(fn, "shape", shape);
  checkInt(fn, "count", count, 0, 100_000_000);
  const g = new Xoshiro128(checkSeed(fn, seed));
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = logGamma(g, shape);
  return out;
}

export function dirichletRows(alpha, rows, cols, seed) {
  const fn = "dirichletRows";
  checkConcentration(fn, "alpha", alpha);
  checkInt(fn, "rows", rows, 0, 10_000_000);
  checkInt(fn, "cols", cols, 1, 100_000);
  if (rows * cols > MAX_ENTRIES) throw new EngineError(fn, "rows", `rows * cols exceeds ${MAX_ENTRIES}`);
  const g = new Xoshiro128(checkSeed(fn, seed));
  const out = [];
  for (let i = 0; i < rows; i++) out.push(dirichletRow(g, alpha, cols));
  return out;
}

// ------------------------------------------------------------------------------------------
// The model
// ------------------------------------------------------------------------------------------

export function makeHmm(A, C, mu) {
  return buildHmm("makeHmm", A, C, mu);
}

export function randomHmm(nStates, nTokens, options) {
  const fn = "randomHmm";
  checkInt(fn, "nStates", nStates, 1, 1000);
  checkInt(fn, "nTokens", nTokens, 1, 100_000);
  const o = checkOptions(fn, options, ["seed", "transitionConcentration", "emissionConcentration",
                                       "stickiness"]);
  if (!("seed" in o)) throw new EngineError(fn, "seed", "seed is required (options.seed)");
  const words = checkSeed(fn, o.seed);
  const ta = checkConcentration(fn, "transitionConcentration", o.transitionConcentration ?? 1);
  const ea = checkConcentration(fn, "emissionConcentration", o.emissionConcentration ?? 1);
  const s = checkReal(fn, "stickiness", o.stickiness ?? 0);
  if (s < 0 || s > 1) throw new EngineError(fn, "stickiness", `stickiness must lie in [0, 1], got ${s}`);
  if (nStates * (nStates + nTokens) > MAX_ENTRIES) {
    throw new EngineError(fn, "nTokens", `a model of ${nStates} states and ${nTokens} tokens is too large`);
  }
  const g = new Xoshiro128(words);
  const Ar = [];
  for (let i = 0; i < nStates; i++) Ar.push(dirichletRow(g, ta, nStates));
  const C = [];
  for (let i = 0; i < nStates; i++) C.push(dirichletRow(g, ea, nTokens));
  const mu = dirichletRow(g, 1.0, nStates);
  const A = Ar.map((row, i) => row.map((x, j) => (i === j ? s : 0) + (1 - s) * x));
  const hmm = { A, C, mu, nStates, nTokens };
  checkStochastic(fn, "A", A);    // guards the construction itself
  VALIDATED.add(hmm);
  return hmm;
}

/** Smallest k with p[0] + ... + p[k] > u, or the last k with p[k] > 0 (df.sample's rule). */
function inverseCdf(p, u) {
  let acc = 0;
  let last = 0;
  for (let k = 0; k < p.length; k++) {
    if (p[k] > 0) {
      last = k;
      acc += p[k];
      if (acc > u) return k;
    }
  }
  return last;
}

function sampleRaw(hmm, T, g) {
  const u = new Float64Array(2 * T + 1);
  for (let i = 0; i < u.length; i++) u[i] = g.next();
  const states = new Int32Array(T + 1);
  const tokens = new Int32Array(T);
  states[0] = inverseCdf(hmm.mu, u[0]);
  for (let t = 0; t < T; t++) {
    tokens[t] = inverseCdf(hmm.C[states[t]], u[2 * t + 1]);
    states[t + 1] = inverseCdf(hmm.A[states[t]], u[2 * t + 2]);
  }
  return { states, tokens, uniforms: u };
}

export function sample(hmm, T, seed) {
  const fn = "sample";
  hmm = checkHmm(fn, hmm);
  checkHorizon(fn, T);
  return sampleRaw(hmm, T, new Xoshiro128(checkSeed(fn, seed)));
}

export function sampleFromUniforms(hmm, T, uniforms) {
  const fn = "sampleFromUniforms";
  hmm = checkHmm(fn, hmm);
  checkHorizon(fn, T);
  const u = toVector(fn, "uniforms", uniforms);
  if (u.length < 2 * T + 1) {
    throw new EngineError(fn, "uniforms", `uniforms must hold at least 2T + 1 = ${2 * T + 1} numbers, got ${u.length}`);
  }
  for (let i = 0; i < 2 * T + 1; i++) {
    if (!(u[i] >= 0 && u[i] < 1)) {
      throw new EngineError(fn, "uniforms", `uniforms[${i}] must lie in [0, 1), got ${show(u[i])}`);
    }
  }
  let i = 0;
  return sampleRaw(hmm, T, { next: () => u[i++] });
}

// ------------------------------------------------------------------------------------------
// Small linear algebra
// ------------------------------------------------------------------------------------------

/** out = v M for a row vector v (length r) and a matrix M (r x c). */
function vecMat(v, M, out) {
  const c = out.length;
  out.fill(0);
  for (let i = 0; i < v.length; i++) {
    const vi = v[i];
    if (vi === 0) continue;
    const row = M[i];
    for (let j = 0; j < c; j++) out[j] += vi * row[j];
  }
  return out;
}

/** out = M v for a matrix M (r x c) and a column vector v (length c). */
function matVec(M, v, out) {
  for (let i = 0; i < M.length; i++) {
    const row = M[i];
    let s = 0;
    for (let j = 0; j < v.length; j++) s += row[j] * v[j];
    out[i] = s;
  }
  return out;
}

function dot(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** A rows x cols matrix of zeros: one buffer, its rows Float64Array views of it. */
function zeros(rows, cols) {
  const buffer = new Float64Array(rows * cols);
  const m = new Array(rows);
  for (let i = 0; i < rows; i++) m[i] = buffer.subarray(i * cols, (i + 1) * cols);
  return m;
}

/** A copy of the matrix m (rows x cols) in one buffer. */
function copyMatrix(m) {
  const out = zeros(m.length, m.length ? m[0].length : 0);
  for (let i = 0; i < m.length; i++) out[i].set(m[i]);
  return out;
}

/**
 * Eigen-decomposition of the symmetric n x n matrix whose lower triangle is S (flat,
 * row-major), by the cyclic Jacobi method with Rutishauser's updates (an off-diagonal
 * entry below 1/100 of an ulp of both its diagonal entries is set to 0; stop when every
 * off-diagonal entry is 0). `start` (flat, orthogonal) warm-starts the rotation: the Riccati
 * recursion passes the previous step's eigenvectors. Returns {values, V}: S = V diag(values)
 * V^T, V flat row-major with the eigenvectors as columns.
 */
function jacobiEigen(S, n, start = null) {
  let a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = S[i * n + j];
  }
  const V = new Float64Array(n * n);
  if (start) {            // warm start: rotate by the orthogonal start first, a = V^T a V
    V.set(start);
    const aV = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < n; k++) {
        const x = a[i * n + k];
        if (x !== 0) for (let j = 0; j < n; j++) aV[i * n + j] += x * V[k * n + j];
      }
    }
    const b = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        let sum = 0;
        for (let k = 0; k < n; k++) sum += V[k * n + i] * aV[k * n + j];
        b[i * n + j] = b[j * n + i] = sum;
      }
    }
    a = b;
  } else {
    for (let i = 0; i < n; i++) V[i * n + i] = 1;
  }
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += Math.abs(a[p * n + q]);
    if (off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const g = 100 * Math.abs(apq);
        const app = a[p * n + p], aqq = a[q * n + q];
        if (Math.abs(app) + g === Math.abs(app) && Math.abs(aqq) + g === Math.abs(aqq)) {
          a[p * n + q] = a[q * n + p] = 0;
          continue;
        }
        const h = aqq - app;
        let t;
        if (Math.abs(h) + g === Math.abs(h)) {
          t = apq / h;
        } else {
          const theta = 0.5 * h / apq;
          t = 1 / (Math.abs(theta) + Math.sqrt(1 + theta * theta));
          if (theta < 0) t = -t;
        }
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        const tau = s / (1 + c);
        a[p * n + p] = app - t * apq;
        a[q * n + q] = aqq + t * apq;
        a[p * n + q] = a[q * n + p] = 0;
        for (let r = 0; r < n; r++) {
          if (r !== p && r !== q) {
            const arp = a[r * n + p], arq = a[r * n + q];
            a[r * n + p] = a[p * n + r] = arp - s * (arq + tau * arp);
            a[r * n + q] = a[q * n + r] = arq + s * (arp - tau * arq);
          }
          const vrp = V[r * n + p], vrq = V[r * n + q];
          V[r * n + p] = vrp - s * (vrq + tau * vrp);
          V[r * n + q] = vrq + s * (vrp - tau * vrq);
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, V };
}

/**
 * out = S^+ (flat n x n), eigenvalues |lambda| <= 1e-12 max(1, max |lambda|) dropped;
 * returns the eigenvectors (flat, columns) for a warm start of the next call.
 */
function pinvSym(S, n, out, start = null) {
  const { values, V } = jacobiEigen(S, n, start);
  let top = 0;
  for (let i = 0; i < n; i++) top = Math.max(top, Math.abs(values[i]));
  const cutoff = PINV_RCOND * Math.max(1, top);
  const inv = values.map((x) => (Math.abs(x) > cutoff ? 1 / x : 0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += V[i * n + k] * inv[k] * V[j * n + k];
      out[i * n + j] = s;
    }
  }
  return V;
}

function squareFlat(fn, M) {
  const S = readMatrix(fn, "M", M);
  const n = S.length;
  if (S[0].length !== n) throw new EngineError(fn, "M", `M must be square, got ${n} x ${S[0].length}`);
  const flat = new Float64Array(n * n);
  S.forEach((row, i) => flat.set(row, i * n));
  return [flat, n];
}

function rowsOf(flat, rows, cols) {
  const m = zeros(rows, cols);
  for (let i = 0; i < rows; i++) m[i].set(flat.subarray(i * cols, (i + 1) * cols));
  return m;
}

export function symmetricEigen(M) {
  const [S, n] = squareFlat("symmetricEigen", M);
  const { values, V } = jacobiEigen(S, n);
  return { values, vectors: rowsOf(V, n, n) };
}

export function pinvSymmetric(M) {
  const [S, n] = squareFlat("pinvSymmetric", M);
  const out = new Float64Array(n * n);
  pinvSym(S, n, out);
  return rowsOf(out, n, n);
}

// ------------------------------------------------------------------------------------------
// The forward algorithm (chapter 2)
// ------------------------------------------------------------------------------------------

/** post = prior^z for a non-negative prior; returns log prior(C_z) (-Infinity if 0). */
function bayesStep(prior, c, z, post) {
  const d = prior.length;
  let norm = 0;
  for (let i = 0; i < d; i++) {
    const w = prior[i] * c[i][z];
    post[i] = w;
    norm += w;
  }
  if (norm > UNDERFLOW) {
    const inv = 1 / norm;
    for (let i = 0; i < d; i++) post[i] *= inv;
    return Math.log(norm);
  }
  let top = -Infinity;
  for (let i = 0; i < d; i++) {
    if (prior[i] > 0 && c[i][z] > 0) {
      post[i] = Math.log(prior[i]) + Math.log(c[i][z]);
      if (post[i] > top) top = post[i];
    } else {
      post[i] = -Infinity;
    }
  }
  if (top === -Infinity) return top;
  norm = 0;
  for (let i = 0; i < d; i++) {
    post[i] = Math.exp(post[i] - top);
    norm += post[i];
  }
  const inv = 1 / norm;
  for (let i = 0; i < d; i++) post[i] *= inv;
  return top + Math.log(norm);
}

function forwardRaw(fn, hmm, tokens) {
  const T = tokens.length, d = hmm.nStates;
  const pi = zeros(T + 1, d);
  pi[0].set(hmm.mu);
  const evidence = new Float64Array(T);
  const post = new Float64Array(d);
  let loglik = 0;
  for (let t = 0; t < T; t++) {
    const lp = bayesStep(pi[t], hmm.C, tokens[t], post);
    if (lp === -Infinity) {
      throw new EngineError(fn, "tokens", `token ${tokens[t]} at position ${t} has zero ` +
        "probability under the model given the tokens before it");
    }
    evidence[t] = Math.exp(lp);
    loglik += lp;
    vecMat(post, hmm.A, pi[t + 1]);
  }
  return { pi, evidence, logLikelihood: loglik };
}

/** pi_T only, into law (d), with a work row post (d): the forward pass without history. */
function forwardLast(fn, hmm, tokens, law, post) {
  law.set(hmm.mu);
  for (let t = 0; t < tokens.length; t++) {
    if (bayesStep(law, hmm.C, tokens[t], post) === -Infinity) {
      throw new EngineError(fn, "tokens", `token ${tokens[t]} at position ${t} has zero ` +
        "probability under the model given the tokens before it");
    }
    vecMat(post, hmm.A, law);
  }
  return law;
}

export function forward(hmm, tokens) {
  const fn = "forward";
  hmm = checkHmm(fn, hmm);
  return forwardRaw(fn, hmm, checkTokens(fn, hmm, tokens));
}

export function predict(hmm, tokens) {
  const fn = "predict";
  hmm = checkHmm(fn, hmm);
  return forwardRaw(fn, hmm, checkTokens(fn, hmm, tokens)).pi;
}

export function logLikelihood(hmm, tokens) {
  const fn = "logLikelihood";
  hmm = checkHmm(fn, hmm);
  return forwardRaw(fn, hmm, checkTokens(fn, hmm, tokens)).logLikelihood;
}

export function nextTokenProbs(hmm, tokens) {
  const fn = "nextTokenProbs";
  hmm = checkHmm(fn, hmm);
  const { pi } = forwardRaw(fn, hmm, checkTokens(fn, hmm, tokens));
  const probs = zeros(pi.length, hmm.nTokens);
  pi.forEach((row, t) => vecMat(row, hmm.C, probs[t]));
  return probs;
}

function priorRaw(hmm, T) {
  const p = zeros(T + 1, hmm.nStates);
  p[0].set(hmm.mu);
  for (let t = 0; t < T; t++) vecMat(p[t], hmm.A, p[t + 1]);
  return p;
}

export function priorMeasures(hmm, T) {
  const fn = "priorMeasures";
  hmm = checkHmm(fn, hmm);
  checkHorizon(fn, T);
  if ((T + 1) * hmm.nStates > MAX_ENTRIES) {
    throw new EngineError(fn, "T", `(T+1) * nStates exceeds ${MAX_ENTRIES} entries`);
  }
  return priorRaw(hmm, T);
}

// ------------------------------------------------------------------------------------------
// The layer map and the dual filter (chapters 7-9)
// ------------------------------------------------------------------------------------------

/** out = P(v): clip negative entries, renormalise; zero mass -> the uniform law. */
function projectInto(v, out) {
  const d = v.length;
  let mass = 0;
  for (let i = 0; i < d; i++) {
    const x = v[i] > 0 ? v[i] : 0;
    out[i] = x;
    mass += x;
  }
  if (mass > 0) {
    for (let i = 0; i < d; i++) out[i] /= mass;   // divide: 1/mass overflows for subnormal mass
  } else {
    out.fill(1 / d);
  }
  return out;
}

export function project(v) {
  const x = toVector("project", "v", v);
  if (x.length === 0) throw new EngineError("project", "v", "v must not be empty");
  return projectInto(x, new Float64Array(x.length));
}

/**
 * post = q^z = q .* C_z / q(C_z) for a (signed, in raw mode) measure q. The plain normaliser
 * when |q(C_z)| > 1e-280; else log magnitudes rescaled by their maximum; when the evidence is
 * exactly zero, the package's fallback C_z / sum(C_z).
 */
function posterior(q, C, z, colSum, post) {
  const d = q.length;
  let e = 0;
  for (let i = 0; i < d; i++) {
    const w = q[i] * C[i][z];
    post[i] = w;
    e += w;
  }
  if (Math.abs(e) > UNDERFLOW) {
    for (let i = 0; i < d; i++) post[i] /= e;
    return post;
  }
  let top = -Infinity;
  for (let i = 0; i < d; i++) {
    if (q[i] !== 0 && C[i][z] > 0) {
      post[i] = Math.log(Math.abs(q[i])) + Math.log(C[i][z]);
      if (post[i] > top) top = post[i];
    } else {
      post[i] = -Infinity;
    }
  }
  let s = 0;
  if (top !== -Infinity) {
    for (let i = 0; i < d; i++) {
      post[i] = post[i] === -Infinity ? 0 : Math.sign(q[i]) * Math.exp(post[i] - top);
      s += post[i];
    }
  }
  if (s === 0) {                         // zero evidence: Bayes' rule from the uniform prior
    for (let i = 0; i < d; i++) post[i] = C[i][z] / colSum[z];
    return post;
  }
  for (let i = 0; i < d; i++) post[i] /= s;
  return post;
}

function columnSums(hmm) {
  const s = new Float64Array(hmm.nTokens);
  for (let i = 0; i < hmm.nStates; i++) for (let z = 0; z < hmm.nTokens; z++) s[z] += hmm.C[i][z];
  return s;
}

/**
 * N(rho) into out (T+1 rows), r_{t+1} = ((r_t - q_t) + q_t^{z_t}) A, q_t = P(rho_t) or rho_t.
 * With start > 0, rows 0..start of out must already hold N(rho)_0..N(rho)_start.
 */
function layerInto(hmm, tokens, rho, normalize, colSum, out, q, post, carry, start = 0) {
  const T = tokens.length, d = hmm.nStates, A = hmm.A;
  if (start === 0) out[0].set(hmm.mu);
  for (let t = start; t < T; t++) {
    if (normalize) projectInto(rho[t], q); else q.set(rho[t]);
    posterior(q, hmm.C, tokens[t], colSum, post);
    const r = out[t];
    for (let i = 0; i < d; i++) carry[i] = (r[i] - q[i]) + post[i];
    vecMat(carry, A, out[t + 1]);
  }
  return out;
}

function checkMeasures(fn, hmm, rho, T, name = "rho", copy = false) {
  return readMatrix(fn, name, rho, T + 1, hmm.nStates, copy);
}

export function layerMap(hmm, tokens, rho, options) {
  const fn = "layerMap";
  hmm = checkHmm(fn, hmm);
  tokens = checkTokens(fn, hmm, tokens);
  const T = tokens.length, d = hmm.nStates;
  rho = checkMeasures(fn, hmm, rho, T);
  const o = checkOptions(fn, options, ["normalize"]);
  const normalize = checkBool(fn, "normalize", o.normalize ?? true);
  const out = zeros(T + 1, d);
  layerInto(hmm, tokens, rho, normalize, columnSums(hmm), out, new Float64Array(d),
            new Float64Array(d), new Float64Array(d));
  checkFinite(fn, "layerMap", out, "rho");
  return out;
}

/** The number of leading rows where a and b agree bitwise, given that rows < from do. */
function equalRows(a, b, from) {
  for (let t = from; t < a.length; t++) {
    const x = a[t], y = b[t];
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return t;
  }
  return a.length;
}

/** The checked arguments of dualFilter and dualFilterErrors: [hmm, tokens, o, rho0]. */
function filterArguments(fn, hmm, tokens, layers, options, historyKept) {
  hmm = checkHmm(fn, hmm);
  tokens = checkTokens(fn, hmm, tokens);
  const T = tokens.length, d = hmm.nStates;
  checkInt(fn, "layers", layers, 0, MAX_T);
  if (historyKept && (layers + 1) * (T + 1) * d > MAX_ENTRIES) {
    throw new EngineError(fn, "layers", `the history (layers+1) x (T+1) x d = ` +
      `${(layers + 1) * (T + 1) * d} entries exceeds ${MAX_ENTRIES}: ask for fewer layers`);
  }
  const o = checkOptions(fn, options, ["normalize", "relax", "init"]);
  const normalize = checkBool(fn, "normalize", o.normalize ?? true);
  const relax = checkReal(fn, "relax", o.relax ?? 1);
  if (!(relax > 0 && relax <= 1)) {
    throw new EngineError(fn, "relax", `relax must lie in (0, 1], got ${relax}`);
  }
  const init = o.init ?? "prior";
  let rho0;
  if (typeof init === "string") {
    if (init !== "prior") {
      throw new EngineError(fn, "init", `init must be "prior" or an array of measures (T+1, d), got ${show(init)}`);
    }
    rho0 = priorRaw(hmm, T);
  } else {
    rho0 = checkMeasures(fn, hmm, init, T, "init", true);
  }
  return [hmm, tokens, { normalize, relax }, rho0];
}

/**
 * The layers rho^(1..L) of the dual filter from rho0: each is written into the matrix
 * nextMatrix(layer) returns (not rho^(layer-1)'s) and passed to onLayer(layer, rho).
 */
function iterateLayers(fn, hmm, tokens, layers, { normalize, relax }, rho0, nextMatrix, onLayer) {
  const T = tokens.length, d = hmm.nStates;
  const colSum = columnSums(hmm);
  const q = new Float64Array(d), post = new Float64Array(d), carry = new Float64Array(d);
  // same = the number of leading rows of rho equal (bitwise) to those of the layer before.
  // N(rho)_t depends on rho_0..rho_{t-1} only, so with relax = 1 the rows 0..same of the next
  // layer are those of rho: they are copied, and the scan resumes at row `same`.
  let same = 0;
  let rho = rho0;
  for (let layer = 1; layer <= layers; layer++) {
    const nxt = nextMatrix(layer);
    const start = relax === 1 ? Math.min(same, T) : 0;
    for (let t = 0; t <= start && start > 0; t++) nxt[t].set(rho[t]);
    if (same > T && relax === 1) {      // rho = N(rho) bitwise: every further layer is the same
      rho = nxt;
      onLayer(layer, rho);
      continue;
    }
    layerInto(hmm, tokens, rho, normalize, colSum, nxt, q, post, carry, start);
    if (relax !== 1) {
      for (let t = 0; t <= T; t++) {
        const a = nxt[t], b = rho[t];
        for (let i = 0; i < d; i++) a[i] = a[i] * relax + (1 - relax) * b[i];
      }
    }
    for (let t = 0; t <= T; t++) {
      for (let i = 0; i < d; i++) {
        if (!Number.isFinite(nxt[t][i])) {
          throw new EngineError(fn, "normalize", `the dual filter overflowed at layer ${layer} ` +
            `(normalize=${normalize}); the un-normalised iteration can blow up in its ` +
            "transient: use normalize=true");
        }
      }
    }
    same = equalRows(nxt, rho, relax === 1 ? start : 0);
    rho = nxt;
    onLayer(layer, rho);
  }
  return rho;
}

export function dualFilter(hmm, tokens, layers, options) {
  const fn = "dualFilter";
  let o, rho0;
  [hmm, tokens, o, rho0] = filterArguments(fn, hmm, tokens, layers, options, true);
  const T = tokens.length, d = hmm.nStates, size = (T + 1) * d;
  const buffer = new Float64Array(layers * size);     // every layer in one buffer
  const history = [rho0];
  const nextMatrix = (layer) => {
    const m = new Array(T + 1);
    const base = (layer - 1) * size;
    for (let t = 0; t <= T; t++) m[t] = buffer.subarray(base + t * d, base + (t + 1) * d);
    return m;
  };
  iterateLayers(fn, hmm, tokens, layers, o, rho0, nextMatrix, (layer, rho) => history.push(rho));
  return history;
}

/** max_t ||rho_t - target_t||_1 */
function worstL1(rho, target) {
  let worst = 0;
  for (let t = 0; t < rho.length; t++) {
    let e = 0;
    for (let i = 0; i < rho[t].length; i++) e += Math.abs(rho[t][i] - target[t][i]);
    if (e > worst) worst = e;
  }
  return worst;
}

export function dualFilterErrors(hmm, tokens, layers, target, options) {
  const fn = "dualFilterErrors";
  let o, rho0;
  [hmm, tokens, o, rho0] = filterArguments(fn, hmm, tokens, layers, options, false);
  const T = tokens.length, d = hmm.nStates;
  target = checkMeasures(fn, hmm, target, T, "target");
  const perLayer = new Float64Array(layers + 1);
  perLayer[0] = worstL1(rho0, target);
  const a = zeros(T + 1, d), b = zeros(T + 1, d);
  const last = iterateLayers(fn, hmm, tokens, layers, o, rho0, (layer) => (layer % 2 ? a : b),
                             (layer, rho) => { perLayer[layer] = worstL1(rho, target); });
  return { perLayer, last: copyMatrix(last) };
}

export function l1Errors(history, pi) {
  const fn = "l1Errors";
  if (!Array.isArray(history) || history.length === 0) {
    throw new EngineError(fn, "history", `history must be a non-empty array of layers, got ${show(history)}`);
  }
  const P = readMatrix(fn, "pi", pi);
  const perPosition = history.map((layer, l) => {
    const rho = readMatrix(fn, `history[${l}]`, layer, P.length, P[0].length);
    const e = new Float64Array(P.length);
    for (let t = 0; t < P.length; t++) {
      let s = 0;
      for (let i = 0; i < P[t].length; i++) s += Math.abs(rho[t][i] - P[t][i]);
      e[t] = s;
    }
    return e;
  });
  const perLayer = Float64Array.from(perPosition, (e) => e.reduce((a, b) => Math.max(a, b), 0));
  return { perPosition, perLayer };
}

export function contributions(hmm, tokens, rho, f, options) {
  const fn = "contributions";
  hmm = checkHmm(fn, hmm);
  tokens = checkTokens(fn, hmm, tokens);
  const T = tokens.length, d = hmm.nStates;
  rho = checkMeasures(fn, hmm, rho, T);
  f = checkFunction(fn, hmm, f);
  const o = checkOptions(fn, options, ["normalize"]);
  const normalize = checkBool(fn, "normalize", o.normalize ?? true);
  if ((T + 1) * (T + 1) > MAX_ENTRIES) throw new EngineError(fn, "tokens", "T is too large for a (T+1) x (T+1) matrix");
  const colSum = columnSums(hmm);
  const q = new Float64Array(d), post = new Float64Array(d);
  const innovations = zeros(T, d);
  for (let s = 0; s < T; s++) {
    if (normalize) projectInto(rho[s], q); else q.set(rho[s]);
    posterior(q, hmm.C, tokens[s], colSum, post);
    const delta = innovations[s];
    for (let i = 0; i < d; i++) delta[i] = post[i] - q[i];
  }
  const powers = zeros(T + 1, d);     // powers[k] = A^k f
  powers[0].set(f);
  for (let k = 0; k < T; k++) matVec(hmm.A, powers[k], powers[k + 1]);
  const W = zeros(T + 1, T + 1);
  for (let t = 1; t <= T; t++) {
    for (let s = 0; s < t; s++) W[t][s] = dot(innovations[s], powers[t - s]);
  }
  checkFinite(fn, "contributions", W, "rho");
  return W;
}

export function simplexXY(rho) {
  const m = readMatrix("simplexXY", "rho", rho, undefined, 3);
  const xy = zeros(m.length, 2);
  m.forEach((r, t) => {
    xy[t][0] = r[1] + 0.5 * r[2];
    xy[t][1] = SQRT3_2 * r[2];
  });
  return xy;
}

// ------------------------------------------------------------------------------------------
// Estimators as controls (chapters 3, 4, 6)
// ------------------------------------------------------------------------------------------

function checkControls(fn, hmm, u, T, name = "u") {
  if (u === null || u === undefined) {
    if (T === undefined) throw new EngineError(fn, "T", `pass the horizon T when ${name} is null`);
    checkHorizon(fn, T);
    if ((T + 1) * Math.max(hmm.nStates, hmm.nTokens) > MAX_ENTRIES) {
      throw new EngineError(fn, "T", `T = ${T} needs more than ${MAX_ENTRIES} entries`);
    }
    return zeros(T, hmm.nTokens);
  }
  if (Array.isArray(u) && u.length === 0) {
    if (T !== undefined && T !== 0) throw new EngineError(fn, name, `${name} has 0 rows but T = ${T}`);
    return [];
  }
  const m = toMatrix(fn, name, u, undefined, hmm.nTokens);
  if (T !== undefined && m.length !== T) {
    throw new EngineError(fn, name, `${name} has ${m.length} rows but T = ${T}`);
  }
  return m;
}

function backwardRaw(hmm, f, u) {
  const T = u.length, d = hmm.nStates;
  const y = zeros(T + 1, d);
  y[T].set(f);
  const cu = new Float64Array(d);
  for (let t = T - 1; t >= 0; t--) {
    const yt = matVec(hmm.A, y[t + 1], y[t]);
    matVec(hmm.C, u[t], cu);
    for (let i = 0; i < d; i++) yt[i] += cu[i];
  }
  return y;
}

export function dualBackward(hmm, f, u, T) {
  const fn = "dualBackward";
  hmm = checkHmm(fn, hmm);
  f = checkFunction(fn, hmm, f);
  u = checkControls(fn, hmm, u, T);
  const y = backwardRaw(hmm, f, u);
  checkFinite(fn, "dualBackward", y);
  return y;
}

export function controlCost(hmm, f, u) {
  const fn = "controlCost";
  hmm = checkHmm(fn, hmm);
  f = checkFunction(fn, hmm, f);
  if (u === null || u === undefined) {
    throw new EngineError(fn, "u", `u must be an array of controls (T, nTokens), got ${show(u)}`);
  }
  u = checkControls(fn, hmm, u, undefined);
  const T = u.length, d = hmm.nStates;
  const y = backwardRaw(hmm, f, u);
  const p = priorRaw(hmm, T);
  const sq = (v) => v.map((x) => x * x);
  let cost = dot(hmm.mu, sq(y[0])) - dot(hmm.mu, y[0]) ** 2;
  const a1 = new Float64Array(d), a2 = new Float64Array(d);
  const c1 = new Float64Array(d), c2 = new Float64Array(d);
  for (let t = 0; t < T; t++) {
    matVec(hmm.A, sq(y[t + 1]), a2);
    matVec(hmm.A, y[t + 1], a1);
    matVec(hmm.C, sq(u[t]), c2);
    matVec(hmm.C, u[t], c1);
    let s = 0;
    for (let i = 0; i < d; i++) s += p[t][i] * ((a2[i] - a1[i] * a1[i]) + (c2[i] - c1[i] * c1[i]));
    cost += s;
  }
  checkFinite(fn, "controlCost", [[cost]]);
  return cost;
}

export function optimalControl(hmm, tokens, f) {
  const fn = "optimalControl";
  hmm = checkHmm(fn, hmm);
  tokens = checkTokens(fn, hmm, tokens);
  f = checkFunction(fn, hmm, f);
  const T = tokens.length, d = hmm.nStates, n = hmm.nTokens;
  const { pi } = forwardRaw(fn, hmm, tokens);
  const y = backwardRaw(hmm, f, zeros(T, n));
  const U = zeros(T, n);
  const prob = new Float64Array(n), weighted = new Float64Array(n), py = new Float64Array(d);
  for (let t = 0; t < T; t++) {
    vecMat(pi[t], hmm.C, prob);
    for (let i = 0; i < d; i++) py[i] = pi[t][i] * y[t][i];
    vecMat(py, hmm.C, weighted);
    const meanY = dot(pi[t], y[t]);
    for (let z = 0; z < n; z++) {
      U[t][z] = prob[z] > 0 ? -(weighted[z] - prob[z] * meanY) / prob[z] : 0;
    }
  }
  checkFinite(fn, "optimalControl", U);
  return U;
}

export function estimate(hmm, tokens, f, U) {
  const fn = "estimate";
  hmm = checkHmm(fn, hmm);
  tokens = checkTokens(fn, hmm, tokens);
  f = checkFunction(fn, hmm, f);
  const T = tokens.length;
  U = checkControls(fn, hmm, U, T, "U");
  const y0 = backwardRaw(hmm, f, zeros(T, hmm.nTokens))[0];
  let s = 0;
  for (let t = 0; t < T; t++) s += U[t][tokens[t]];
  const value = dot(hmm.mu, y0) - s;
  checkFinite(fn, "estimate", [[value]]);
  return value;
}

// ------------------------------------------------------------------------------------------
// The best additive predictor: the Riccati recursion (chapter 5), MMSE (chapter 6)
// ------------------------------------------------------------------------------------------

function riccati(hmm, T) {
  const { A, C, mu } = hmm;
  const d = hmm.nStates, n = hmm.nTokens, dd = d * d, nd = n * d;
  const p = priorRaw(hmm, T);
  const sig = new Float64Array((T + 1) * dd);       // Sigma_t at offset t d^2 (row-major)
  const gain = new Float64Array(T * nd);            // K_t at offset t n d
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) sig[i * d + j] = (i === j ? mu[i] : 0) - mu[i] * mu[j];
  }
  const Q = new Float64Array(dd), R = new Float64Array(n * n), SA = new Float64Array(dd);
  const CtS = new Float64Array(nd), M = new Float64Array(n * n), B = new Float64Array(nd);
  const P = new Float64Array(n * n), nxt = new Float64Array(dd), SAtC = new Float64Array(nd);
  const pC = new Float64Array(n);
  let eigenvectors = null;
  for (let t = 0; t < T; t++) {
    const so = t * dd, ko = t * nd, pt = p[t], pt1 = p[t + 1];
    // Q = diag(p_{t+1}) - A^T diag(p_t) A
    Q.fill(0);
    for (let l = 0; l < d; l++) {
      const Al = A[l], pl = pt[l];
      for (let i = 0; i < d; i++) {
        const x = Al[i];
        if (x === 0) continue;
        for (let j = 0; j < d; j++) Q[i * d + j] += x * (pl * Al[j]);
      }
    }
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) Q[i * d + j] = (i === j ? pt1[i] : 0) - Q[i * d + j];
    }
    // R = diag(p_t C) - C^T diag(p_t) C
    R.fill(0);
    vecMat(pt, C, pC);
    for (let l = 0; l < d; l++) {
      const Cl = C[l], pl = pt[l];
      for (let a = 0; a < n; a++) {
        const x = Cl[a];
        if (x === 0) continue;
        for (let b = 0; b < n; b++) R[a * n + b] += x * (pl * Cl[b]);
      }
    }
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) R[a * n + b] = (a === b ? pC[a] : 0) - R[a * n + b];
    }
    // SA = Sigma_t A, CtS = C^T Sigma_t, M = (C^T Sigma_t) C + R, B = C^T (Sigma_t A)
    SA.fill(0);
    CtS.fill(0);
    for (let i = 0; i < d; i++) {
      for (let l = 0; l < d; l++) {
        const x = sig[so + i * d + l];
        if (x === 0) continue;
        const Al = A[l];
        for (let j = 0; j < d; j++) SA[i * d + j] += x * Al[j];
      }
    }
    for (let l = 0; l < d; l++) {
      const Cl = C[l];
      for (let a = 0; a < n; a++) {
        const x = Cl[a];
        if (x === 0) continue;
        for (let j = 0; j < d; j++) CtS[a * d + j] += x * sig[so + l * d + j];
      }
    }
    M.fill(0);
    for (let a = 0; a < n; a++) {
      for (let l = 0; l < d; l++) {
        const x = CtS[a * d + l];
        if (x === 0) continue;
        const Cl = C[l];
        for (let b = 0; b < n; b++) M[a * n + b] += x * Cl[b];
      }
      for (let b = 0; b < n; b++) M[a * n + b] += R[a * n + b];
    }
    B.fill(0);
    for (let l = 0; l < d; l++) {
      const Cl = C[l];
      for (let a = 0; a < n; a++) {
        const x = Cl[a];
        if (x === 0) continue;
        for (let j = 0; j < d; j++) B[a * d + j] += x * SA[l * d + j];
      }
    }
    // K_t = M^+ B
    eigenvectors = pinvSym(M, n, P, eigenvectors);
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        const x = P[a * n + b];
        if (x === 0) continue;
        for (let j = 0; j < d; j++) gain[ko + a * d + j] += x * B[b * d + j];
      }
    }
    // Sigma_{t+1} = sym((A^T SA + Q) - (SA^T C) K_t)
    nxt.fill(0);
    SAtC.fill(0);
    for (let l = 0; l < d; l++) {
      const Al = A[l], Cl = C[l];
      for (let i = 0; i < d; i++) {
        const x = Al[i];
        if (x !== 0) for (let j = 0; j < d; j++) nxt[i * d + j] += x * SA[l * d + j];
        const y = SA[l * d + i];
        if (y !== 0) for (let b = 0; b < n; b++) SAtC[i * n + b] += y * Cl[b];
      }
    }
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let corr = 0;
        for (let b = 0; b < n; b++) corr += SAtC[i * n + b] * gain[ko + b * d + j];
        nxt[i * d + j] = (nxt[i * d + j] + Q[i * d + j]) - corr;
      }
    }
    const no = so + dd;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) sig[no + i * d + j] = 0.5 * (nxt[i * d + j] + nxt[j * d + i]);
    }
  }
  const Sigma = [], gains = [];
  for (let t = 0; t <= T; t++) {
    const m = new Array(d);
    for (let i = 0; i < d; i++) m[i] = sig.subarray(t * dd + i * d, t * dd + (i + 1) * d);
    Sigma.push(m);
  }
  for (let t = 0; t < T; t++) {
    const m = new Array(n);
    for (let a = 0; a < n; a++) m[a] = gain.subarray(t * nd + a * d, t * nd + (a + 1) * d);
    gains.push(m);
  }
  return { hmm, T, Sigma, gains };
}

export function linearPredictor(hmm, T) {
  const fn = "linearPredictor";
  hmm = checkHmm(fn, hmm);
  checkHorizon(fn, T);
  if ((T + 1) * hmm.nStates * (hmm.nStates + hmm.nTokens) > MAX_ENTRIES) {
    throw new EngineError(fn, "T", `T = ${T} needs more than ${MAX_ENTRIES} entries`);
  }
  const lp = riccati(hmm, T);
  checkFinite(fn, "linearPredictor", lp.Sigma.flat());
  return lp;
}

function checkLp(fn, lp) {
  if (lp === null || typeof lp !== "object" || !Array.isArray(lp.Sigma) || !Array.isArray(lp.gains) ||
      !Number.isInteger(lp.T) || !VALIDATED.has(lp.hmm) || lp.Sigma.length !== lp.T + 1 ||
      lp.gains.length !== lp.T) {
    throw new EngineError(fn, "lp", `lp must be the result of linearPredictor(hmm, T), got ${show(lp)}`);
  }
  return lp;
}

function linearControlsRaw(lp, f) {
  const { hmm, T, gains } = lp;
  const u = new Array(T);
  let y = f;
  for (let t = T - 1; t >= 0; t--) {
    const ut = matVec(gains[t], y, new Float64Array(hmm.nTokens));
    for (let z = 0; z < ut.length; z++) ut[z] = -ut[z];
    u[t] = ut;
    const ny = matVec(hmm.A, y, new Float64Array(hmm.nStates));
    const cu = matVec(hmm.C, ut, new Float64Array(hmm.nStates));
    for (let i = 0; i < ny.length; i++) ny[i] += cu[i];
    y = ny;
  }
  return { u, y0: y };
}

export function linearMse(lp, f) {
  const fn = "linearMse";
  lp = checkLp(fn, lp);
  f = checkFunction(fn, lp.hmm, f);
  const value = dot(f, matVec(lp.Sigma[lp.T], f, new Float64Array(f.length)));
  checkFinite(fn, "linearMse", [[value]]);
  return value;
}

export function linearControls(lp, f) {
  const fn = "linearControls";
  lp = checkLp(fn, lp);
  f = checkFunction(fn, lp.hmm, f);
  const { u } = linearControlsRaw(lp, f);
  checkFinite(fn, "linearControls", u);
  return u;
}

export function linearEstimate(lp, tokens, f) {
  const fn = "linearEstimate";
  lp = checkLp(fn, lp);
  tokens = checkTokens(fn, lp.hmm, tokens);
  if (tokens.length !== lp.T) {
    throw new EngineError(fn, "tokens", `tokens must have length T = ${lp.T}, got ${tokens.length}`);
  }
  f = checkFunction(fn, lp.hmm, f);
  const { u, y0 } = linearControlsRaw(lp, f);
  let s = 0;
  for (let t = 0; t < lp.T; t++) s += u[t][tokens[t]];
  const value = dot(lp.hmm.mu, y0) - s;
  checkFinite(fn, "linearEstimate", [[value]]);
  return value;
}

export function linearEstimates(lp, tokens) {
  const fn = "linearEstimates";
  lp = checkLp(fn, lp);
  tokens = checkTokens(fn, lp.hmm, tokens);
  if (tokens.length > lp.T) {
    throw new EngineError(fn, "tokens", `tokens may have at most T = ${lp.T} entries (the gains' horizon), got ${tokens.length}`);
  }
  const { hmm, gains } = lp;
  const d = hmm.nStates, n = hmm.nTokens;
  const m = zeros(tokens.length + 1, d);
  m[0].set(hmm.mu);
  const mC = new Float64Array(n), mCK = new Float64Array(d);
  for (let t = 0; t < tokens.length; t++) {
    const next = vecMat(m[t], hmm.A, m[t + 1]);
    vecMat(m[t], hmm.C, mC);
    vecMat(mC, gains[t], mCK);
    const k = gains[t][tokens[t]];
    for (let i = 0; i < d; i++) next[i] += k[i] - mCK[i];
  }
  checkFinite(fn, "linearEstimates", m);
  return m;
}

export function priorVariance(hmm, f, T) {
  const fn = "priorVariance";
  hmm = checkHmm(fn, hmm);
  f = checkFunction(fn, hmm, f);
  checkHorizon(fn, T);
  const p = priorRaw(hmm, T)[T];
  return dot(p, f.map((x) => x * x)) - dot(p, f) ** 2;
}

export function mmseExact(hmm, f, T) {
  const fn = "mmseExact";
  hmm = checkHmm(fn, hmm);
  f = checkFunction(fn, hmm, f);
  checkHorizon(fn, T);
  const d = hmm.nStates, n = hmm.nTokens;
  if (n ** T > MAX_SEQUENCES) {
    throw new EngineError(fn, "T", `${n}^${T} sequences is too many to enumerate (max ${MAX_SEQUENCES})`);
  }
  // depth-first over the prefix tree, sequences in lexicographic order;
  // alpha_{t+1} = (alpha_t .* C_{z_t}) A: the joint weight P(z_0..z_t, X_{t+1} = .). At the
  // leaves only alpha_T 1, alpha_T f and alpha_T f^2 are needed: with w = alpha_{T-1} .* C_z
  // they are w (A 1), w (A f), w (A f^2), which spares the last product by A.
  const A1 = matVec(hmm.A, new Float64Array(d).fill(1), new Float64Array(d));
  const Af = matVec(hmm.A, f, new Float64Array(d));
  const Af2 = matVec(hmm.A, f.map((x) => x * x), new Float64Array(d));
  const alphas = zeros(Math.max(T, 1), d);
  alphas[0].set(hmm.mu);
  const w = new Float64Array(d);
  let total = 0;
  const leaf = (a) => {
    let prob = 0, first = 0, second = 0;
    for (let i = 0; i < d; i++) {
      prob += a[i] * A1[i];
      first += a[i] * Af[i];
      second += a[i] * Af2[i];
    }
    if (prob > 0) total += second - first * first / prob;
  };
  const walk = (t) => {
    const a = alphas[t];
    for (let z = 0; z < n; z++) {
      for (let i = 0; i < d; i++) w[i] = a[i] * hmm.C[i][z];
      if (t === T - 1) {
        leaf(w);
      } else {
        vecMat(w, hmm.A, alphas[t + 1]);
        walk(t + 1);
      }
    }
  };
  if (T === 0) {       // no token: Var_mu(f) (the package's sum over the one empty sequence)
    const a = alphas[0];
    let prob = 0, first = 0, second = 0;
    for (let i = 0; i < d; i++) {
      prob += a[i];
      first += a[i] * f[i];
      second += a[i] * f[i] * f[i];
    }
    checkFinite(fn, "mmseExact", [[second - first * first / prob]]);
    return second - first * first / prob;
  }
  walk(0);
  checkFinite(fn, "mmseExact", [[total]]);
  return total;
}

export function mcMmse(lp, f, seed, paths) {
  const fn = "mcMmse";
  lp = checkLp(fn, lp);
  f = checkFunction(fn, lp.hmm, f);
  const words = checkSeed(fn, seed);
  checkInt(fn, "paths", paths, 1, 1_000_000);
  if (paths * Math.max(1, lp.T) > MAX_ENTRIES) {
    throw new EngineError(fn, "paths", `paths * T = ${paths * lp.T} exceeds ${MAX_ENTRIES}`);
  }
  const { hmm, T } = lp;
  const { u, y0 } = linearControlsRaw(lp, f);
  const offset = dot(hmm.mu, y0);
  const piT = new Float64Array(hmm.nStates), post = new Float64Array(hmm.nStates);
  const sampled = [];
  let gap = 0;
  for (let k = 0; k < paths; k++) {
    const { tokens } = sampleRaw(hmm, T, new Xoshiro128([...words, k]));
    let s = offset;
    for (let t = 0; t < T; t++) s -= u[t][tokens[t]];
    gap += (dot(forwardLast(fn, hmm, tokens, piT, post), f) - s) ** 2;
    sampled.push(tokens);
  }
  const mse = dot(f, matVec(lp.Sigma[T], f, new Float64Array(f.length)));
  const value = mse - gap / paths;
  checkFinite(fn, "mcMmse", [[value]]);
  return { mmse: value, paths: sampled };
}

// ------------------------------------------------------------------------------------------
// Export
// ------------------------------------------------------------------------------------------

/** Plain nested arrays (and plain objects) for JSON: typed arrays become arrays. */
export function toPlain(x) {
  if (ArrayBuffer.isView(x)) return Array.from(x);
  if (Array.isArray(x)) return x.map(toPlain);
  if (x !== null && typeof x === "object") {
    const out = {};
    for (const [k, v] of Object.entries(x)) out[k] = toPlain(v);
    return out;
  }
  return x;
}
