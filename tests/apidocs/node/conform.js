// Validate real frames against the schemas of an AsyncAPI document apidocs made.
// Usage: node conform.js DOC.json CASES.json
// CASES: [{"ref": "#/channels/books/messages/retrieve_reply", "frame": {...}}, ...]
// Prints one JSON line per case: {"ref", "valid", "errors"}; exits 1 if any is invalid.
"use strict";

const fs = require("fs");
const Ajv = require("ajv");
const addFormats = require("ajv-formats");

const doc = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const cases = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));

// The document is JSON Schema draft 7 in its payloads; "x-" keys, examples and
// the AsyncAPI objects around them are not schema keywords, hence strict: false.
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(doc, "asyncapi");

function resolve(ref) {
  let node = doc;
  for (const part of ref.replace(/^#\//, "").split("/")) node = node[part];
  return node;
}

let failed = false;
for (const { ref, frame } of cases) {
  // A channel's message may be a $ref to a component message; the payload is the schema.
  const target = resolve(ref).$ref || ref;
  const check = ajv.getSchema(`asyncapi${target}/payload`);
  const valid = check(frame);
  if (!valid) failed = true;
  console.log(JSON.stringify({ ref, valid, errors: valid ? [] : check.errors }));
}
process.exit(failed ? 1 : 0);
