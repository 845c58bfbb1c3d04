/**
 * plotstyle.js: the book's figure style (dualfilter.plots) for Plotly.js figures.
 *
 * The live twins draw with Plotly.js; these helpers make a Plotly figure look like the
 * matplotlib figures of the book: white axes boxed in black with outward ticks, the light
 * grid of ``ax.grid(alpha=0.3)``, titles above the axes at the left, centre or right, the
 * colour maps of ``plots.style()`` (sampled from matplotlib at build time, so viridis,
 * RdBu_r and plasma are matplotlib's own), the end colours of signed heat maps, and the log
 * error axes of the explorers (fixed range [floor / 3, top], decades labelled 10⁻ⁿ).
 *
 * A figure is laid out on a grid of panels (``grid``), each panel an x/y axis pair whose
 * domain is computed here; ``finish`` adds the size, fonts and margins. Nothing here
 * computes data: it only styles.
 */

export const CONFIG = {
  displayModeBar: false, responsive: false, scrollZoom: false, doubleClick: false,
  showTips: false, displaylogo: false,
};

export const FONT = { family: "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif", size: 10, color: "#000" };
const GRID = "rgba(176,176,176,0.3)";
const SUPERSCRIPTS = { "-": "\u207b", 0: "\u2070", 1: "\u00b9", 2: "\u00b2", 3: "\u00b3", 4: "\u2074",
  5: "\u2075", 6: "\u2076", 7: "\u2077", 8: "\u2078", 9: "\u2079" };

/** "10" followed by the exponent in Unicode superscripts (plots._power_of_ten). */
export function powerOfTen(k) {
  return "10" + String(k).split("").map((c) => SUPERSCRIPTS[c]).join("");
}

/** plots.nice_ceiling: the smallest nice step times a power of ten >= x. */
export function niceCeiling(x, style) {
  if (!(x > 0 && Number.isFinite(x))) return 1.0;
  const power = 10 ** Math.floor(Math.log10(x));
  for (const step of style.nice_steps) if (step * power >= x * (1 - 1e-12)) return step * power;
  return 10 * power;
}

/** An axis in the book's style. */
export function axis(extra = {}) {
  return {
    showline: true, linecolor: "#000", linewidth: 0.8, mirror: true, ticks: "outside",
    ticklen: 3.5, tickwidth: 0.8, tickcolor: "#000", zeroline: false, showgrid: false,
    gridcolor: GRID, gridwidth: 0.8, automargin: false, fixedrange: true,
    title: { font: { size: 10 }, standoff: 4 }, tickfont: { size: 9.5 }, layer: "above traces",
    ...extra,
  };
}

/** An axis title (Plotly's title object). */
export function titled(text, extra = {}) {
  return { text, font: { size: 10 }, standoff: 4, ...extra };
}

/** The log error axis of the explorers: [floor / 3, top], at most ~6 labelled decades. */
export function logErrorAxis(floor, top, extra = {}) {
  const low = Math.log10(floor / 3), high = Math.log10(top);
  const first = Math.ceil(low), last = Math.floor(high);
  let step = 1;       // decades that are multiples of step, as matplotlib's LogLocator(numticks=6)
  const count = (s) => Math.floor(last / s) - Math.ceil(first / s) + 1;
  while (count(step) > 6) step += 1;
  const vals = [], text = [];
  for (let k = Math.ceil(first / step) * step; k <= last; k += step) {
    vals.push(10 ** k);
    text.push(powerOfTen(k));
  }
  return axis({ type: "log", range: [low, high], tickvals: vals, ticktext: text, showgrid: true, ...extra });
}

/** Floor the errors at the style's floor (plots.floor), as a plain array. */
export function floored(errors, style) {
  return Array.from(errors, (e) => Math.max(e, style.error_floor));
}

/** A matplotlib colour map as a Plotly colour scale ([[position, colour], ...]). */
export function colorscale(style, name) {
  const scale = style.colorscales && style.colorscales[name];
  if (!scale) throw new Error(`no colour scale ${name} in the style`);
  return scale;
}

/**
 * A signed heat map's colour scale: the map on [0, 1] with the under/over colours of
 * plots._measure_cmap below 0 and above 1 (matplotlib's extend="both"), and the values to
 * draw (z clipped into the end bands). Returns {colorscale, zmin, zmax, clip(x)}.
 */
export function signedScale(style, name, band = 0.04) {
  const base = colorscale(style, name);
  const span = 1 + 2 * band;
  const at = (x) => (x + band) / span;
  const scale = [[0, style.under_color], [at(0) - 1e-9, style.under_color]];
  for (const [pos, colour] of base) scale.push([at(pos), colour]);
  scale.push([at(1) + 1e-9, style.over_color], [1, style.over_color]);
  return {
    colorscale: scale, zmin: -band, zmax: 1 + band,
    clip: (x) => (x < 0 ? -band / 2 : x > 1 ? 1 + band / 2 : x),
  };
}

/** A colour bar beside a panel: {x, y, len, thickness, title}. */
export function colorbar(domain, title, extra = {}) {
  return {
    x: domain.x[1] + 0.012, xanchor: "left", y: (domain.y[0] + domain.y[1]) / 2, yanchor: "middle",
    len: domain.y[1] - domain.y[0], lenmode: "fraction", thickness: 12, outlinewidth: 0.8,
    outlinecolor: "#000", ticks: "outside", ticklen: 3, tickfont: { size: 9 },
    title: { text: title, side: "right", font: { size: 10 } }, ...extra,
  };
}

/**
 * Panel domains of a grid: rows top to bottom with relative heights, columns with relative
 * widths, gaps as fractions of the figure. cell(r, c, rowSpan = 1, colSpan = 1) -> {x, y}.
 */
export function grid({ heights, widths, left = 0.08, right = 0.98, top = 0.92, bottom = 0.1,
                       hgap = 0.08, vgap = 0.12 }) {
  const totalH = heights.reduce((a, b) => a + b, 0);
  const totalW = widths.reduce((a, b) => a + b, 0);
  const usableH = top - bottom - vgap * (heights.length - 1);
  const usableW = right - left - hgap * (widths.length - 1);
  const ys = [], xs = [];
  let y = top;
  for (const h of heights) {
    const size = (usableH * h) / totalH;
    ys.push([y - size, y]);
    y -= size + vgap;
  }
  let x = left;
  for (const w of widths) {
    const size = (usableW * w) / totalW;
    xs.push([x, x + size]);
    x += size + hgap;
  }
  return (r, c, rowSpan = 1, colSpan = 1) => ({
    x: [xs[c][0], xs[c + colSpan - 1][1]],
    y: [ys[r + rowSpan - 1][0], ys[r][1]],
  });
}

/** A title above a panel (plots.set_title): loc "left", "center" or "right". */
export function title(domain, text, loc = "center", size = 11) {
  const x = loc === "left" ? domain.x[0] : loc === "right" ? domain.x[1] : (domain.x[0] + domain.x[1]) / 2;
  return {
    text, x, y: domain.y[1], xref: "paper", yref: "paper", xanchor: loc === "center" ? "center" : loc,
    yanchor: "bottom", yshift: 4, showarrow: false, font: { size }, align: loc === "right" ? "right" : loc === "left" ? "left" : "center",
  };
}

/** A legend placed inside a panel at a corner ("upper right", "lower left", ...). */
export function legendAt(domain, where, extra = {}) {
  const [v, h] = where.split(" ");
  const x = h === "left" ? domain.x[0] + 0.008 : h === "center" ? (domain.x[0] + domain.x[1]) / 2 : domain.x[1] - 0.008;
  const y = v === "upper" ? domain.y[1] - 0.015 : domain.y[0] + 0.015;
  return {
    x, y, xanchor: h === "left" ? "left" : h === "center" ? "center" : "right", yanchor: v === "upper" ? "top" : "bottom",
    bgcolor: "rgba(255,255,255,0.8)", bordercolor: "#ccc", borderwidth: 0.8, font: { size: 9 },
    tracegroupgap: 0, itemclick: false, itemdoubleclick: false, ...extra,
  };
}

/** The size, fonts and margins of a figure for the view ({width, narrow, figsize}). */
export function finish(figure, view) {
  const layout = figure.layout;
  const ratio = figure.heightRatio ?? view.figsize[1] / view.figsize[0];
  layout.width = view.width;
  layout.height = figure.height ?? Math.round(view.width * ratio);
  layout.font = { ...FONT, ...(layout.font || {}) };
  layout.margin = { l: 0, r: 0, t: 0, b: 0, pad: 0, ...(layout.margin || {}) };
  layout.paper_bgcolor = "#fff";
  layout.plot_bgcolor = "#fff";
  layout.hovermode = layout.hovermode ?? "closest";
  layout.dragmode = false;
  if (!("showlegend" in layout)) layout.showlegend = false;
  return figure;
}

/** Plain arrays (Plotly reads nested typed arrays poorly). */
export function plain(x) {
  if (ArrayBuffer.isView(x)) return Array.from(x);
  if (Array.isArray(x)) return x.map(plain);
  return x;
}

/** 0, 1, ..., n - 1 */
export function range(n, start = 0) {
  return Array.from({ length: n }, (_, i) => start + i);
}

/** The transpose of a (T+1, d) matrix as plain rows (states on the vertical axis). */
export function transpose(m) {
  const rows = m.length, cols = rows ? m[0].length : 0;
  return Array.from({ length: cols }, (_, i) => Array.from({ length: rows }, (_, t) => m[t][i]));
}

/** One line of text shorter for narrow screens: the first of the alternatives that fits. */
export function fit(view, long, short) {
  return view.narrow ? short : long;
}

/**
 * A heat map of measures m (T+1, d), states on the vertical axis, colour scale [0, 1]
 * (plots.plot_measure_heatmap); signed = true draws weights below 0 and above 1 in the end
 * colours. Hovering shows the exact weight.
 */
export function measureHeatmap(m, style, { signed = false, xaxis = "x", yaxis = "y", showscale = false,
                                           bar = null, name = "" } = {}) {
  const raw = transpose(m);
  const trace = {
    type: "heatmap", x: range(m.length), y: range(raw.length), xaxis, yaxis, showscale,
    hoverongaps: false, zsmooth: false, name,
    text: raw.map((row) => row.map((x) => x.toPrecision(4))),
    hovertemplate: "t = %{x}, state %{y}: %{text}<extra></extra>",
  };
  if (signed) {
    const s = signedScale(style, style.sequential_cmap);
    Object.assign(trace, { z: raw.map((row) => row.map(s.clip)), colorscale: s.colorscale, zmin: s.zmin, zmax: s.zmax });
  } else {
    Object.assign(trace, { z: raw, colorscale: colorscale(style, style.sequential_cmap), zmin: 0, zmax: 1 });
  }
  if (bar) trace.colorbar = { ...bar, tickvals: [0, 0.2, 0.4, 0.6, 0.8, 1.0] };
  return trace;
}

