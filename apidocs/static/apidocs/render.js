// JSON values as HTML, with hypermedia links as clickable anchors.

import { isLink } from "./asyncapi.js";

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** "books · retrieve pk=3": what a link asks for, in a few words. */
export function describeLink(link) {
  const { action, ...lookups } = link.payload;
  const keys = Object.entries(lookups)
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");
  return `${link.stream} · ${action}${keys ? " " + keys : ""}`;
}

/**
 * A DOM node showing `value`. Every link in it is an <a class="link"> whose
 * click calls `onLink(link)`.
 */
export function renderValue(value, onLink) {
  if (isLink(value)) {
    const anchor = element("a", "link", describeLink(value));
    anchor.href = "#";
    anchor.title = JSON.stringify(value);
    anchor.dataset.link = JSON.stringify(value);
    anchor.addEventListener("click", (event) => {
      event.preventDefault();
      onLink(value);
    });
    return anchor;
  }
  if (Array.isArray(value)) {
    if (!value.length) return element("span", "empty", "[]");
    const list = element("ol", "array");
    list.start = 0;
    for (const item of value) {
      const li = element("li");
      li.append(renderValue(item, onLink));
      list.append(li);
    }
    return list;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    if (!entries.length) return element("span", "empty", "{}");
    const table = element("table", "object");
    for (const [key, item] of entries) {
      const row = element("tr");
      row.dataset.key = key;
      row.append(element("th", "", key));
      const cell = element("td");
      cell.append(renderValue(item, onLink));
      row.append(cell);
      table.append(row);
    }
    return table;
  }
  return element("span", `scalar ${value === null ? "null" : typeof value}`, JSON.stringify(value));
}
