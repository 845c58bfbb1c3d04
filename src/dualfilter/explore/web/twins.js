/**
 * twins.js: the live twins of the book's explorers on the static HTML pages.
 *
 * A chapter's explorer cell displays ``ex.twin()`` (dualfilter/explore/twin.py): a
 * ``<div class="dualfilter-twin">`` holding the static figure (what a reader without
 * JavaScript, or a notebook, sees) and a ``<script type="application/json">`` with the
 * explorer's factory name, its parameter declaration (``ex.spec()``), the parameters of the
 * cell, the book's figure style (``plots.style()`` plus the matplotlib colour maps as colour
 * scales) and the package's own models for the cell's (n_states, n_tokens, seed), drawn
 * by numpy at build time. The book's Sphinx extension (dualfilter/explore/sphinxext.py) adds
 * this module to every page holding a twin and serves it from ``_static/dualfilter/`` with
 * the engine, the explorer modules and Plotly.js. Nothing is fetched from another site.
 *
 * For each twin on the page this module
 * - builds the controls from the declaration (a slider per int/float/log parameter, a check
 *   box per bool, a menu per choice, a text box per text (applied on Enter or on leaving it); parameters with ``"control": false`` are settable through
 *   ``set`` only), with the semantics of the Python explorers (explore/_base.py: types,
 *   inclusive bounds, refs to earlier parameters, snapping to a bound, clamping of a
 *   parameter whose bounds moved, the same error messages);
 * - computes with engine.js through the explorer module ``explorers/<name>.js`` (the arrays
 *   the Python explorer's ``data`` holds, under the same names) and draws them with Plotly.js
 *   (``Plotly.react``: only what changed is redrawn), which is loaded when the twin comes
 *   near the viewport or is first changed;
 * - registers itself in ``window.dualfilterExplorers`` (the contract of issue 10):
 *     name        the Python factory's name, e.g. "fixed_point_explorer";
 *     set(params) applies a partial parameter object; a Promise resolved after the redraw;
 *                 an invalid value (unknown name, wrong type, out of range, or a value the
 *                 engine refuses) shows the message on the page, keeps the last valid figure
 *                 and rejects with an Error carrying that message;
 *     state()     plain JSON {name, params, model: {A, C, mu}, tokens, states, outputs,
 *                 source, extras, status}: outputs as named in the Python explorer's data (always pi (T+1, d),
 *                 and rho (T+1, d) for explorers with a layer); source is "book" when the
 *                 model is the package's (numpy-drawn, embedded at build time) and "engine"
 *                 when the page drew it with engine.js's own generator (another (n_states,
 *                 n_tokens, seed), or a concentration off the slider's grid); extras holds
 *                 what a test needs to recompute the outputs (Monte Carlo paths, the layer
 *                 before the one shown);
 *     ready       a Promise resolved once the first figure is drawn;
 *     timings     [{ms, what}] of the last changes (set to the end of the redraw).
 *
 * Numbers: JSON has one number type, so an int parameter takes any integral number (5 and
 * 5.0 are the same value here, while Python refuses the float 5.0).
 *
 * How to add a twin (for a new Python explorer ``<name>_explorer``): write
 * ``explorers/<name>_explorer.js`` exporting
 *     compute(p, ctx) -> {outputs, extras?}   the arrays of the Python explorer's ``data``
 *                                            (typed arrays / arrays / numbers), computed with
 *                                            ctx.engine; ctx.model(p) gives {hmm, states,
 *                                            tokens, source} for the shared model parameters
 *                                            (and transition_concentration when declared),
 *                                            ctx.cached(name, keys, fn) caches per parameters;
 *                                            throw an Error to refuse a combination
 *     figure(out, p, view) -> {data, layout}  the Plotly figure; view = {width, narrow, style,
 *                                            plot: the helpers of plotstyle.js}
 * and call ``ex.twin()`` in the chapter. Nothing else: the controls, validation, contract,
 * lazy loading and static fallback are generic. See explore/_base.py, "How to add an
 * explorer", step 5.
 */

import * as engine from "./engine.js";
import * as plotstyle from "./plotstyle.js";

const BASE = new URL(".", import.meta.url);
const SNAP = 1e-9;
const CACHE_SIZE = 4;
const NARROW = 640;          // px: below this width the panels are stacked in one column
const TIMINGS_KEPT = 200;
const MODEL_KEYS = ["n_states", "n_tokens", "T", "stickiness", "emission_concentration", "seed"];

// ------------------------------------------------------------------------------------------
// Values and messages, as the Python explorers write them (explore/_base.py, _show)
// ------------------------------------------------------------------------------------------

/** Python's format(x, "g"): 6 significant digits, trailing zeros dropped. */
export function formatG(x) {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : (x > 0 ? "inf" : "-inf");
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const [mantissa, power] = x.toExponential(5).split("e");
  const exp = Number(power);
  const strip = (text) => (text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text);
  if (exp < -4 || exp >= 6) {
    return `${strip(mantissa)}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  return strip(x.toFixed(Math.max(0, 5 - exp)));
}

function showValue(value, kind) {
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") {
    if (Number.isInteger(value) && kind === "int" && Math.abs(value) < 1e20) return String(value);
    return formatG(value);
  }
  if (value === null || value === undefined) return "None";
  if (typeof value === "string") {
    const text = `'${value}'`;
    return text.length <= 60 ? text : text.slice(0, 57) + "...";
  }
  return String(value);
}

function refValue(value, params) {
  if (value !== null && typeof value === "object" && "param" in value) {
    return params[value.param] + (value.offset ?? 0);
  }
  return value;
}

function choices(p, params) {
  if (Array.isArray(p.options)) return p.options.slice();
  const r = refValue(p.options.range, params);
  return Array.from({ length: Math.max(0, r) }, (_, i) => i);
}

function bounds(p, params) {
  return [refValue(p.low, params), refValue(p.high, params)];
}

function shownChoices(p, params) {
  return choices(p, params).map((o) => showValue(o, Number.isInteger(o) ? "int" : "float")).join(", ");
}

/** [value, null] or [null, message]: explore/_base.Param.check. */
export function checkParam(p, value, params) {
  const name = p.name;
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    return [null, `${name} must be a single value, got an array of shape (${value.length},)`];
  }
  if (value !== null && typeof value === "object") {
    return [null, `${name} must be a single value, got an array of shape (${Object.keys(value).length},)`];
  }
  if (p.kind === "text") {
    if (typeof value !== "string") return [null, `${name} must be a string, got ${showValue(value)}`];
    const [low, high] = bounds(p, params);
    const n = [...value].length;           // code points, as Python's len
    if (!(low <= n && n <= high)) {
      return [null, `${name} must have ${low} to ${high} characters, got ${n}` + (p.reason ? `: ${p.reason}` : "")];
    }
    return [value, null];
  }
  if (p.kind === "bool") {
    if (typeof value === "boolean") return [value, null];
    return [null, `${name} must be True or False, got ${showValue(value)}`];
  }
  if (typeof value === "boolean") {
    if (p.kind === "choice") return [null, `${name} must be one of ${shownChoices(p, params)}; got ${showValue(value)}`];
    return [null, `${name} must be ${p.kind === "int" ? "an integer" : "a number"}, got ${showValue(value)}`];
  }
  if (p.kind === "choice") {
    if (typeof value === "number") {
      for (const option of choices(p, params)) if (value === option) return [option, null];
    }
    return [null, `${name} must be one of ${shownChoices(p, params)}; got ${showValue(value, "float")}`];
  }
  const given = value;
  if (typeof value !== "number") {
    return [null, `${name} must be ${p.kind === "int" ? "an integer" : "a number"}, got ${showValue(value)}`];
  }
  if (p.kind === "int") {
    if (!Number.isInteger(value)) return [null, `${name} must be an integer, got ${showValue(value, "float")}`];
  } else if (Number.isNaN(value)) {
    return [null, `${name} must be a number, got nan`];
  }
  const [low, high] = bounds(p, params);
  if ((p.kind === "float" || p.kind === "log") && Number.isFinite(value)) {
    // relative to the bound itself on a log slider (explore/_base.py, Param.check)
    const scale = Math.max(Math.abs(low), Math.abs(high), high - low);
    const [scaleLow, scaleHigh] = p.kind === "log" ? [Math.abs(low), Math.abs(high)] : [scale, scale];
    if (Math.abs(value - low) <= SNAP * scaleLow) value = low;
    else if (Math.abs(value - high) <= SNAP * scaleHigh) value = high;
  }
  if (!(low <= value && value <= high)) {
    const kind = p.kind === "int" ? "int" : "float";
    const message = low === high
      ? `${name} must be ${showValue(low, kind)}, got ${showValue(given, kind)}`
      : `${name} must lie in [${showValue(low, kind)}, ${showValue(high, kind)}], got ${showValue(given, kind)}`;
    return [null, message + (p.reason ? `: ${p.reason}` : "")];
  }
  return [value, null];
}

/** The nearest allowed value (explore/_base.Param.clamp). */
export function clampParam(p, value, params) {
  if (p.kind === "choice") {
    const options = choices(p, params);
    return options.includes(value) ? value : options[options.length - 1];
  }
  if (p.kind === "bool" || p.kind === "text") return value;
  const [low, high] = bounds(p, params);
  return Math.min(Math.max(value, low), high);
}

/** [params, null] or [null, message]: explore/_base.Explorer._resolve. */
export function resolveParams(spec, current, given, initial = false) {
  const names = spec.map((p) => p.name);
  const unknown = Object.keys(given).filter((k) => !names.includes(k)).sort();
  if (unknown.length) {
    return [null, `unknown parameter(s) ${unknown.join(", ")}; known: ${names.join(", ")}`];
  }
  const out = initial ? {} : { ...current };
  for (const p of spec) {
    let value;
    if (Object.prototype.hasOwnProperty.call(given, p.name)) {
      let error;
      [value, error] = checkParam(p, given[p.name], out);
      if (error) return [null, error];
    } else if (initial) {
      value = clampParam(p, refValue(p.default, out), out);
    } else {
      value = clampParam(p, out[p.name], out);
    }
    out[p.name] = value;
  }
  return [out, null];
}

// ------------------------------------------------------------------------------------------
// Slider positions (ipywidgets' IntSlider, FloatSlider, FloatLogSlider)
// ------------------------------------------------------------------------------------------

function decimals(step) {
  const text = String(step);
  return text.includes(".") ? text.split(".")[1].length : 0;
}

/** The slider of a numeric parameter: {min, max, step, toValue(position), toPosition(value)}. */
function sliderScale(p, params) {
  const [low, high] = bounds(p, params);
  if (p.kind === "log") {
    const a = Math.log10(low), b = Math.log10(high);
    const n = Math.round((b - a) / p.step);
    return {
      min: 0, max: n, step: 1,
      toValue: (k) => (k <= 0 ? low : k >= n ? high : Number((10 ** (a + k * p.step)).toPrecision(12))),
      toPosition: (v) => Math.min(n, Math.max(0, Math.round((Math.log10(v) - a) / p.step))),
    };
  }
  const places = decimals(p.step);
  return {
    min: low, max: high, step: p.step,
    toValue: (x) => Number(Number(x).toFixed(places)),
    toPosition: (v) => v,
  };
}

function readout(p, value) {
  if (p.kind === "int") return String(value);
  if (p.kind === "log") {
    // a tolerance such as 1e-6 reads 1e-6, not 0.000001 (the readout column is narrow)
    if (value !== 0 && Math.abs(value) < 1e-3) return value.toExponential(1).replace(".0e", "e");
    return Number(value.toPrecision(3)).toString();
  }
  return Number(value.toFixed(decimals(p.step))).toString();
}

// ------------------------------------------------------------------------------------------
// Loading Plotly (a classic script, served beside this module)
// ------------------------------------------------------------------------------------------

let plotlyPromise = null;

export function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyPromise) {
    plotlyPromise = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = new URL("plotly.min.js", BASE).href;
      script.async = true;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => { plotlyPromise = null; reject(new Error("Plotly.js could not be loaded from the site")); };
      document.head.appendChild(script);
    });
  }
  return plotlyPromise;
}

// ------------------------------------------------------------------------------------------
// Styles of the controls (injected once)
// ------------------------------------------------------------------------------------------

const CSS = `
.dualfilter-twin { margin: 0.5em 0 1em; max-width: 100%; overflow-x: hidden; }
.dualfilter-twin .dft-controls { display: grid; grid-template-columns: repeat(auto-fill, minmax(235px, 1fr));
  gap: 0.25em 1.2em; margin: 0 0 0.4em; font-size: 0.85rem; }
.dualfilter-twin .dft-control { display: grid; grid-template-columns: 7.6em minmax(0, 1fr) 4.2em;
  align-items: center; gap: 0.4em; min-width: 0; }
.dualfilter-twin .dft-control label { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.dualfilter-twin .dft-control input[type=range] { width: 100%; min-width: 0; margin: 0; height: 1.6em; }
.dualfilter-twin .dft-control select { width: 100%; min-width: 0; }
.dualfilter-twin .dft-control.dft-text { grid-column: 1 / -1; }
.dualfilter-twin .dft-control input[type=text] { width: 100%; min-width: 0; box-sizing: border-box;
  font-family: monospace; }
.dualfilter-twin .dft-control input[type=checkbox] { justify-self: start; width: 1.1em; height: 1.1em; }
.dualfilter-twin .dft-control output { font-variant-numeric: tabular-nums; text-align: right; }
.dualfilter-twin .dft-status { min-height: 1.3em; font-size: 0.85rem; color: #b00020; }
.dualfilter-twin .dft-status.dft-info { color: #555; }
.dualfilter-twin .dft-plot { width: 100%; }
.dualfilter-twin .dft-static img { max-width: 100%; height: auto; }
.dualfilter-twin.dft-live .dft-static { display: none; }
`;

function injectCss() {
  if (document.getElementById("dualfilter-twin-css")) return;
  const style = document.createElement("style");
  style.id = "dualfilter-twin-css";
  style.textContent = CSS;
  document.head.appendChild(style);
}

// ------------------------------------------------------------------------------------------
// One twin
// ------------------------------------------------------------------------------------------

class Cache {
  constructor() { this.stores = new Map(); }
  get(name, key, compute) {
    let store = this.stores.get(name);
    if (!store) this.stores.set(name, (store = new Map()));
    const k = JSON.stringify(key);
    if (store.has(k)) {
      const value = store.get(k);
      store.delete(k);
      store.set(k, value);
      return value;
    }
    const value = compute();
    store.set(k, value);
    if (store.size > (name === "model" ? 4 * CACHE_SIZE : CACHE_SIZE)) store.delete(store.keys().next().value);
    return value;
  }
}

function sameKey(a, b) {
  return a !== null && Math.abs(a - b) <= SNAP * Math.abs(b);
}

/** numpy's sum of a short contiguous row (pairwise summation, 8 partial sums from n = 8). */
function numpySum(a) {
  const n = a.length;
  if (n < 8) {
    let s = 0;
    for (let i = 0; i < n; i++) s += a[i];
    return s;
  }
  const r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
  let i = 8;
  for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[i + j];
  let s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
  for (; i < n; i++) s += a[i];
  return s;
}

/** The package's model for p when the page has it (see twin.py, book_models), else null. */
function bookModel(book, p, concentration) {
  if (!book || p.n_states !== book.n_states || p.n_tokens !== book.n_tokens || p.seed !== book.seed) return null;
  if ((p.transition_concentration ?? 1) !== (book.transition_concentration ?? 1)) return null;
  const entry = book.emission.find((e) => sameKey(e.concentration, concentration));
  if (!entry) return null;
  const s = p.stickiness;
  // random_hmm: M = s I + (1 - s) A_random, then HMM divides each row by its sum (numpy's
  // operations in numpy's order, so the page's A is the package's, bit for bit)
  const A = book.A_random.map((row, i) => {
    const mixed = row.map((a, j) => (i === j ? s * 1.0 : s * 0.0) + (1.0 - s) * a);
    const sum = numpySum(mixed);
    return mixed.map((x) => x / sum);
  });
  return engine.makeHmm(A, entry.C, entry.mu);
}

class Twin {
  constructor(root, config, module) {
    this.root = root;
    this.config = config;
    this.module = module;
    this.name = config.name;
    this.spec = config.spec;
    this.cache = new Cache();
    this.timings = [];
    this.queue = Promise.resolve();
    this.pendingUi = null;
    this.drawn = false;
    this.lastFigure = null;
    const [params, error] = resolveParams(this.spec, {}, config.params, true);
    if (error) throw new Error(`${this.name}: the cell's parameters are invalid here: ${error}`);
    this.params = params;
    this.result = this.compute(params);   // throws if the cell's parameters fail: a bug
    this.buildDom();
    let markReady;
    this.ready = new Promise((resolve) => { markReady = resolve; });
    this.markReady = markReady;
  }

  // ----- computing -----------------------------------------------------------------------
  context() {
    const twin = this;
    return {
      engine,
      MODEL_KEYS,
      spec: twin.spec,
      data: twin.config.data ?? null,     // the explorer's twin_data(), if it has one
      cached: (name, keys, p, fn) => twin.cache.get(name, keys.map((k) => p[k]), fn),
      /** The model and path of the shared parameters: {hmm, states, tokens, source}. */
      model(p, concentration = p.emission_concentration) {
        const key = [...MODEL_KEYS.map((k) => (k === "emission_concentration" ? concentration : p[k])),
                     p.transition_concentration ?? 1];
        return twin.cache.get("model", key, () => {
          const book = bookModel(twin.config.book, p, concentration);
          const uniforms = twin.config.book && twin.config.book.uniforms;
          if (book && uniforms && uniforms.length >= 2 * p.T + 1) {
            const path = engine.sampleFromUniforms(book, p.T, uniforms);
            return { hmm: book, states: path.states, tokens: path.tokens, source: "book" };
          }
          const hmm = engine.randomHmm(p.n_states, p.n_tokens, {
            seed: p.seed, stickiness: p.stickiness, emissionConcentration: concentration,
            transitionConcentration: p.transition_concentration ?? 1,
          });
          const path = engine.sample(hmm, p.T, p.seed);
          return { hmm, states: path.states, tokens: path.tokens, source: "engine" };
        });
      },
    };
  }

  compute(p) {
    const result = this.module.compute(p, this.context());
    if (!result || !result.outputs || !result.model) {
      throw new Error(`${this.name}: compute must return {outputs, model}`);
    }
    return result;
  }

  // ----- the page --------------------------------------------------------------------------
  buildDom() {
    const root = this.root;
    this.controlsBox = document.createElement("div");
    this.controlsBox.className = "dft-controls";
    this.statusLine = document.createElement("div");
    this.statusLine.className = "dft-status";
    this.statusLine.setAttribute("role", "status");
    this.statusLine.setAttribute("aria-live", "polite");
    this.plot = document.createElement("div");
    this.plot.className = "dft-plot";
    const staticFigure = root.querySelector(".dft-static");
    root.insertBefore(this.controlsBox, staticFigure || root.firstChild);
    root.insertBefore(this.statusLine, staticFigure || null);
    root.appendChild(this.plot);
    this.controls = {};
    const order = this.config.control_order || [];
    const names = [...order.filter((n) => this.spec.some((p) => p.name === n)),
                   ...this.spec.map((p) => p.name).filter((n) => !order.includes(n))];
    for (const name of names) {
      const p = this.spec.find((q) => q.name === name);
      if (p.control) this.controls[name] = this.makeControl(p);
    }
    this.syncControls();
  }

  makeControl(p) {
    const box = document.createElement("div");
    box.className = "dft-control";
    const id = `${this.root.id}-${p.name}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = p.label;
    if (p.doc) label.title = p.doc;
    box.appendChild(label);
    let input;
    const control = { p, box };
    if (p.kind === "bool") {
      input = document.createElement("input");
      input.type = "checkbox";
      input.addEventListener("change", () => this.fromControl({ [p.name]: input.checked }));
    } else if (p.kind === "text") {
      input = document.createElement("input");
      input.type = "text";
      input.spellcheck = false;
      input.maxLength = 4 * refValue(p.high, this.params);   // UTF-16 units; the check counts characters
      box.classList.add("dft-text");
      input.addEventListener("change", () => this.fromControl({ [p.name]: input.value }));
    } else if (p.kind === "choice") {
      input = document.createElement("select");
      input.addEventListener("change", () => {
        this.fromControl({ [p.name]: control.options[Number(input.value)] });
      });
    } else {
      input = document.createElement("input");
      input.type = "range";
      const handler = () => this.fromControl({ [p.name]: control.scale.toValue(Number(input.value)) });
      input.addEventListener(p.live ? "input" : "change", handler);
      if (!p.live) {       // show the value while dragging, compute on release
        input.addEventListener("input", () => {
          control.output.textContent = readout(p, control.scale.toValue(Number(input.value)));
        });
      }
    }
    input.id = id;
    input.setAttribute("aria-label", p.label);
    box.appendChild(input);
    const output = document.createElement("output");
    output.htmlFor = id;
    box.appendChild(output);
    control.input = input;
    control.output = output;
    this.controlsBox.appendChild(box);
    return control;
  }

  /** Move the controls to the parameters; ``keepTyped``: leave text boxes as typed (a refused
   * text stays in its box, with the message, for the reader to correct). */
  syncControls(keepTyped = false) {
    for (const control of Object.values(this.controls)) {
      const { p, input, output } = control;
      const value = this.params[p.name];
      if (p.kind === "bool") {
        input.checked = value;
        output.textContent = "";
      } else if (p.kind === "text") {
        if (!keepTyped && input.value !== value) input.value = value;
        output.textContent = "";
      } else if (p.kind === "choice") {
        const options = choices(p, this.params);
        if (JSON.stringify(options) !== JSON.stringify(control.options)) {
          control.options = options;
          input.replaceChildren(...options.map((o, i) => {
            const option = document.createElement("option");
            option.value = String(i);
            option.textContent = showValue(o, Number.isInteger(o) ? "int" : "float");
            return option;
          }));
        }
        input.value = String(options.indexOf(value));
        output.textContent = "";
      } else {
        const scale = sliderScale(p, this.params);
        control.scale = scale;
        input.min = String(scale.min);
        input.max = String(scale.max);
        input.step = String(scale.step);
        input.value = String(scale.toPosition(value));
        output.textContent = readout(p, value);
      }
    }
  }

  setStatus(message, info = false) {
    this.statusLine.textContent = message ? (info ? message : `\u26a0 ${message}`) : "";
    this.statusLine.classList.toggle("dft-info", info);
    this.status = info ? "" : message;
  }

  // ----- changes ---------------------------------------------------------------------------
  /** A change from a control: while one is being drawn, only the latest waiting one runs. */
  fromControl(params) {
    if (this.pendingUi) {
      Object.assign(this.pendingUi.params, params);
      return this.pendingUi.promise;
    }
    const job = { params: { ...params } };
    this.pendingUi = job;
    job.promise = this.enqueue(() => {
      this.pendingUi = null;
      return this.apply(job.params, "control");
    }).catch(() => undefined);        // the message is on the page
    return job.promise;
  }

  /** The contract's set: resolves after the redraw, rejects with the message. */
  set(params) {
    return this.enqueue(() => this.apply(params ?? {}, "set"));
  }

  enqueue(job) {
    const run = this.queue.then(job, job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async apply(given, what) {
    const start = performance.now();
    if (given === null || typeof given !== "object" || Array.isArray(given)) {
      return this.refuse(`set takes an object of parameters, got ${showValue(given)}`);
    }
    const [params, error] = resolveParams(this.spec, this.params, given);
    if (error) return this.refuse(error);
    let result;
    const t0 = performance.now();
    try {
      result = this.compute(params);
    } catch (exc) {
      return this.refuse(String(exc && exc.message ? exc.message : exc));
    }
    let figure;
    try {
      figure = this.makeFigure(result, params);          // before committing: may throw too
    } catch (exc) {
      return this.refuse(`the figure failed: ${exc && exc.message ? exc.message : exc}`);
    }
    const t1 = performance.now();
    this.params = params;
    this.result = result;
    this.setStatus("");
    this.syncControls();
    await this.draw(figure);
    const end = performance.now();
    this.timings.push({ ms: end - start, compute: t1 - t0, draw: end - t1, what, params: { ...given } });
    if (this.timings.length > TIMINGS_KEPT) this.timings.shift();
    return this.state();
  }

  refuse(message) {
    this.setStatus(message);
    this.syncControls(true);    // the controls go back to the last valid parameters
    return Promise.reject(new Error(message));
  }

  // ----- drawing ---------------------------------------------------------------------------
  view() {
    const width = Math.max(280, Math.floor(this.root.getBoundingClientRect().width || 800));
    return { width, narrow: width < NARROW, style: this.config.style, plot: plotstyle,
             figsize: this.config.figsize, data: this.config.data ?? null };
  }

  makeFigure(result, params) {
    const view = this.view();
    const figure = this.module.figure(result.outputs, params, view);
    return plotstyle.finish(figure, view);
  }

  async draw(figure = null) {
    const Plotly = await loadPlotly();
    figure = figure || this.makeFigure(this.result, this.params);
    // Plotly.react redraws what changed; a figure equal to the one shown is not redrawn
    const key = JSON.stringify([figure.data, figure.layout]);
    if (key !== this.drawnKey) {
      await Plotly.react(this.plot, figure.data, figure.layout, plotstyle.CONFIG);
      this.drawnKey = key;
    }
    this.lastFigure = figure;
    if (!this.drawn) {
      this.drawn = true;
      this.root.classList.add("dft-live");
      this.markReady();
    }
  }

  redrawForWidth() {
    if (!this.drawn) return;
    this.enqueue(() => this.draw()).catch(() => undefined);
  }

  state() {
    const r = this.result;
    const hmm = r.model.hmm;
    return JSON.parse(JSON.stringify({
      name: this.name,
      params: { ...this.params },
      model: { A: engine.toPlain(hmm.A), C: engine.toPlain(hmm.C), mu: engine.toPlain(hmm.mu) },
      tokens: engine.toPlain(r.model.tokens),
      states: engine.toPlain(r.model.states),
      source: r.model.source,
      outputs: engine.toPlain(r.outputs),
      extras: engine.toPlain(r.extras || {}),
      status: this.status || "",
    }));
  }

  entry() {
    const twin = this;
    return {
      name: this.name,
      element: this.root,
      set: (params) => twin.set(params),
      state: () => twin.state(),
      ready: this.ready,
      get timings() { return twin.timings.slice(); },
      get status() { return twin.status || ""; },
      draw: () => twin.enqueue(() => twin.draw()),
      /** The Plotly data of every panel (what is drawn), for tests. */
      drawn: () => twin.plot.data,
    };
  }
}

// ------------------------------------------------------------------------------------------
// Start every twin on the page
// ------------------------------------------------------------------------------------------

function readConfig(root) {
  const script = root.querySelector("script.dualfilter-twin-config");
  return JSON.parse(script.textContent);
}

async function start() {
  injectCss();
  const registry = (window.dualfilterExplorers = window.dualfilterExplorers || []);
  const roots = Array.from(document.querySelectorAll("div.dualfilter-twin"));
  const twins = [];
  for (const [k, root] of roots.entries()) {
    if (root.dataset.started) continue;
    root.dataset.started = "1";
    if (!root.id) root.id = `dualfilter-twin-${k}`;
    try {
      const config = readConfig(root);
      const module = await import(new URL(`explorers/${config.name}.js`, BASE).href);
      const twin = new Twin(root, config, module);
      registry.push(twin.entry());
      twins.push(twin);
    } catch (exc) {
      console.warn(`dualfilter twin ${k}: ${exc && exc.stack ? exc.stack : exc}`);
      const note = document.createElement("div");
      note.className = "dft-status";
      note.textContent = `The live explorer could not start: ${exc && exc.message ? exc.message : exc}`;
      root.prepend(note);
    }
  }
  // Plotly (4.8 MB, cached after the first page) is fetched when a twin comes near the
  // viewport; until then the static figure shows.
  const show = (twin) => twin.enqueue(() => twin.draw()).catch((exc) => {
    twin.setStatus(`The figure could not be drawn: ${exc && exc.message ? exc.message : exc}`);
  });
  if ("IntersectionObserver" in window) {
    const observer = new IntersectionObserver((seen) => {
      for (const item of seen) {
        if (!item.isIntersecting) continue;
        observer.unobserve(item.target);
        const twin = twins.find((t) => t.root === item.target);
        if (twin && !twin.drawn) show(twin);
      }
    }, { rootMargin: "800px 0px" });
    for (const twin of twins) observer.observe(twin.root);
  } else {
    for (const twin of twins) show(twin);
  }
  let width = window.innerWidth;
  let timer = null;
  window.addEventListener("resize", () => {
    if (window.innerWidth === width) return;
    width = window.innerWidth;
    clearTimeout(timer);
    timer = setTimeout(() => twins.forEach((t) => t.redrawForWidth()), 150);
  });
  window.dualfilterTwinsStarted = true;
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
