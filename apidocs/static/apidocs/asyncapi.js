// Reads the AsyncAPI 3.0 document apidocs generates into what the page shows:
// streams, each with its actions (request payload schema, reply data schema,
// whether it subscribes). Only the layout apidocs.document writes is read.

/** The node a local "$ref" ("#/a/b") points at, or undefined. */
export function resolveRef(doc, ref) {
  if (typeof ref !== "string" || !ref.startsWith("#/")) return undefined;
  let node = doc;
  for (const part of ref.slice(2).split("/")) {
    const key = part.replace(/~1/g, "/").replace(/~0/g, "~");
    if (node === null || typeof node !== "object" || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}

/** A schema with its top-level $ref followed (repeatedly); {} when unresolvable. */
export function deref(doc, schema) {
  let current = schema;
  for (let hops = 0; current && typeof current === "object" && "$ref" in current; hops++) {
    if (hops > 32) return {};
    current = resolveRef(doc, current.$ref);
  }
  return current && typeof current === "object" ? current : {};
}

function payloadOf(doc, messageRef) {
  const message = deref(doc, messageRef);
  const frame = deref(doc, message.payload);
  return deref(doc, (frame.properties || {}).payload);
}

/**
 * {title, description, streams: [{name, description, actions: [...]}]}; each action:
 * {name, summary, description, method, request (payload schema), reply (data schema),
 *  subscribes, streamed}.
 */
export function readDocument(doc) {
  const streams = new Map();
  for (const [id, channel] of Object.entries(doc.channels || {})) {
    if (typeof channel.address !== "string") continue; // the gateway's own channel
    streams.set(`#/channels/${id}`, {
      name: channel.address,
      description: channel.description || "",
      actions: [],
    });
  }
  for (const operation of Object.values(doc.operations || {})) {
    if (operation.action !== "receive") continue;
    const stream = streams.get(operation.channel && operation.channel.$ref);
    if (!stream || !operation.messages || !operation.messages.length) continue;
    const request = payloadOf(doc, operation.messages[0]);
    const action = ((request.properties || {}).action || {}).const;
    if (typeof action !== "string") {
      // A stream the gateway knows nothing about: any payload.
      stream.raw = true;
      continue;
    }
    const replyRef = operation.reply && operation.reply.messages && operation.reply.messages[0];
    const reply = replyRef ? payloadOf(doc, replyRef) : {};
    stream.actions.push({
      name: action,
      summary: operation.summary || "",
      description: operation.description || "",
      method: operation["x-http-method"] || "",
      request,
      reply: (reply.properties || {}).data || {},
      subscribes: Boolean(operation["x-pushes"]),
      streamed: Boolean(operation["x-streamed-replies"]),
    });
  }
  const list = [...streams.values()];
  for (const stream of list) stream.actions.sort((a, b) => a.name.localeCompare(b.name));
  return {
    title: (doc.info || {}).title || "",
    description: (doc.info || {}).description || "",
    streams: list,
  };
}

/** Is `value` a hypermedia link ({"stream": S, "payload": {"action": A, ...}})? */
export function isLink(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    typeof value.stream === "string" &&
    value.payload !== null &&
    typeof value.payload === "object" &&
    typeof value.payload.action === "string" &&
    Object.keys(value).length === 2
  );
}
