// The heaviest engine work of each live explorer at its largest settings, as the page twins
// will do it on a change of the model (a new seed): served next to engine.js and driven by
// benchmarks/web_engine.py in headless Chromium. Drawing is not included.
import * as E from "./engine.js";

const CONCENTRATIONS = [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0];
const EXACT_SEQUENCES = 20000;

function model(p) {
  const hmm = E.randomHmm(p.n_states, p.n_tokens, { seed: p.seed, stickiness: p.stickiness,
    emissionConcentration: p.emission_concentration });
  const { states, tokens } = E.sample(hmm, p.T, p.seed);
  return { hmm, states, tokens };
}

/** explore.filter_explorer's data. */
function filterExplorer(p) {
  const { hmm, states, tokens } = model(p);
  const { pi, evidence, logLikelihood } = E.forward(hmm, tokens);
  const prior = E.priorMeasures(hmm, p.T);
  const priorTokenProb = Float64Array.from(tokens, (z, t) => {
    let s = 0;
    for (let i = 0; i < p.n_states; i++) s += prior[t][i] * hmm.C[i][z];
    return s;
  });
  return { states, tokens, pi, observed_token_prob: evidence, prior_token_prob: priorTokenProb,
           logLikelihood };
}

/** explore.fixed_point_explorer's data (every layer computed, as on a model change). */
function fixedPointExplorer(p) {
  const { hmm, tokens } = model(p);
  const pi = E.predict(hmm, tokens);
  const history = E.dualFilter(hmm, tokens, p.T + 1, { normalize: p.normalize, relax: p.relax });
  const errors = E.l1Errors(history, pi);
  return { rho: history[p.layer], pi, error_per_position: errors.perPosition[p.layer],
           error_per_layer: errors.perLayer };
}

/** explore.simplex_explorer's data. */
function simplexExplorer(p) {
  const { hmm, tokens } = model(p);
  const pi = E.predict(hmm, tokens);
  const history = E.dualFilter(hmm, tokens, p.T + 1);
  const rho = history[p.layer];
  const errors = E.l1Errors([rho], pi);
  return { rho, pi, rho_xy: E.simplexXY(rho), pi_xy: E.simplexXY(pi),
           error_per_position: errors.perPosition[0] };
}

/** explore.attention_explorer's data. */
function attentionExplorer(p) {
  const { hmm, tokens } = model(p);
  const pi = E.predict(hmm, tokens);
  const history = E.dualFilter(hmm, tokens, p.T + 1);
  const f = hmm.C.map((row) => row[p.token]);
  const W = E.contributions(hmm, tokens, history[p.layer], f);
  return { W, rho: history[p.layer], pi };
}

/** explore.linear_vs_nonlinear_explorer's data (curves over the 9 concentrations). */
function linearVsNonlinearExplorer(p) {
  const f = Float64Array.from({ length: p.n_states }, (_, i) => (i === p.target ? 1 : 0));
  const exact = p.n_tokens ** p.T <= EXACT_SEQUENCES;
  const lps = CONCENTRATIONS.map((c) => E.linearPredictor(E.randomHmm(p.n_states, p.n_tokens, {
    seed: p.seed, stickiness: p.stickiness, emissionConcentration: c }), p.T));
  const linear = lps.map((lp) => E.linearMse(lp, f));
  const prior = lps.map((lp) => E.priorVariance(lp.hmm, f, p.T));
  const mmse = lps.map((lp) => (exact ? E.mmseExact(lp.hmm, f, p.T)
                                      : E.mcMmse(lp, f, p.seed, p.mc_paths).mmse));
  const lp = lps[CONCENTRATIONS.indexOf(p.emission_concentration)];
  const { states, tokens } = E.sample(lp.hmm, p.T, p.seed);
  const pi = E.predict(lp.hmm, tokens);
  const m = E.linearEstimates(lp, tokens);
  return { linear_mse: linear, prior_var: prior, mmse, truth: Float64Array.from(states, (x) => f[x]),
           nonlinear: pi.map((r) => r[p.target]), linear: m.map((r) => r[p.target]) };
}

/** The depth chapter's prospective explorer: error against layer of the dual filter. */
function depthExplorer(p) {
  const { hmm, tokens } = model(p);
  const pi = E.predict(hmm, tokens);
  return { error_per_layer: E.dualFilterErrors(hmm, tokens, p.T + 1, pi, { relax: p.relax }).perLayer };
}

export const EXPLORERS = {
  filterExplorer, fixedPointExplorer, simplexExplorer, attentionExplorer,
  linearVsNonlinearExplorer, depthExplorer,
};

/** Time EXPLORERS[name](params) for `repeats` seeds (a model change each); times in ms. */
export function time(name, params, repeats) {
  const times = [];
  for (let k = 0; k < repeats; k++) {
    const p = { ...params, seed: (params.seed + k) % 1000 };
    const start = performance.now();
    EXPLORERS[name](p);
    times.push(performance.now() - start);
  }
  return times;
}
