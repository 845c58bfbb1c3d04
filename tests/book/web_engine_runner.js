// Test driver for src/dualfilter/explore/web/engine.js (served next to it as ./engine.js).
// tests/test_web_engine.py loads it in headless Chromium, calls runCase on many models and
// recomputes every output with the Python package on the exported model and tokens.
import * as engine from "./engine.js";

const P = engine.toPlain;

function attempt(f) {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    return { ok: false, error: String(error.message), argument: error.argument ?? null };
  }
}

/**
 * Every engine function on the model randomHmm(d, n, {seed, stickiness, emissionConcentration})
 * and the path sample(hmm, T, seed). spec: {d, n, T, stickiness, emission, seed, layers?
 * (the history layers to export; default all), mcPaths, exact (enumerate the MMSE)}.
 */
export function runCase(spec) {
  const { d, n, T, stickiness, emission, seed } = spec;
  const hmm = engine.randomHmm(d, n, { seed, stickiness, emissionConcentration: emission });
  const path = engine.sample(hmm, T, seed);
  const { tokens } = path;
  const fw = engine.forward(hmm, tokens);
  const out = {
    spec,
    model: { A: P(hmm.A), C: P(hmm.C), mu: P(hmm.mu) },
    states: P(path.states), tokens: P(tokens), uniforms: P(path.uniforms),
    pi: P(fw.pi), evidence: P(fw.evidence), logLikelihood: fw.logLikelihood,
    predict: P(engine.predict(hmm, tokens)),
    logLikelihood2: engine.logLikelihood(hmm, tokens),
    nextTokenProbs: P(engine.nextTokenProbs(hmm, tokens)),
    prior: P(engine.priorMeasures(hmm, T)),
    filters: [],
  };
  const keep = spec.layers ?? null;   // null: every layer
  for (const normalize of [true, false]) {
    for (const relax of spec.relaxes ?? [1, 0.5]) {
      const run = attempt(() => engine.dualFilter(hmm, tokens, T + 1, { normalize, relax }));
      const entry = { normalize, relax, ok: run.ok, error: run.error ?? null };
      if (run.ok) {
        const history = run.value;
        const errors = engine.l1Errors(history, fw.pi);
        const idx = keep ?? history.map((_, l) => l);
        entry.layers = idx;
        entry.history = idx.map((l) => P(history[l]));
        entry.perLayer = P(errors.perLayer);
        entry.perPosition = idx.map((l) => P(errors.perPosition[l]));
        // the same iteration without the history must give the same numbers, bitwise
        const light = engine.dualFilterErrors(hmm, tokens, T + 1, fw.pi, { normalize, relax });
        entry.errorsOnlySame = light.perLayer.every((x, l) => x === errors.perLayer[l]) &&
          light.last.every((row, t) => row.every((x, i) => x === history[T + 1][t][i]));
        // one application of the map on an engine layer, and the attention matrix of it
        const l = Math.min(2, T + 1);
        entry.mapInput = l;
        entry.map = P(engine.layerMap(hmm, tokens, history[l], { normalize }));
        const z = seed % n;
        entry.query = z;
        entry.W = P(engine.contributions(hmm, tokens, history[l], hmm.C.map((row) => row[z]),
                                         { normalize }));
        if (d === 3) entry.xy = P(engine.simplexXY(history[l]));
      }
      out.filters.push(entry);
    }
  }
  // controls (f = indicator of state seed % d, and a signed f)
  const k = seed % d;
  const f = Float64Array.from({ length: d }, (_, i) => (i === k ? 1 : 0));
  const g = engine.uniforms([seed, 99], d + T * n).map((x) => 2 * x - 1);
  const fSigned = g.slice(0, d);
  const u = Array.from({ length: T }, (_, t) => g.slice(d + t * n, d + (t + 1) * n));
  out.f = P(f);
  out.fSigned = P(fSigned);
  out.u = P(u);
  out.dualBackward = P(engine.dualBackward(hmm, fSigned, u));
  out.dualBackwardZero = P(engine.dualBackward(hmm, fSigned, null, T));
  out.controlCost = engine.controlCost(hmm, fSigned, u);
  const U = engine.optimalControl(hmm, tokens, f);
  out.optimalControl = P(U);
  out.optimalControlSigned = P(engine.optimalControl(hmm, tokens, fSigned));
  out.estimate = engine.estimate(hmm, tokens, f, U);
  // the linear predictor
  const lp = engine.linearPredictor(hmm, T);
  out.Sigma = P(lp.Sigma);
  out.gains = P(lp.gains);
  out.linearMse = engine.linearMse(lp, f);
  out.linearControls = P(engine.linearControls(lp, f));
  out.linearEstimate = engine.linearEstimate(lp, tokens, f);
  out.linearEstimates = P(engine.linearEstimates(lp, tokens));
  out.priorVariance = engine.priorVariance(hmm, f, T);
  if (spec.exact) out.mmseExact = engine.mmseExact(hmm, f, T);
  if (spec.mcPaths) {
    const mc = engine.mcMmse(lp, f, seed, spec.mcPaths);
    out.mcMmse = mc.mmse;
    out.mcPaths = P(mc.paths);
  }
  return out;
}

/** The moments of the samplers: Dirichlet rows and log-Gamma variates. */
export function samplerDraws(spec) {
  return {
    dirichlet: P(engine.dirichletRows(spec.alpha, spec.rows, spec.cols, spec.seed)),
    logGamma: P(engine.logGammaVariates(spec.alpha, spec.count, spec.seed)),
  };
}

/** The pseudo-inverse and eigen-decomposition on given symmetric matrices. */
export function linearAlgebra(matrices) {
  return matrices.map((M) => {
    const eig = engine.symmetricEigen(M);
    return { values: P(eig.values), vectors: P(eig.vectors), pinv: P(engine.pinvSymmetric(M)) };
  });
}

/** Models made twice from the same seed, and once from another. */
export function determinism(spec) {
  const make = (seed) => engine.randomHmm(spec.d, spec.n, { seed, stickiness: spec.stickiness,
    emissionConcentration: spec.emission });
  const a = make(spec.seed), b = make(spec.seed), c = make(spec.seed + 1);
  return {
    a: P({ A: a.A, C: a.C, mu: a.mu }), b: P({ A: b.A, C: b.C, mu: b.mu }),
    c: P({ A: c.A, C: c.C, mu: c.mu }),
    pathA: P(engine.sample(a, 50, spec.seed).tokens), pathB: P(engine.sample(b, 50, spec.seed).tokens),
    uniformsA: P(engine.uniforms(spec.seed, 8)), uniformsB: P(engine.uniforms([spec.seed], 8)),
    uniformsC: P(engine.uniforms([spec.seed, 0], 8)),
  };
}

/**
 * Call engine[name](...args) and report the error (or its absence). In args the strings
 * "$hmm" and "$lp" stand for randomHmm(3, 3, {seed: 0}) and linearPredictor of it with T = 4.
 */
export function expectError(name, args) {
  const hmm = engine.randomHmm(3, 3, { seed: 0 });
  const lp = engine.linearPredictor(hmm, 4);
  const resolved = args.map((a) => (a === "$hmm" ? hmm : a === "$lp" ? lp : a));
  const result = attempt(() => engine[name](...resolved));
  return result.ok ? { ok: true } : result;
}

/** The raw dual filter on randomHmm/sample of spec, for T + 1 layers: its error, if any. */
export function rawRun(spec) {
  const hmm = engine.randomHmm(spec.d, spec.n, { seed: spec.seed, stickiness: spec.stickiness,
    emissionConcentration: spec.emission });
  const { tokens } = engine.sample(hmm, spec.T, spec.seed);
  const run = attempt(() => engine.dualFilter(hmm, tokens, spec.T + 1, { normalize: false }));
  return { model: P({ A: hmm.A, C: hmm.C, mu: hmm.mu }), tokens: P(tokens), ok: run.ok,
           error: run.error ?? null, argument: run.argument ?? null };
}

/** Edge cases of the normalisation and of the Bayes step of the layer map. */
export function edgeCases() {
  const out = {};
  out.projectSubnormal = P(engine.project([5e-324, -1, 0]));
  out.projectTinyMass = P(engine.project([1e-320, 3e-320, -5]));
  out.projectZeroMass = P(engine.project([-1, -2, 0, 0]));
  // evidence exactly zero: rho_0 puts all its mass on a state that cannot emit token 1
  const zero = engine.makeHmm([[1, 0], [0, 1]], [[1, 0], [0.5, 0.5]], [1, 0]);
  out.zeroEvidence = { model: P({ A: zero.A, C: zero.C, mu: zero.mu }), tokens: [1],
    rho: [[1, 0], [0.5, 0.5]], map: {} };
  for (const normalize of [true, false]) {
    out.zeroEvidence.map[normalize] = P(engine.layerMap(zero, [1], out.zeroEvidence.rho, { normalize }));
  }
  // evidence below 1e-280 (products near 1e-300 and 1e-320): the log-space Bayes step
  const tiny = engine.makeHmm([[1, 0], [0, 1]], [[1e-300, 1 - 1e-300], [1e-150, 1 - 1e-150]],
                              [1, 1e-170]);
  out.tinyEvidence = P(engine.layerMap(tiny, [0], [[1, 1e-170], [1, 0]]));
  out.tinyForward = P(engine.predict(tiny, [0]));
  // a row with subnormal mass as the input of a layer
  const h = engine.randomHmm(3, 3, { seed: 0 });
  out.subnormalInput = P(engine.layerMap(h, [0, 1], [[5e-324, 0, 0], [-1, 1e-310, 0], [0.2, 0.3, 0.5]]));
  return out;
}

export { engine };

/**
 * The chapter 11 solvers on randomHmm(d, n, {seed, stickiness, emissionConcentration,
 * transitionConcentration}): the depth explorer's outputs (explore/depth.py) computed with
 * solverErrors, dampedRelaxation and scanLevels, and the scan's levels themselves.
 * spec: {d, n, T, stickiness, emission, transition, seed, memory, relax (null: the rule), eps}.
 */
export function depthCase(spec) {
  const { d, n, T, stickiness, emission, transition, seed, memory, relax, eps } = spec;
  const hmm = engine.randomHmm(d, n, { seed, stickiness, emissionConcentration: emission,
                                       transitionConcentration: transition });
  const { tokens } = engine.sample(hmm, T, seed);
  const pi = engine.predict(hmm, tokens);
  const rule = engine.dampedRelaxation(hmm);
  const a = relax ?? rule.relax;
  const cap = 2 * (T + 1), stop = 1e-13;
  const errors = {
    jacobi: engine.solverErrors(hmm, tokens, pi, { method: "jacobi", maxLayers: T + 1, stop }),
    damped: engine.solverErrors(hmm, tokens, pi, { method: "damped", relax: a, maxLayers: cap, stop }),
    anderson: engine.solverErrors(hmm, tokens, pi, { method: "anderson", memory, maxLayers: cap, stop }),
  };
  const levels = engine.scanLevels(hmm, tokens);
  const scan = levels.map((rho) => Math.max(...rho.map((row, t) => row.reduce((s, x, i) => s + Math.abs(x - pi[t][i]), 0))));
  const all = { ...errors, scan };
  const depth = ["jacobi", "damped", "anderson", "scan"].map((m) => {
    const k = Array.from(all[m]).findIndex((e) => e < eps);
    return k < 0 ? null : k;
  });
  return {
    spec, rule,
    model: { A: P(hmm.A), C: P(hmm.C), mu: P(hmm.mu) }, tokens: P(tokens),
    params: { T, memory, relax_rule: relax === null, relax: relax ?? 0.5, eps },
    levels: P(levels),
    outputs: {
      pi: P(pi), errors_jacobi: P(errors.jacobi), errors_damped: P(errors.damped),
      errors_anderson: P(errors.anderson), errors_scan: scan, depth,
      budget: [T + 1, cap, cap, Math.ceil(Math.log2(T + 1))], relax: a,
    },
  };
}
