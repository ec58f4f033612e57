// Lesson 13's "Train a tiny GPT": a new, randomly initialised GPT trained live on the worker,
// on the Shakespeare excerpt or the student's own text, one character per token. One `train`
// request streams `train_started` (the model's shape, ln V), a `train_progress` per step
// (the batch's loss; every few steps the loss on the held-back end of the text and a sample)
// and `train_done`. Stop ends it early. The server allows one run per student at a time and
// says so when a second one is asked for (another tab, say).
//
// Every number on the widget comes from those replies; the page only converts a loss to a
// perplexity and draws.

import { count } from "../format.js";
import { LossChart, TRAIN_COLOUR, VAL_COLOUR } from "./mini-training-chart.js";
import { loadExcerpt, sourceFields } from "./mini-training-source.js";
import { el } from "./next-token-draw.js";

const KEY = "mini-training";
const STEP_CHOICES = [100, 300, 600, 1000];
const DEFAULT_STEPS = 300;
const FINISH_WORDS = {
  finished: "Finished",
  cancelled: "Stopped",
  time_limit: "Stopped at the server's time limit",
};

const fixed = (x, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : "–");
const seconds = (ms) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : "–");

function button(text, className) {
  const node = el("button", className, text);
  node.type = "button";
  return node;
}

function select(className, options, value) {
  const node = el("select", className);
  for (const [optionValue, text] of options) {
    const option = el("option", "", text);
    option.value = String(optionValue);
    node.append(option);
  }
  node.value = String(value);
  return node;
}

function labelled(text, control, className = "") {
  const label = el("label", className);
  label.append(text, control);
  return label;
}

/** A number with its name, as <span class=mt-figure><span>name</span><output/></span>. */
function figure(name, className) {
  const box = el("span", "mt-figure");
  const value = el("output", className, "–");
  box.append(el("span", "mt-figure-name", name), value);
  return { box, value };
}

export function mount(root, lesson) {
  // typing changes the text; Start runs it (webapp/lesson_bench.py skips such widgets)
  root.dataset.startsOn = "button";
  root.classList.add("mt");
  const intro = el(
    "p",
    "mt-intro",
    "Start trains a brand-new GPT, from random weights, on the text below: each token is one character. " +
      "The curve is the cross-entropy loss, step by step; every few steps the model writes a sample.",
  );

  const controls = el("div", "widget-controls mt-controls");
  const text = el("textarea", "mt-text");
  text.dataset.role = "prompt";
  text.rows = 7;
  text.spellcheck = false;
  text.placeholder = "Paste a text to learn from, or use the Shakespeare excerpt.";
  const textLabel = labelled("Text to learn from", text, "mt-text-label");
  const textInfo = el("p", "mt-text-info");
  const reset = button("Use the Shakespeare excerpt", "button mt-reset");
  reset.hidden = true;
  const steps = select("mt-steps", STEP_CHOICES.map((n) => [n, count(n)]), DEFAULT_STEPS);
  const size = select("mt-size", [["tiny", "tiny"], ["small", "small"]], "small");
  const seed = el("input", "mt-seed");
  seed.type = "number";
  seed.min = "0";
  seed.step = "1";
  seed.value = "0";
  controls.append(
    textLabel,
    labelled("Steps", steps),
    labelled("Model size", size),
    labelled("Seed", seed),
  );

  const actions = el("div", "mt-actions");
  const start = button("Start training", "button primary mt-start");
  start.title = "Train a new model from random weights (Ctrl+Enter in the text box)";
  const stop = button("Stop", "button mt-stop");
  stop.disabled = true;
  actions.append(start, stop);

  const numbers = el("p", "mt-numbers");
  const stepFigure = figure("step", "mt-step");
  const timeFigure = figure("time", "mt-time");
  const lossFigure = figure("training loss", "mt-loss");
  const valFigure = figure("held-back loss", "mt-held");
  const pplFigure = figure("perplexity", "mt-ppl");
  numbers.append(stepFigure.box, timeFigure.box, lossFigure.box, valFigure.box, pplFigure.box);
  const modelLine = el("p", "mt-model");

  const chart = new LossChart();
  const legend = el("p", "mt-legend");
  const swatch = (colour) => {
    const s = el("span", "mt-swatch");
    s.style.background = colour;
    return s;
  };
  legend.append(
    swatch(TRAIN_COLOUR),
    " training loss on each step's random batch · ",
    swatch(VAL_COLOUR),
    " loss on the end of the text, held back from training · dashed: a model that guesses every character equally.",
  );

  const sampleTitle = el("h3", "mt-sample-title", "Latest sample");
  const sample = el("pre", "mt-sample", "No sample yet.");
  sample.setAttribute("aria-live", "off");

  root.append(intro, controls, textInfo, reset, actions, numbers, modelLine, chart.svg, legend, sampleTitle, sample);

  const state = { excerpt: null, excerptName: "", run: null, frame: 0 };

  function describeText() {
    const own = state.excerpt === null || text.value !== state.excerpt;
    textInfo.textContent = `${own ? "Your own text" : `Shakespeare: ${state.excerptName}`} · ${count(text.value.length)} characters`;
    reset.hidden = !own || state.excerpt === null;
  }

  function drawNow() {
    state.frame = 0;
    const run = state.run;
    chart.draw(run);
    const last = run?.progress[run.progress.length - 1];
    const held = run?.progress.filter((p) => p.val_loss !== null && p.val_loss !== undefined).pop();
    stepFigure.value.textContent = last ? `${count(last.step)} of ${count(run.started.steps)}` : "–";
    timeFigure.value.textContent = last ? seconds(last.elapsed_ms) : "–";
    lossFigure.value.textContent = last ? fixed(last.loss) : "–";
    valFigure.value.textContent = held ? fixed(held.val_loss) : "–";
    pplFigure.value.textContent = last ? fixed(Math.exp(last.loss), 1) : "–";
    const sampled = run?.progress.filter((p) => p.sample).pop();
    if (sampled) {
      sampleTitle.textContent = `Latest sample (step ${count(sampled.step)}), continuing “${run.started.sample_prompt.replace(/\n/g, "⏎")}”`;
      sample.textContent = run.started.sample_prompt + sampled.sample;
    }
    lesson.drawn(root);
  }

  /** Draw at the next frame: progress arrives faster than a page needs to redraw. */
  function draw() {
    if (!state.frame) state.frame = requestAnimationFrame(drawNow);
  }

  function onMessage(message) {
    const run = state.run;
    if (message.type === "queued") {
      run.queued = true;
      lesson.status(root, "running", "Queued for the trainer…");
    } else if (message.type === "train_waiting") {
      lesson.status(root, "running", `Waiting for the trainer: other runs are ahead (${seconds(message.waited_ms)} so far)…`);
    } else if (message.type === "train_started") {
      run.started = message;
      const m = message.model;
      modelLine.textContent =
        `A GPT of ${m.n_layer} layer${m.n_layer === 1 ? "" : "s"}, ${m.n_head} heads, width ${m.n_embd}, ` +
        `context ${m.block_size} characters: ${count(message.parameters)} parameters, all random at first. ` +
        `Its vocabulary is the ${message.vocab_size} different characters of the text; ` +
        `it learns from the first ${count(message.train_chars)} characters and is tested on the last ${count(message.val_chars)}.`;
      lesson.status(root, "running", "Training…");
      draw();
    } else if (message.type === "train_progress") {
      run.progress.push(message);
      draw();
    }
  }

  function setRunning(running) {
    start.disabled = running;
    stop.disabled = !running;
    root.dataset.state = running ? "running" : "idle";
  }

  async function train() {
    if (state.run && !state.run.done && root.dataset.state === "running") return;
    const request = {
      ...sourceFields(text.value, state.excerpt),
      steps: Number(steps.value),
      size: size.value,
      seed: Math.max(0, Math.floor(Number(seed.value) || 0)),
    };
    state.run = { request, started: null, progress: [], done: null, queued: false };
    root.lastRun = state.run; // for the browser tests
    delete root.dataset.refused;
    sampleTitle.textContent = "Latest sample";
    sample.textContent = "No sample yet.";
    modelLine.textContent = "";
    setRunning(true);
    lesson.status(root, "running", "Sending the request…");
    drawNow();
    const run = state.run;
    try {
      const result = await lesson.send("train", request, { key: KEY, onMessage });
      run.done = result.final;
      const done = run.done;
      const reason = FINISH_WORDS[done.finish_reason] || done.finish_reason;
      const loss = done.final_loss === null ? "" : `; last training loss ${fixed(done.final_loss)}`;
      lesson.status(root, "idle", `${reason}: ${count(done.steps)} steps in ${seconds(done.total_ms)}${loss}.`);
    } catch (err) {
      if (err.superseded) return;
      run.error = { code: err.code, message: err.message };
      if (err.code === "training_running") root.dataset.refused = "true";
      lesson.status(root, "error", err.message);
    } finally {
      if (state.run === run) setRunning(false);
      drawNow();
    }
  }

  start.addEventListener("click", train);
  stop.addEventListener("click", () => {
    if (!state.run?.queued) return; // not at the server yet: nothing there to stop
    lesson.stop();
    lesson.status(root, "running", "Stopping at the next step…");
  });
  text.addEventListener("input", describeText);
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (!start.disabled) train();
    }
  });
  reset.addEventListener("click", () => {
    text.value = state.excerpt;
    describeText();
    text.focus();
  });

  setRunning(false);
  lesson.status(root, "idle", "Loading the Shakespeare excerpt…");
  loadExcerpt()
    .then((excerpt) => {
      state.excerpt = excerpt.text;
      state.excerptName = excerpt.name;
      if (!text.value) text.value = excerpt.text;
      describeText();
      lesson.status(root, "idle", "Press Start to train a new model from random weights.");
    })
    .catch((err) => {
      describeText();
      lesson.status(root, "error", err.message);
    })
    .finally(drawNow);
}
