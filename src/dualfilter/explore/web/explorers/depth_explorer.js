// The twin of explore.depth_explorer (chapter 11): error against layer for Jacobi, damped
// Jacobi, Anderson and the Hillis-Steele scan. Outputs as DepthExplorer.data: pi (T+1, d),
// tokens (T,), errors_jacobi, errors_damped, errors_anderson, errors_scan (one value per
// layer / level from 0), depth (4,) L_eps per method (null where censored), budget (4,),
// relax (the damping a used).

const METHODS = ["jacobi", "damped", "anderson", "scan"];
const STOP = 1e-13;          // explore/depth.py STOP
const CAP_FACTOR = 2;        // explore/depth.py CAP_FACTOR

export function compute(p, ctx) {
  const { engine, MODEL_KEYS } = ctx;
  const keys = [...MODEL_KEYS, "transition_concentration"];
  const model = ctx.model(p);
  const { hmm, tokens } = model;
  const T = p.T, cap = CAP_FACTOR * (T + 1);
  const pi = ctx.cached("pi", keys, p, () => engine.predict(hmm, tokens));
  const a = p.relax_rule ? ctx.cached("rule", keys, p, () => engine.dampedRelaxation(hmm).relax) : p.relax;
  const run = (method, maxLayers, extra) => engine.solverErrors(hmm, tokens, pi,
    { method, maxLayers, stop: STOP, ...extra });
  const errors = {
    jacobi: ctx.cached("jacobi", keys, p, () => run("jacobi", T + 1, {})),
    damped: ctx.cached("damped", [...keys, "a"], { ...p, a }, () => run("damped", cap, { relax: a })),
    anderson: ctx.cached("anderson", [...keys, "memory"], p, () => run("anderson", cap, { memory: p.memory })),
    scan: ctx.cached("scan", keys, p, () => {
      const levels = engine.scanLevels(hmm, tokens);
      return Float64Array.from(levels, (rho) => {
        let worst = 0;
        for (let t = 0; t <= T; t++) {
          let e = 0;
          for (let i = 0; i < rho[t].length; i++) e += Math.abs(rho[t][i] - pi[t][i]);
          if (e > worst) worst = e;
        }
        return worst;
      });
    }),
  };
  const depth = METHODS.map((m) => {
    const k = errors[m].findIndex((e) => e < p.eps);
    return k < 0 ? null : k;
  });
  const budget = [T + 1, cap, cap, T >= 1 ? Math.ceil(Math.log2(T + 1)) : 0];
  return {
    model,
    outputs: {
      pi, tokens, errors_jacobi: errors.jacobi, errors_damped: errors.damped,
      errors_anderson: errors.anderson, errors_scan: errors.scan, depth, budget, relax: a,
    },
  };
}

function labels(out, p) {
  const names = [
    "Jacobi (dual filter)",
    `damped Jacobi, a = ${out.relax.toFixed(2)}` + (p.relax_rule ? " (rule)" : ""),
    `Anderson, memory ${p.memory}`,
    "parallel scan (per level)",
  ];
  return names.map((name, k) => {
    const unit = METHODS[k] === "scan" ? "levels" : "layers";
    const L = out.depth[k];
    const what = L === null ? `> ${out.budget[k]} ${unit} (censored)` : `= ${L} ${unit}`;
    return `${name}: L<sub>ε</sub> ${what}`;
  });
}

export function figure(out, p, view) {
  const { plot, style } = view;
  const T = p.T;
  const cell = plot.grid({ heights: [1], widths: [1], left: view.narrow ? 0.15 : 0.08, right: 0.98,
                           top: view.narrow ? 0.9 : 0.91, bottom: view.narrow ? 0.13 : 0.11 });
  const box = cell(0, 0);
  const colours = [style.colors.nonlinear, style.colors.linear, style.colors.tokens, style.colors.current];
  const names = labels(out, p);
  const top = 10 ** Math.max(1, Math.ceil(Math.log10(3 * Math.max(...METHODS.flatMap((m) => Array.from(out[`errors_${m}`]))))));
  const data = METHODS.map((m, k) => ({
    type: "scatter", x: plot.range(out[`errors_${m}`].length), y: plot.floored(out[`errors_${m}`], style),
    mode: m === "scan" ? "lines+markers" : "lines", line: { width: 1.5, color: colours[k] },
    marker: { size: 6, color: colours[k] }, name: names[k], xaxis: "x", yaxis: "y",
    hovertemplate: (m === "scan" ? "level" : "layer") + " %{x}: %{y:.3g}<extra></extra>",
  }));
  data.push({ type: "scatter", x: [-0.5, CAP_FACTOR * (T + 1) + 0.5], y: [p.eps, p.eps], mode: "lines",
              line: { width: 1, dash: "dot", color: style.colors.truth }, name: "ε", showlegend: false,
              hovertemplate: "ε = %{y:.0e}<extra></extra>", xaxis: "x", yaxis: "y" });
  const layout = {
    xaxis: plot.axis({ domain: box.x, anchor: "y", range: [-0.5, CAP_FACTOR * (T + 1) + 0.5], showgrid: true,
                       title: plot.titled("layer ℓ (level k for the scan)") }),
    yaxis: plot.logErrorAxis(style.error_floor, top, { domain: box.y, anchor: "x",
      title: plot.titled("max<sub>t</sub> ‖x<sub>t</sub><sup>(ℓ)</sup> − π<sub>t</sub>‖<sub>1</sub>") }),
    annotations: [plot.title(box, `d = ${p.n_states}, T = ${T}, stickiness ${p.stickiness}, ε = ${p.eps.toExponential(0)}`)],
    showlegend: true,
    legend: plot.legendAt(box, "lower right"),
  };
  return { data, layout, heightRatio: view.narrow ? 0.9 : 0.5 };
}
