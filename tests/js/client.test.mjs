// Unit tests of gateway/static/gateway/client.js (node --test; run by pytest's
// tests/gateway/test_client_js.py, hence `make test` and CI).
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";

import { GatewayClient, GatewayError, isLink, isSuccess } from "../../gateway/static/gateway/client.js";
import { FakeWebSocket, replyTo } from "./fake_websocket.mjs";

function makeClient(options = {}) {
  FakeWebSocket.reset();
  const client = new GatewayClient("ws://test/ws/", { WebSocket: FakeWebSocket, random: () => 0.5, ...options });
  return client;
}

function connected(options) {
  const client = makeClient(options);
  client.connect();
  FakeWebSocket.last.accept();
  return { client, socket: FakeWebSocket.last };
}

// Let promise callbacks run.
const settle = () => new Promise((resolve) => setImmediate(resolve));

beforeEach(() => mock.timers.enable({ apis: ["setTimeout"] }));
afterEach(() => mock.timers.reset());

describe("isLink and isSuccess", () => {
  test("a link is a stream name and a payload object", () => {
    assert.equal(isLink({ stream: "books", payload: { action: "retrieve", pk: 1 } }), true);
    for (const bad of [null, [], "books", { stream: "books" }, { stream: "", payload: {} }, { stream: 1, payload: {} }, { stream: "b", payload: [] }, { stream: "b", payload: null }]) {
      assert.equal(isLink(bad), false, JSON.stringify(bad));
    }
  });

  test("success means a 2xx response_status", () => {
    assert.equal(isSuccess({ response_status: 200 }), true);
    assert.equal(isSuccess({ response_status: 204 }), true);
    assert.equal(isSuccess({ response_status: 404 }), false);
    assert.equal(isSuccess({ response_status: "200" }), false);
    assert.equal(isSuccess(null), false);
  });
});

describe("requests", () => {
  test("one socket; each request gets its own request_id and resolves with its 2xx reply", async () => {
    const { client, socket } = connected();
    const first = client.request("books", { action: "retrieve", pk: 1 });
    const second = client.request("authors", { action: "list" });
    assert.equal(FakeWebSocket.instances.length, 1);
    const [a, b] = socket.sent;
    assert.equal(a.stream, "books");
    assert.deepEqual({ ...a.payload, request_id: undefined }, { action: "retrieve", pk: 1, request_id: undefined });
    assert.notEqual(a.payload.request_id, b.payload.request_id);
    // Replies of different streams arrive in any order.
    socket.push("authors", replyTo(b, { data: [] }));
    socket.push("books", replyTo(a, { data: { id: 1 } }));
    assert.deepEqual((await first).data, { id: 1 });
    assert.deepEqual((await second).data, []);
  });

  test("a non-2xx reply rejects with a GatewayError carrying the payload", async () => {
    const { client, socket } = connected();
    const pending = client.request("books", { action: "retrieve", pk: 9 });
    socket.push("books", replyTo(socket.lastSent, { status: 404, errors: ["Not found."] }));
    await assert.rejects(pending, (error) => {
      assert.ok(error instanceof GatewayError);
      assert.equal(error.status, 404);
      assert.equal(error.reason, "response");
      assert.deepEqual(error.errors, ["Not found."]);
      assert.equal(error.payload.request_id, socket.lastSent.payload.request_id);
      return true;
    });
  });

  test("a gateway error frame (action null) answers the request", async () => {
    const { client, socket } = connected();
    const pending = client.request("bokks", { action: "list" });
    const frame = socket.lastSent;
    socket.push("bokks", { errors: ["Unknown stream 'bokks'."], data: null, action: null, response_status: 404, request_id: frame.payload.request_id });
    await assert.rejects(pending, (error) => error.status === 404);
  });

  test("a reply on another stream with the same request_id is not the answer", async () => {
    const { client, socket } = connected();
    const pending = client.request("books", { action: "list" }, { timeout: 100 });
    socket.push("authors", replyTo(socket.lastSent));
    mock.timers.tick(100);
    await assert.rejects(pending, (error) => error.reason === "timeout");
  });

  test("no reply within the timeout rejects with reason timeout, and a late reply is ignored", async () => {
    const { client, socket } = connected({ requestTimeout: 1000 });
    const pending = client.request("books", { action: "list" });
    mock.timers.tick(999);
    let done = false;
    pending.catch(() => (done = true));
    await settle();
    assert.equal(done, false);
    mock.timers.tick(1);
    await assert.rejects(pending, (error) => error instanceof GatewayError && error.reason === "timeout" && error.status === 0);
    socket.push("books", replyTo(socket.lastSent)); // too late: nothing to answer
    assert.equal(client.pending.size, 0);
  });

  test("requests made before the socket opens are sent when it does", async () => {
    const client = makeClient();
    client.connect();
    const pending = client.request("books", { action: "list" });
    const socket = FakeWebSocket.last;
    assert.equal(socket.sent.length, 0);
    socket.accept();
    assert.equal(socket.sent.length, 1);
    socket.push("books", replyTo(socket.lastSent, { data: [1] }));
    assert.deepEqual((await pending).data, [1]);
  });

  test("a request in flight when the socket drops rejects with reason disconnected (never resent)", async () => {
    const { client, socket } = connected();
    const pending = client.request("books", { action: "create", data: {} });
    socket.drop();
    await assert.rejects(pending, (error) => error.reason === "disconnected");
    mock.timers.tick(10_000);
    FakeWebSocket.last.accept();
    assert.equal(FakeWebSocket.last.sent.length, 0);
  });

  test("follow(link) requests the link's stream and payload", async () => {
    const { client, socket } = connected();
    const link = { stream: "books", payload: { action: "list", author: 3 } };
    const pending = client.follow(link);
    assert.equal(socket.lastSent.stream, "books");
    assert.equal(socket.lastSent.payload.author, 3);
    assert.equal(socket.lastSent.payload.action, "list");
    socket.push("books", replyTo(socket.lastSent, { data: [] }));
    await pending;
    assert.throws(() => client.follow({ stream: "books" }), TypeError);
    assert.throws(() => client.request("", {}), TypeError);
  });

  test("frames that are not JSON, or carry no request_id, are ignored", async () => {
    const { client, socket } = connected();
    const pending = client.request("books", { action: "list" });
    socket.pushRaw("not json");
    socket.push("books", { action: "list", response_status: 200 });
    socket.pushRaw(JSON.stringify({ stream: "books", payload: [1] }));
    socket.push("books", replyTo(socket.lastSent));
    await pending;
  });

  test("close() rejects what is pending with reason closed and stops reconnecting", async () => {
    const { client, socket } = connected();
    const pending = client.request("books", { action: "list" });
    client.close();
    await assert.rejects(pending, (error) => error.reason === "closed");
    assert.deepEqual(socket.closeCalls, [[1000, ""]]);
    mock.timers.tick(60_000);
    assert.equal(FakeWebSocket.instances.length, 1);
  });

  test("frame events report what goes out and comes in", async () => {
    const { client, socket } = connected();
    const seen = [];
    client.addEventListener("frame", (event) => seen.push(event.detail.direction));
    const pending = client.request("books", { action: "list" });
    socket.push("books", replyTo(socket.lastSent));
    await pending;
    assert.deepEqual(seen, ["out", "in"]);
  });

  test("a missing WebSocket implementation is a clear error", () => {
    const saved = globalThis.WebSocket;
    globalThis.WebSocket = undefined;
    try {
      assert.throws(() => new GatewayClient("ws://x/"), /options\.WebSocket/);
    } finally {
      globalThis.WebSocket = saved;
    }
  });
});

describe("subscriptions", () => {
  async function subscribed(client, socket, payload = { action: "subscribe_instance", pk: 1 }, options = {}) {
    const events = [];
    const pending = client.subscribe("books", payload, { onEvent: (event) => events.push(event), ...options });
    socket.push("books", replyTo(socket.lastSent));
    const subscription = await pending;
    return { subscription, events };
  }

  test("pushes carrying the subscription's request_id reach onEvent", async () => {
    const { client, socket } = connected();
    const { subscription, events } = await subscribed(client, socket);
    assert.equal(subscription.reply.response_status, 200);
    socket.push("books", { errors: [], data: { id: 1, title: "A" }, action: "update", response_status: 200, request_id: subscription.requestId });
    socket.push("books", { errors: [], data: { id: 2 }, action: "update", response_status: 200, request_id: "someone-else" });
    assert.deepEqual(events.map((event) => event.data), [{ id: 1, title: "A" }]);
  });

  test("a push that overtakes the subscribe reply is delivered, and the reply still resolves", async () => {
    const { client, socket } = connected();
    const events = [];
    const pending = client.subscribe("books", { action: "subscribe_instance", pk: 1 }, (event) => events.push(event));
    const frame = socket.lastSent;
    socket.push("books", { errors: [], data: { id: 1 }, action: "update", response_status: 200, request_id: frame.payload.request_id });
    socket.push("books", replyTo(frame));
    await pending;
    assert.equal(events.length, 1);
  });

  test("a refused subscribe rejects and leaves no subscription", async () => {
    const { client, socket } = connected();
    const pending = client.subscribe("books", { action: "subscribe_instance", pk: 99 });
    socket.push("books", replyTo(socket.lastSent, { status: 404, errors: ["Not found."] }));
    await assert.rejects(pending, (error) => error.status === 404);
    assert.equal(client.subscriptions.size, 0);
  });

  test("unsubscribe() sends the matching unsubscribe action with the same request_id and stops delivery", async () => {
    const { client, socket } = connected();
    const { subscription, events } = await subscribed(client, socket, { action: "subscribe_instance", pk: 1, snapshot: true });
    const done = subscription.unsubscribe();
    const frame = socket.lastSent;
    assert.deepEqual(frame.payload, { pk: 1, action: "unsubscribe_instance", request_id: subscription.requestId });
    socket.push("books", replyTo(frame, { status: 204 }));
    assert.equal((await done).response_status, 204);
    socket.push("books", { action: "update", response_status: 200, request_id: subscription.requestId, data: {} });
    assert.equal(events.length, 0);
    assert.equal(subscription.active, false);
    assert.equal(await subscription.unsubscribe(), null); // twice: nothing sent
    assert.equal(socket.sent.length, 2);
  });

  test("unsubscribeAction null sends nothing; a custom one is used as given", async () => {
    const { client, socket } = connected();
    const { subscription: quiet } = await subscribed(client, socket, { action: "join_room", room: "a" }, { unsubscribeAction: null });
    assert.equal(await quiet.unsubscribe(), null);
    const { subscription: custom } = await subscribed(client, socket, { action: "join_room", room: "b" }, { unsubscribeAction: "leave_room" });
    const done = custom.unsubscribe();
    assert.deepEqual(socket.lastSent.payload, { room: "b", action: "leave_room", request_id: custom.requestId });
    socket.push("books", replyTo(socket.lastSent));
    await done;
  });

  test("unsubscribing while disconnected sends nothing and the subscription is not renewed", async () => {
    const { client, socket } = connected();
    const { subscription } = await subscribed(client, socket);
    socket.drop();
    assert.equal(await subscription.unsubscribe(), null);
    mock.timers.tick(10_000);
    FakeWebSocket.last.accept();
    assert.equal(FakeWebSocket.last.sent.length, 0);
  });
});

describe("reconnecting", () => {
  test("the delay grows exponentially up to maxDelay, with jitter", () => {
    const client = makeClient({ initialDelay: 100, maxDelay: 1000, factor: 2, jitter: 0.5, random: () => 0 });
    assert.deepEqual([0, 1, 2, 3, 4, 5].map((n) => client.reconnectDelay(n)), [50, 100, 200, 400, 500, 500]);
    client.random = () => 0.999999;
    assert.ok(Math.abs(client.reconnectDelay(0) - 100) < 0.001);
    assert.ok(Math.abs(client.reconnectDelay(9) - 1000) < 0.01);
    client.options.jitter = 0;
    assert.equal(client.reconnectDelay(1), 200);
  });

  test("jitter spreads clients dropped together", () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const client = makeClient({ random });
    const delays = new Set(Array.from({ length: 50 }, () => Math.round(client.reconnectDelay(3))));
    assert.ok(delays.size > 40, `only ${delays.size} distinct delays`);
  });

  test("a dropped socket reconnects after the backoff, again and again, and the delay resets on success", async () => {
    const { client, socket } = connected({ initialDelay: 100, random: () => 1 });
    const opens = [];
    client.addEventListener("open", (event) => opens.push(event.detail.reconnected));
    const closes = [];
    client.addEventListener("close", (event) => closes.push(event.detail));
    socket.drop(1013, "try again later");
    assert.deepEqual(closes, [{ code: 1013, reason: "try again later", willReconnect: true }]);
    mock.timers.tick(99);
    assert.equal(FakeWebSocket.instances.length, 1);
    mock.timers.tick(1);
    assert.equal(FakeWebSocket.instances.length, 2);
    FakeWebSocket.last.drop(); // refused: next attempt waits twice as long
    mock.timers.tick(199);
    assert.equal(FakeWebSocket.instances.length, 2);
    mock.timers.tick(1);
    assert.equal(FakeWebSocket.instances.length, 3);
    FakeWebSocket.last.accept();
    assert.deepEqual(opens, [true]);
    FakeWebSocket.last.drop();
    mock.timers.tick(100);
    assert.equal(FakeWebSocket.instances.length, 4);
    assert.equal(client.connected, false);
  });

  test("every live subscription is renewed after a reconnect, with its request_id, and keeps receiving", async () => {
    const { client, socket } = connected({ initialDelay: 10 });
    const events = [];
    const pending = client.subscribe("books", { action: "subscribe_instance", pk: 1 }, (event) => events.push(event));
    socket.push("books", replyTo(socket.lastSent));
    const subscription = await pending;
    const listPending = client.subscribe("reviews", { action: "subscribe_list", book: 2 });
    socket.push("reviews", replyTo(socket.lastSent, { status: 201 }));
    const listSubscription = await listPending;
    const gone = await (async () => {
      const p = client.subscribe("books", { action: "subscribe_instance", pk: 3 });
      socket.push("books", replyTo(socket.lastSent));
      const s = await p;
      s.unsubscribe();
      return s;
    })();

    socket.drop();
    mock.timers.tick(10);
    const next = FakeWebSocket.last;
    const renewed = [];
    client.addEventListener("resubscribed", (event) => renewed.push(event.detail));
    next.accept();
    const frames = next.sent.map((frame) => [frame.stream, frame.payload]);
    assert.deepEqual(frames, [
      ["books", { action: "subscribe_instance", pk: 1, request_id: subscription.requestId }],
      ["reviews", { action: "subscribe_list", book: 2, request_id: listSubscription.requestId }],
    ]);
    assert.ok(!frames.some(([, payload]) => payload.request_id === gone.requestId));
    for (const frame of next.sent) next.push(frame.stream, replyTo(frame));
    assert.equal(renewed.length, 2);
    assert.equal(renewed[0].recovered, false);
    next.push("books", { action: "update", response_status: 200, request_id: subscription.requestId, data: { id: 1 } });
    assert.equal(events.length, 1);
  });

  test("a subscribe whose reply the dropped socket lost is sent again and its promise still resolves", async () => {
    const { client, socket } = connected({ initialDelay: 10 });
    const pending = client.subscribe("books", { action: "subscribe_instance", pk: 1 });
    const first = socket.lastSent;
    socket.drop();
    mock.timers.tick(10);
    const next = FakeWebSocket.last;
    next.accept();
    assert.equal(next.sent.length, 1);
    assert.deepEqual(next.lastSent, first);
    next.push("books", replyTo(next.lastSent));
    const subscription = await pending;
    assert.equal(subscription.active, true);
  });

  test("onResync gets the renewed reply (with its snapshot) when nothing could be recovered", async () => {
    const { client, socket } = connected({ initialDelay: 10 });
    const resyncs = [];
    const pending = client.subscribe("books", { action: "subscribe_instance", pk: 1, snapshot: true }, { onResync: (reply) => resyncs.push(reply) });
    socket.push("books", replyTo(socket.lastSent, { data: { id: 1, title: "old" } }));
    await pending;
    assert.equal(resyncs.length, 0); // the first reply is the subscribe() result, not a resync
    socket.drop();
    mock.timers.tick(10);
    const next = FakeWebSocket.last;
    next.accept();
    assert.equal(next.lastSent.payload.snapshot, true);
    next.push("books", replyTo(next.lastSent, { data: { id: 1, title: "new" } }));
    assert.deepEqual(resyncs.map((reply) => reply.data), [{ id: 1, title: "new" }]);
  });

  test("a renewal the server refuses ends the subscription and tells onResync", async () => {
    const { client, socket } = connected({ initialDelay: 10 });
    const resyncs = [];
    const pending = client.subscribe("books", { action: "subscribe_instance", pk: 1 }, { onResync: (reply) => resyncs.push(reply) });
    socket.push("books", replyTo(socket.lastSent));
    const subscription = await pending;
    socket.drop();
    mock.timers.tick(10);
    FakeWebSocket.last.accept();
    FakeWebSocket.last.push("books", replyTo(FakeWebSocket.last.lastSent, { status: 404, errors: ["Not found."] }));
    assert.equal(subscription.active, false);
    assert.equal(client.subscriptions.size, 0);
    assert.equal(resyncs[0].response_status, 404);
  });
});

describe("positions and resume", () => {
  function push(socket, subscription, offset, { epoch = "e1", group = "g1", data = {} } = {}) {
    socket.push(subscription.stream, {
      errors: [],
      data,
      action: "update",
      response_status: 200,
      request_id: subscription.requestId,
      position: { group, epoch, offset },
    });
  }

  async function withSubscription() {
    const { client, socket } = connected({ initialDelay: 10 });
    const events = [];
    const resyncs = [];
    const pending = client.subscribe("books", { action: "subscribe_instance", pk: 1 }, {
      onEvent: (event) => events.push(event.position ? event.position.offset : null),
      onResync: (reply) => resyncs.push(reply),
    });
    socket.push("books", replyTo(socket.lastSent));
    return { client, socket, subscription: await pending, events, resyncs };
  }

  test("the client keeps the last position per group and resumes from it after a reconnect", async () => {
    const { socket, subscription, events, resyncs } = await withSubscription();
    push(socket, subscription, 1);
    push(socket, subscription, 2);
    push(socket, subscription, 7, { group: "g2", epoch: "x" });
    socket.drop();
    mock.timers.tick(10);
    const next = FakeWebSocket.last;
    next.accept();
    assert.deepEqual(next.lastSent.payload.resume, { g1: ["e1", 2], g2: ["x", 7] });
    next.push("books", replyTo(next.lastSent, { resume: { recovered: true, reason: null } }));
    push(next, subscription, 3); // the replay
    assert.deepEqual(events, [1, 2, 7, 3]);
    assert.equal(resyncs.length, 0);
  });

  test("pushes already seen (a replay overlapping live pushes) are dropped", async () => {
    const { socket, subscription, events } = await withSubscription();
    push(socket, subscription, 1);
    push(socket, subscription, 2);
    push(socket, subscription, 2);
    push(socket, subscription, 1);
    push(socket, subscription, 3);
    assert.deepEqual(events, [1, 2, 3]);
  });

  test("a new epoch is taken as it comes", async () => {
    const { socket, subscription, events } = await withSubscription();
    push(socket, subscription, 5);
    push(socket, subscription, 1, { epoch: "e2" });
    assert.deepEqual(events, [5, 1]);
    assert.deepEqual(subscription.positions.get("g1"), { epoch: "e2", offset: 1 });
  });

  test("not recoverable: positions are dropped, onResync runs, the next resume starts afresh", async () => {
    const { socket, subscription, resyncs } = await withSubscription();
    push(socket, subscription, 4);
    socket.drop();
    mock.timers.tick(10);
    let next = FakeWebSocket.last;
    next.accept();
    next.push("books", replyTo(next.lastSent, { resume: { recovered: false, reason: "expired" } }));
    assert.equal(resyncs.length, 1);
    assert.equal(subscription.positions.size, 0);
    next.drop();
    mock.timers.tick(10);
    next = FakeWebSocket.last;
    next.accept();
    assert.equal("resume" in next.lastSent.payload, false);
  });
});

describe("starting positions", () => {
  test("the subscribe reply's positions are where a resume starts, even before any push", async () => {
    const { client, socket } = connected({ initialDelay: 10 });
    const pending = client.subscribe("books", { action: "subscribe_instance", pk: 1 });
    socket.push("books", replyTo(socket.lastSent, { positions: [{ group: "g1", epoch: "e1", offset: 4 }] }));
    const subscription = await pending;
    assert.deepEqual(subscription.positions.get("g1"), { epoch: "e1", offset: 4 });
    socket.drop();
    mock.timers.tick(10);
    const next = FakeWebSocket.last;
    next.accept();
    assert.deepEqual(next.lastSent.payload.resume, { g1: ["e1", 4] });
  });

  test("a renewal that did not recover starts from the positions its reply gives", async () => {
    const { client, socket } = connected({ initialDelay: 10 });
    const pending = client.subscribe("books", { action: "subscribe_instance", pk: 1 });
    socket.push("books", replyTo(socket.lastSent, { positions: [{ group: "g1", epoch: "e1", offset: 4 }] }));
    const subscription = await pending;
    socket.drop();
    mock.timers.tick(10);
    const next = FakeWebSocket.last;
    next.accept();
    next.push("books", replyTo(next.lastSent, { resume: { recovered: false, reason: "epoch" }, positions: [{ group: "g1", epoch: "e2", offset: 0 }] }));
    assert.deepEqual([...subscription.positions], [["g1", { epoch: "e2", offset: 0 }]]);
  });
});
