// The "inside the model" page: sends one `trace` for the prompt and the chosen layer,
// keeps the decoded reply, and draws the chosen layer, head and position from it (the
// embeddings, q/k/v, scores and attention, the MLP, the residual norms, the logit lens and
// the next token). Head and position changes redraw from the reply; a layer it lacks is
// asked for again. The experiment forms send their own traces and show before/after.

import { Connection } from "./connection.js";
import { count, ms, percent, visibleText } from "./format.js";
import { MapView, StripView, el, fillTable, num, probabilityItems, quoted, renderBars } from "./inside-draw.js";
import { Experiments, pointName } from "./inside-experiments.js";
import { PositionChips } from "./position-chips.js";
import { PROTOCOL_VERSION, traceMessage, websocketUrl } from "./protocol.js";
import {
  decodeTrace,
  finalTop,
  hasView,
  headMap,
  headVector,
  lensRows,
  maxAbs,
  mlpTopAt,
  normStats,
  positionVector,
  residualNorms,
  residualVector,
  tokenText,
} from "./trace-decode.js";

const LENS_COLUMNS = 5;
const config = JSON.parse(document.getElementById("page-config").textContent);
const $ = (id) => document.getElementById(id);

const els = {
  form: $("trace-form"),
  model: $("model"),
  prompt: $("prompt"),
  layer: $("layer"),
  head: $("head"),
  position: $("position"),
  trace: $("trace"),
  status: $("status"),
  facts: $("run-facts"),
  tokens: $("trace-tokens"),
};

const state = {
  model: null, // the page config's facts for the chosen model
  view: { layer: 0, head: 0, position: 0 },
  trace: null, // the decoded reply of the last plain trace
  request: null, // the request in flight: {id, kind}; one per connection at a time
  retrace: false, // a layer the trace lacks was chosen while a request ran
  connection: "connecting",
  sent: 0, // requests sent, so that a test can tell a redraw from a new request
  lastExperiment: null,
};

// -- status -----------------------------------------------------------------------------------
function setStatus(kind, text) {
  els.status.dataset.state = kind;
  if (els.status.textContent !== text) els.status.textContent = text;
}

function readyStatus() {
  if (state.connection !== "open" || state.request) return;
  setStatus("idle", state.trace ? "Ready." : "Connected. Press Trace to run the prompt.");
}

function setBusy(busy) {
  els.trace.disabled = busy;
  experiments.setBusy(busy);
  els.form.setAttribute("aria-busy", String(busy));
}

// -- connection -------------------------------------------------------------------------------
const connection = new Connection(websocketUrl(config.websocket_path));
connection.addEventListener("state", (event) => {
  const { state: next, retryIn } = event.detail;
  state.connection = next;
  if (next === "connecting" && !state.request) setStatus("connecting", "Connecting…");
  else if (next === "open") readyStatus();
  else if (next === "closed") {
    const again = `Reconnecting in ${Math.round(retryIn / 1000)} s; Trace reconnects at once.`;
    if (state.request && state.request.sent) fail(`The connection to the server closed during the request. ${again}`);
    else if (!state.request) setStatus("offline", `The connection to the server closed. ${again}`);
  }
});
connection.addEventListener("message", (event) => onMessage(event.detail));

async function send(kind, message) {
  if (state.request) return;
  const request = { id: message.request_id, kind, sent: false };
  state.request = request;
  setBusy(true);
  if (kind !== "trace") experiments.pending(kind);
  if (connection.state !== "open") setStatus("connecting", "Connecting…");
  try {
    await connection.ready();
  } catch (err) {
    if (state.request === request) fail(err.message);
    return;
  }
  if (!connection.send(message)) {
    fail("Could not send the request; the connection is closed.");
    return;
  }
  request.sent = true;
  state.sent += 1;
  setStatus("running", kind === "trace" ? "Tracing…" : "Tracing the changed model…");
}

function finish() {
  state.request = null;
  setBusy(false);
}

/** The request is over without a result: say why in the status line, the words as given. */
function fail(message) {
  const request = state.request;
  finish();
  if (request && request.kind !== "trace") experiments.failed(request.kind);
  setStatus("error", message);
  state.retrace = false;
}

function onMessage(message) {
  const request = state.request;
  const ours = request && message.request_id === request.id;
  if (message.type === "hello") {
    if (message.version !== PROTOCOL_VERSION) setStatus("error", `The server speaks protocol version ${message.version}; this page speaks ${PROTOCOL_VERSION}. Reload the page.`);
  } else if (message.type === "queued" && ours) {
    setStatus("queued", request.kind === "trace" ? "Tracing… (waiting for the model worker)" : "Tracing the changed model… (waiting for the model worker)");
  } else if (message.type === "trace_result" && ours) {
    onResult(request, message);
  } else if (message.type === "error") {
    // an error without a request id answers the frame we sent, so it ends our request too
    if (request && (ours || message.request_id == null)) fail(message.message);
    else if (!request) setStatus("error", message.message);
  }
}

function onResult(request, message) {
  let trace;
  try {
    trace = decodeTrace(message);
  } catch (err) {
    fail(`The reply could not be read: ${err.message}`);
    return;
  }
  finish();
  const took = message.elapsed_ms ? `${ms(message.elapsed_ms.total)} (forward pass ${ms(message.elapsed_ms.forward)})` : "–";
  const size = message.bytes ? `, ${count(Math.round(message.bytes / 1024))} KB` : "";
  if (request.kind === "trace") {
    const sameTokens = state.trace && sameIds(state.trace.tokens, trace.tokens);
    state.trace = trace;
    if (!sameTokens || state.view.position >= trace.tokens.length) state.view.position = trace.tokens.length - 1;
    fillPositions(trace);
    chips.show(trace.tokens, state.view.position);
    setStatus("done", `Traced in ${took}${size}.`);
    els.facts.textContent = `${count(trace.tokens.length)} tokens · layer ${trace.layers.join(", ")} sent · model ${trace.model}`;
    draw();
    if (state.retrace && !hasView(trace, state.view)) {
      state.retrace = false;
      traceNow();
    }
  } else {
    state.lastExperiment = message.experiment;
    experiments.show(request.kind, message.experiment);
    setStatus("done", `The ${request.kind} experiment ran in ${took}.`);
  }
  state.retrace = false;
}

function sameIds(a, b) {
  return a.length === b.length && a.every((t, i) => t.id === b[i].id);
}

// -- requests ---------------------------------------------------------------------------------
function traceNow() {
  send(
    "trace",
    traceMessage({ prompt: els.prompt.value, model: state.model.slug, parts: "all", layers: [state.view.layer], heads: "all", positions: "all", topK: 10, lensToken: null, experiment: null }),
  );
}

function runExperiment(kind, experiment) {
  send(kind, traceMessage({ prompt: els.prompt.value, model: state.model.slug, parts: ["logits"], topK: 10, experiment }));
}

els.form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!els.trace.disabled) traceNow();
});
els.prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    els.form.requestSubmit();
  }
});

const experiments = new Experiments(document, runExperiment);

// -- choosing what to look at -----------------------------------------------------------------
function fillSelect(select, n, label) {
  select.replaceChildren();
  for (let i = 0; i < n; i += 1) select.append(new Option(label(i), String(i)));
}

function applyModel() {
  state.model = config.models.find((m) => m.slug === els.model.value) || config.models[0];
  const { n_layer: layers, n_head: heads } = state.model;
  state.view.layer = Math.min(state.view.layer, layers - 1);
  state.view.head = Math.min(state.view.head, heads - 1);
  fillSelect(els.layer, layers, (i) => `Layer ${i}`);
  fillSelect(els.head, heads, (i) => `Head ${i}`);
  els.layer.value = String(state.view.layer);
  els.head.value = String(state.view.head);
  experiments.fit(state.model, state.view.layer);
}

function fillPositions(trace) {
  els.position.replaceChildren();
  trace.tokens.forEach((token, i) => els.position.append(new Option(`${i} · ${visibleText(token.text)}`, String(i))));
  els.position.disabled = false;
  els.position.value = String(state.view.position);
}

/** The view changed: redraw when the reply holds it, otherwise ask the server again. */
function changeView(change) {
  Object.assign(state.view, change);
  els.layer.value = String(state.view.layer);
  els.head.value = String(state.view.head);
  if (state.trace) els.position.value = String(state.view.position);
  experiments.fit(state.model, state.view.layer);
  if (!state.trace) return;
  if (hasView(state.trace, state.view)) {
    draw();
  } else if (state.request) {
    state.retrace = true; // one request at a time: ask once this one is answered
  } else {
    traceNow();
  }
}

els.model.addEventListener("change", () => {
  applyModel();
  state.trace = null; // its shapes belong to the other model
  els.position.replaceChildren(new Option("Trace first", ""));
  els.position.disabled = true;
  chips.clear(NO_TOKENS);
  els.facts.textContent = "";
  draw();
});
els.layer.addEventListener("change", () => changeView({ layer: Number(els.layer.value) }));
els.head.addEventListener("change", () => changeView({ head: Number(els.head.value) }));
els.position.addEventListener("change", () => changeView({ position: Number(els.position.value) }));

// -- the token chips --------------------------------------------------------------------------
const chips = new PositionChips(els.tokens, (position) => changeView({ position }));
const NO_TOKENS = "Press Trace to see the prompt's tokens.";

// -- drawing ----------------------------------------------------------------------------------
const embeddingsReadout = $("embeddings-readout");
const qkvReadout = $("qkv-readout");
const strips = {
  token: new StripView($("strip-token"), embeddingsReadout, "Token embedding"),
  position: new StripView($("strip-position"), embeddingsReadout, "Position embedding"),
  sum: new StripView($("strip-sum"), embeddingsReadout, "Sum"),
  q: new StripView($("strip-q"), qkvReadout, "q"),
  k: new StripView($("strip-k"), qkvReadout, "k"),
  v: new StripView($("strip-v"), qkvReadout, "v"),
};

function cellWords(query, key) {
  const text = (p) => (state.trace ? quoted(state.trace.tokens[p].text) : "");
  return `${text(query)} (${query}) → ${text(key)} (${key})`;
}

const maps = {
  scores: new MapView($("scores-map"), $("scores-readout"), {
    kind: "diverging",
    describe: (q, k, value, masked) => `${cellWords(q, k)}: score ${num(value)}${masked ? " (the future: masked out before the softmax)" : ""}`,
    onPick: (position) => changeView({ position }),
  }),
  attention: new MapView($("attention-map"), $("attention-readout"), {
    kind: "weights",
    describe: (q, k, value, masked) => `${cellWords(q, k)}: weight ${num(value)}${masked ? " (the future: masked)" : ""}`,
    onPick: (position) => changeView({ position }),
  }),
};

function where(id, text) {
  $(id).textContent = text;
}

function draw() {
  const trace = state.trace;
  const view = state.view;
  const shown = trace && hasView(trace, view);
  const token = shown ? quoted(trace.tokens[view.position].text) : "";
  const at = shown ? `position ${view.position} ${token}` : "";
  where("embeddings-where", at);
  where("attention-where", shown ? `layer ${view.layer}, head ${view.head}, ${at}` : "");
  where("mlp-where", shown ? `layer ${view.layer}, ${at}` : "");
  where("residual-where", at);
  where("lens-where", at);
  where("final-where", at);
  if (trace) chips.mark(view.position);

  const tok = shown ? positionVector(trace, "token_embeddings", view.position) : null;
  const pos = shown ? positionVector(trace, "position_embeddings", view.position) : null;
  const sum = shown ? residualVector(trace, 0, view.position) : null;
  const embScale = maxAbs(tok, pos, sum);
  strips.token.set(tok, embScale);
  strips.position.set(pos, embScale);
  strips.sum.set(sum, embScale);

  const qkv = ["q", "k", "v"].map((part) => (shown ? headVector(trace, part, view) : null));
  const qkvScale = maxAbs(...qkv);
  ["q", "k", "v"].forEach((part, i) => strips[part].set(qkv[i], qkvScale));

  for (const part of ["scores", "attention"]) {
    maps[part].set(shown ? headMap(trace, part, view) : null, view.position);
    const canvas = maps[part].canvas;
    canvas.dataset.layer = shown ? String(view.layer) : "";
    canvas.dataset.head = shown ? String(view.head) : "";
    canvas.dataset.position = shown ? String(view.position) : "";
  }

  const neurons = shown ? mlpTopAt(trace, view) : null;
  renderBars($("mlp-top"), (neurons || []).map((n) => ({ label: `neuron ${n.id}`, value: n.value, text: num(n.value) })), {
    emptyText: "Trace to see the neurons.",
  });
  const stats = ["ln_1", "ln_2"].map((which) => [which, shown ? normStats(trace, which, view) : null]);
  fillTable(
    $("ln-stats"),
    ["norm", "mean", "std"],
    stats.map(([which, s]) => [`${which} (before ${which === "ln_1" ? "attention" : "the MLP"})`, s ? num(s.mean) : "–", s ? num(s.std) : "–"]),
  );

  const norms = shown ? residualNorms(trace, view.position) : null;
  renderBars($("residual-norms"), (norms || []).map((value, point) => ({ label: pointName(point), value, text: num(value) })), {
    emptyText: "Trace to see the residual stream.",
  });

  drawLens(shown ? lensRows(trace, view.position, LENS_COLUMNS) : null);
  renderBars($("final-top"), probabilityItems(shown ? finalTop(trace, view.position) : null), {
    tokens: true,
    emptyText: "Trace to see the next token.",
  });
}

function tokenCell(id, text, prob, target) {
  const wrap = el("span", "lens-cell");
  wrap.dataset.tokenId = String(id);
  if (id === target) wrap.classList.add("is-target");
  wrap.append(el("code", "token-text", visibleText(text)), " ", el("span", "lens-prob", percent(prob)));
  return wrap;
}

function drawLens(rows) {
  const table = $("lens-table");
  if (!rows) {
    fillTable(table, ["residual point", "top tokens"], [["–", "Trace to see the logit lens."]]);
    return;
  }
  const target = rows[0].target;
  const header = ["residual point", ...Array.from({ length: LENS_COLUMNS }, (_, i) => `#${i + 1}`), `${quoted(target.text)}: rank (1 = top) · prob.`];
  fillTable(
    table,
    header,
    rows.map((row) => [
      pointName(row.point),
      ...row.top.map((t) => tokenCell(t.id, t.text, t.prob, target.id)),
      `${row.target.rank + 1} · ${percent(row.target.prob)}`,
    ]),
  );
  table.dataset.rows = String(rows.length);
}

// canvases follow their boxes' widths
let frame = 0;
new ResizeObserver(() => {
  if (!frame) {
    frame = requestAnimationFrame(() => {
      frame = 0;
      Object.values(strips).forEach((s) => s.draw());
      Object.values(maps).forEach((m) => m.draw());
    });
  }
}).observe($("inside-viz"));

// for tests and the curious: the decoded reply and what is on screen
window.glassboxInside = {
  get lastTrace() {
    return state.trace;
  },
  get view() {
    return { ...state.view };
  },
  get requestsSent() {
    return state.sent;
  },
  get lastExperiment() {
    return state.lastExperiment;
  },
  tokenText: (id) => (state.trace ? tokenText(state.trace, id) : null),
};

// -- start ------------------------------------------------------------------------------------
applyModel();
draw();
setBusy(false);
setStatus("connecting", "Connecting…");
connection.connect();
