// The websocket protocol, version 1 (docs/protocol.md): building `generate` requests and
// decoding the server's messages, above all the 8-bit base64 attention payloads.
// No DOM and no socket here, so every function can be tried on its own.

export const PROTOCOL_VERSION = 1;

/** Attention for every layer and head is requested up to this many maps. */
export const MAX_MAPS_FOR_ALL = 64;

const SERVER_TYPES = new Set(["hello", "queued", "prompt", "step", "done", "error"]);

/** base64 → Uint8Array. */
export function base64ToBytes(b64) {
  const binary = atob(b64 || "");
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) out[i] = binary.charCodeAt(i);
  return out;
}

/** The websocket URL for a path on this page's host: ws://host/path or wss://host/path. */
export function websocketUrl(path, loc = window.location) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}${path}`;
}

/** Parse one text frame; returns the message object or null when it is not one of ours. */
export function parseServerMessage(text) {
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    return null;
  }
  if (!message || typeof message !== "object" || !SERVER_TYPES.has(message.type)) return null;
  return message;
}

/**
 * Which attention maps to ask for: every map when the model has at most 64 of them,
 * otherwise every head of the one layer being looked at.
 */
export function attentionSelection(model, layer) {
  if (model.n_layer * model.n_head <= MAX_MAPS_FOR_ALL) return { layers: "all", heads: "all" };
  const safeLayer = Math.min(Math.max(0, layer | 0), model.n_layer - 1);
  return { layers: [safeLayer], heads: "all" };
}

let requestCounter = 0;

/** A fresh request id: letters, digits and dashes only, as the protocol allows. */
export function newRequestId() {
  requestCounter += 1;
  return `r-${Date.now().toString(36)}-${requestCounter}`;
}

/**
 * The `generate` message for these settings. The prompt is sent as typed (even blank):
 * the server is the one judge of what is valid and answers with an `error` otherwise.
 */
export function generateMessage(settings, model, layer) {
  return {
    type: "generate",
    version: PROTOCOL_VERSION,
    request_id: newRequestId(),
    prompt: settings.prompt,
    model: model.slug,
    max_new_tokens: settings.maxNewTokens,
    temperature: settings.temperature,
    top_k: settings.topK,
    top_p: settings.topP,
    seed: settings.seed,
    candidates: settings.candidates,
    attention: attentionSelection(model, layer),
  };
}

export function stopMessage() {
  return { type: "stop" };
}

/** Expand "all" or a list into the concrete indices, for a model with `size` of them. */
function indices(listOrAll, size) {
  if (Array.isArray(listOrAll)) return listOrAll;
  return Array.from({ length: size }, (_, i) => i);
}

/**
 * Decode a `prompt` message's attention. Calls `onRow(layer, head, query, weights)` for
 * every row of every map; `weights` is a Uint8Array view of `query + 1` bytes (weight × 255).
 * Returns the number of rows decoded, or 0 when there is no attention.
 */
export function decodePromptAttention(attention, model, onRow) {
  if (!attention || attention.packing !== "lower_triangle_rows") return 0;
  const layers = indices(attention.layers, model.n_layer);
  const heads = indices(attention.heads, model.n_head);
  const length = attention.length;
  const data = base64ToBytes(attention.data);
  const perMap = (length * (length + 1)) / 2;
  if (data.length !== layers.length * heads.length * perMap) {
    throw new Error(`prompt attention has ${data.length} bytes, expected ${layers.length * heads.length * perMap}`);
  }
  let offset = 0;
  for (const layer of layers) {
    for (const head of heads) {
      for (let query = 0; query < length; query += 1) {
        onRow(layer, head, query, data.subarray(offset, offset + query + 1));
        offset += query + 1;
      }
    }
  }
  return layers.length * heads.length * length;
}

/**
 * Decode a `step` message's attention: one row, for `query_position`, per map.
 * Calls `onRow(layer, head, query, weights)` like decodePromptAttention.
 */
export function decodeStepAttention(attention, model, onRow) {
  if (!attention) return 0;
  const layers = indices(attention.layers, model.n_layer);
  const heads = indices(attention.heads, model.n_head);
  const query = attention.query_position;
  const data = base64ToBytes(attention.data);
  const width = query + 1;
  if (data.length !== layers.length * heads.length * width) {
    throw new Error(`step attention has ${data.length} bytes, expected ${layers.length * heads.length * width}`);
  }
  let offset = 0;
  for (const layer of layers) {
    for (const head of heads) {
      onRow(layer, head, query, data.subarray(offset, offset + width));
      offset += width;
    }
  }
  return layers.length * heads.length;
}
