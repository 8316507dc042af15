// A small client for a channels-gateway socket: one WebSocket, many streams.
//
// Frames are {"stream": NAME, "payload": {...}} both ways. A request carries a
// request_id; the server echoes it in the reply, and in every event of a
// subscription made with it, so request_id is how replies and events find
// their way back to the code that asked.

const REQUEST_TIMEOUT_MS = 15000;
const MAX_RECONNECT_DELAY_MS = 5000;

let counter = 0;
function nextRequestId() {
  counter += 1;
  return `${Date.now().toString(36)}-${counter}`;
}

export function isLink(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    typeof value.stream === "string" &&
    value.payload !== null &&
    typeof value.payload === "object" &&
    !Array.isArray(value.payload)
  );
}

export class GatewayClient extends EventTarget {
  // Events: "frame" ({direction: "in"|"out", frame}), "open" ({reconnected}), "close".
  constructor(url) {
    super();
    this.url = url;
    this.socket = null;
    this.pending = new Map(); // request_id -> {stream, resolve, reject, timer}
    this.subscriptions = new Map(); // request_id -> {stream, frame, action, onEvent}
    this.queue = [];
    this.everOpened = false;
    this.reconnectDelay = 250;
    this.closedByUser = false;
  }

  get connected() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  connect() {
    this.closedByUser = false;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.reconnectDelay = 250;
      // Subscriptions live on the server per connection: renew them.
      if (reconnected) {
        for (const sub of this.subscriptions.values()) this.sendFrame(sub.frame);
      }
      const queued = this.queue;
      this.queue = [];
      for (const frame of queued) this.sendFrame(frame);
      this.dispatchEvent(new CustomEvent("open", { detail: { reconnected } }));
    });
    socket.addEventListener("message", (event) => this.onMessage(event));
    socket.addEventListener("close", () => {
      this.socket = null;
      for (const [id, entry] of this.pending) {
        clearTimeout(entry.timer);
        entry.reject(new Error("connection closed"));
        this.pending.delete(id);
      }
      this.dispatchEvent(new CustomEvent("close"));
      if (!this.closedByUser) {
        setTimeout(() => this.connect(), this.reconnectDelay);
        this.reconnectDelay = Math.min(this.reconnectDelay * 2, MAX_RECONNECT_DELAY_MS);
      }
    });
  }

  close() {
    this.closedByUser = true;
    if (this.socket) this.socket.close();
  }

  sendFrame(frame) {
    if (!this.connected) {
      this.queue.push(frame);
      return;
    }
    this.socket.send(JSON.stringify(frame));
    this.dispatchEvent(new CustomEvent("frame", { detail: { direction: "out", frame } }));
  }

  onMessage(event) {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    this.dispatchEvent(new CustomEvent("frame", { detail: { direction: "in", frame } }));
    const payload = frame && frame.payload;
    if (!payload || typeof payload !== "object") return;
    const id = payload.request_id;
    const waiting = this.pending.get(id);
    // An event of a subscription can overtake the subscription's own reply;
    // both carry the request_id, so the action tells them apart.
    const isReply =
      waiting &&
      waiting.stream === frame.stream &&
      (payload.action === waiting.action || payload.action == null);
    if (isReply) {
      this.pending.delete(id);
      clearTimeout(waiting.timer);
      waiting.resolve(payload);
      return;
    }
    const sub = this.subscriptions.get(id);
    if (sub && sub.stream === frame.stream && payload.action !== sub.action) {
      sub.onEvent(payload);
    }
  }

  // Send `payload` on `stream` and resolve with the reply payload, whatever its
  // status: callers look at response_status (errors are data, not exceptions).
  request(stream, payload) {
    const requestId = nextRequestId();
    const frame = { stream, payload: { ...payload, request_id: requestId } };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new Error(`no reply from ${stream} within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(requestId, { stream, action: payload.action, resolve, reject, timer });
      this.sendFrame(frame);
    });
  }

  // Send a subscribe action; `onEvent(payload)` receives every later frame
  // carrying the same request_id. Resolves with {reply, cancel}.
  async subscribe(stream, payload, onEvent, unsubscribeAction) {
    const requestId = nextRequestId();
    const frame = { stream, payload: { ...payload, request_id: requestId } };
    this.subscriptions.set(requestId, { stream, frame, action: payload.action, onEvent });
    const reply = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new Error(`no reply from ${stream} within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(requestId, { stream, action: payload.action, resolve, reject, timer });
      this.sendFrame(frame);
    });
    const ok = Math.floor(reply.response_status / 100) === 2;
    if (!ok) this.subscriptions.delete(requestId);
    const cancel = () => {
      if (!this.subscriptions.delete(requestId)) return;
      if (unsubscribeAction && this.connected) {
        const { action, ...rest } = payload;
        this.sendFrame({
          stream,
          payload: { ...rest, action: unsubscribeAction, request_id: requestId },
        });
      }
    };
    return { reply, ok, cancel };
  }
}
