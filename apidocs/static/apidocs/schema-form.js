// A form built from a JSON schema (an action's request payload), and back.
//
// Scalars get inputs (text, number, a select for enums and booleans); objects
// with properties become nested fieldsets; anything else (arrays, links,
// "a pk or a link", any JSON) is a JSON text area. Empty inputs are left out
// of the payload, so optional keys are sent only when filled in.

import { deref } from "./asyncapi.js";

const SKIPPED = new Set(["action", "request_id"]);
const MAX_DEPTH = 2;

function types(schema) {
  const kind = schema.type;
  if (Array.isArray(kind)) return kind.filter((t) => t !== "null");
  return kind ? [kind] : [];
}

function kindOf(doc, schema, depth) {
  const resolved = deref(doc, schema);
  if (Array.isArray(resolved.enum)) return { kind: "enum", schema: resolved };
  const t = types(resolved);
  if (t.length === 1 && t[0] === "boolean") return { kind: "boolean", schema: resolved };
  if (t.length === 1 && (t[0] === "integer" || t[0] === "number")) {
    return { kind: "number", schema: resolved };
  }
  if (t.length === 1 && t[0] === "string") return { kind: "string", schema: resolved };
  if (t.length && t.every((x) => ["integer", "number", "string"].includes(x))) {
    return { kind: "scalar", schema: resolved };
  }
  if (t.length === 1 && t[0] === "object" && resolved.properties && depth < MAX_DEPTH) {
    return { kind: "object", schema: resolved };
  }
  return { kind: "json", schema: resolved };
}

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  if (text) node.textContent = text;
  return node;
}

function parseLoose(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function field(doc, name, schema, required, depth, path) {
  const { kind, schema: resolved } = kindOf(doc, schema, depth);
  const id = `f-${path.join("-")}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const description = (deref(doc, schema).description || resolved.description || "").trim();
  if (kind === "object") {
    const set = element("fieldset", { "data-field": name, class: "nested" });
    set.append(element("legend", {}, name + (required ? " *" : "")));
    if (description) set.append(element("p", { class: "hint" }, description));
    const inner = fields(doc, resolved, depth + 1, path);
    set.append(...inner.nodes);
    return {
      name,
      node: set,
      read: () => {
        const value = inner.read();
        return Object.keys(value).length || required ? value : undefined;
      },
      fill: (value) => inner.fill(value && typeof value === "object" ? value : {}),
    };
  }
  const row = element("div", { class: "row", "data-field": name, "data-kind": kind });
  const label = element("label", { for: id }, name);
  if (required) label.append(element("span", { class: "required", title: "required" }, " *"));
  row.append(label);
  let input;
  if (kind === "enum" || kind === "boolean") {
    input = element("select", { id, name });
    input.append(element("option", { value: "" }, required ? "— choose —" : "(not sent)"));
    const choices = kind === "boolean" ? [true, false] : resolved.enum;
    for (const choice of choices) {
      input.append(element("option", { value: JSON.stringify(choice) }, String(choice)));
    }
  } else if (kind === "json") {
    input = element("textarea", { id, name, rows: "2", spellcheck: "false" });
    input.placeholder = "JSON";
  } else {
    input = element("input", { id, name, type: kind === "number" ? "number" : "text" });
    if (kind === "number" && types(resolved)[0] === "number") input.step = "any";
  }
  if ("default" in resolved) input.dataset.default = JSON.stringify(resolved.default);
  row.append(input);
  const hint = [description, "default" in resolved ? `default ${JSON.stringify(resolved.default)}` : ""]
    .filter(Boolean)
    .join(" · ");
  if (hint) row.append(element("small", { class: "hint" }, hint));
  return {
    name,
    node: row,
    read: () => {
      const text = input.value;
      if (text === "") return undefined;
      if (kind === "enum" || kind === "boolean") return JSON.parse(text);
      if (kind === "number") return Number(text);
      if (kind === "string") return text;
      if (kind === "scalar") return /^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : text;
      return parseLoose(text);
    },
    fill: (value) => {
      if (value === undefined) input.value = "";
      else if (kind === "enum" || kind === "boolean") input.value = JSON.stringify(value);
      else if (kind === "json") input.value = typeof value === "string" ? value : JSON.stringify(value);
      else input.value = String(value);
    },
  };
}

function fields(doc, schema, depth, path) {
  const required = new Set(schema.required || []);
  const built = [];
  for (const [name, sub] of Object.entries(schema.properties || {})) {
    if (depth === 0 && SKIPPED.has(name)) continue;
    built.push(field(doc, name, sub, required.has(name), depth, [...path, name]));
  }
  return {
    nodes: built.map((f) => f.node),
    read: () => {
      const value = {};
      for (const f of built) {
        const v = f.read();
        if (v !== undefined) value[f.name] = v;
      }
      return value;
    },
    fill: (values) => {
      for (const f of built) f.fill(values[f.name]);
    },
    names: new Set(built.map((f) => f.name)),
  };
}

/**
 * {node, read(), fill(values)} for a request payload schema. `read()` returns
 * the payload keys (without action and request_id); keys the form has no
 * field for go in the "more keys" JSON area when the schema accepts them.
 */
export function buildForm(doc, schema) {
  const node = element("div", { class: "schema-form" });
  const built = fields(doc, schema, 0, ["p"]);
  node.append(...built.nodes);
  let extra = null;
  if (schema.additionalProperties !== false) {
    const row = element("div", { class: "row", "data-field": "(more keys)", "data-kind": "json" });
    row.append(element("label", { for: "f-extra" }, "more keys"));
    extra = element("textarea", { id: "f-extra", name: "(more keys)", rows: "2", spellcheck: "false" });
    extra.placeholder = '{"key": "value"}';
    row.append(extra, element("small", { class: "hint" }, "any other payload keys, as a JSON object"));
    node.append(row);
  }
  if (!built.nodes.length && !extra) node.append(element("p", { class: "muted" }, "No parameters."));
  return {
    node,
    read() {
      const value = built.read();
      if (extra && extra.value.trim()) {
        const more = JSON.parse(extra.value);
        if (more === null || typeof more !== "object" || Array.isArray(more)) {
          throw new Error("more keys: expected a JSON object");
        }
        Object.assign(value, more);
      }
      return value;
    },
    fill(values) {
      const known = {};
      const unknown = {};
      for (const [key, value] of Object.entries(values || {})) {
        if (SKIPPED.has(key)) continue;
        (built.names.has(key) ? known : unknown)[key] = value;
      }
      built.fill(known);
      if (extra) extra.value = Object.keys(unknown).length ? JSON.stringify(unknown) : "";
    },
  };
}
