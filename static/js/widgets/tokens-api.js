// The tokenizer JSON API (webapp/tokenizers/views.py) as the tokens widget calls it: list the
// encodings, tokenize with several at once, replay a tokenizer's merges, train a tiny BPE.
// Every failure becomes an Error carrying the API's own sentence. The POST views are
// CSRF-exempt (pure computations on the text sent), so no token is sent. No DOM here.

const BASE = "/api/tokenizers/";

async function call(path, body, signal) {
  let response;
  try {
    response = await fetch(BASE + path, {
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new Error("Could not reach the server; check the connection and try again.");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    // a proxy's HTML error page: say what happened in words
  }
  if (!response.ok || !data || data.error) {
    const message = data?.error?.message || `The server answered ${response.status} ${response.statusText}.`;
    const error = new Error(message.charAt(0).toUpperCase() + message.slice(1));
    error.code = data?.error?.code;
    throw error;
  }
  return data;
}

/** {encodings: [{name, label, installed, message, ...}], models: [...], limits: {...}} */
export function listTokenizers() {
  return call("");
}

/** {text_chars, results: [{source, name, label, tokens, count, chars_per_token} or {..., error}]} */
export function tokenize(text, model, encodings, signal) {
  return call("tokenize", { text, model, encodings }, signal);
}

/** {pieces, steps, total_steps, truncated, final, tokens, ...} for the model's tokenizer. */
export function replay(text, model, signal) {
  return call("replay", { text, model }, signal);
}

/** {initial, steps: [{top_pairs, pair, token, count, replaced, symbols}], vocabulary, stopped} */
export function train(text, merges, signal) {
  return call("train", { text, merges }, signal);
}
