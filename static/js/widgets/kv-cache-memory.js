// Memory for lesson 12's KV-cache widget (kv-cache.js): the cache-size formula filled in
// with the loaded model's numbers from the worker's reply (and, for scale, with GPT-2
// small's published sizes), and the quantization panel: weight memory and the next-token
// candidates at 32, 16, 8 and 4 bits side by side, with the KL divergence of each.

import { count, percent, visibleText } from "../format.js";

// GPT-2 small (Radford et al., 2019): a famous model's published sizes, for scale only. Its
// cache is counted in 16-bit numbers, as it is usually served.
export const GPT2_SMALL = { name: "GPT-2 small", n_layer: 12, n_head: 12, head_size: 64, context: 1024, bytes_per_number: 2, dtype: "float16" };

export const PRECISIONS = [32, 16, 8, 4];

export function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

/** Bytes in words: 350208 → "350,208 bytes (342 KiB)". */
export function bytesText(bytes) {
  const units = [
    [2 ** 30, "GiB"],
    [2 ** 20, "MiB"],
    [2 ** 10, "KiB"],
  ];
  for (const [size, unit] of units) {
    if (bytes >= size) {
      const n = bytes / size;
      return `${count(bytes)} bytes (${n >= 100 ? Math.round(n) : n.toFixed(n >= 10 ? 1 : 2)} ${unit})`;
    }
  }
  return `${count(bytes)} bytes`;
}

/** The formula's product, computed here from its factors (the test recomputes it too). */
export function cacheBytes(f, tokens) {
  return 2 * f.n_layer * f.n_head * f.head_size * tokens * f.bytes_per_number;
}

/** One line of the formula: 2 × layers × heads × head size × tokens × bytes = total. */
export function formulaRow(label, f, tokens, note) {
  const row = el("p", "kv-formula");
  const total = cacheBytes(f, tokens);
  row.dataset.bytes = String(total);
  row.dataset.tokens = String(tokens);
  const factor = (value, what) => {
    const span = el("span", "kv-factor");
    span.append(el("strong", "", count(value)), el("small", "", what));
    return span;
  };
  row.append(
    el("span", "kv-formula-label", label),
    factor(2, "key + value"),
    " × ",
    factor(f.n_layer, "layers"),
    " × ",
    factor(f.n_head, "heads"),
    " × ",
    factor(f.head_size, "head size"),
    " × ",
    factor(tokens, "tokens"),
    " × ",
    factor(f.bytes_per_number, `bytes (${f.dtype})`),
    " = ",
  );
  const result = el("strong", "kv-formula-total", bytesText(total));
  row.append(result);
  if (note) row.append(el("span", "kv-formula-note", note));
  return row;
}

/** The quantization columns. `replies[bits]` is a decoded trace with an experiment (16/8/4). */
export function renderPrecisions(container, replies) {
  const any = PRECISIONS.map((b) => replies[b]).find(Boolean);
  if (!any) return; // keep the last text's columns until the new text's first reply
  container.replaceChildren();
  const memory = any.experiment.memory_bytes || {};
  for (const bits of PRECISIONS) {
    const column = el("section", "kv-precision");
    column.dataset.bits = String(bits);
    const reply = replies[bits];
    const head = el("h4", "", `${bits}-bit weights`);
    const mem = el("p", "kv-precision-memory", memory[String(bits)] !== undefined ? bytesText(memory[String(bits)]) : "–");
    mem.dataset.bytes = String(memory[String(bits)] ?? "");
    column.append(head, mem);
    let items;
    let kl;
    if (bits === 32) {
      items = any.experiment.before; // the plain model, the reference of every KL
      kl = 0;
    } else if (reply) {
      items = reply.experiment.after;
      kl = reply.experiment.kl_bits;
    }
    const klLine = el("p", "kv-kl");
    if (items) {
      klLine.dataset.kl = String(kl);
      klLine.textContent = bits === 32 ? "KL: the reference" : `KL ${kl === 0 ? "" : "= "}${formatBits(kl)} bits`;
      if (reply && reply.experiment.top_changed) klLine.append(el("span", "kv-changed", " · top token changed"));
      const list = el("ol", "kv-top");
      for (const item of items) {
        const li = el("li", "");
        li.dataset.tokenId = String(item.id);
        li.dataset.prob = String(item.prob);
        const bar = el("span", "kv-bar");
        bar.style.width = `${Math.max(1, item.prob * 100)}%`;
        li.append(el("code", "", visibleText(item.text)), el("span", "kv-prob", percent(item.prob)), bar);
        list.append(li);
      }
      column.append(klLine, list);
      column.dataset.state = "drawn";
    } else {
      klLine.textContent = "waiting…";
      column.append(klLine);
      column.dataset.state = "waiting";
    }
    container.append(column);
  }
}

/** KL in bits, readable from 0 to a few bits: 0.000041 → "0.000041", 0.84 → "0.840". The
 *  reply rounds to 6 decimals, so its 0 means "below 0.000001", not "exactly the same". */
export function formatBits(kl) {
  if (kl === 0) return "< 0.000001";
  if (kl < 0.001) return kl.toPrecision(2);
  return kl.toFixed(3);
}
