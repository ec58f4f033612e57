// In-memory attention for one generation: one square matrix per (layer, head), filled row
// by row as the prompt and then each step arrive. Weights stay as the protocol's bytes
// (weight × 255); a row is "known" once it has arrived.

export class AttentionStore {
  constructor(nLayer, nHead, capacity) {
    this.nLayer = nLayer;
    this.nHead = nHead;
    this.capacity = Math.max(1, capacity);
    this.maps = new Map();
    this.recordedLayers = new Set();
  }

  key(layer, head) {
    return layer * this.nHead + head;
  }

  map(layer, head) {
    return this.maps.get(this.key(layer, head)) || null;
  }

  hasMap(layer, head) {
    return this.maps.has(this.key(layer, head));
  }

  /** Store row `query` (weights for keys 0 … query) of map (layer, head). */
  setRow(layer, head, query, weights) {
    if (query >= this.capacity) this.grow(Math.max(query + 1, this.capacity * 2));
    let entry = this.map(layer, head);
    if (!entry) {
      entry = this.blank();
      this.maps.set(this.key(layer, head), entry);
      this.recordedLayers.add(layer);
    }
    const width = Math.min(weights.length, query + 1);
    entry.weights.set(weights.subarray(0, width), query * this.capacity);
    entry.known[query] = 1;
  }

  blank() {
    return {
      weights: new Uint8Array(this.capacity * this.capacity),
      known: new Uint8Array(this.capacity),
    };
  }

  grow(capacity) {
    const old = this.capacity;
    this.capacity = capacity;
    for (const [key, entry] of this.maps) {
      const next = this.blank();
      for (let q = 0; q < old; q += 1) {
        next.weights.set(entry.weights.subarray(q * old, q * old + q + 1), q * capacity);
      }
      next.known.set(entry.known);
      this.maps.set(key, next);
    }
  }

  hasRow(layer, head, query) {
    const entry = this.map(layer, head);
    return Boolean(entry && query < this.capacity && entry.known[query]);
  }

  /** Row `query` as weights in 0 … 1, or null when it has not arrived. */
  row(layer, head, query) {
    if (!this.hasRow(layer, head, query)) return null;
    const entry = this.map(layer, head);
    const start = query * this.capacity;
    return Array.from(entry.weights.subarray(start, start + query + 1), (b) => b / 255);
  }

  /** One byte weight (0 … 255) or -1 when unknown. */
  byte(layer, head, query, key) {
    if (key > query || !this.hasRow(layer, head, query)) return -1;
    return this.map(layer, head).weights[query * this.capacity + key];
  }
}
