// The twin of explore.real_text_explorer (chapter 13): the law of the next character after a
// typed text, under the exact predictor and under the dual filter after L layers, for the
// stored HMMs learned from Python's documentation. The models and the vocabulary come from
// RealTextExplorer.twin_data() (ctx.data). Outputs as RealTextExplorer.data: tokens (T,),
// pi (T+1, d), rho (T+1, d), exact (n,), filtered (n,), error_per_position (T+1,),
// total_variation.

/** Python's repr of one character (str.__repr__): quotes, escapes, \xNN / \uNNNN / \UNNNNNNNN
 * for the characters that str.isprintable() calls non-printable. */
function pyRepr(ch) {
  const escapes = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "'": "\\'" };
  let body = escapes[ch];
  if (body === undefined) {
    const cp = ch.codePointAt(0);
    if (ch !== " " && /[\p{C}\p{Zs}\p{Zl}\p{Zp}]/u.test(ch)) {
      const hex = cp.toString(16);
      body = cp < 0x100 ? `\\x${hex.padStart(2, "0")}` : cp < 0x10000 ? `\\u${hex.padStart(4, "0")}`
        : `\\U${hex.padStart(8, "0")}`;
    } else {
      body = ch;
    }
  }
  if (ch === "'") return `"'"`;
  return `'${body}'`;
}

/** dualfilter.text.encode (unknown="error"): fold each character (lower case when that is one
 * character, typographic quotes and dashes), look it up; the same message for a character
 * outside the vocabulary. Positions count characters (code points), as Python does. */
export function encode(text, data) {
  const index = new Map([...data.vocabulary].map((ch, z) => [ch, z]));
  const chars = [...text];
  const tokens = new Int32Array(chars.length);
  chars.forEach((original, t) => {
    const low = original.toLowerCase();
    let ch = [...low].length === 1 ? low : original;
    ch = data.typography[ch] ?? ch;
    const z = index.get(ch);
    if (z === undefined) {
      const cp = original.codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
      throw new Error(`character ${pyRepr(original)} (U+${cp}) at position ${t} of text is not in the ` +
        `vocabulary; encode(text, unknown="other") maps it to the token OTHER (${pyRepr(data.other_symbol)})`);
    }
    tokens[t] = z;
  });
  return tokens;
}

export function compute(p, ctx) {
  const { engine, data } = ctx;
  const hmm = ctx.cached("hmm", ["n_states"], p, () => {
    const m = data.models[String(p.n_states)];
    return engine.makeHmm(m.A, m.C, m.mu);
  });
  const tokens = ctx.cached("tokens", ["text"], p, () => encode(p.text, data));
  const pi = ctx.cached("pi", ["text", "n_states"], p, () => engine.predict(hmm, tokens));
  // the layers computed so far for (text, model, relax), extended when L grows: typing or
  // moving relax costs L layers, moving L down only redraws
  const history = ctx.cached("layers", ["text", "n_states", "relax"], p,
    () => engine.dualFilter(hmm, tokens, 0, { relax: p.relax }));
  if (history.length <= p.layers) {
    const more = engine.dualFilter(hmm, tokens, p.layers + 1 - history.length,
                                   { relax: p.relax, init: history[history.length - 1] });
    history.push(...more.slice(1));
  }
  const T = tokens.length, n = hmm.nTokens, d = hmm.nStates;
  const rho = history[p.layers];
  const C = hmm.C;
  const law = (q) => {                       // q C for a probability vector q (d,)
    const out = new Float64Array(n);
    for (let i = 0; i < d; i++) for (let z = 0; z < n; z++) out[z] += q[i] * C[i][z];
    return out;
  };
  const exact = law(pi[T]);
  const clipped = Float64Array.from(rho[T], (x) => Math.max(x, 0));
  const mass = clipped.reduce((a, b) => a + b, 0);
  const filtered = law(clipped.map((x) => x / mass));
  const errors = new Float64Array(T + 1);
  for (let t = 0; t <= T; t++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += Math.abs(rho[t][i] - pi[t][i]);
    errors[t] = s;
  }
  let tv = 0;
  for (let z = 0; z < n; z++) tv += Math.abs(filtered[z] - exact[z]);
  return {
    model: { hmm, states: null, tokens, source: "book" },
    outputs: { tokens, pi, rho, exact, filtered, error_per_position: errors, total_variation: 0.5 * tv },
    extras: { rho_previous: p.layers > 0 ? history[p.layers - 1] : null },
  };
}

export function figure(out, p, view) {
  const { plot, style } = view;
  const labels = view.data ? view.data.labels : null;
  const n = out.exact.length, T = out.tokens.length;
  const cell = plot.grid({ heights: [1.25, 0.8], widths: [1], left: view.narrow ? 0.14 : 0.07, right: 0.98,
                           top: 0.9, bottom: 0.09, vgap: 0.14 });
  const dBars = cell(0, 0), dPos = cell(1, 0);
  const top = Math.min(1, plot.niceCeiling(1.1 * Math.max(...out.exact, ...out.filtered), style));
  const x = plot.range(n);
  const names = labels || x.map(String);
  const data = [
    { type: "bar", x, y: Array.from(out.exact), xaxis: "x", yaxis: "y", width: 0.8,
      marker: { color: style.colors.nonlinear }, name: "exact predictor π<sub>T</sub>C",
      customdata: names, hovertemplate: "%{customdata}: %{y:.4f}<extra>exact</extra>" },
    { type: "scatter", mode: "markers", x, y: Array.from(out.filtered), xaxis: "x", yaxis: "y",
      marker: { size: 6, color: style.colors.current }, name: "dual filter P(ρ<sub>T</sub><sup>(L)</sup>)C",
      customdata: names, hovertemplate: "%{customdata}: %{y:.4f}<extra>dual filter</extra>" },
    { type: "scatter", mode: "lines+markers", x: plot.range(T + 1), y: plot.floored(out.error_per_position, style),
      xaxis: "x2", yaxis: "y2", line: { width: 1.5, color: style.colors.nonlinear },
      marker: { size: 4, color: style.colors.nonlinear }, showlegend: false,
      hovertemplate: "t = %{x}: %{y:.3g}<extra></extra>" },
  ];
  const shown = [...p.text].length <= 60 ? p.text : "…" + [...p.text].slice(-59).join("");
  const escape = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const layout = {
    xaxis: plot.axis({ domain: dBars.x, anchor: "y", range: [-0.7, n - 0.3], tickvals: x, ticktext: names,
                       tickfont: { size: view.narrow ? 6 : 8 }, title: plot.titled("next character") }),
    yaxis: plot.axis({ domain: dBars.y, anchor: "x", range: [0, top], title: plot.titled("probability") }),
    xaxis2: plot.axis({ domain: dPos.x, anchor: "y2", range: [-0.5, T + 0.5], showgrid: true,
                        title: plot.titled("position <i>t</i>") }),
    yaxis2: plot.logErrorAxis(style.error_floor, 10, { domain: dPos.y, anchor: "x2",
      title: plot.titled("‖ρ<sub>t</sub><sup>(L)</sup> − π<sub>t</sub>‖<sub>1</sub>") }),
    annotations: [
      plot.title(dBars, escape(`after “${shown}” (d = ${p.n_states})`), "left", view.narrow ? 9 : 11),
      plot.title(dBars, `L = ${p.layers}, a = ${Number(p.relax.toFixed(2))}: total variation ${out.total_variation.toFixed(3)}`,
                 view.narrow ? "left" : "right", view.narrow ? 9 : 11),
      plot.title(dPos, "error of the dual filter along the text"),
    ],
    showlegend: true,
    legend: plot.legendAt(dBars, "upper right"),
  };
  if (view.narrow) layout.annotations[1].yshift = 20;
  return { data, layout, heightRatio: view.narrow ? 1.1 : 0.56 };
}
