// A WebSocket stand-in for the client's unit tests: records what the client
// sends and lets a test play the server (open, frames, close) synchronously.

export class FakeWebSocket {
  static instances = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0; // CONNECTING
    this.sent = [];
    this.closeCalls = [];
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
    FakeWebSocket.instances.push(this);
  }

  static reset() {
    FakeWebSocket.instances = [];
  }

  static get last() {
    return FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
  }

  send(data) {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(JSON.parse(data));
  }

  close(code, reason) {
    this.closeCalls.push([code, reason]);
    this.drop(code ?? 1000, reason ?? "");
  }

  // ---- the server's side
  accept() {
    this.readyState = 1;
    this.onopen?.({});
  }

  push(stream, payload) {
    this.onmessage?.({ data: JSON.stringify({ stream, payload }) });
  }

  pushRaw(data) {
    this.onmessage?.({ data });
  }

  drop(code = 1006, reason = "") {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  // The payload of the last frame sent, and frames sent since a mark.
  get lastSent() {
    return this.sent[this.sent.length - 1];
  }
}

// The reply a consumer sends for `request` (a sent frame).
export function replyTo(frame, { status = 200, data = null, errors = [], ...extra } = {}) {
  return {
    errors,
    data,
    action: frame.payload.action,
    response_status: status,
    request_id: frame.payload.request_id,
    ...extra,
  };
}
