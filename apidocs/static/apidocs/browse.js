// The browsable gateway: reads the AsyncAPI document, lets a visitor pick a
// stream and an action, fills a form built from the action's schema, sends it
// over the visitor's own websocket (so with the visitor's own session and
// permissions) through the shipped client, and shows the reply, live pushes
// of subscriptions and every frame.

import { GatewayClient } from "channels-gateway";

import { readDocument } from "./asyncapi.js";
import { renderValue } from "./render.js";
import { buildForm } from "./schema-form.js";

const config = JSON.parse(document.getElementById("browse-config").textContent);
const $ = (selector) => document.querySelector(selector);
const MAX_LOG = 200;
const MAX_PUSHES = 100;

let apiDocument = null;
let model = null;
let client = null;
let current = null; // {stream, action, form}

function element(tag, attributes = {}, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${config.ws_path}`;
}

// ------------------------------------------------------------------ log
function logFrame(direction, frame) {
  const log = $("#log");
  const entry = element("li", { class: direction });
  const payload = frame.payload || {};
  const status = payload.response_status === undefined ? "" : ` ${payload.response_status}`;
  entry.append(
    element("span", { class: "dir" }, direction === "in" ? "◀" : "▶"),
    element("span", { class: "what" }, `${frame.stream ?? "—"} ${payload.action ?? ""}${status}`),
    element("code", {}, JSON.stringify(frame)),
  );
  log.prepend(entry);
  while (log.children.length > MAX_LOG) log.lastElementChild.remove();
  $("#log-count").textContent = String(Number($("#log-count").textContent) + 1);
}

// ------------------------------------------------------------- streams
function findAction(streamName, actionName) {
  const stream = model.streams.find((s) => s.name === streamName);
  const action = stream && stream.actions.find((a) => a.name === actionName);
  return stream && action ? { stream, action } : null;
}

function renderStreams() {
  const nav = $("#streams");
  nav.replaceChildren(element("h2", {}, "Streams"));
  for (const stream of model.streams) {
    const group = element("details", { "data-stream": stream.name });
    const summary = element("summary", {}, stream.name);
    if (stream.description) summary.title = stream.description;
    group.append(summary);
    const list = element("ul");
    for (const action of stream.actions) {
      const item = element("li");
      const button = element("button", {
        type: "button",
        class: "action" + (action.subscribes ? " subscribes" : ""),
        "data-stream": stream.name,
        "data-action": action.name,
      }, action.name);
      if (action.summary) button.title = action.summary;
      button.addEventListener("click", () => select(stream.name, action.name));
      item.append(button);
      list.append(item);
    }
    if (stream.raw && !stream.actions.length) {
      list.append(element("li", { class: "muted" }, "any JSON (not described)"));
    }
    group.append(list);
    nav.append(group);
  }
}

// ------------------------------------------------------------ composer
function select(streamName, actionName, values) {
  const found = findAction(streamName, actionName);
  if (!found) return null;
  const { stream, action } = found;
  for (const group of document.querySelectorAll("#streams details")) {
    if (group.dataset.stream === stream.name) group.open = true;
  }
  for (const button of document.querySelectorAll("button.action")) {
    button.classList.toggle(
      "selected",
      button.dataset.stream === stream.name && button.dataset.action === action.name,
    );
  }
  const composer = $("#composer");
  const heading = element("h2", { id: "composer-title" });
  heading.append(
    element("span", { class: "stream" }, stream.name),
    " · ",
    element("span", { class: "action-name" }, action.name),
  );
  if (action.method) heading.append(" ", element("span", { class: "method" }, action.method));
  if (action.subscribes) heading.append(" ", element("span", { class: "badge" }, "subscription"));
  const parts = [heading];
  if (action.summary) parts.push(element("p", { class: "summary" }, action.summary));
  if (action.description) parts.push(element("p", { class: "description" }, action.description));
  const form = buildForm(apiDocument, action.request);
  if (values) form.fill(values);
  const formNode = element("form", { id: "action-form", novalidate: "" });
  const preview = element("pre", { id: "frame-preview" });
  const status = element("span", { id: "form-status", class: "form-status" });
  const send = element("button", { type: "submit", id: "send" }, action.subscribes ? "subscribe" : "send");
  formNode.append(form.node, element("div", { class: "actions" }), preview);
  formNode.querySelector(".actions").append(send, status);
  const updatePreview = () => {
    try {
      preview.textContent = JSON.stringify(frameFor(stream.name, action.name, form.read()));
      preview.classList.remove("invalid");
    } catch (error) {
      preview.textContent = String(error.message || error);
      preview.classList.add("invalid");
    }
  };
  formNode.addEventListener("input", updatePreview);
  formNode.addEventListener("change", updatePreview);
  formNode.addEventListener("submit", (event) => {
    event.preventDefault();
    let payload;
    try {
      payload = form.read();
    } catch (error) {
      status.textContent = String(error.message || error);
      return;
    }
    status.textContent = "";
    send_(stream.name, action, payload);
  });
  parts.push(formNode);
  composer.replaceChildren(...parts);
  updatePreview();
  current = { stream: stream.name, action: action.name, form };
  history.replaceState(null, "", `#${encodeURIComponent(stream.name)}/${encodeURIComponent(action.name)}`);
  return current;
}

function frameFor(stream, action, payload) {
  return { stream, payload: { action, ...payload } };
}

// ------------------------------------------------------------- replies
function showReply(stream, payload, note) {
  const box = $("#reply");
  box.classList.remove("muted");
  const ok = typeof payload.response_status === "number" && payload.response_status < 400;
  const head = element("p", { class: `reply-status ${ok ? "ok" : "error"}` });
  head.append(
    element("strong", { id: "reply-status" }, String(payload.response_status ?? "—")),
    " ",
    element("span", { id: "reply-action" }, `${stream} · ${payload.action ?? ""}`),
  );
  if (note) head.append(element("span", { class: "muted" }, ` ${note}`));
  const parts = [head];
  if (payload.errors && payload.errors.length) {
    const errors = element("div", { class: "errors", id: "reply-errors" });
    errors.append(renderValue(payload.errors, follow));
    parts.push(errors);
  }
  const data = element("div", { class: "data", id: "reply-data" });
  data.append(renderValue(payload.data ?? null, follow));
  parts.push(data);
  box.replaceChildren(...parts);
}

/** Until the reply comes, the previous one is gone: nothing stale to read or click. */
function pending(stream, action) {
  const box = $("#reply");
  box.classList.add("muted");
  box.replaceChildren(element("p", { id: "reply-pending" }, `waiting for ${stream} · ${action}…`));
}

function showFailure(stream, error) {
  if (error && error.payload) {
    showReply(stream, error.payload);
  } else {
    showReply(stream, {
      response_status: null,
      action: current && current.action,
      errors: [String((error && error.message) || error)],
      data: null,
    });
  }
}

async function send_(stream, action, payload) {
  const full = { action: action.name, ...payload };
  pending(stream, action.name);
  if (action.subscribes) {
    await subscribe(stream, full);
    return;
  }
  try {
    showReply(stream, await client.request(stream, full));
  } catch (error) {
    showFailure(stream, error);
  }
}

/** Follow a hypermedia link: select its action, fill the form with it, send it. */
async function follow(link) {
  const selected = select(link.stream, link.payload.action, link.payload);
  pending(link.stream, link.payload.action);
  const found = findAction(link.stream, link.payload.action);
  if (found && found.action.subscribes) {
    await subscribe(link.stream, link.payload);
    return;
  }
  try {
    showReply(link.stream, await client.follow(link));
  } catch (error) {
    showFailure(link.stream, error);
  }
  return selected;
}

// ------------------------------------------------------- subscriptions
function showPush(subscription, payload) {
  const pushes = $("#pushes");
  const entry = element("li", { class: "push", "data-request-id": subscription.requestId });
  entry.append(
    element(
      "p",
      { class: "push-head" },
      `${new Date().toLocaleTimeString()} ${subscription.stream} · ${payload.action} ${payload.response_status}`,
    ),
  );
  entry.append(renderValue(payload.data ?? null, follow));
  pushes.prepend(entry);
  while (pushes.children.length > MAX_PUSHES) pushes.lastElementChild.remove();
}

async function subscribe(stream, payload) {
  let subscription;
  try {
    subscription = await client.subscribe(stream, payload, {
      onEvent: (event, sub) => showPush(sub, event),
    });
  } catch (error) {
    showFailure(stream, error);
    return;
  }
  showReply(stream, subscription.reply, `subscribed (request_id ${subscription.requestId})`);
  const list = $("#subscriptions");
  list.classList.remove("muted");
  const { action, ...rest } = subscription.payload;
  const item = element("li", { class: "subscription", "data-request-id": subscription.requestId });
  item.append(
    element("span", {}, `${stream} · ${action} ${JSON.stringify(rest)} `),
  );
  const stop = element("button", { type: "button", class: "unsubscribe" }, "unsubscribe");
  stop.addEventListener("click", async () => {
    stop.disabled = true;
    try {
      const reply = await subscription.unsubscribe();
      if (reply) showReply(stream, reply);
    } catch (error) {
      showFailure(stream, error);
    }
    item.remove();
  });
  item.append(stop);
  list.append(item);
}

// --------------------------------------------------------------- start
function connect() {
  client = new GatewayClient(socketUrl());
  const state = $("#connection");
  client.addEventListener("open", () => {
    state.textContent = "connected";
    state.className = "status on";
  });
  client.addEventListener("close", (event) => {
    state.textContent = event.detail && event.detail.willReconnect ? "reconnecting…" : "disconnected";
    state.className = "status off";
  });
  client.addEventListener("frame", (event) => logFrame(event.detail.direction, event.detail.frame));
  client.connect();
}

async function start() {
  $("#log-clear").addEventListener("click", () => {
    $("#log").replaceChildren();
    $("#log-count").textContent = "0";
  });
  connect();
  try {
    const response = await fetch(config.document_url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${config.document_url}: HTTP ${response.status}`);
    apiDocument = await response.json();
  } catch (error) {
    $("#streams").replaceChildren(element("p", { class: "errors" }, `Cannot read the document: ${error.message}`));
    return;
  }
  model = readDocument(apiDocument);
  renderStreams();
  const [stream, action] = location.hash.slice(1).split("/").map(decodeURIComponent);
  if (!(stream && action && select(stream, action))) {
    const first = model.streams.find((s) => s.actions.length);
    if (first) select(first.name, first.actions[0].name);
  }
  document.body.dataset.ready = "true";
}

start();
