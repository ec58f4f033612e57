// Formatting helpers shared by the playground modules: visible whitespace in token text,
// percentages, byte dumps and plain-English names. Pure functions, no DOM.

// ASCII names of the C0 control characters, shown as ‹ESC› and the like: Unicode's
// "control picture" symbols are missing from many fonts (and projectors' laptops).
const C0_NAMES = [
  "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "TAB", "LF", "VT", "FF", "CR",
  "SO", "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB",
  "ESC", "FS", "GS", "RS", "US",
];
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zs}\p{Zl}\p{Zp}]/u;

/**
 * Token text with its invisible characters made visible: space → ·, newline → ↵,
 * tab → →, other control or invisible characters → ‹NAME› or ‹U+XXXX›.
 * Partial UTF-8 tokens already arrive as `\xNN` escapes and are left as they are.
 */
export function visibleText(text) {
  if (text === "") return "∅";
  let out = "";
  for (const ch of text) {
    const code = ch.codePointAt(0);
    if (ch === " ") out += "·";
    else if (ch === "\n") out += "↵";
    else if (ch === "\t") out += "→";
    else if (code < 0x20) out += `‹${C0_NAMES[code]}›`;
    else if (code === 0x7f) out += "‹DEL›";
    else if (code === 0xa0) out += "‹NBSP›";
    else if (INVISIBLE.test(ch)) out += `‹U+${code.toString(16).toUpperCase().padStart(4, "0")}›`;
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

/** A rank (0 = most likely) as "the most likely" or "the 3rd most likely". */
export function likelihoodWords(rank) {
  return rank === 0 ? "the most likely" : `the ${ordinal(rank + 1)} most likely`;
}

/** A token's rank (0 = most likely) in words, number first. */
export function rankWords(rank) {
  return `${count(rank)} (${likelihoodWords(rank)} token)`;
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
