// What every widget on a lesson page shares: the page's one websocket, the chosen model and
// its facts, `trace(request, {key})`, which sends a `trace` and resolves to the decoded
// reply, and `generate(request, {key, onMessage})`, which streams a generation and resolves
// when it is done. The server runs one request per connection at a time, so requests queue here; a
// newer request with the same key replaces one that is still waiting (the older promise
// rejects with `superseded`), so a widget redrawing on every keystroke never piles up work.

import { Connection } from "../connection.js";
import { PROTOCOL_VERSION, websocketUrl } from "../protocol.js";
import { decodeTrace } from "../trace-decode.js";

const REQUEST_TIMEOUT_MS = 30000;
// a streamed request (a generation) may run long; its timer restarts on every message
const STREAM_IDLE_TIMEOUT_MS = 30000;
// the message types that end each kind of request, and what it resolves to
const FINAL_TYPES = { trace: ["trace_result"], generate: ["done"], train: ["train_done"] };

function superseded() {
  const error = new Error("A newer request replaced this one.");
  error.superseded = true;
  return error;
}

export { FINAL_TYPES };

export class LessonClient {
  constructor(config) {
    this.model = config.model; // public facts of the chosen model, or null
    this.facts = config.facts;
    this.lesson = config.lesson;
    this.connection = new Connection(websocketUrl(config.websocket_path));
    this.queue = []; // waiting: {key, message, resolve, reject}
    this.active = null; // in flight: {key, message, resolve, reject, timer}
    this.counter = 0;
    this.sent = 0; // requests sent, for tests and the status line
    this.connection.addEventListener("message", (event) => this.onMessage(event.detail));
    this.connection.addEventListener("state", (event) => {
      if (event.detail.state === "closed" && this.active) {
        this.finish(new Error("The connection to the server closed; it reconnects on its own. Try again in a moment."));
      }
    });
    if (this.model) this.connection.connect();
  }

  /** Send a `trace` for the chosen model; resolves to decodeTrace(reply) plus `raw`. */
  trace(request, { key = null } = {}) {
    return this.send("trace", request, { key });
  }

  /** Stream a `generate` for the chosen model. `onMessage(message)` sees each `queued`,
   *  `prompt` and `step` as it arrives; the promise resolves to
   *  {prompt, steps, done} once `done` arrives. `stop()` ends it early (done still comes,
   *  with finish_reason "cancelled"). */
  generate(request, { key = null, onMessage = null } = {}) {
    return this.send("generate", request, { key, onMessage });
  }

  /** Send any request type that FINAL_TYPES knows (or a widget registers there). */
  send(type, request, { key = null, onMessage = null } = {}) {
    if (!this.model) return Promise.reject(new Error("No model is installed on this server."));
    this.counter += 1;
    const message = {
      ...request,
      type,
      version: PROTOCOL_VERSION,
      request_id: `lesson-${this.counter}`,
      model: this.model.slug,
    };
    return new Promise((resolve, reject) => {
      if (key !== null) {
        for (const waiting of this.queue.filter((w) => w.key === key)) waiting.reject(superseded());
        this.queue = this.queue.filter((w) => w.key !== key);
      }
      this.queue.push({ key, message, resolve, reject, onMessage, stream: { prompt: null, steps: [] } });
      this.pump();
    });
  }

  /** Stop the request in flight, if it is a stream (the server ends it at its next step). */
  stop() {
    if (this.active && this.active.message.type !== "trace") this.connection.send({ type: "stop" });
  }

  async pump() {
    if (this.active || this.queue.length === 0) return;
    const next = this.queue.shift();
    this.active = next;
    try {
      await this.connection.ready();
    } catch (err) {
      if (this.active === next) this.finish(err);
      return;
    }
    if (this.active !== next) return;
    if (!this.connection.send(next.message)) {
      this.finish(new Error("Could not send the request; the connection is closed."));
      return;
    }
    this.sent += 1;
    this.armTimer(next);
  }

  armTimer(request) {
    clearTimeout(request.timer);
    const ms = request.message.type === "trace" ? REQUEST_TIMEOUT_MS : STREAM_IDLE_TIMEOUT_MS;
    request.timer = setTimeout(() => {
      if (this.active === request) this.finish(new Error("The model did not answer in time; please try again."));
    }, ms);
  }

  finish(error, result) {
    const done = this.active;
    this.active = null;
    if (done) {
      clearTimeout(done.timer);
      if (error) done.reject(error);
      else done.resolve(result);
    }
    this.pump();
  }

  onMessage(message) {
    const active = this.active;
    if (!active) return;
    const ours = message.request_id === active.message.request_id;
    if (message.type === "error" && (ours || message.request_id == null)) {
      const error = new Error(message.message);
      error.code = message.code;
      this.finish(error);
      return;
    }
    if (!ours) return;
    const type = active.message.type;
    if (type === "trace") {
      if (message.type !== "trace_result") return;
      let decoded;
      try {
        decoded = { ...decodeTrace(message), raw: message };
      } catch (err) {
        this.finish(new Error(`The reply could not be read: ${err.message}`));
        return;
      }
      this.finish(null, decoded);
      return;
    }
    // a stream: keep what arrives, hand it to the widget, resolve on the final message
    this.armTimer(active);
    if (message.type === "prompt") active.stream.prompt = message;
    if (message.type === "step") active.stream.steps.push(message);
    if (active.onMessage) {
      try {
        active.onMessage(message);
      } catch (err) {
        console.error(err); // a widget's drawing error must not wedge the queue
      }
    }
    if ((FINAL_TYPES[type] || []).includes(message.type)) {
      this.finish(null, { ...active.stream, done: message, final: message });
    }
  }

  /** A widget calls this after each complete drawing from a reply: tests and the bench wait
   *  on `data-draws` and read `data-drawn-at` (performance.now() of the drawing). */
  drawn(root) {
    root.dataset.draws = String(Number(root.dataset.draws || 0) + 1);
    root.dataset.drawnAt = String(performance.now());
  }

  /** A widget's status line: created on first use at the top of the widget. */
  status(root, kind, text) {
    let line = root.querySelector(":scope > .widget-status");
    if (!line) {
      line = document.createElement("p");
      line.className = "widget-status";
      line.setAttribute("role", "status");
      line.setAttribute("aria-live", "polite");
      root.append(line);
    }
    line.dataset.state = kind;
    line.textContent = text;
  }
}

/** Wait `ms` after the last call before running `fn`: redraw after typing pauses. */
export function debounce(fn, ms = 150) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
