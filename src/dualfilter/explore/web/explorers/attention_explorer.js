// The twin of explore.attention_explorer (chapter 10): the "attention" matrix W[t, s] of one
// dual-filter layer for the query f = C_z. Outputs as AttentionExplorer.data: W (T+1, T+1),
// row (t,) = W[t, :t], rho (T+1, d), pi (T+1, d), prior_term, estimate, truth (numbers).

const SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉";

export function compute(p, ctx) {
  const { engine, MODEL_KEYS } = ctx;
  const model = ctx.model(p);
  const { hmm, tokens } = model;
  const pi = ctx.cached("pi", MODEL_KEYS, p, () => engine.predict(hmm, tokens));
  const rhos = ctx.cached("layers", MODEL_KEYS, p, () => engine.dualFilter(hmm, tokens, p.T + 1));
  const l = p.layer, t = p.position, z = p.token;
  const f = hmm.C.map((row) => row[z]);
  const W = ctx.cached("W", [...MODEL_KEYS, "layer", "token"], p,
                       () => engine.contributions(hmm, tokens, rhos[l], f));
  const prior = ctx.cached("prior", MODEL_KEYS, p, () => engine.priorMeasures(hmm, p.T));
  let priorTerm = 0, truth = 0;
  for (let i = 0; i < f.length; i++) {
    priorTerm += prior[t][i] * f[i];
    truth += pi[t][i] * f[i];
  }
  const row = W[t].slice(0, t);
  const estimate = priorTerm + row.reduce((s, x) => s + x, 0);
  return { model, outputs: { W, row, rho: rhos[l], pi, prior_term: priorTerm, estimate, truth } };
}

export function figure(out, p, view) {
  const { plot, style } = view;
  const T = p.T, t = p.position, z = p.token, l = p.layer;
  const narrow = view.narrow;
  const cell = narrow
    ? plot.grid({ heights: [0.8, 1], widths: [1], left: 0.15, right: 0.82, top: 0.92, bottom: 0.06, vgap: 0.14 })
    : plot.grid({ heights: [1], widths: [1.15, 1.0], left: 0.08, right: 0.88, top: 0.86, bottom: 0.12, hgap: 0.08 });
  const dBar = cell(0, 0), dMat = narrow ? cell(1, 0) : cell(0, 1);
  let worst = 0;
  for (const r of out.W) for (const x of r) worst = Math.max(worst, Math.abs(x));
  const vmax = plot.niceCeiling(Math.max(worst, 1e-12), style);
  const positions = plot.range(T + 1);
  const data = [
    { type: "bar", x: plot.range(t), y: Array.from(out.row), xaxis: "x", yaxis: "y", width: 1,
      marker: { color: style.colors.nonlinear, line: { width: 0 } }, showlegend: false,
      hovertemplate: "W[" + t + ", %{x}] = %{y:.4g}<extra></extra>" },
    { type: "heatmap", x: positions, y: positions, z: plot.plain(out.W), xaxis: "x2", yaxis: "y2", zmin: -vmax, zmax: vmax,
      colorscale: plot.colorscale(style, style.diverging_cmap), showscale: true, zsmooth: false,
      colorbar: plot.colorbar(dMat, "<i>W</i>[<i>t</i>, <i>s</i>]"),
      hovertemplate: "W[%{y}, %{x}] = %{z:.4g}<extra></extra>" },
  ];
  const sub = z <= 9 ? SUBSCRIPTS[z] : `_${z}`;
  const fmt = (x, k) => x.toFixed(k);
  const head = `position t = ${t}, query f = C${sub}, input layer ${l}`;
  const tail = `μAᵗf = ${fmt(out.prior_term, 3)}, + sum of bars = ${fmt(out.estimate, 4)} (layer ${l + 1}), πₜ(f) = ${fmt(out.truth, 4)}`;
  const layout = {
    xaxis: plot.axis({ domain: dBar.x, anchor: "y", range: [-0.5, Math.max(T - 0.5, 0.5)], showgrid: true,
                       title: plot.titled("earlier position <i>s</i>") }),
    yaxis: plot.axis({ domain: dBar.y, anchor: "x", range: [-1.1 * vmax, 1.1 * vmax], showgrid: true,
                       title: plot.titled("<i>W</i>[<i>t</i>, <i>s</i>]") }),
    xaxis2: plot.axis({ domain: dMat.x, anchor: "y2", range: [-0.5, T + 0.5], title: plot.titled("earlier position <i>s</i>") }),
    yaxis2: plot.axis({ domain: dMat.y, anchor: "x2", range: [T + 0.5, -0.5], title: plot.titled("position <i>t</i>"),
                        scaleanchor: "x2", constrain: "domain" }),
    shapes: [
      { type: "line", xref: "x", yref: "y", x0: -0.5, x1: Math.max(T - 0.5, 0.5), y0: 0, y1: 0,
        line: { color: style.colors.truth, width: 0.6 } },
      { type: "rect", xref: "x2", yref: "y2", x0: -0.5, x1: T + 0.5, y0: t - 0.5, y1: t + 0.5,
        line: { color: style.colors.truth, width: 1.5 }, fillcolor: "rgba(0,0,0,0)" },
    ],
    annotations: [
      plot.title(dBar, `${head}<br>${tail}`, "center", 9),
      plot.title(dMat, `attention matrix of layer ${l + 1}<br>(row t = ${t} outlined)`, "center", 9),
    ],
  };
  return { data, layout, heightRatio: narrow ? 1.6 : 0.48 };
}
