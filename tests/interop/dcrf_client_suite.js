#!/usr/bin/env node
// Interop suite: the npm package dcrf-client (what DCRF users already run in
// their front ends) against a live channels-gateway demo server.
//
//   DEMO_URL=http://127.0.0.1:8000 node dcrf_client_suite.js
//
// Prints one line per check and then "N passed, M failed"; exits 1 on any
// failure. The server must have run `seed_demo` (user demo / demo-password).
"use strict";

const dcrf = require("dcrf-client").default;
const WebSocketImpl = require("ws");

const BASE = (process.env.DEMO_URL || "http://127.0.0.1:8000").replace(/\/$/, "");
const WS_URL = `${BASE.replace(/^http/, "ws")}/ws/`;
const TIMEOUT_MS = Number(process.env.INTEROP_TIMEOUT_MS || 5000);

// ------------------------------------------------------------------ plumbing
function withTimeout(promise, what, ms = TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function assertEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

// dcrf-client rejects with the reply payload on a non-2xx status.
async function expectRejection(promise, status, what) {
  let reply;
  try {
    const data = await withTimeout(promise, what);
    throw new Error(`${what}: expected a ${status} rejection, got success ${JSON.stringify(data)}`);
  } catch (error) {
    if (error instanceof Error) throw error;
    reply = error;
  }
  assertEqual(reply.response_status, status, `${what}: response_status`);
  assert(Array.isArray(reply.errors) && reply.errors.length > 0, `${what}: errors must be a non-empty list`);
  return reply;
}

function cookieValue(setCookies, name) {
  for (const header of setCookies) {
    const match = header.match(new RegExp(`^${name}=([^;]*)`));
    if (match) return match[1];
  }
  return null;
}

// Django session login over HTTP; the socket then authenticates with the cookie.
async function login(username, password) {
  const page = await fetch(`${BASE}/accounts/login/`);
  const csrf = cookieValue(page.headers.getSetCookie(), "csrftoken");
  const token = (await page.text()).match(/name="csrfmiddlewaretoken" value="([^"]+)"/);
  assert(csrf && token, "login page: no CSRF cookie or token");
  const response = await fetch(`${BASE}/accounts/login/`, {
    method: "POST",
    redirect: "manual",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Cookie: `csrftoken=${csrf}`,
      Origin: BASE,
      Referer: `${BASE}/accounts/login/`,
    },
    body: new URLSearchParams({ username, password, csrfmiddlewaretoken: token[1], next: "/" }),
  });
  const session = cookieValue(response.headers.getSetCookie(), "sessionid");
  assert(response.status === 302 && session, `login as ${username} failed (HTTP ${response.status})`);
  return `sessionid=${session}; csrftoken=${csrf}`;
}

const clients = [];

// Node 20 has no global WebSocket, and reconnecting-websocket (inside
// dcrf-client) calls `new WebSocket(url, protocols)` with no room for headers.
// A subclass of ws adds what a browser would send: the Origin (the server's
// AllowedHostsOriginValidator refuses sockets without one) and the cookie.
function connect(cookie) {
  const headers = { Origin: BASE };
  if (cookie) headers.Cookie = cookie;
  class BrowserLikeWebSocket extends WebSocketImpl {
    constructor(url, protocols) {
      super(url, protocols, { headers });
    }
  }
  const client = dcrf.connect(WS_URL, {
    websocket: { WebSocket: BrowserLikeWebSocket, maxRetries: 3, connectionTimeout: 4000 },
    // Our serializers (like DRF's ModelSerializer) name the key "id"; the
    // client's default "pk" would never match update events.
    pkField: "id",
  });
  clients.push(client);
  return client;
}

// Resolves when the callback of a subscription has seen `count` events.
function collector() {
  const events = [];
  const waiters = [];
  const callback = (data, action) => {
    events.push({ data, action });
    for (const waiter of [...waiters]) {
      if (events.length >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(events.slice());
      }
    }
  };
  const waitFor = (count, what) =>
    withTimeout(
      new Promise((resolve) => {
        if (events.length >= count) resolve(events.slice());
        else waiters.push({ count, resolve });
      }),
      what,
    );
  return { callback, events, waitFor };
}

// --------------------------------------------------------------------- tests
const tests = [];
function test(name, fn) {
  tests.push({ name, fn });
}

const state = {};

test("list: a stream's objects, as dcrf-client's list() asks for them", async () => {
  const books = await withTimeout(state.anon.list("books"), "books list");
  assert(Array.isArray(books) && books.length >= 5, `expected the seeded books, got ${JSON.stringify(books)}`);
  state.book = books.find((book) => book.title === "Kindred");
  assert(state.book, "seeded book 'Kindred' not in the list");
});

test("list with filters passed in data (dcrf-client's list(stream, filters))", async () => {
  const authorPk = state.book.author.payload.pk;
  const books = await withTimeout(state.anon.list("books", { author: authorPk }), "filtered list");
  assert(books.length >= 1, "no books for the author");
  for (const book of books) assertEqual(book.author.payload.pk, authorPk, "filtered book's author");
});

test("list with filters as top-level kwargs (the hypermedia link form)", async () => {
  const link = state.book.reviews; // {"stream": "reviews", "payload": {"action": "list", "book": pk}}
  assertEqual(link.stream, "reviews", "reviews link stream");
  const reviews = await withTimeout(state.anon.request(link.stream, link.payload), "reviews list link");
  assert(reviews.length >= 1, "the seeded book has reviews");
  for (const review of reviews) assertEqual(review.book.payload.pk, state.book.id, "review's book");
});

test("retrieve: one object with its own link as @id", async () => {
  const book = await withTimeout(state.anon.retrieve("books", state.book.id), "retrieve");
  assertEqual(book.title, "Kindred", "title");
  assertEqual(book["@id"], { stream: "books", payload: { action: "retrieve", pk: state.book.id } }, "@id");
});

test("create: 201, and the review belongs to the signed-in user", async () => {
  const review = await withTimeout(
    state.demo.create("reviews", { book: state.book.id, rating: 4, text: "written by dcrf-client" }),
    "create",
  );
  assert(typeof review.id === "number", `created review has no id: ${JSON.stringify(review)}`);
  assertEqual(review.text, "written by dcrf-client", "text");
  assertEqual(review.user.stream, "users", "user link stream");
  state.review = review;
});

test("create accepts a hypermedia link for a relation", async () => {
  const review = await withTimeout(
    state.demo.create("reviews", { book: state.book["@id"], rating: 2, text: "linked" }),
    "create with a link",
  );
  assertEqual(review.book.payload.pk, state.book.id, "book of the created review");
  await withTimeout(state.demo.delete("reviews", review.id), "clean up");
});

test("update: a full update (PUT semantics)", async () => {
  const review = await withTimeout(
    state.demo.update("reviews", state.review.id, { book: state.book.id, rating: 3, text: "updated" }),
    "update",
  );
  assertEqual([review.rating, review.text], [3, "updated"], "rating and text");
});

test("patch: a partial update", async () => {
  const review = await withTimeout(state.demo.patch("reviews", state.review.id, { text: "patched" }), "patch");
  assertEqual([review.rating, review.text], [3, "patched"], "rating and text");
});

test("subscribe: updates and the delete made by another connection arrive", async () => {
  const seen = collector();
  const subscription = state.anon.subscribe("reviews", state.review.id, seen.callback);
  await withTimeout(subscription, "subscribe_instance reply");
  await withTimeout(state.demo.patch("reviews", state.review.id, { text: "live 1" }), "patch 1");
  await withTimeout(state.demo.patch("reviews", state.review.id, { rating: 5 }), "patch 2");
  let events = await seen.waitFor(2, "two update events");
  assertEqual(events.map((e) => e.action), ["update", "update"], "event actions");
  assertEqual([events[0].data.text, events[1].data.rating], ["live 1", 5], "event data");
  await withTimeout(state.demo.delete("reviews", state.review.id), "delete by the other connection");
  events = await seen.waitFor(3, "the delete event");
  assertEqual(events[2].action, "delete", "third event");
  // ensurePkFieldInDeleteEvents moved the server's {"pk": N} to the client's pkField.
  assertEqual(events[2].data.id, state.review.id, "deleted pk");
  subscription.cancel();
});

test("delete: 204 resolves, and the object is gone (404)", async () => {
  const review = await withTimeout(
    state.demo.create("reviews", { book: state.book.id, rating: 1, text: "to delete" }),
    "create",
  );
  const data = await withTimeout(state.demo.delete("reviews", review.id), "delete");
  assertEqual(data, null, "delete reply data");
  await expectRejection(state.demo.retrieve("reviews", review.id), 404, "retrieve after delete");
});

test("custom @action through request()", async () => {
  const top = await withTimeout(state.anon.request("books", { action: "top_rated", limit: 2 }), "top_rated");
  assert(Array.isArray(top) && top.length === 2, `expected two books, got ${JSON.stringify(top)}`);
  assert(typeof top[0].average_rating === "number", "top_rated carries average_rating");
});

test("a DRF view mounted with view_as_consumer", async () => {
  const stats = await withTimeout(state.demo.request("stats", { action: "retrieve" }), "stats");
  assert(stats.books >= 8, `stats: ${JSON.stringify(stats)}`);
  assertEqual(stats.you, "demo", "the view sees the socket's user");
});

test("error: write without signing in is 403", async () => {
  await expectRejection(
    state.anon.create("reviews", { book: state.book.id, rating: 5, text: "anonymous" }),
    403,
    "anonymous create",
  );
});

test("error: editing another user's review is 403", async () => {
  const reviews = await withTimeout(state.anon.request("reviews", { action: "list", book: state.book.id }), "list");
  const others = reviews.filter((r) => r.user.payload.pk !== state.demoUserPk);
  assert(others.length > 0, "seed has reviews by other readers");
  await expectRejection(state.demo.patch("reviews", others[0].id, { text: "mine now" }), 403, "patch other's review");
});

test("error: validation is 400 with DRF's field errors", async () => {
  const reply = await expectRejection(
    state.demo.create("reviews", { book: state.book.id, rating: 9 }),
    400,
    "invalid rating",
  );
  assert(reply.errors[0] && reply.errors[0].rating, `expected a rating error, got ${JSON.stringify(reply.errors)}`);
});

test("error: retrieve a missing pk is 404", async () => {
  await expectRejection(state.anon.retrieve("books", 987654321), 404, "missing pk");
});

test("error: a pk that is not a number is 400 or 404, not a dead socket", async () => {
  let reply;
  try {
    await withTimeout(state.anon.retrieve("books", "abc"), "bad pk");
  } catch (error) {
    if (error instanceof Error) throw error;
    reply = error;
  }
  assert(reply && [400, 404].includes(reply.response_status), `got ${JSON.stringify(reply)}`);
  await withTimeout(state.anon.retrieve("books", state.book.id), "retrieve after the bad pk");
});

test("error: an unknown action is 405", async () => {
  await expectRejection(state.anon.request("books", { action: "no_such_action" }), 405, "unknown action");
});

test("error: an unknown stream is 404 and names the stream", async () => {
  await expectRejection(state.anon.request("no-such-stream", { action: "list" }), 404, "unknown stream");
});

test("error: subscribing to a missing pk is 404", async () => {
  await expectRejection(state.anon.subscribe("books", 987654321, () => {}), 404, "subscribe missing");
});

// ---------------------------------------------------------------------- main
async function main() {
  state.anon = connect(null);
  const cookie = await login("demo", "demo-password");
  state.demo = connect(cookie);
  const users = await withTimeout(state.anon.request("users", { action: "list" }), "users list");
  state.demoUserPk = users.find((u) => u.username === "demo").id;

  let passed = 0;
  let failed = 0;
  for (const { name, fn } of tests) {
    try {
      await fn();
      passed += 1;
      console.log(`ok   ${name}`);
    } catch (error) {
      failed += 1;
      const detail = error instanceof Error ? error.message : JSON.stringify(error);
      console.log(`FAIL ${name}\n     ${detail}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

main()
  .catch((error) => {
    console.log(`FAIL setup\n     ${error instanceof Error ? error.stack : JSON.stringify(error)}`);
    console.log("0 passed, 1 failed");
    return 1;
  })
  .then((code) => {
    for (const client of clients) client.close();
    process.exit(code);
  });
