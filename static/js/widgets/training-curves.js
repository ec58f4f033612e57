// Lesson 13's "How our model learned": the bundled model's real training run, from its model
// card (the lesson's facts): the training loss every few steps, the loss on the held-out
// plays at each evaluation, the bigram model's loss and ln V (uniform guessing) as reference
// lines, and the numbers as a table for reading aloud or a screen reader. No request: the
// card is the record of a run that already happened; the model on the page made it.

import { count } from "../format.js";
import { LossChart, TRAIN_COLOUR, VAL_COLOUR } from "./mini-training-chart.js";
import { el } from "./next-token-draw.js";

/** The card's curves as the chart's run: one progress entry per training point, with the
 *  held-out loss where the card evaluated at that step. */
export function cardRun(facts) {
  const held = new Map((facts.val_curve || []).map(([step, loss]) => [step, loss]));
  const progress = (facts.train_curve || []).map(([step, loss]) => ({
    step,
    loss,
    val_loss: held.has(step) ? held.get(step) : null,
  }));
  const last = progress.length ? progress[progress.length - 1].step : 0;
  const references = typeof facts.bigram_loss === "number" ? [{ loss: facts.bigram_loss, label: "bigram model" }] : [];
  return {
    started: { steps: last || 1, uniform_loss: Math.log(facts.vocab_size), vocab_size: facts.vocab_size, references },
    progress,
  };
}

function swatch(colour) {
  const mark = el("span", "tc-swatch");
  mark.style.background = colour;
  return mark;
}

export function mount(root, lesson) {
  const facts = lesson.facts;
  const run = cardRun(facts);
  if (run.progress.length === 0) {
    root.append(el("p", "tc-empty", "This model's card records no training curve, so there is nothing to draw."));
    lesson.drawn(root);
    return;
  }
  const chart = new LossChart({ unit: "token" });
  const first = run.progress[0];
  const last = run.progress[run.progress.length - 1];
  const held = run.progress.filter((p) => p.val_loss !== null);
  const [heldFirst, heldLast] = [held[0], held[held.length - 1]];
  const summary = el("p", "tc-summary");
  const minutes = facts.train_minutes ? ` in about ${facts.train_minutes} minutes` : "";
  const seen = facts.tokens_seen ? `, reading ${count(facts.tokens_seen)} tokens of the plays` : "";
  summary.textContent =
    `${facts.model_name} trained for ${count(facts.train_steps || last.step)} steps${seen}${minutes}. ` +
    `Its training loss fell from ${first.loss.toFixed(2)} (about ln ${count(facts.vocab_size)}: random weights guess evenly) ` +
    `to ${last.loss.toFixed(2)} nats per token` +
    (heldLast ? `; on the held-out plays, from ${heldFirst.val_loss.toFixed(2)} to ${heldLast.val_loss.toFixed(2)}.` : ".");
  const legend = el("p", "tc-legend");
  legend.append(
    swatch(TRAIN_COLOUR), " training loss (each step's random batch) · ",
    swatch(VAL_COLOUR), " loss on the held-out plays · dashed: the bigram model and uniform guessing",
  );
  const details = el("details", "tc-table");
  details.append(el("summary", "", "The numbers"));
  const table = el("table");
  const head = el("tr");
  head.append(el("th", "", "step"), el("th", "", "training loss"), el("th", "", "held-out loss"));
  table.append(head);
  for (const point of held) {
    const row = el("tr");
    row.dataset.step = String(point.step);
    row.append(el("td", "", count(point.step)), el("td", "", point.loss.toFixed(3)), el("td", "", point.val_loss.toFixed(3)));
    table.append(row);
  }
  details.append(table);
  root.append(summary, chart.svg, legend, details);
  const draw = () => {
    chart.draw(run);
    lesson.drawn(root);
  };
  draw();
  // the chart takes as many drawing units as it has pixels: redraw when that changes
  new ResizeObserver(() => chart.draw(run)).observe(chart.svg);
}
