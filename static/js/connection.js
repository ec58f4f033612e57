// The page's one websocket: opens it, hands every server message on, and after a close
// reconnects with exponential backoff (1 s, 2 s, 4 s … 30 s). `ready()` is what Generate
// waits on: it reconnects at once instead of waiting out the backoff.

import { parseServerMessage } from "./protocol.js";

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;
const OPEN_TIMEOUT_MS = 10000;

export class Connection extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.socket = null;
    this.state = "closed"; // "connecting" | "open" | "closed"
    this.delay = FIRST_DELAY_MS;
    this.retryTimer = null;
    this.retryAt = 0;
    this.waiters = [];
  }

  /** Open the socket now (no-op if it is open or opening). */
  connect() {
    if (this.socket && this.state !== "closed") return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.setState("connecting");
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (err) {
      this.handleClose(`could not open the connection (${err.message})`);
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      if (this.socket !== socket) return;
      this.delay = FIRST_DELAY_MS;
      this.setState("open");
      this.waiters.splice(0).forEach((w) => w.resolve());
    });
    socket.addEventListener("message", (event) => {
      if (this.socket !== socket) return;
      if (typeof event.data !== "string") return;
      const message = parseServerMessage(event.data);
      if (message) this.dispatchEvent(new CustomEvent("message", { detail: message }));
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.handleClose(event.reason || `code ${event.code}`);
    });
    // "error" is always followed by "close"; nothing to do here
  }

  handleClose(reason) {
    const retryIn = this.delay;
    this.retryAt = Date.now() + retryIn;
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    this.setState("closed", { reason, retryIn });
    this.retryTimer = setTimeout(() => this.connect(), retryIn);
  }

  /** Resolves once the socket is open, reconnecting at once if it is closed. */
  ready() {
    if (this.state === "open") return Promise.resolve();
    if (this.state === "closed") this.connect();
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      this.waiters.push(waiter);
      setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          reject(new Error("The server did not answer; check your network and try again."));
        }
      }, OPEN_TIMEOUT_MS);
    });
  }

  /** Send one JSON message; false when the socket is not open. */
  send(message) {
    if (this.state !== "open" || !this.socket) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  setState(state, extra = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, ...extra } }));
  }
}
