// The three experiment forms of the "inside the model" page (ablate, steer, quantize): each
// fitted to the chosen model and layer, read into the protocol's `experiment` object, and
// its reply drawn as before/after probability bars with the KL divergence.

import { count } from "./format.js";
import { el, num, probabilityItems, quoted, renderBars } from "./inside-draw.js";

/** Residual point i in words: 0 is the embeddings, i the output of layer i − 1. */
export function pointName(point) {
  return point === 0 ? "0 · embeddings" : `${point} · after layer ${point - 1}`;
}

export class Experiments {
  /** onRun(kind, experiment) is called when a form is submitted. */
  constructor(root, onRun) {
    const $ = (id) => root.querySelector(`#${id}`);
    this.forms = { ablate: $("ablate-form"), steer: $("steer-form"), quantize: $("quantize-form") };
    this.results = { ablate: $("ablate-result"), steer: $("steer-result"), quantize: $("quantize-result") };
    this.el = {
      heads: $("ablate-heads"),
      legend: $("ablate-legend"),
      mlp: $("ablate-mlp"),
      mlpLabel: $("ablate-mlp-label"),
      positive: $("steer-positive"),
      negative: $("steer-negative"),
      steerLayer: $("steer-layer"),
      strength: $("steer-strength"),
      strengthValue: $("steer-strength-value"),
    };
    this.buttons = [...root.querySelectorAll(".experiment-run")];
    this.layer = 0;
    for (const [kind, form] of Object.entries(this.forms)) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (!form.querySelector(".experiment-run").disabled) onRun(kind, this.read(kind));
      });
    }
    this.el.strength.addEventListener("input", () => this.showStrength());
    this.showStrength();
  }

  showStrength() {
    this.el.strengthValue.textContent = Number(this.el.strength.value).toFixed(1);
  }

  /** Fit the forms to a model (its layer count) and the layer being looked at. */
  fit(model, layer) {
    if (this.model !== model) {
      this.model = model;
      const keep = Number(this.el.steerLayer.value || Math.min(3, model.n_layer));
      this.el.steerLayer.replaceChildren();
      for (let point = 0; point <= model.n_layer; point += 1) {
        this.el.steerLayer.append(new Option(pointName(point), String(point)));
      }
      this.el.steerLayer.value = String(Math.min(keep, model.n_layer));
      this.layer = null;
    }
    if (this.layer === layer) return;
    this.layer = layer;
    this.el.legend.textContent = `Heads of layer ${layer} to remove`;
    this.el.mlpLabel.textContent = `Ablate layer ${layer}'s MLP`;
    this.el.heads.replaceChildren();
    for (let head = 0; head < model.n_head; head += 1) {
      const label = el("label", "check");
      const box = el("input");
      box.type = "checkbox";
      box.name = "ablate_head";
      box.value = String(head);
      box.dataset.head = String(head);
      label.append(box, ` Head ${head}`);
      this.el.heads.append(label);
    }
  }

  /** The `experiment` object a form asks for. */
  read(kind) {
    if (kind === "ablate") {
      const heads = [...this.el.heads.querySelectorAll("input:checked")].map((box) => [this.layer, Number(box.value)]);
      return { ablate_heads: heads, ablate_mlps: this.el.mlp.checked ? [this.layer] : [] };
    }
    if (kind === "steer") {
      return {
        steer: {
          layer: Number(this.el.steerLayer.value),
          strength: Number(this.el.strength.value),
          from_position: 0,
          vector: { kind: "prompts", positive: this.el.positive.value, negative: this.el.negative.value },
        },
      };
    }
    const bits = this.forms.quantize.querySelector("input[name=bits]:checked");
    return { quantize_bits: Number(bits ? bits.value : 8) };
  }

  setBusy(busy) {
    this.buttons.forEach((button) => {
      button.disabled = busy;
    });
  }

  /** Say in a form's result area that its run is on its way, or clear it. */
  pending(kind) {
    this.results[kind].replaceChildren(el("p", "help", "Running…"));
  }

  failed(kind) {
    this.results[kind].replaceChildren(el("p", "help", "No result: see the status line."));
  }

  /** Draw an experiment's reply (the `experiment` object of a trace_result). */
  show(kind, experiment) {
    const root = this.results[kind];
    root.replaceChildren();
    if (!experiment) {
      root.append(el("p", "help", "The reply carried no comparison."));
      return;
    }
    const compare = el("div", "exp-compare");
    // one scale for both sides, so that bar lengths compare across the two columns
    const max = Math.max(...[...experiment.before, ...experiment.after].map((c) => c.prob), 0);
    for (const [side, title, barKind] of [["before", "Before: the plain model", "raw"], ["after", "After: the changed model", "final"]]) {
      const column = el("div", `exp-side ${side}`);
      column.append(el("h4", "", title));
      const list = el("ol", "value-bars");
      list.setAttribute("aria-label", `${title}: top next tokens`);
      renderBars(list, probabilityItems(experiment[side]), { kind: barKind, tokens: true, max });
      column.append(list);
      compare.append(column);
    }
    const facts = el("p", "exp-facts");
    const kl = el("strong", "kl", `${num(experiment.kl_bits)} bits`);
    kl.dataset.kl = String(experiment.kl_bits);
    facts.append("KL(before ‖ after): ", kl, " · ");
    const before = experiment.before[0];
    const after = experiment.after[0];
    facts.append(
      experiment.top_changed && before && after
        ? `the top token changed from ${quoted(before.text)} to ${quoted(after.text)}.`
        : "the top token stayed the same.",
    );
    root.append(compare, facts);
    if (experiment.memory_bytes) root.append(memoryTable(experiment.memory_bytes));
  }
}

function memoryTable(memory) {
  const table = el("table", "data-table memory-table");
  table.append(el("caption", "", "Memory of the weights"));
  const head = el("tr");
  ["bits", "MB", "bytes"].forEach((text) => {
    const th = el("th", "", text);
    th.scope = "col";
    head.append(th);
  });
  table.createTHead().append(head);
  const body = table.createTBody();
  for (const bits of ["32", "16", "8", "4"]) {
    if (memory[bits] === undefined) continue;
    const row = el("tr");
    const th = el("th", "", bits);
    th.scope = "row";
    row.append(th, el("td", "", (memory[bits] / 1e6).toFixed(2)), el("td", "", count(memory[bits])));
    body.append(row);
  }
  return table;
}
