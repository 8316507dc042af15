// The demo page: browse the demoplexer's streams by following hypermedia links
// over one socket, keep what is on screen subscribed, and log every frame.
import { GatewayClient, isLink } from "channels-gateway"; // gateway/static/gateway/client.js

const config = JSON.parse(document.getElementById("demo-config").textContent);
const $ = (selector) => document.querySelector(selector);

// Actions every model stream shares; anything else a consumer offers is a
// custom action and gets its own button.
const STANDARD_ACTIONS = new Set([
  "list", "retrieve", "create", "update", "patch", "delete",
  "subscribe_instance", "unsubscribe_instance", "subscribe_list", "unsubscribe_list",
  "list_cancel",
]);
// Fields never offered in the edit form.
const READ_ONLY_FIELDS = new Set(["id", "pk", "created", "updated", "user"]);
const LOG_LIMIT = 300;

const wsScheme = location.protocol === "https:" ? "wss:" : "ws:";
const client = new GatewayClient(`${wsScheme}//${location.host}${config.ws_path}`);

let current = null; // {link, data, kind: "object"|"list"|"other", subscription}
let navigation = 0; // increases on each navigation; late replies of older ones are dropped

// ------------------------------------------------------------------ helpers
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function streamActions(stream) {
  return (config.streams[stream] && config.streams[stream].actions) || [];
}

function ok(reply) {
  return Math.floor(reply.response_status / 100) === 2;
}

// The client rejects non-2xx replies; the page shows them, so it wants the
// reply either way (or a stand-in when there was none: timeout, lost socket).
function ask(stream, payload) {
  return client
    .request(stream, payload)
    .catch((error) => error.payload || { response_status: 0, errors: [error.message], data: null });
}

function filtersOf(payload) {
  const { action, request_id, ...rest } = payload;
  return rest;
}

function linkLabel(link) {
  const { action, ...args } = link.payload;
  if (action === "retrieve" && "pk" in args && Object.keys(args).length === 1) {
    return `${link.stream} #${args.pk}`;
  }
  const query = Object.entries(args)
    .map(([key, value]) => `${key}=${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join("&");
  const name = action === "list" ? link.stream : `${link.stream}.${action}`;
  return query ? `${name}?${query}` : name;
}

function linkElement(link, text) {
  return el(
    "a",
    {
      href: `#${encodeURIComponent(JSON.stringify(link))}`,
      class: "link",
      title: JSON.stringify(link),
      onclick: (event) => {
        event.preventDefault();
        navigate(link);
      },
    },
    text || linkLabel(link),
  );
}

function pkOf(item) {
  if (item && isLink(item["@id"]) && "pk" in item["@id"].payload) return item["@id"].payload.pk;
  if (item && "id" in item) return item.id;
  if (item && "pk" in item) return item.pk;
  return undefined;
}

function titleOf(item) {
  for (const key of ["title", "name", "username"]) {
    if (item && typeof item[key] === "string") return item[key];
  }
  if (item && typeof item.rating === "number") return `${"★".repeat(item.rating)}${"☆".repeat(5 - item.rating)}`;
  const pk = pkOf(item);
  return pk === undefined ? "(object)" : `#${pk}`;
}

function flash(node) {
  node.classList.remove("flash");
  void node.offsetWidth; // restart the CSS animation
  node.classList.add("flash");
}

// ---------------------------------------------------------------- rendering
function renderValue(value) {
  if (isLink(value)) return linkElement(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return el("span", { class: "muted" }, "none");
    if (value.every(isLink)) {
      return el("span", { class: "links" }, value.map((link) => linkElement(link)));
    }
    if (value.every((item) => item === null || typeof item !== "object")) return value.join(", ");
    return el("pre", {}, JSON.stringify(value, null, 2));
  }
  if (value === null) return el("span", { class: "muted" }, "null");
  if (typeof value === "object") return el("pre", {}, JSON.stringify(value, null, 2));
  return String(value);
}

function renderObject(item, stream, { compact = false } = {}) {
  // In lists the heading link already names the object: leave out its id.
  const rows = Object.entries(item)
    .filter(([key]) => key !== "@id" && !(compact && (key === "id" || key === "pk")))
    .map(([key, value]) => el("tr", { dataset: { field: key } }, el("th", {}, key), el("td", {}, renderValue(value))));
  const heading = isLink(item["@id"]) ? linkElement(item["@id"], titleOf(item)) : titleOf(item);
  const card = el(
    "article",
    { class: "card", dataset: { pk: pkOf(item) ?? "", stream: stream || "" } },
    el("h3", {}, heading),
    el("table", {}, el("tbody", {}, rows)),
  );
  return card;
}

function listItems(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.results)) return data.results;
  return null;
}

function renderErrors(reply) {
  return el(
    "div",
    { class: "error", role: "alert" },
    el("strong", {}, `${reply.response_status}`),
    " ",
    JSON.stringify(reply.errors),
  );
}

function render() {
  const content = $("#content");
  content.replaceChildren();
  if (!current) {
    content.append(
      el("p", { class: "muted" }, "Pick a stream above, then follow links. Everything on screen updates live."),
    );
    return;
  }
  $("#current-frame").textContent = JSON.stringify(current.link);
  $("#live").hidden = !current.subscription;
  if (current.reply && !ok(current.reply)) {
    content.append(renderErrors(current.reply));
    return;
  }
  if (current.deleted) content.append(el("div", { class: "error deleted", role: "status" }, "This object was deleted."));
  if (current.kind === "list") {
    const items = current.items;
    content.append(el("p", { class: "count" }, `${items.length} ${items.length === 1 ? "item" : "items"}`));
    content.append(el("div", { class: "cards", id: "list" }, items.map((item) => renderObject(item, current.link.stream, { compact: true }))));
  } else if (current.kind === "object") {
    const card = renderObject(current.data, current.link.stream);
    card.id = "object";
    content.append(card);
    content.append(objectTools());
  } else {
    content.append(el("pre", { class: "card" }, JSON.stringify(current.data, null, 2)));
  }
}

// ------------------------------------------------------------------ editing
function canWrite(stream, action) {
  return config.user.authenticated && streamActions(stream).includes(action);
}

function objectTools() {
  const { stream } = current.link;
  const tools = el("div", { class: "tools" });
  if (current.deleted) return tools;
  const pk = pkOf(current.data);
  if (canWrite(stream, "patch")) {
    const editable = Object.entries(current.data).filter(
      ([key, value]) =>
        !key.startsWith("@") && !READ_ONLY_FIELDS.has(key) && (typeof value === "string" || typeof value === "number"),
    );
    const status = el("span", { class: "form-status", role: "status" });
    const form = el(
      "form",
      {
        class: "edit",
        id: "edit-form",
        onsubmit: async (event) => {
          event.preventDefault();
          const changed = {};
          for (const [key, value] of editable) {
            const input = form.elements[key];
            const next = typeof value === "number" ? Number(input.value) : input.value;
            if (next !== value) changed[key] = next;
          }
          if (Object.keys(changed).length === 0) {
            status.textContent = "nothing changed";
            return;
          }
          status.textContent = "saving…";
          const reply = await ask(stream, { action: "patch", pk, data: changed });
          status.textContent = ok(reply) ? "saved" : `${reply.response_status}: ${JSON.stringify(reply.errors)}`;
        },
      },
      el("h4", {}, "Edit"),
      editable.map(([key, value]) =>
        el(
          "label",
          {},
          el("span", {}, key),
          typeof value === "string" && (value.length > 60 || key === "text" || key === "bio" || key === "summary")
            ? el("textarea", { name: key, rows: 3 }, value)
            : el("input", { name: key, value, type: typeof value === "number" ? "number" : "text" }),
        ),
      ),
      el("div", {}, el("button", { type: "submit" }, "Save"), " ", status),
    );
    tools.append(form);
  }
  if (canWrite(stream, "delete")) {
    tools.append(
      el(
        "button",
        {
          class: "danger",
          onclick: async () => {
            const reply = await ask(stream, { action: "delete", pk });
            if (!ok(reply)) tools.append(renderErrors(reply));
          },
        },
        "Delete",
      ),
    );
  }
  // Books get a "write a review" form: a create on another stream, with the
  // book given as a hypermedia link (a pk works too).
  if (stream === "books" && canWrite("reviews", "create")) tools.append(reviewForm(current.data));
  return tools;
}

function reviewForm(book) {
  const status = el("span", { class: "form-status", role: "status" });
  const form = el(
    "form",
    {
      class: "edit",
      id: "review-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = {
          book: isLink(book["@id"]) ? book["@id"] : pkOf(book),
          rating: Number(form.elements.rating.value),
          text: form.elements.text.value,
        };
        const reply = await ask("reviews", { action: "create", data });
        status.textContent = ok(reply) ? "thanks!" : `${reply.response_status}: ${JSON.stringify(reply.errors)}`;
      },
    },
    el("h4", {}, "Write a review"),
    el(
      "label",
      {},
      el("span", {}, "rating"),
      el("select", { name: "rating" }, [5, 4, 3, 2, 1].map((n) => el("option", { value: n }, n))),
    ),
    el("label", {}, el("span", {}, "text"), el("textarea", { name: "text", rows: 3 })),
    el("div", {}, el("button", { type: "submit" }, "Post review"), " ", status),
  );
  return form;
}

// --------------------------------------------------------------- live data
function onEvent(event) {
  if (!current) return;
  const { action, data } = event;
  if (current.kind === "object") {
    if (action === "update") {
      // Swap only the card: a form below it keeps what the user is typing.
      current.data = data;
      const card = renderObject(data, current.link.stream);
      card.id = "object";
      $("#object").replaceWith(card);
      flash(card);
    } else if (action === "delete") {
      current.deleted = true;
      render();
    }
    return;
  }
  if (current.kind === "list") {
    const pk = pkOf(data);
    const index = current.items.findIndex((item) => pkOf(item) === pk);
    if (action === "delete") {
      if (index >= 0) current.items.splice(index, 1);
      render();
      return;
    }
    if (index >= 0) current.items[index] = data;
    else current.items.push(data);
    render();
    const card = document.querySelector(`#list .card[data-pk="${CSS.escape(String(pk))}"]`);
    if (card) flash(card);
  }
}

// After a reconnect the client renews the subscription by itself; when what
// was missed could not be replayed, the view is read again.
function onResync(reply, subscription) {
  if (!current || current.subscription !== subscription) return;
  if (ok(reply)) refresh();
  else navigate(current.link, { push: false });
}

async function refresh() {
  const mine = navigation;
  const reply = await ask(current.link.stream, current.link.payload);
  if (mine !== navigation || !ok(reply)) return;
  const items = listItems(reply.data);
  Object.assign(current, { reply, data: reply.data, items: items ? [...items] : null, deleted: false });
  render();
}

function subscribeTo(link, kind) {
  const { stream, payload } = link;
  const actions = streamActions(stream);
  const options = { onEvent, onResync };
  if (kind === "object" && actions.includes("subscribe_instance") && "pk" in payload) {
    return client.subscribe(stream, { action: "subscribe_instance", pk: payload.pk }, options);
  }
  if (kind === "list" && actions.includes("subscribe_list")) {
    return client.subscribe(stream, { ...filtersOf(payload), action: "subscribe_list" }, options);
  }
  return null;
}

// --------------------------------------------------------------- navigation
async function navigate(link, { push = true } = {}) {
  const mine = ++navigation;
  if (current && current.subscription) current.subscription.unsubscribe();
  if (push) history.pushState({ link }, "", `#${encodeURIComponent(JSON.stringify(link))}`);
  $("#current-frame").textContent = JSON.stringify(link);
  $("#content").setAttribute("aria-busy", "true");
  const reply = await ask(link.stream, link.payload);
  if (mine !== navigation) return;
  const items = listItems(reply.data);
  const kind = items ? "list" : reply.data && typeof reply.data === "object" && pkOf(reply.data) !== undefined ? "object" : "other";
  current = { link, reply, data: reply.data, items: items ? [...items] : null, kind, subscription: null };
  render();
  $("#content").removeAttribute("aria-busy");
  if (!ok(reply)) return;
  try {
    const sub = await subscribeTo(link, kind);
    if (mine !== navigation) {
      if (sub) sub.unsubscribe();
      return;
    }
    if (sub) {
      current.subscription = sub;
      $("#live").hidden = false;
    }
  } catch {
    // Refused or unanswered: a view without live updates still works.
  }
}

function linkFromHash() {
  if (location.hash.length < 2) return null;
  try {
    const link = JSON.parse(decodeURIComponent(location.hash.slice(1)));
    return isLink(link) ? link : null;
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------ chrome
function renderStreams() {
  const nav = $("#streams");
  for (const [name, info] of Object.entries(config.streams)) {
    const actions = info.actions || [];
    const entry = actions.includes("list") ? "list" : actions.includes("retrieve") ? "retrieve" : null;
    const buttons = [];
    if (entry) {
      buttons.push(
        el("button", { class: "stream", dataset: { stream: name }, onclick: () => navigate({ stream: name, payload: { action: entry } }) }, name),
      );
    } else {
      buttons.push(el("span", { class: "stream muted" }, name));
    }
    for (const action of actions.filter((a) => !STANDARD_ACTIONS.has(a))) {
      buttons.push(
        el(
          "button",
          { class: "custom-action", dataset: { stream: name, action }, onclick: () => navigate({ stream: name, payload: { action } }) },
          `${name}.${action}`,
        ),
      );
    }
    nav.append(el("span", { class: "stream-group" }, buttons));
  }
}

function logFrame({ direction, frame }) {
  const list = $("#log-entries");
  const payload = (frame && frame.payload) || {};
  const summary = [
    direction === "out" ? "→" : "←",
    frame && frame.stream,
    payload.action,
    payload.response_status !== undefined ? payload.response_status : "",
  ].join(" ");
  const entry = el(
    "li",
    { class: `frame ${direction}` },
    el("details", {}, el("summary", {}, el("time", {}, new Date().toLocaleTimeString()), " ", summary), el("pre", {}, JSON.stringify(frame, null, 2))),
  );
  list.prepend(entry);
  while (list.children.length > LOG_LIMIT) list.lastElementChild.remove();
  $("#log-count").textContent = String(Number($("#log-count").textContent) + 1);
}

function setLogVisible(visible) {
  $("#log").classList.toggle("hidden", !visible);
  $("#log-toggle").setAttribute("aria-pressed", String(visible));
  localStorage.setItem("demo-log-visible", visible ? "1" : "0");
}

function start() {
  renderStreams();
  client.addEventListener("frame", (event) => logFrame(event.detail));
  client.addEventListener("open", (event) => {
    $("#connection").textContent = "connected";
    $("#connection").className = "status on";
    // A live view is renewed by the client (see onResync); a view without a
    // subscription is read again, it may have changed meanwhile.
    if (event.detail.reconnected && current && !current.subscription) navigate(current.link, { push: false });
  });
  client.addEventListener("close", () => {
    $("#connection").textContent = "reconnecting…";
    $("#connection").className = "status off";
  });
  $("#back").addEventListener("click", () => history.back());
  $("#log-toggle").addEventListener("click", () => setLogVisible($("#log").classList.contains("hidden")));
  $("#log-clear").addEventListener("click", () => {
    $("#log-entries").replaceChildren();
    $("#log-count").textContent = "0";
  });
  setLogVisible(localStorage.getItem("demo-log-visible") !== "0");
  window.addEventListener("popstate", (event) => {
    const link = (event.state && event.state.link) || linkFromHash();
    if (link) navigate(link, { push: false });
    else {
      if (current && current.subscription) current.subscription.unsubscribe();
      current = null;
      $("#current-frame").textContent = "";
      render();
    }
  });
  client.connect();
  const initial = linkFromHash();
  if (initial) {
    history.replaceState({ link: initial }, "", location.href);
    navigate(initial, { push: false });
  } else {
    render();
  }
  // For the browser test and the curious: the client is reachable from the console.
  window.demo = { client, navigate };
}

start();
