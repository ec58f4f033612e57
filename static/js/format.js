// Formatting helpers shared by the playground modules: visible whitespace in token text,
// percentages, byte dumps and plain-English names. Pure functions, no DOM.

const CONTROL_PICTURES = 0x2400; // U+2400 "SYMBOL FOR NULL" onwards mirror the C0 controls

/**
 * Token text with its invisible characters made visible: space → ·, newline → ↵,
 * tab → ⇥, carriage return → ␍, other control characters → their Unicode control picture.
 * Partial UTF-8 tokens already arrive as `\xNN` escapes and are left as they are.
 */
export function visibleText(text) {
  if (text === "") return "∅";
  let out = "";
  for (const ch of text) {
    const code = ch.codePointAt(0);
    if (ch === " ") out += "·";
    else if (ch === "\n") out += "↵";
    else if (ch === "\t") out += "⇥";
    else if (ch === "\r") out += "␍";
    else if (code < 0x20) out += String.fromCodePoint(CONTROL_PICTURES + code);
    else if (code === 0x7f) out += "␡";
    else if (code === 0xa0) out += "⍽";
    else out += ch;
  }
  return out;
}

/** True when the token ends a line, so the chip strip can wrap after it. */
export function endsLine(text) {
  return text.endsWith("\n");
}

/** A probability as a short percentage: 0.4123 → "41.2%", 0.00093 → "0.093%". */
export function percent(p) {
  if (p === null || p === undefined || Number.isNaN(p)) return "–";
  if (p === 0) return "0%";
  const pct = p * 100;
  if (pct >= 10) return `${pct.toFixed(1)}%`;
  if (pct >= 1) return `${pct.toFixed(2)}%`;
  if (pct >= 0.01) return `${pct.toFixed(3)}%`;
  return `${pct.toExponential(1)}%`;
}

/** Bytes as spaced upper-case hex: [0x20, 0x69] → "20 69". */
export function hexBytes(bytes) {
  return Array.from(bytes, (b) => b.toString(16).toUpperCase().padStart(2, "0")).join(" ");
}

/** An integer with thousands separators. */
export function count(n) {
  return Number(n).toLocaleString("en-US");
}

/** Milliseconds, rounded sensibly. */
export function ms(value) {
  if (value === null || value === undefined) return "–";
  return value >= 100 ? `${Math.round(value)} ms` : `${value.toFixed(1)} ms`;
}

/** 1 → "1st", 2 → "2nd", 11 → "11th". */
export function ordinal(n) {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${{ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th"}`;
}

/** A token's rank (0 = most likely) in words. */
export function rankWords(rank) {
  if (rank === 0) return "0 — the most likely token";
  return `${count(rank)} — ${ordinal(rank + 1)} most likely`;
}

const FINISH_REASONS = {
  length: "reached the maximum number of new tokens",
  end_of_text: "the model wrote its end-of-text token",
  context_full: "the context window is full",
  cancelled: "stopped",
  time_limit: "the server's time limit ran out",
};

/** A `done` message's finish_reason in plain English. */
export function finishWords(reason) {
  return FINISH_REASONS[reason] || reason;
}
