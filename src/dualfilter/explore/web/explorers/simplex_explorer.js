// The twin of explore.simplex_explorer (chapter 7): the dual-filter iterates of a 3-state model
// in the probability simplex. Outputs as SimplexExplorer.data: rho (T+1, 3), pi (T+1, 3),
// rho_xy (T+1, 2), pi_xy (T+1, 2), error_per_position (T+1,).

export function compute(p, ctx) {
  const { engine, MODEL_KEYS } = ctx;
  const model = ctx.model(p);
  const { hmm, tokens } = model;
  const pi = ctx.cached("pi", MODEL_KEYS, p, () => engine.predict(hmm, tokens));
  const rhos = ctx.cached("layers", MODEL_KEYS, p, () => engine.dualFilter(hmm, tokens, p.T + 1));
  const rho = rhos[p.layer];
  const error = rho.map((row, t) => row.reduce((s, x, i) => s + Math.abs(x - pi[t][i]), 0));
  return {
    model,
    outputs: { rho, pi, rho_xy: engine.simplexXY(rho), pi_xy: engine.simplexXY(pi), error_per_position: error },
    extras: { rho_previous: p.layer > 0 ? rhos[p.layer - 1] : null },
  };
}

const VERTICES = [[0, 0], [1, 0], [0.5, Math.sqrt(3) / 2]];

export function figure(out, p, view) {
  const { plot, style } = view;
  const T = p.T, l = p.layer;
  const narrow = view.narrow;
  const cell = narrow
    ? plot.grid({ heights: [1.25, 0.8], widths: [1], left: 0.15, right: 0.82, top: 0.95, bottom: 0.07, vgap: 0.1 })
    : plot.grid({ heights: [1], widths: [1.05, 0.75], left: 0.01, right: 0.98, top: 0.9, bottom: 0.13, hgap: 0.17 });
  const dTri = cell(0, 0), dErr = narrow ? cell(1, 0) : cell(0, 1);
  const rx = out.rho_xy.map((r) => r[0]), ry = out.rho_xy.map((r) => r[1]);
  const px = out.pi_xy.map((r) => r[0]), py = out.pi_xy.map((r) => r[1]);
  const sx = [], sy = [];
  for (let t = 0; t <= T; t++) sx.push(rx[t], px[t], null), sy.push(ry[t], py[t], null);
  const corners = [...VERTICES, VERTICES[0]];
  const positions = plot.range(T + 1);
  const bar = plot.colorbar(dTri, "position <i>t</i>", { x: dTri.x[1] - (narrow ? -0.02 : 0.02) });
  const data = [
    { type: "scatter", x: corners.map((c) => c[0]), y: corners.map((c) => c[1]), mode: "lines", xaxis: "x", yaxis: "y",
      line: { color: style.colors.truth, width: 1 }, hoverinfo: "skip", showlegend: false },
    { type: "scatter", x: sx, y: sy, mode: "lines", xaxis: "x", yaxis: "y", line: { color: style.colors.reference, width: 0.8 },
      hoverinfo: "skip", showlegend: false },
    { type: "scatter", x: px, y: py, mode: "markers", xaxis: "x", yaxis: "y", name: "target π<sub>t</sub>",
      marker: { size: 9, color: "rgba(0,0,0,0)", line: { color: style.colors.truth, width: 0.8 } },
      customdata: positions, hovertemplate: "target π<sub>%{customdata}</sub><extra></extra>" },
    { type: "scatter", x: rx, y: ry, mode: "markers", xaxis: "x", yaxis: "y", name: "iterate at layer ℓ",
      marker: { size: 6.5, color: positions, cmin: 0, cmax: Math.max(T, 1), colorscale: plot.colorscale(style, style.simplex_cmap),
                showscale: true, colorbar: bar },
      customdata: positions, hovertemplate: "ρ<sub>%{customdata}</sub><extra></extra>" },
    { type: "scatter", x: positions, y: plot.floored(out.error_per_position, style), xaxis: "x2", yaxis: "y2",
      mode: "lines+markers", marker: { size: 4, color: style.colors.nonlinear }, line: { width: 1.5, color: style.colors.nonlinear },
      showlegend: false, hovertemplate: "t = %{x}: %{y:.3g}<extra></extra>" },
  ];
  const hidden = { visible: false, fixedrange: true };
  const labels = ["state 0", "state 1", "state 2"].map((text, k) => ({
    text, x: VERTICES[k][0], y: VERTICES[k][1], xref: "x", yref: "y", showarrow: false,
    yshift: VERTICES[k][1] === 0 ? -12 : 10, font: { size: 9 },
  }));
  const layout = {
    xaxis: { ...hidden, domain: dTri.x, range: [-0.15, 1.15], anchor: "y" },
    yaxis: { ...hidden, domain: dTri.y, range: [-0.12, 1.0], anchor: "x", scaleanchor: "x", scaleratio: 1,
             constrain: "domain" },
    xaxis2: plot.axis({ domain: dErr.x, anchor: "y2", range: [-0.5, T + 0.5], title: plot.titled("position <i>t</i>"), showgrid: true }),
    yaxis2: plot.logErrorAxis(style.error_floor, 10, { domain: dErr.y, anchor: "x2",
      title: plot.titled("‖ρ<sub>t</sub><sup>(ℓ)</sup> − π<sub>t</sub>‖<sub>1</sub>") }),
    annotations: [
      ...labels,
      ...(narrow
        ? [plot.title(dTri, `iterates ρ<sub>t</sub> → targets π<sub>t</sub>, layer ℓ = ${l} of ${T + 1}`, "left")]
        : [plot.title(dTri, "iterates ρ<sub>t</sub> moving to their targets π<sub>t</sub>", "left"),
           plot.title({ x: [dTri.x[0], dTri.x[1] - 0.04], y: dTri.y }, `layer ℓ = ${l} of ${T + 1}`, "right")]),
      plot.title(dErr, "distance to the target"),
    ],
    showlegend: true,
    legend: plot.legendAt(dTri, "upper left"),
  };
  return { data, layout, heightRatio: narrow ? 1.45 : 0.48 };
}
