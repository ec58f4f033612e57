// Part 2 of lesson 14's widget: steer. Two contrasting prompts give a direction (the mean
// residual of one minus the other's, built on the worker at the chosen residual point);
// "Write" streams two generations of the same prompt with the same seed, first the plain
// model, then the model with strength × that direction added at that point, token by token,
// side by side. Strength 0 must write exactly the plain text.

import { showFailure } from "./attention-head-kit.js";
import { button, el, fixed, labelled, textBox } from "./ablation-steering-kit.js";

const DEFAULT_POSITIVE = "O happy day! Sweet love, joy and merry delight.";
const DEFAULT_NEGATIVE = "O woeful day! Bitter grief, death and weeping sorrow.";
const DEFAULT_CONTINUE = "ROMEO.\n";
const DEFAULT_STRENGTH = 4;
const MAX_STRENGTH = 16;
const TEMPERATURE = 0.8;

/** Residual point i in words: 0 is the embeddings, i the stream after block i. */
function pointWords(point) {
  return point === 0 ? "0: the embeddings" : `${point}: after block ${point}`;
}

function numberBox(value, min, max, role) {
  const input = el("input");
  input.type = "number";
  input.min = String(min);
  input.max = String(max);
  input.step = "1";
  input.value = String(value);
  input.dataset.role = role;
  return input;
}

function column(title, role) {
  const box = el("div", `as-side as-${role}`);
  const heading = el("h5", "as-side-title", title);
  const text = el("p", "as-text");
  text.dataset.role = `${role}-text`;
  text.setAttribute("aria-live", "off");
  box.append(heading, text);
  return { box, heading, text };
}

export function mountSteering(section, root, lesson) {
  const model = lesson.model;
  const state = { running: false, stopped: false, runs: 0 };
  section.append(el("h4", "as-part-title", "2 · Steer with a direction"));

  const positive = textBox(DEFAULT_POSITIVE, { role: "positive", maxLength: 300 });
  const negative = textBox(DEFAULT_NEGATIVE, { role: "negative", maxLength: 300 });
  const layer = el("select");
  layer.dataset.role = "steer-layer";
  for (let point = 0; point <= model.n_layer; point += 1) layer.append(new Option(pointWords(point), String(point)));
  layer.value = String(Math.min(Math.ceil(model.n_layer / 2), model.n_layer));
  const strength = el("input");
  strength.type = "range";
  strength.min = String(-MAX_STRENGTH);
  strength.max = String(MAX_STRENGTH);
  strength.step = "0.5";
  strength.value = String(DEFAULT_STRENGTH);
  strength.dataset.role = "strength";
  const strengthValue = el("output", "as-strength-value");
  const showStrength = () => {
    strengthValue.textContent = fixed(Number(strength.value), 1);
    strength.setAttribute("aria-valuetext", `strength ${fixed(Number(strength.value), 1)}`);
  };
  strength.addEventListener("input", showStrength);
  showStrength();
  const strengthLabel = labelled("Strength α", strength, "as-strength-label");
  strengthLabel.append(strengthValue);
  const start = el("textarea", "as-continue");
  start.rows = 2;
  start.value = DEFAULT_CONTINUE;
  start.spellcheck = false;
  start.dataset.role = "continue";
  const tokens = numberBox(40, 1, 200, "tokens");
  const seed = numberBox(42, 0, 2147483647, "seed");
  const write = button("Write", "button primary", "write");
  const stop = button("Stop", "button small", "stop");
  stop.disabled = true;

  const directions = el("div", "widget-controls as-controls");
  directions.append(
    labelled("Towards (prompt A)", positive, "as-wide"),
    labelled("Away from (prompt B)", negative, "as-wide"),
    labelled("Added at residual point", layer),
    strengthLabel,
  );
  const run = el("div", "widget-controls as-controls");
  run.append(labelled("Text to continue", start, "as-wide"), labelled("New tokens", tokens), labelled("Seed", seed));
  const actions = el("div", "as-actions");
  actions.append(write, stop);
  const note = el("p", "as-note");
  note.textContent =
    `Direction u = mean residual of A − mean residual of B at the chosen point; while the model writes, α·u is added ` +
    `to the residual stream there at every position. Both columns sample with temperature ${TEMPERATURE} and the same seed, ` +
    "so any difference comes from the steering.";
  const plain = column("Without steering", "plain");
  const steered = column("With steering", "steered");
  const columns = el("div", "as-compare as-texts");
  columns.append(plain.box, steered.box);
  section.append(directions, run, actions, note, columns);

  /** Stream one generation into a column; resolves to the stream's {prompt, steps, done}. */
  function stream(request, target, key) {
    target.text.replaceChildren();
    const prefix = el("span", "as-given", request.prompt);
    target.text.append(prefix);
    return lesson.generate(request, {
      key,
      onMessage: (message) => {
        if (message.type !== "step") return;
        const span = el("span", "as-new", message.token.text);
        span.dataset.id = String(message.token.id);
        target.text.append(span);
      },
    });
  }

  async function writeBoth() {
    if (state.running) return;
    state.running = true;
    state.stopped = false;
    write.disabled = true;
    stop.disabled = false;
    const alpha = Number(strength.value);
    const point = Number(layer.value);
    const base = {
      prompt: start.value,
      max_new_tokens: Number(tokens.value),
      temperature: TEMPERATURE,
      seed: Number(seed.value),
      candidates: 1,
    };
    const experiment = {
      steer: { layer: point, strength: alpha, from_position: 0, vector: { kind: "prompts", positive: positive.value, negative: negative.value } },
    };
    steered.heading.textContent = `With steering: α = ${fixed(alpha, 1)} at point ${point}`;
    steered.text.replaceChildren();
    try {
      lesson.status(root, "running", "Writing without steering…");
      const first = await stream(base, plain, "as-plain");
      let second = null;
      if (!state.stopped) {
        lesson.status(root, "running", `Writing with α = ${fixed(alpha, 1)}…`);
        second = await stream({ ...base, experiment }, steered, "as-steered");
      }
      const ids = (result) => (result ? result.steps.map((step) => step.token.id) : []);
      const text = (result) => (result ? result.steps.map((step) => step.token.text).join("") : "");
      state.runs += 1;
      root.lastSteer = {
        strength: alpha,
        layer: point,
        seed: base.seed,
        plain: { ids: ids(first), text: text(first), done: first.done },
        steered: second ? { ids: ids(second), text: text(second), done: second.done } : null,
      };
      root.dataset.steerRuns = String(state.runs);
      const same = second && ids(first).join(",") === ids(second).join(",");
      lesson.status(
        root,
        "idle",
        second
          ? `Same seed, ${ids(first).length} and ${ids(second).length} new tokens: ${same ? "the two texts are identical" : "the texts differ"}.`
          : "Stopped.",
      );
      lesson.drawn(root);
    } catch (err) {
      showFailure(lesson, root, err);
    } finally {
      state.running = false;
      write.disabled = false;
      stop.disabled = true;
    }
  }

  write.addEventListener("click", writeBoth);
  stop.addEventListener("click", () => {
    state.stopped = true;
    lesson.stop();
  });
}
