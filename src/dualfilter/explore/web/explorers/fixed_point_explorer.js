// The twin of explore.fixed_point_explorer (chapter 8): the dual filter layer by layer against
// the nonlinear predictor. Outputs as FixedPointExplorer.data: rho (T+1, d), pi (T+1, d),
// tokens (T,), error_per_position (T+1,), layers (T+2,), error_per_layer (T+2,).

export function compute(p, ctx) {
  const { engine, MODEL_KEYS } = ctx;
  const model = ctx.model(p);
  const { hmm, tokens } = model;
  const pi = ctx.cached("pi", MODEL_KEYS, p, () => engine.predict(hmm, tokens));
  // all layers once per model, normalize and relax: moving the layer only redraws
  const run = ctx.cached("layers", [...MODEL_KEYS, "normalize", "relax"], p, () => {
    const history = engine.dualFilter(hmm, tokens, p.T + 1, { normalize: p.normalize, relax: p.relax });
    return { history, errors: engine.l1Errors(history, pi) };
  });
  const l = p.layer;
  return {
    model,
    outputs: {
      rho: run.history[l], pi, tokens, error_per_position: run.errors.perPosition[l],
      layers: Array.from({ length: p.T + 2 }, (_, k) => k), error_per_layer: run.errors.perLayer,
    },
    extras: { rho_previous: l > 0 ? run.history[l - 1] : null },
  };
}

export function figure(out, p, view) {
  const { plot, style } = view;
  const T = p.T, d = p.n_states, l = p.layer;
  const cell = view.narrow
    ? plot.grid({ heights: [1, 1, 0.9, 0.9], widths: [1], left: 0.15, right: 0.84, top: 0.965,
                  bottom: 0.045, vgap: 0.085 })
    : plot.grid({ heights: [1, 0.9], widths: [1, 1], left: 0.07, right: 0.89, top: 0.93,
                  bottom: 0.09, hgap: 0.07, vgap: 0.17 });
  const [dRho, dPi, dPos, dLayer] = view.narrow
    ? [cell(0, 0), cell(1, 0), cell(2, 0), cell(3, 0)]
    : [cell(0, 0), cell(0, 1), cell(1, 0), cell(1, 1)];
  const bar = plot.colorbar({ x: [0, view.narrow ? dRho.x[1] : dPi.x[1]], y: [dPi.y[0], dRho.y[1]] },
                            "weight on the state");
  const top = 10 ** Math.max(1, Math.ceil(Math.log10(3 * Math.max(...out.error_per_layer))));
  const errorLine = { mode: "lines+markers", marker: { size: 4 }, line: { width: 1.5 } };
  const data = [
    plot.measureHeatmap(out.rho, style, { signed: true, xaxis: "x", yaxis: "y", showscale: true, bar }),
    plot.measureHeatmap(out.pi, style, { signed: true, xaxis: "x2", yaxis: "y2" }),
    { type: "scatter", x: plot.range(T + 1), y: plot.floored(out.error_per_position, style), xaxis: "x3",
      yaxis: "y3", ...errorLine, line: { ...errorLine.line, color: style.colors.nonlinear },
      marker: { size: 4, color: style.colors.nonlinear }, showlegend: false,
      hovertemplate: "t = %{x}: %{y:.3g}<extra></extra>" },
    { type: "scatter", x: out.layers, y: plot.floored(out.error_per_layer, style), xaxis: "x4", yaxis: "y4",
      ...errorLine, line: { ...errorLine.line, color: style.colors.linear },
      marker: { size: 4, color: style.colors.linear }, name: "max<sub>t</sub> ‖ρ<sub>t</sub><sup>(ℓ)</sup> − π<sub>t</sub>‖<sub>1</sub>",
      hovertemplate: "layer %{x}: %{y:.3g}<extra></extra>" },
    { type: "scatter", x: [l], y: plot.floored([out.error_per_layer[l]], style), xaxis: "x4", yaxis: "y4",
      mode: "markers", marker: { size: 10, color: style.colors.current }, name: "current layer",
      hovertemplate: "layer %{x}: %{y:.3g}<extra></extra>" },
  ];
  const heatX = (domain, extra = {}) => plot.axis({ domain: domain.x, range: [-0.5, T + 0.5],
                                                    title: plot.titled("position <i>t</i>"), ...extra });
  const heatY = (domain, extra = {}) => plot.axis({ domain: domain.y, range: [-0.5, d - 0.5], dtick: d > 6 ? 2 : 1,
                                                    ...extra });
  const layout = {
    xaxis: heatX(dRho, { anchor: "y" }),
    yaxis: heatY(dRho, { anchor: "x", title: plot.titled("hidden state") }),
    xaxis2: heatX(dPi, { anchor: "y2" }),
    yaxis2: heatY(dPi, { anchor: "x2", showticklabels: view.narrow, title: plot.titled(view.narrow ? "hidden state" : "") }),
    xaxis3: plot.axis({ domain: dPos.x, anchor: "y3", range: [-0.5, T + 0.5], title: plot.titled("position <i>t</i>"), showgrid: true }),
    yaxis3: plot.logErrorAxis(style.error_floor, top, { domain: dPos.y, anchor: "x3",
      title: plot.titled("‖ρ<sub>t</sub><sup>(ℓ)</sup> − π<sub>t</sub>‖<sub>1</sub>") }),
    xaxis4: plot.axis({ domain: dLayer.x, anchor: "y4", range: [-0.5, T + 1.5], title: plot.titled("layer ℓ"), showgrid: true }),
    yaxis4: plot.logErrorAxis(style.error_floor, top, { domain: dLayer.y, anchor: "x4", title: plot.titled("worst L1 error") }),
    annotations: [
      plot.title(dRho, "dual filter ρ<sub>t</sub><sup>(ℓ)</sup>", "left"),
      plot.title(dRho, `layer ${l} of ${T + 1}` + (p.normalize ? "" : ", not normalised"), "right"),
      plot.title(dPi, view.narrow ? "nonlinear predictor π<sub>t</sub>" : "nonlinear predictor π<sub>t</sub> (forward algorithm)"),
      plot.title(dPos, "error per position"),
      plot.title(dLayer, "error against layer"),
    ],
    showlegend: true,
    legend: plot.legendAt(dLayer, "lower left"),
  };
  return { data, layout, heightRatio: view.narrow ? 2.15 : 0.56 };
}
