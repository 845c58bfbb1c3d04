// The twin of explore.linear_vs_nonlinear_explorer (chapter 6): the best additive (Riccati)
// predictor against the nonlinear one. Outputs as LinearVsNonlinearExplorer.data:
// concentrations (9,), linear_mse, mmse, prior_var (9,), truth, nonlinear, linear (T+1,).
// extras: mc_paths, per concentration the token paths of the Monte Carlo MMSE (when it is not
// exact), and models, the nine models {A, C, mu}, so that a test can recompute the curves.

const EXACT_SEQUENCES = 20000;     // explore.linear_vs_nonlinear.EXACT_SEQUENCES

export function compute(p, ctx) {
  const { engine } = ctx;
  const concentrations = ctx.spec.find((q) => q.name === "emission_concentration").options;
  const keys = ["n_states", "n_tokens", "T", "stickiness", "seed", "mc_paths"];
  const f = Float64Array.from({ length: p.n_states }, (_, i) => (i === p.target ? 1 : 0));
  // one Riccati solution per concentration, cached per model: moving the concentration or
  // the target costs no Riccati step
  const lps = ctx.cached("riccati", keys, p, () => concentrations.map((c) => {
    const { hmm } = ctx.model(p, c);
    return engine.linearPredictor(hmm, p.T);
  }));
  const exact = p.n_tokens ** p.T <= EXACT_SEQUENCES;
  const curves = ctx.cached("curves", [...keys, "target"], p, () => {
    const linear = lps.map((lp) => engine.linearMse(lp, f));
    const prior = lps.map((lp) => engine.priorVariance(lp.hmm, f, p.T));
    const paths = [];
    const mmse = lps.map((lp) => {
      if (exact) return engine.mmseExact(lp.hmm, f, p.T);
      const mc = engine.mcMmse(lp, f, p.seed, p.mc_paths);
      paths.push(mc.paths);
      return mc.mmse;
    });
    return { linear_mse: linear, mmse, prior_var: prior, paths };
  });
  const k = concentrations.indexOf(p.emission_concentration);
  const lp = lps[k];
  const model = ctx.model(p);
  const { states, tokens } = model;
  const pi = engine.predict(lp.hmm, tokens);
  const m = engine.linearEstimates(lp, tokens);
  const truth = Array.from(states, (x) => f[x]);
  const nonlinear = pi.map((row) => row[p.target]);
  const linear = m.map((row) => row[p.target]);
  return {
    model,
    outputs: { concentrations: concentrations.slice(), linear_mse: curves.linear_mse, mmse: curves.mmse,
               prior_var: curves.prior_var, truth, nonlinear, linear, pi },
    extras: { mc_paths: exact ? null : curves.paths,
              models: lps.map((q) => ({ A: q.hmm.A, C: q.hmm.C, mu: q.hmm.mu })) },
  };
}

const mean = (a) => a.reduce((s, x) => s + x, 0) / a.length;

export function figure(out, p, view) {
  const { plot, style } = view;
  const T = p.T, narrow = view.narrow;
  const cell = narrow
    ? plot.grid({ heights: [1, 1], widths: [1], left: 0.15, right: 0.97, top: 0.95, bottom: 0.07, vgap: 0.14 })
    : plot.grid({ heights: [1], widths: [1, 1], left: 0.08, right: 0.98, top: 0.88, bottom: 0.13, hgap: 0.08 });
  const dMse = cell(0, 0), dPath = narrow ? cell(1, 0) : cell(0, 1);
  const x = out.concentrations;
  const exact = p.n_tokens ** T <= EXACT_SEQUENCES;
  const top = plot.niceCeiling(1.08 * Math.max(...out.prior_var, ...out.linear_mse), style);
  const t = plot.range(T + 1);
  const lo = Math.min(0, Math.floor(2 * Math.min(...out.linear)) / 2);
  const hi = Math.max(1, Math.ceil(2 * Math.max(...out.linear)) / 2);
  const sq = (a) => mean(a.map((v, i) => (v - out.truth[i]) ** 2));
  const step = (y, colour, dash, name) => ({
    type: "scatter", x: t, y: Array.from(y), xaxis: "x2", yaxis: "y2", mode: "lines", line: { shape: "hvh", color: colour, dash, width: 1.5 },
    name, legend: "legend2", hovertemplate: "t = %{x}: %{y:.4f}<extra></extra>",
  });
  const data = [
    { type: "scatter", x, y: out.prior_var, xaxis: "x", yaxis: "y", mode: "lines", line: { dash: "dot", color: style.colors.prior, width: 1.5 },
      name: "prior Var<sub>p<sub>T</sub></sub>(f)", hovertemplate: "%{y:.4g}<extra></extra>" },
    { type: "scatter", x, y: out.linear_mse, xaxis: "x", yaxis: "y", mode: "lines+markers", marker: { symbol: "square", size: 6, color: style.colors.linear },
      line: { color: style.colors.linear, width: 1.5 }, name: "linear f<sup>⊤</sup>Σ<sub>T</sub>f", hovertemplate: "%{y:.4g}<extra></extra>" },
    { type: "scatter", x, y: out.mmse, xaxis: "x", yaxis: "y", mode: "lines+markers", marker: { size: 6, color: style.colors.nonlinear },
      line: { color: style.colors.nonlinear, width: 1.5 }, name: exact ? "MMSE (exact)" : `MMSE (Monte Carlo, ${p.mc_paths} paths)`,
      hovertemplate: "%{y:.4g}<extra></extra>" },
    { type: "scatter", x: [p.emission_concentration, p.emission_concentration], y: [0, top], xaxis: "x", yaxis: "y", mode: "lines",
      line: { color: style.colors.current, width: 1 }, name: "current model", hoverinfo: "skip" },
    { type: "scatter", x: t, y: Array.from(out.truth), xaxis: "x2", yaxis: "y2", mode: "markers", marker: { size: 6, color: style.colors.truth },
      name: "truth f(X<sub>t</sub>)", legend: "legend2", hovertemplate: "t = %{x}: %{y}<extra></extra>" },
    step(out.nonlinear, style.colors.nonlinear, "solid", "nonlinear π<sub>t</sub>(f)"),
    step(out.linear, style.colors.linear, "dash", "linear m<sub>t</sub>f"),
  ];
  const layout = {
    xaxis: plot.axis({ domain: dMse.x, anchor: "y", type: "log", range: [Math.log10(x[0] / 1.5), Math.log10(x[x.length - 1] * 1.5)],
                       showgrid: true, title: plot.titled("emission concentration (small = informative)"),
                       tickvals: [0.1, 1, 10], ticktext: [plot.powerOfTen(-1), plot.powerOfTen(0), plot.powerOfTen(1)] }),
    yaxis: plot.axis({ domain: dMse.y, anchor: "x", range: [0, top], showgrid: true, title: plot.titled("mean-square error") }),
    xaxis2: plot.axis({ domain: dPath.x, anchor: "y2", range: [-0.5, T + 0.5], title: plot.titled("position <i>t</i>") }),
    yaxis2: plot.axis({ domain: dPath.y, anchor: "x2", range: [lo - 0.08, hi + 0.25], title: plot.titled("estimate of f(X<sub>t</sub>)") }),
    shapes: [{ type: "line", xref: "x2", yref: "y2", x0: -0.5, x1: T + 0.5, y0: 0, y1: 0, line: { color: "#ccc", width: 0.6 }, layer: "below" }],
    annotations: [
      plot.title(dMse, `predicting f = 1{X = ${p.target}} at the horizon T = ${T}`),
      plot.title(dPath, `one path, concentration ${Number(p.emission_concentration.toPrecision(6))}<br>mean squared error over t: `
                 + `linear ${sq(out.linear).toFixed(3)}, nonlinear ${sq(out.nonlinear).toFixed(3)}`, "center", 9),
    ],
    showlegend: true,
    legend: plot.legendAt(dMse, "lower right"),
    legend2: plot.legendAt(dPath, "upper right", { orientation: "h" }),
  };
  return { data, layout, heightRatio: narrow ? 1.5 : 0.44 };
}
