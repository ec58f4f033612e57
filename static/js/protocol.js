// The websocket protocol, version 1 (docs/protocol.md): building `generate` and `trace`
// requests and decoding the server's messages: the 8-bit base64 attention payloads of a
// generation and the float16/float32 tensors of a `trace_result`.
// No DOM and no socket here, so every function can be tried on its own.

export const PROTOCOL_VERSION = 1;

/** Attention for every layer and head is requested up to this many maps. */
export const MAX_MAPS_FOR_ALL = 64;

const SERVER_TYPES = new Set([
  "hello",
  "queued",
  "prompt",
  "step",
  "done",
  "trace_result",
  "error",
  // lesson 13's mini training run
  "train_waiting",
  "train_started",
  "train_progress",
  "train_done",
]);

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

// -- trace ------------------------------------------------------------------------------------

/**
 * The `trace` message. `options`: prompt, model (slug), and any of parts, layers, heads,
 * positions, topK, lensToken, experiment; the defaults are the protocol's own. As with
 * `generate`, nothing is checked here: the server judges and answers with an `error`.
 */
export function traceMessage(options) {
  return {
    type: "trace",
    version: PROTOCOL_VERSION,
    request_id: options.requestId || newRequestId(),
    prompt: options.prompt,
    model: options.model,
    parts: options.parts ?? "all",
    layers: options.layers ?? "all",
    heads: options.heads ?? "all",
    positions: options.positions ?? "all",
    top_k: options.topK ?? 10,
    lens_token: options.lensToken ?? null,
    experiment: options.experiment ?? null,
  };
}

// float16 bit pattern → number, for all 65,536 patterns, built on first use
let halfTable = null;

/** One IEEE 754 half-precision bit pattern (0 … 0xffff) as a number. */
export function halfToFloat(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function halfLookup() {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits += 1) halfTable[bits] = halfToFloat(bits);
  }
  return halfTable;
}

/** The number of elements a shape holds (1 for a scalar's empty shape). */
export function sizeOf(shape) {
  return shape.reduce((n, d) => n * d, 1);
}

/**
 * Decode a trace tensor `{shape, dtype, data}` (base64 of little-endian numbers, row-major)
 * into `{shape, data: Float32Array}`. Throws when the byte count does not fit the shape.
 */
export function decodeTensor(tensor) {
  const { shape, dtype } = tensor;
  const bytes = base64ToBytes(tensor.data);
  const n = sizeOf(shape);
  const width = dtype === "float16" ? 2 : dtype === "float32" ? 4 : 0;
  if (!width) throw new Error(`unknown tensor dtype ${dtype}`);
  if (bytes.length !== n * width) {
    throw new Error(`a ${dtype} tensor of shape [${shape}] needs ${n * width} bytes, got ${bytes.length}`);
  }
  const data = new Float32Array(n);
  if (width === 2) {
    // read the bytes in pairs by hand: a Uint16Array view would follow the machine's byte order
    const table = halfLookup();
    for (let i = 0; i < n; i += 1) data[i] = table[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
  } else {
    // a DataView on a fresh copy: always little-endian, and no alignment needed
    const view = new DataView(bytes.slice().buffer);
    for (let i = 0; i < n; i += 1) data[i] = view.getFloat32(4 * i, true);
  }
  return { shape: [...shape], data };
}

/** The flat row-major offset of `index` (as many or fewer numbers than the shape has dimensions). */
export function tensorOffset(shape, index) {
  if (index.length > shape.length) throw new Error(`index [${index}] has too many dimensions for [${shape}]`);
  let offset = 0;
  for (let d = 0; d < shape.length; d += 1) {
    const i = d < index.length ? index[d] : 0;
    if (!(i >= 0 && i < shape[d])) throw new Error(`index [${index}] is out of range for [${shape}]`);
    offset = offset * shape[d] + i;
  }
  return offset;
}

/** One number of a decoded tensor: at(t, 2, 0, 5). */
export function tensorAt(tensor, ...index) {
  if (index.length !== tensor.shape.length) throw new Error(`need ${tensor.shape.length} indices, got ${index.length}`);
  return tensor.data[tensorOffset(tensor.shape, index)];
}

/**
 * The sub-tensor of a decoded tensor under a leading index, as a Float32Array view (no copy):
 * tensorSlice(residuals, 0, 3) is the residual vector at layer 0, position 3.
 */
export function tensorSlice(tensor, ...prefix) {
  const start = tensorOffset(tensor.shape, prefix);
  const length = sizeOf(tensor.shape.slice(prefix.length));
  return tensor.data.subarray(start, start + length);
}
