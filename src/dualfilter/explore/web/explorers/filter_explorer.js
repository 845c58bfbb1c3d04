// The twin of explore.filter_explorer (chapter 2): a sampled path and the nonlinear predictor.
// Outputs as FilterExplorer.data: states (T+1,), tokens (T,), pi (T+1, d),
// observed_token_prob (T,), prior_token_prob (T,).

export function compute(p, ctx) {
  const { engine } = ctx;
  const model = ctx.model(p);
  const { hmm, states, tokens } = model;
  const T = p.T;
  const pi = engine.predict(hmm, tokens);
  const next = engine.nextTokenProbs(hmm, tokens);
  const prior = engine.priorMeasures(hmm, T);
  const observed = new Float64Array(T), priorProb = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    const z = tokens[t];
    observed[t] = next[t][z];
    let s = 0;
    for (let i = 0; i < hmm.nStates; i++) s += prior[t][i] * hmm.C[i][z];
    priorProb[t] = s;
  }
  return { model, outputs: { states, tokens, pi, observed_token_prob: observed, prior_token_prob: priorProb } };
}

export function figure(out, p, view) {
  const { plot, style } = view;
  const T = p.T, d = p.n_states;
  const cell = plot.grid({ heights: [0.7, 1.2, 0.9], widths: [1], left: view.narrow ? 0.13 : 0.08,
                           right: view.narrow ? 0.84 : 0.9, top: 0.94, bottom: view.narrow ? 0.07 : 0.08,
                           vgap: view.narrow ? 0.09 : 0.075 });
  const [dTok, dPi, dProb] = [cell(0, 0), cell(1, 0), cell(2, 0)];
  const t = plot.range(T);
  const sum = (a) => Array.from(a).reduce((s, x) => s + Math.log(x), 0);
  const data = [
    { type: "scatter", x: t, y: Array.from(out.tokens), xaxis: "x", yaxis: "y", mode: "markers",
      marker: { size: 5, color: style.colors.tokens }, hovertemplate: "t = %{x}: token %{y}<extra></extra>",
      showlegend: false },
    plot.measureHeatmap(out.pi, style, { xaxis: "x2", yaxis: "y2", showscale: true,
                                         bar: plot.colorbar(dPi, "probability") }),
    { type: "scatter", x: plot.range(T + 1), y: Array.from(out.states), xaxis: "x2", yaxis: "y2", mode: "markers",
      marker: { size: 4, color: "#fff" }, name: "true hidden state <i>X<sub>t</sub></i>", legend: "legend",
      hovertemplate: "t = %{x}: X = %{y}<extra></extra>" },
    { type: "scatter", x: t, y: Array.from(out.observed_token_prob), xaxis: "x3", yaxis: "y3", mode: "lines+markers",
      marker: { size: 4, color: style.colors.nonlinear }, line: { width: 1.5, color: style.colors.nonlinear },
      name: "predictor π<sub>t</sub>(C<sub>z<sub>t</sub></sub>)", legend: "legend2",
      hovertemplate: "t = %{x}: %{y:.4f}<extra></extra>" },
    { type: "scatter", x: t, y: Array.from(out.prior_token_prob), xaxis: "x3", yaxis: "y3", mode: "lines",
      line: { width: 1.5, dash: "dot", color: style.colors.prior }, name: "prior p<sub>t</sub>(C<sub>z<sub>t</sub></sub>)",
      legend: "legend2", hovertemplate: "t = %{x}: %{y:.4f}<extra></extra>" },
  ];
  const x = (domain, anchor, extra = {}) => plot.axis({ domain: domain.x, anchor, range: [-0.5, T + 0.5], ...extra });
  const ll = sum(out.observed_token_prob).toFixed(2), llPrior = sum(out.prior_token_prob).toFixed(2);
  const layout = {
    xaxis: x(dTok, "y", { showticklabels: false }),
    yaxis: plot.axis({ domain: dTok.y, anchor: "x", range: [-0.5, p.n_tokens - 0.5], dtick: p.n_tokens > 6 ? 2 : 1,
                       title: plot.titled("token <i>z<sub>t</sub></i>") }),
    xaxis2: x(dPi, "y2", { showticklabels: false }),
    yaxis2: plot.axis({ domain: dPi.y, anchor: "x2", range: [-0.5, d - 0.5], dtick: d > 6 ? 2 : 1,
                        title: plot.titled("hidden state") }),
    xaxis3: x(dProb, "y3", { title: plot.titled("position <i>t</i>"), showgrid: true }),
    yaxis3: plot.axis({ domain: dProb.y, anchor: "x3", range: [0, 1.05], showgrid: true, title: plot.titled("probability") }),
    annotations: [
      plot.title(dTok, "observed tokens"),
      plot.title(dPi, "nonlinear predictor π<sub>t</sub> = P(X<sub>t</sub> | Z<sub>0</sub>..Z<sub>t−1</sub>)"),
      plot.title(dProb, view.narrow
        ? `token probability; log-likelihood ${ll} (prior ${llPrior})`
        : `probability given to the token that occurred; log-likelihood ${ll} (prior alone: ${llPrior})`,
        "center", view.narrow ? 10 : 11),
    ],
    showlegend: true,
    legend: plot.legendAt(dPi, "upper right", { bgcolor: "rgba(77,77,77,0.85)", font: { size: 9, color: "#fff" } }),
    legend2: plot.legendAt(dProb, "lower right", { orientation: "h" }),
  };
  return { data, layout, heightRatio: view.narrow ? 1.25 : 0.6 };
}
