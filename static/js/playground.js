// The playground page: reads #page-config, owns the page's state (the current run, the
// selected step, layer, head and token), talks to the server through Connection, and
// redraws the token strip, candidate chart, heatmap and small multiples (once per frame).
// Steps go through a Pacer first, so the display can run slower than the model: a step's
// token, candidates and attention row are all drawn when it is shown, not when it arrives.

import { AttentionStore } from "./attention.js";
import { renderCandidates } from "./candidates.js";
import { Connection } from "./connection.js";
import { Controls } from "./controls.js";
import { count, finishWords, ms, ordinal, percent, visibleText } from "./format.js";
import { HeadsGrid } from "./heads-grid.js";
import { AttentionRaster, cellAt, drawHeatmap, drawLegend } from "./heatmap.js";
import { PaceControls } from "./pace-controls.js";
import { Pacer } from "./pacer.js";
import {
  PROTOCOL_VERSION,
  decodePromptAttention,
  decodeStepAttention,
  generateMessage,
  stopMessage,
  websocketUrl,
} from "./protocol.js";
import { TokenStrip } from "./tokens.js";

const config = JSON.parse(document.getElementById("page-config").textContent);
const $ = (id) => document.getElementById(id);

const els = {
  status: $("status"),
  runFacts: $("run-facts"),
  tokens: $("tokens"),
  attentionNote: $("attention-note"),
  layer: $("layer"),
  head: $("head"),
  heatmap: $("heatmap"),
  legend: $("heatmap-legend"),
  readout: $("heatmap-readout"),
  sqrt: $("sqrt-scale"),
  stepPrev: $("step-prev"),
  stepNext: $("step-next"),
  stepLatest: $("step-latest"),
  headsWrap: document.querySelector(".heads-wrap"),
  headsBody: document.querySelector(".heads-body"),
};

const state = {
  viewModel: null, // the model the visualisations are built for
  run: null, // the latest request: {id, model, settings, status, promptLength, steps, done}
  shown: null, // the run whose tokens and pictures are on screen (the same once its prompt arrives)
  store: null,
  raster: null,
  layer: 0,
  head: 0,
  selectedStep: null, // null: follow the latest step
  focus: null, // position of the token whose attention tints the chips
  cursor: null, // heatmap keyboard/hover cell {q, k}
  layout: null,
  scale: "linear",
  connection: "connecting",
  lost: false, // the last run was cut off by a closed connection
};

// -- status -------------------------------------------------------------------------------
/** Change an element's text only when it differs, so live regions do not repeat themselves. */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function setStatus(kind, text) {
  els.status.dataset.state = kind;
  setText(els.status, text);
}

/** A server error: the status line turns red and says what the server said. */
function showError(message, code) {
  setStatus("error", `Error: ${message}`);
  els.status.title = code ? `Error code: ${code}` : "";
}

function clearError() {
  els.status.title = "";
}

function idleStatus() {
  if (state.connection !== "open") return;
  setStatus("idle", "Ready. Type a prompt and press Generate.");
}

// -- connection -----------------------------------------------------------------------------
const connection = new Connection(websocketUrl(config.websocket_path));
connection.addEventListener("state", (event) => {
  const { state: next, retryIn, reason } = event.detail;
  state.connection = next;
  if (next === "connecting") {
    if (!isBusy()) setStatus("connecting", "Connecting to the server…");
  } else if (next === "open") {
    if (!isBusy()) {
      if (state.lost) setStatus("idle", "Reconnected. The last generation was cut off when the connection closed.");
      else idleStatus();
    }
  } else if (next === "closed") {
    const seconds = Math.round(retryIn / 1000);
    const detail = reason && reason !== "code 1006" ? ` (${reason})` : "";
    const again = `Reconnecting in ${seconds} s; Generate reconnects at once.`;
    if (isBusy() && state.run.status !== "connecting") {
      state.run.status = "error";
      state.lost = true;
      controls.setBusy(false);
      setStatus("error", `Error: the connection to the server closed during the generation${detail}. ${again}`);
    } else if (!isBusy()) {
      const what = state.lost ? "The connection closed during the last generation" : "The connection to the server closed";
      setStatus("offline", `${what}${detail}. ${again}`);
    }
  }
});
connection.addEventListener("message", (event) => onMessage(event.detail));

// -- controls -------------------------------------------------------------------------------
const controls = new Controls($("controls"), config, {
  onGenerate: generate,
  onStop: stop,
  onModelChange: (model) => {
    if (!state.run || state.run.status === "done" || state.run.status === "error") buildView(model);
  },
});

function isBusy() {
  return Boolean(state.run && ["connecting", "sent", "queued", "running", "stopping"].includes(state.run.status));
}

async function generate() {
  if (isBusy()) return;
  clearError();
  state.lost = false;
  const model = controls.model();
  if (state.viewModel !== model) buildView(model);
  const settings = controls.read();
  const message = generateMessage(settings, model, state.layer);
  // steps: those shown so far; received: how many have arrived (the pacer holds the rest)
  const run = { id: message.request_id, model, settings, status: "connecting", promptLength: 0, steps: [], received: 0 };
  state.run = run;
  pacer.clear();
  controls.setBusy(true);
  if (connection.state !== "open") setStatus("connecting", "Connecting to the server…");
  try {
    await connection.ready();
  } catch (err) {
    if (state.run === run) failRun(err.message, "no_connection");
    return;
  }
  if (state.run !== run || run.status !== "connecting") return; // stopped meanwhile
  if (!connection.send(message)) {
    failRun("Could not send the request; the connection is closed.", "no_connection");
    return;
  }
  run.status = "sent";
  setStatus("queued", "Sent. Waiting for the server…");
}

function stop() {
  const run = state.run;
  if (!isBusy()) return;
  if (run.status === "connecting") {
    run.status = "done";
    controls.setBusy(false);
    setStatus("done", "Stopped before the request was sent.");
    return;
  }
  run.status = "stopping";
  setStatus("running", "Stopping…");
  if (!connection.send(stopMessage())) failRun("The connection closed before the stop could be sent.", "no_connection");
}

function failRun(message, code) {
  if (state.run) state.run.status = "error";
  controls.setBusy(false);
  showError(message, code);
}

// -- server messages --------------------------------------------------------------------------
function onMessage(message) {
  const run = state.run;
  const ours = run && message.request_id === run.id;
  switch (message.type) {
    case "hello":
      if (message.version !== PROTOCOL_VERSION) {
        showError(`The server speaks protocol version ${message.version}; this page speaks ${PROTOCOL_VERSION}. Reload the page.`, "bad_version");
      }
      return;
    case "queued":
      if (!ours || !isBusy()) return;
      // a late position update must not turn "Running" (or "Stopping…") back into "Queued"
      if (run.status === "sent" || run.status === "queued") {
        run.status = "queued";
        setStatus("queued", queuedWords(message.position));
      }
      return;
    case "prompt":
      if (ours && isBusy()) onPrompt(run, message);
      return;
    case "step":
      if (ours && isBusy() && run.promptLength) onStep(run, message);
      return;
    case "done":
      if (ours && isBusy()) onDone(run, message);
      return;
    case "error":
      onError(message);
      return;
    default:
  }
}

/** The status while waiting; `position` (1 = next) comes from workers that batch, when they know it. */
function queuedWords(position) {
  if (Number.isInteger(position) && position >= 1) {
    return `Queued: ${ordinal(position)} in line${position === 1 ? " (next)" : ""} for the model worker…`;
  }
  return "Queued: waiting for the model worker…";
}

function onError(message) {
  const run = state.run;
  if (run && isBusy() && (message.request_id === run.id || message.request_id == null)) {
    if (message.code === "not_running" && run.status === "stopping") {
      // the stop crossed the end of the run; `done` is on its way or already here
      return;
    }
    failRun(message.message, message.code);
    return;
  }
  if (message.request_id == null && message.code !== "not_running") showError(message.message, message.code);
}

function onPrompt(run, message) {
  if (run.status !== "stopping") {
    run.status = "running";
    setStatus("running", "Running: the model is writing, one token at a time…");
  }
  const model = run.model;
  if (state.viewModel !== model) buildView(model);
  const length = message.tokens.length;
  run.promptLength = length;
  state.shown = run;
  // a row per position the model can read, plus the last token, which never gets one
  const capacity = Math.max(length + 1, Math.min(model.block_size + 1, length + run.settings.maxNewTokens));
  state.store = new AttentionStore(model.n_layer, model.n_head, capacity);
  try {
    decodePromptAttention(message.attention, model, (l, h, q, row) => state.store.setRow(l, h, q, row));
  } catch (err) {
    console.warn(err);
  }
  state.raster = new AttentionRaster(state.store, state.scale);
  strip.reset();
  strip.addPrompt(message.tokens);
  state.selectedStep = null;
  state.focus = null;
  state.cursor = null;
  els.stepLatest.setAttribute("aria-pressed", "true");
  updateRunFacts();
  paceControls.update();
  schedule("all");
}

/** A step arrived: count it and let the pacer decide when it is shown. */
function onStep(run, message) {
  run.received += 1;
  pacer.push({ run, message });
  updateRunFacts();
}

/** Draw one step: its chip, its candidates (when following the latest) and its attention row. */
function showStep({ run, message }) {
  if (state.shown !== run) return; // a newer run's prompt replaced it
  run.steps.push(message);
  try {
    decodeStepAttention(message.attention, run.model, (l, h, q, row) => {
      state.store.setRow(l, h, q, row);
      state.raster.paintRow(l, h, q);
    });
  } catch (err) {
    console.warn(err);
  }
  strip.addStep(message);
  updateRunFacts();
  schedule("all");
}

function onDone(run, message) {
  run.status = "done";
  run.done = message;
  controls.setBusy(false);
  const reason = finishWords(message.finish_reason);
  setStatus(
    "done",
    `Done: ${reason}. ${message.tokens_per_second.toFixed(1)} tokens/s, first token after ${ms(message.time_to_first_token_ms)}.` +
      (pacer.pending ? " The display follows at the speed you chose." : ""),
  );
  controls.showSeed(message.seed);
  updateRunFacts();
  paceControls.update();
  schedule("all");
}

function updateRunFacts() {
  const run = state.shown;
  if (!run || !run.promptLength) {
    setText(els.runFacts, "");
    return;
  }
  const shown = run.steps.length;
  const generated = shown === run.received ? `${count(shown)} generated` : `${count(shown)} of ${count(run.received)} generated shown`;
  const parts = [`${count(run.promptLength)} prompt tokens`, generated];
  if (run.done) {
    parts.push(`${run.done.tokens_per_second.toFixed(1)} tokens/s`);
    parts.push(`first token ${ms(run.done.time_to_first_token_ms)}`);
    parts.push(`total ${ms(run.done.total_ms)}`);
    parts.push(`seed ${run.done.seed}`);
  }
  setText(els.runFacts, parts.join(" · "));
}

// -- the views ----------------------------------------------------------------------------------
const strip = new TokenStrip(els.tokens, $("token-tooltip"), activateToken);
const pacer = new Pacer(showStep);
const paceControls = new PaceControls(
  $("pace"),
  pacer,
  () => {
    const run = state.run;
    return { shown: run ? run.steps.length : 0, received: run ? run.received : 0, busy: isBusy() };
  },
  followLatest, // asking for the next token means: show me that decision
);
const grid = new HeadsGrid($("heads-grid"), $("heads-cols"), $("heads-rows"), (layer, head) => selectMap(layer, head));

function fillSelect(select, n, word) {
  select.replaceChildren();
  for (let i = 0; i < n; i += 1) {
    const option = document.createElement("option");
    option.value = String(i);
    option.textContent = `${word} ${i + 1}`;
    select.append(option);
  }
}

/** Rebuild selectors and small multiples for a model; forget the previous run's pictures. */
function buildView(model) {
  state.viewModel = model;
  state.layer = Math.min(state.layer, model.n_layer - 1);
  state.head = Math.min(state.head, model.n_head - 1);
  fillSelect(els.layer, model.n_layer, "Layer");
  fillSelect(els.head, model.n_head, "Head");
  els.layer.value = String(state.layer);
  els.head.value = String(state.head);
  grid.build(model.n_layer, model.n_head);
  grid.select(state.layer, state.head);
  if (!state.shown || state.shown.model !== model) {
    state.shown = null;
    state.store = null;
    state.raster = null;
    state.focus = null;
    pacer.clear(); // its steps belong to the run just forgotten
    strip.reset();
    els.tokens.append(emptyNote());
  }
  sizeGrid();
  schedule("all");
}

function emptyNote() {
  const p = document.createElement("p");
  p.className = "empty";
  p.textContent = "Your prompt and the model's tokens will appear here.";
  return p;
}

function selectMap(layer, head) {
  state.layer = layer;
  state.head = head;
  els.layer.value = String(layer);
  els.head.value = String(head);
  grid.select(layer, head);
  schedule("heatmap", "grid", "attention");
}

els.layer.addEventListener("change", () => selectMap(Number(els.layer.value), state.head));
els.head.addEventListener("change", () => selectMap(state.layer, Number(els.head.value)));

els.sqrt.addEventListener("change", () => {
  state.scale = els.sqrt.checked ? "sqrt" : "linear";
  if (state.raster) state.raster.setScale(state.scale);
  schedule("all");
});

// -- steps and tokens ---------------------------------------------------------------------------
function currentStepIndex() {
  const steps = state.shown ? state.shown.steps : [];
  if (!steps.length) return null;
  if (state.selectedStep === null) return steps.length - 1;
  return Math.min(state.selectedStep, steps.length - 1);
}

function selectStep(index) {
  const steps = state.shown ? state.shown.steps : [];
  if (!steps.length) return;
  const clamped = Math.max(0, Math.min(steps.length - 1, index));
  state.selectedStep = clamped;
  els.stepLatest.setAttribute("aria-pressed", "false");
  schedule("candidates");
}

els.stepPrev.addEventListener("click", () => {
  const i = currentStepIndex();
  if (i !== null) selectStep(i - 1);
});
els.stepNext.addEventListener("click", () => {
  const i = currentStepIndex();
  if (i !== null) selectStep(i + 1);
});
/** The candidate chart follows the latest shown step again. */
function followLatest() {
  state.selectedStep = null;
  els.stepLatest.setAttribute("aria-pressed", "true");
  schedule("candidates");
}

els.stepLatest.addEventListener("click", followLatest);

/** A chip was clicked or Enter was pressed on it. */
function activateToken(position) {
  const run = state.shown;
  if (!run) return;
  const index = position - run.promptLength;
  if (index >= 0) {
    state.selectedStep = index;
    els.stepLatest.setAttribute("aria-pressed", "false");
  }
  state.focus = state.focus === position ? null : position;
  state.cursor = state.focus === null ? null : { q: position, k: position };
  schedule("candidates", "attention", "heatmap");
}

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && state.focus !== null && !event.defaultPrevented) {
    const inStrip = els.tokens.contains(document.activeElement) || document.activeElement === els.heatmap;
    if (inStrip || document.activeElement === document.body) {
      state.focus = null;
      schedule("attention", "heatmap");
    }
  }
});

function renderAttentionTint() {
  const focus = state.focus;
  if (focus === null || !state.store || focus >= strip.length) {
    strip.showAttention(null);
    setText(els.attentionNote, "");
    return;
  }
  const { layer, head } = state;
  const tokenText = `“${visibleText(strip.text(focus))}”`;
  const where = `layer ${layer + 1}, head ${head + 1}`;
  const weights = state.store.row(layer, head, focus);
  strip.showAttention(focus, weights, state.scale);
  if (weights) {
    let best = 0;
    weights.forEach((w, i) => {
      if (w > weights[best]) best = i;
    });
    setText(
      els.attentionNote,
      `Showing what ${tokenText} (position ${focus}) attended to in ${where}: most of all ` +
        `“${visibleText(strip.text(best))}” (position ${best}, ${percent(weights[best])}). Click it again or press Esc to clear.`,
    );
  } else if (!state.store.recordedLayers.has(layer)) {
    setText(els.attentionNote, `Attention for layer ${layer + 1} was not sent for this run: this model has too many heads to send them all, so only the layer selected at Generate comes. Choose the layer, then generate again.`);
  } else if (focus === strip.length - 1) {
    setText(els.attentionNote, `${tokenText} is the last token: the model has not yet read it as a query (it would, to choose the next token), so it has no attention row yet.`);
  } else {
    setText(els.attentionNote, `No attention row for ${tokenText} yet.`);
  }
}

// -- drawing, once per frame -------------------------------------------------------------------
const dirty = new Set();
let frame = 0;

function schedule(...parts) {
  for (const part of parts) {
    if (part === "all") ["heatmap", "grid", "candidates", "attention"].forEach((p) => dirty.add(p));
    else dirty.add(part);
  }
  if (!frame) frame = requestAnimationFrame(render);
}

function render() {
  frame = 0;
  const parts = new Set(dirty);
  dirty.clear();
  if (parts.has("candidates")) renderStep();
  if (parts.has("attention")) renderAttentionTint();
  if (parts.has("heatmap")) renderHeatmap();
  if (parts.has("grid")) grid.draw(state.raster, strip.length, state.store ? state.store.recordedLayers : null);
}

const candidateRoot = {
  summary: $("candidates-summary"),
  list: $("candidates"),
  scaleNote: $("candidates-scale"),
};

function renderStep() {
  const run = state.shown;
  const index = currentStepIndex();
  const step = index === null ? null : run.steps[index];
  const position = step ? run.promptLength + index : null;
  const context = step ? strip.text(position - 1) : "";
  renderCandidates(candidateRoot, step, context, run ? run.model.vocab_size : 0);
  strip.markStep(position);
  const steps = run ? run.steps.length : 0;
  els.stepPrev.disabled = index === null || index === 0;
  els.stepNext.disabled = index === null || index >= steps - 1;
}

function renderHeatmap() {
  let message = null;
  if (state.store && !state.store.recordedLayers.has(state.layer)) {
    message = state.store.recordedLayers.size
      ? `Layer ${state.layer + 1} was not sent for this run. Generate again with this layer selected to see it.`
      : "This run sent no attention.";
  }
  els.heatmap.setAttribute(
    "aria-label",
    `Attention heatmap of layer ${state.layer + 1}, head ${state.head + 1}: rows are the tokens reading, columns the tokens read.`,
  );
  state.layout = drawHeatmap(els.heatmap, {
    raster: state.raster,
    layer: state.layer,
    head: state.head,
    tokens: strip.texts(),
    focusQuery: state.focus,
    cursor: state.cursor,
    message,
  });
  drawLegend(els.legend, state.scale);
}

// -- heatmap reading: pointer and keyboard -------------------------------------------------------
function describeCell(cell) {
  if (!cell || !state.store) return "Point at a cell, or focus the map and use the arrow keys.";
  const { q, k } = cell;
  const query = `“${visibleText(strip.text(q))}” (${q})`;
  const key = `“${visibleText(strip.text(k))}” (${k})`;
  if (k > q) return `${query} cannot see ${key}: it comes later.`;
  const b = state.store.byte(state.layer, state.head, q, k);
  if (b < 0) return `${query} has no attention row yet.`;
  return `${query} → ${key}: weight ${(b / 255).toFixed(3)}`;
}

els.heatmap.addEventListener("pointermove", (event) => {
  const box = els.heatmap.getBoundingClientRect();
  const cell = cellAt(state.layout, event.clientX - box.left, event.clientY - box.top);
  setText(els.readout, describeCell(cell));
});
els.heatmap.addEventListener("pointerleave", () => {
  setText(els.readout, describeCell(state.cursor));
});
els.heatmap.addEventListener("click", (event) => {
  const box = els.heatmap.getBoundingClientRect();
  const cell = cellAt(state.layout, event.clientX - box.left, event.clientY - box.top);
  if (cell) {
    state.cursor = cell;
    state.focus = cell.q;
    schedule("attention", "heatmap");
  }
});
els.heatmap.addEventListener("keydown", (event) => {
  const n = strip.length;
  if (!n) return;
  let cursor = state.cursor ? { ...state.cursor } : { q: n - 1, k: 0 };
  switch (event.key) {
    case "ArrowUp": cursor.q -= 1; break;
    case "ArrowDown": cursor.q += 1; break;
    case "ArrowLeft": cursor.k -= 1; break;
    case "ArrowRight": cursor.k += 1; break;
    case "Home": cursor.k = 0; break;
    case "End": cursor.k = cursor.q; break;
    case "Enter":
    case " ":
      event.preventDefault();
      state.focus = state.focus === cursor.q ? null : cursor.q;
      state.cursor = cursor;
      schedule("attention", "heatmap");
      return;
    default: return;
  }
  event.preventDefault();
  cursor.q = Math.max(0, Math.min(n - 1, cursor.q));
  cursor.k = Math.max(0, Math.min(cursor.q, cursor.k));
  state.cursor = cursor;
  setText(els.readout, describeCell(cursor));
  schedule("heatmap");
});

// -- sizes ---------------------------------------------------------------------------------------
function sizeGrid() {
  const model = state.viewModel;
  if (!model) return;
  const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  const body = els.headsBody.clientWidth;
  // beside the guide when there is room for both, else the whole width
  const width = body >= 48 * rem ? body - 18 * rem : body;
  const labels = 2.2 * rem;
  const gap = 6;
  const byWidth = Math.floor((width - labels - gap * model.n_head) / model.n_head);
  const byHeight = Math.floor((34 * rem - gap * model.n_layer) / model.n_layer);
  const cell = Math.max(28, Math.min(byWidth, byHeight, 9 * rem));
  els.headsWrap.style.setProperty("--cell", `${cell}px`);
}

const resizer = new ResizeObserver(() => {
  sizeGrid();
  schedule("heatmap", "grid");
});
resizer.observe(els.heatmap);
resizer.observe(els.headsBody);
document.addEventListener("presentationchange", () => {
  sizeGrid();
  schedule("all");
});

// for tests and the curious: what has arrived and what is on screen (read-only)
window.glassboxPlayground = {
  /** Steps of the latest run received from the server, and how many of them are shown. */
  get progress() {
    const run = state.run;
    return { received: run ? run.received : 0, shown: run ? run.steps.length : 0, pending: pacer.pending, mode: pacer.mode };
  },
  /** The tokens of the shown steps, in order. */
  get shownTokens() {
    return state.shown ? state.shown.steps.map((step) => step.token.text) : [];
  },
  /** How many attention rows of map (layer, head) are drawn for the shown run. */
  attentionRows(layer, head) {
    if (!state.store) return 0;
    let rows = 0;
    for (let q = 0; q < state.store.capacity; q += 1) if (state.store.hasRow(layer, head, q)) rows += 1;
    return rows;
  },
};

// -- start ---------------------------------------------------------------------------------------
buildView(controls.model());
controls.setBusy(false);
setStatus("connecting", "Connecting to the server…");
connection.connect();
