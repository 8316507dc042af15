// The channels-gateway browser client: one WebSocket, many named streams.
//
// An ES module with no dependencies and no build step; Django serves it as the
// static file "gateway/client.js" of the `gateway` app. Types: client.d.ts.
// Wire format and guarantees: docs/PROTOCOL.md; this API: docs/CLIENT.md.
//
// Every frame is {"stream": NAME, "payload": {...}} both ways. A request
// carries a request_id that the server echoes in its reply and in every push
// of a subscription made with it: that is how replies and pushes find the
// code that asked. Subscriptions live on the server per connection, so the
// client keeps its own list and renews each one after a reconnect, resuming
// from the last position it saw when the server sends positions.

const DEFAULTS = Object.freeze({
  requestTimeout: 15000,
  initialDelay: 250,
  maxDelay: 10000,
  factor: 2,
  jitter: 0.5,
});

// WebSocket readyState values (the constants are not on every implementation).
const OPEN = 1;

/** True when `value` is a hypermedia link: {"stream": NAME, "payload": {...}}. */
export function isLink(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    typeof value.stream === "string" &&
    value.stream !== "" &&
    value.payload !== null &&
    typeof value.payload === "object" &&
    !Array.isArray(value.payload)
  );
}

/** True for a 2xx response_status. */
export function isSuccess(payload) {
  const status = payload && payload.response_status;
  return typeof status === "number" && status >= 200 && status < 300;
}

/**
 * Why a request failed. `payload` is the server's reply when there was one
 * (`status` is its response_status); otherwise `status` is 0 and `reason`
 * says what happened on this side: "timeout", "closed", "disconnected" or
 * "unsubscribed" ("response" when the server answered with a non-2xx status).
 */
export class GatewayError extends Error {
  constructor(message, { stream = null, payload = null, reason = "response" } = {}) {
    super(message);
    this.name = "GatewayError";
    this.stream = stream;
    this.payload = payload;
    this.reason = reason;
    this.status = payload && typeof payload.response_status === "number" ? payload.response_status : 0;
    this.errors = payload && Array.isArray(payload.errors) ? payload.errors : [];
  }
}

function replyError(stream, payload) {
  const detail = payload.errors && payload.errors.length ? `: ${JSON.stringify(payload.errors)}` : "";
  return new GatewayError(`${stream} answered ${payload.response_status}${detail}`, { stream, payload });
}

// "subscribe_instance" -> "unsubscribe_instance"; anything else has no default.
function defaultUnsubscribeAction(action) {
  return typeof action === "string" && action.startsWith("subscribe") ? `un${action}` : null;
}

function withoutKeys(payload, keys) {
  const copy = { ...payload };
  for (const key of keys) delete copy[key];
  return copy;
}

/**
 * One live subscription. Pushes go to `onEvent`; `unsubscribe()` ends it.
 * After a reconnect the client renews it by itself, with the same request_id.
 */
export class Subscription {
  constructor(client, stream, payload, options) {
    this.client = client;
    this.stream = stream;
    this.requestId = payload.request_id;
    this.action = payload.action;
    // What the subscribe frame carries, minus request_id and resume (added per send).
    this.payload = withoutKeys(payload, ["request_id", "resume"]);
    this.onEvent = options.onEvent || null;
    this.onResync = options.onResync || null;
    this.unsubscribeAction =
      options.unsubscribeAction === undefined ? defaultUnsubscribeAction(this.action) : options.unsubscribeAction;
    this.timeout = options.timeout;
    this.reply = null; // the last subscribe reply
    this.active = true;
    // group tag -> {epoch, offset}: the last position seen per subscription group.
    this.positions = new Map();
  }

  /** Positions to resume from, as the server takes them: {tag: [epoch, offset]}. */
  resumeToken() {
    if (this.positions.size === 0) return null;
    const token = {};
    for (const [tag, { epoch, offset }] of this.positions) token[tag] = [epoch, offset];
    return token;
  }

  // A push: drop what was already seen (a replay overlapping live pushes),
  // remember the position, hand it on.
  deliver(payload) {
    if (!this.advance(payload.position)) return;
    if (this.onEvent) this.onEvent(payload, this);
  }

  // Take `position` ({group, epoch, offset}) if it is news: false for one seen already.
  advance(position) {
    if (!position || typeof position !== "object" || typeof position.group !== "string") return true;
    if (typeof position.offset !== "number") return true;
    const known = this.positions.get(position.group);
    if (known && known.epoch === position.epoch && !(position.offset > known.offset)) return false;
    this.positions.set(position.group, { epoch: position.epoch, offset: position.offset });
    return true;
  }

  // A subscribe reply says where the subscription starts in each group.
  adopt(reply) {
    if (Array.isArray(reply.positions)) for (const position of reply.positions) this.advance(position);
  }

  // The answer to a renewed subscribe: positions survive only a recovered resume.
  renewed(reply) {
    this.reply = reply;
    const resume = reply.resume;
    const recovered = Boolean(resume && resume.recovered);
    if (!recovered) this.positions.clear();
    this.adopt(reply);
    if (!recovered && this.onResync) this.onResync(reply, this);
    this.client.dispatchEvent(
      new CustomEvent("resubscribed", { detail: { subscription: this, reply, recovered } }),
    );
  }

  /**
   * Stop receiving pushes and tell the server. Resolves with the server's reply,
   * or with null when there is nothing to tell it (not connected, no action,
   * or the socket dropped before the answer: the server forgot it then).
   */
  unsubscribe() {
    if (!this.active) return Promise.resolve(null);
    this.active = false;
    this.client.forget(this);
    if (!this.unsubscribeAction || !this.client.connected) return Promise.resolve(null);
    const payload = withoutKeys(this.payload, ["action", "snapshot"]);
    payload.action = this.unsubscribeAction;
    // A socket lost meanwhile took the server's subscription with it.
    return this.client
      .send(this.stream, payload, { requestId: this.requestId, timeout: this.timeout })
      .catch((error) => {
        if (error.reason === "disconnected" || error.reason === "closed") return null;
        throw error;
      });
  }
}

/**
 * A gateway connection. Events (EventTarget): "open" {reconnected},
 * "close" {code, reason, willReconnect}, "frame" {direction, frame},
 * "resubscribed" {subscription, reply, recovered}.
 */
export class GatewayClient extends EventTarget {
  constructor(url, options = {}) {
    super();
    this.url = url;
    this.options = { ...DEFAULTS, ...options };
    this.WebSocket = options.WebSocket || globalThis.WebSocket;
    if (typeof this.WebSocket !== "function") {
      throw new TypeError("GatewayClient needs a WebSocket implementation: pass options.WebSocket.");
    }
    this.random = options.random || Math.random;
    this.socket = null;
    this.pending = new Map(); // request_id -> {stream, action, resolve, reject, timer, subscription}
    this.subscriptions = new Map(); // request_id -> Subscription
    this.everOpened = false;
    this.attempt = 0; // reconnects since the last successful open
    this.reconnectTimer = null;
    this.closedByUser = true;
    this.idPrefix = Math.floor(this.random() * 2 ** 32).toString(36);
    this.counter = 0;
  }

  get connected() {
    return this.socket !== null && this.socket.readyState === OPEN;
  }

  /** Open the socket (and keep it open: reconnects until close()). */
  connect() {
    this.closedByUser = false;
    if (this.socket !== null || this.reconnectTimer !== null) return;
    this.open();
  }

  /** Close for good: no reconnect; pending requests reject with reason "closed". */
  close(code = 1000, reason = "") {
    this.closedByUser = true;
    if (this.reconnectTimer !== null) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
    }
    const socket = this.socket;
    this.socket = null; // its close event is no longer ours to handle
    this.failPending("closed", "the client was closed");
    if (socket) {
      socket.close(code, reason);
      this.dispatchEvent(new CustomEvent("close", { detail: { code, reason, willReconnect: false } }));
    }
  }

  /** The delay before reconnect attempt `attempt` (0-based): exponential, jittered. */
  reconnectDelay(attempt) {
    const { initialDelay, maxDelay, factor, jitter } = this.options;
    const base = Math.min(maxDelay, initialDelay * factor ** attempt);
    // "Equal jitter": a fixed share plus a random share, so a thousand clients
    // dropped together spread out instead of returning in one wave.
    return base * (1 - jitter) + base * jitter * this.random();
  }

  open() {
    const socket = new this.WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => this.onOpen(socket);
    socket.onmessage = (event) => this.onMessage(socket, event);
    socket.onclose = (event) => this.onClose(socket, event);
    socket.onerror = () => {}; // a close follows; that is where we act
  }

  onOpen(socket) {
    if (socket !== this.socket) return;
    const reconnected = this.everOpened;
    this.everOpened = true;
    this.attempt = 0;
    // Subscriptions live on the server per connection: renew each one, from
    // its last positions when it has them. Then send what waited for a socket
    // (requests made while disconnected, subscribes the old socket lost).
    for (const subscription of this.subscriptions.values()) {
      if (!this.pending.has(subscription.requestId)) this.renew(subscription);
    }
    for (const entry of this.pending.values()) {
      if (entry.socket !== socket) this.write(entry);
    }
    this.dispatchEvent(new CustomEvent("open", { detail: { reconnected } }));
  }

  onClose(socket, event) {
    if (socket !== this.socket) return;
    this.socket = null;
    const willReconnect = !this.closedByUser;
    // Replies to requests in flight cannot come any more. A subscribe in
    // flight is not lost: its subscription is renewed after the reconnect.
    for (const [id, entry] of this.pending) {
      if (entry.subscription && entry.subscription.active && willReconnect) continue;
      this.pending.delete(id);
      clearTimeout(entry.timer);
      entry.reject(new GatewayError(`connection lost before ${entry.stream} answered`, { stream: entry.stream, reason: "disconnected" }));
    }
    this.dispatchEvent(
      new CustomEvent("close", { detail: { code: event && event.code, reason: event && event.reason, willReconnect } }),
    );
    if (willReconnect) {
      const delay = this.reconnectDelay(this.attempt);
      this.attempt += 1;
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        if (!this.closedByUser) this.open();
      }, delay);
    }
  }

  onMessage(socket, event) {
    if (socket !== this.socket) return;
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return; // the server sends JSON; anything else is not ours to interpret
    }
    this.dispatchEvent(new CustomEvent("frame", { detail: { direction: "in", frame } }));
    const payload = frame && frame.payload;
    if (!payload || typeof payload !== "object" || Array.isArray(payload)) return;
    const id = payload.request_id;
    if (id === undefined || id === null) return;
    const waiting = this.pending.get(id);
    // A push of a subscription can overtake its own reply: both carry the
    // request_id, so the action tells them apart (gateway errors have none).
    if (
      waiting &&
      waiting.stream === frame.stream &&
      (payload.action === waiting.action || payload.action === null || payload.action === undefined)
    ) {
      this.pending.delete(id);
      clearTimeout(waiting.timer);
      waiting.settle(payload);
      return;
    }
    const subscription = this.subscriptions.get(id);
    if (subscription && subscription.stream === frame.stream && payload.action !== subscription.action) {
      subscription.deliver(payload);
    }
  }

  nextRequestId() {
    this.counter += 1;
    return `${this.idPrefix}-${this.counter}`;
  }

  // Put a pending request on the socket; without one it waits for the next open.
  write(entry) {
    if (!this.connected) return;
    entry.socket = this.socket;
    this.socket.send(JSON.stringify(entry.frame));
    this.dispatchEvent(new CustomEvent("frame", { detail: { direction: "out", frame: entry.frame } }));
  }

  failPending(reason, message) {
    for (const [id, entry] of this.pending) {
      this.pending.delete(id);
      clearTimeout(entry.timer);
      entry.reject(new GatewayError(`${message} (${entry.stream})`, { stream: entry.stream, reason }));
    }
  }

  // Send one request and wait for its reply. `settle(payload)` turns the reply
  // into the promise's outcome; the default resolves 2xx and rejects the rest.
  send(stream, payload, { requestId, timeout, subscription = null, settle = null } = {}) {
    const id = requestId === undefined ? this.nextRequestId() : requestId;
    const frame = { stream, payload: { ...payload, request_id: id } };
    const limit = timeout === undefined ? this.options.requestTimeout : timeout;
    return new Promise((resolve, reject) => {
      const entry = {
        stream,
        action: payload.action,
        frame,
        subscription,
        reject,
        settle: settle
          ? (reply) => settle(reply, resolve, reject)
          : (reply) => (isSuccess(reply) ? resolve(reply) : reject(replyError(stream, reply))),
        timer: null,
        socket: null,
      };
      if (limit !== null && limit !== Infinity) {
        entry.timer = setTimeout(() => {
          if (this.pending.get(id) !== entry) return;
          this.pending.delete(id);
          reject(new GatewayError(`no reply from ${stream} within ${limit} ms`, { stream, reason: "timeout" }));
        }, limit);
      }
      this.pending.set(id, entry);
      this.write(entry);
    });
  }

  /** Send `payload` on `stream`: resolves with the reply payload on 2xx, rejects with a GatewayError otherwise. */
  request(stream, payload = {}, options = {}) {
    if (typeof stream !== "string" || stream === "") throw new TypeError("request() needs a stream name.");
    return this.send(stream, payload, { timeout: options.timeout });
  }

  /** Request what a hypermedia link points at: {"stream", "payload"}. */
  follow(link, options = {}) {
    if (!isLink(link)) throw new TypeError('follow() needs a link: {"stream": NAME, "payload": {...}}.');
    return this.request(link.stream, link.payload, options);
  }

  /**
   * Subscribe: `payload` is the subscribe action's frame (e.g.
   * {action: "subscribe_instance", pk: 1}). Resolves with a Subscription once
   * the server accepts (its reply is `subscription.reply`); rejects with a
   * GatewayError when it refuses. Options: onEvent(payload, subscription),
   * onResync(reply, subscription), unsubscribeAction, timeout.
   */
  subscribe(stream, payload, options = {}) {
    if (typeof stream !== "string" || stream === "") throw new TypeError("subscribe() needs a stream name.");
    if (typeof options === "function") options = { onEvent: options };
    const requestId = this.nextRequestId();
    const subscription = new Subscription(this, stream, { ...payload, request_id: requestId }, options);
    this.subscriptions.set(requestId, subscription);
    return this.send(stream, subscription.payload, {
      requestId,
      timeout: options.timeout,
      subscription,
      settle: (reply, resolve, reject) => {
        subscription.reply = reply;
        if (!subscription.active) {
          reject(new GatewayError(`unsubscribed before ${stream} answered`, { stream, payload: reply, reason: "unsubscribed" }));
        } else if (isSuccess(reply)) {
          subscription.adopt(reply);
          resolve(subscription);
        } else {
          this.forget(subscription);
          subscription.active = false;
          reject(replyError(stream, reply));
        }
      },
    }).catch((error) => {
      this.forget(subscription);
      subscription.active = false;
      throw error;
    });
  }

  // Renew a subscription on a new socket, from its positions when it has some.
  renew(subscription) {
    const payload = { ...subscription.payload };
    const token = subscription.resumeToken();
    if (token) payload.resume = token;
    this.send(subscription.stream, payload, {
      requestId: subscription.requestId,
      timeout: subscription.timeout,
      subscription,
      settle: (reply, resolve) => {
        if (!subscription.active) return resolve(null);
        if (isSuccess(reply)) subscription.renewed(reply);
        else {
          // The server no longer grants it (permissions changed, object gone).
          this.forget(subscription);
          subscription.active = false;
          subscription.reply = reply;
          if (subscription.onResync) subscription.onResync(reply, subscription);
        }
        return resolve(reply);
      },
    }).catch(() => {
      // No answer on this socket; the next reconnect renews it again.
    });
  }

  forget(subscription) {
    if (this.subscriptions.get(subscription.requestId) === subscription) {
      this.subscriptions.delete(subscription.requestId);
    }
  }
}
