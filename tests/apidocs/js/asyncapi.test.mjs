// Unit tests of apidocs/static/apidocs/asyncapi.js (the page's document reader),
// run by tests/apidocs/test_static_js.py with ASYNCAPI_DOCUMENT naming a document
// apidocs generated for tests.apidocs.support.ShowcaseGateway.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { deref, isLink, readDocument, resolveRef } from "../../../apidocs/static/apidocs/asyncapi.js";

const doc = JSON.parse(readFileSync(process.env.ASYNCAPI_DOCUMENT, "utf8"));
const model = readDocument(doc);
const stream = (name) => model.streams.find((s) => s.name === name);
const action = (s, a) => stream(s).actions.find((x) => x.name === a);

test("every stream with an address is listed, the gateway's own channel is not", () => {
  assert.deepEqual(
    model.streams.map((s) => s.name).sort(),
    ["books", "clock", "echo", "live-authors", "ping"],
  );
});

test("actions come from receive operations, sorted, with their request schema", () => {
  assert.deepEqual(
    stream("books").actions.map((a) => a.name),
    ["count_pages", "create", "delete", "list", "list_cancel", "patch", "retrieve", "shout", "update"],
  );
  const retrieve = action("books", "retrieve");
  assert.equal(retrieve.request.properties.action.const, "retrieve");
  assert.deepEqual(retrieve.request.required, ["action", "slug"]);
  assert.equal(retrieve.method, "GET");
  assert.equal(retrieve.summary.length > 0, true);
});

test("subscriptions and streamed lists are flagged", () => {
  assert.equal(action("live-authors", "subscribe_instance").subscribes, true);
  assert.equal(action("live-authors", "subscribe_list").subscribes, true);
  assert.equal(action("live-authors", "retrieve").subscribes, false);
  assert.equal(action("books", "list").streamed, true);
});

test("a stream the gateway knows nothing about is raw, with no actions", () => {
  assert.equal(stream("echo").raw, true);
  assert.deepEqual(stream("echo").actions, []);
});

test("reply data schemas are kept, refs unresolved", () => {
  assert.deepEqual(action("books", "retrieve").reply, { $ref: "#/components/schemas/ShowcaseBook" });
  assert.equal(deref(doc, action("books", "retrieve").reply).type, "object");
});

test("resolveRef follows local refs only; deref survives cycles", () => {
  assert.equal(resolveRef(doc, "#/components/schemas/Link").title, "Link");
  assert.equal(resolveRef(doc, "#/components/schemas/Nope"), undefined);
  assert.equal(resolveRef(doc, "https://elsewhere.example/x.json"), undefined);
  const cyclic = { a: { $ref: "#/b" }, b: { $ref: "#/a" } };
  assert.deepEqual(deref(cyclic, { $ref: "#/a" }), {});
});

test("isLink accepts exactly the link shape", () => {
  assert.equal(isLink({ stream: "books", payload: { action: "retrieve", pk: 1 } }), true);
  assert.equal(isLink({ stream: "books", payload: { pk: 1 } }), false);
  assert.equal(isLink({ stream: "books", payload: { action: "x" }, extra: 1 }), false);
  assert.equal(isLink([]), false);
  assert.equal(isLink(null), false);
});
