// Validate AsyncAPI documents with the official parser (@asyncapi/parser).
// Usage: node validate.js DOC.json [DOC.json ...]
// Prints one JSON line per document: {"file", "errors": [...], "warnings": [...]}
// and exits 1 when any document has an error-level diagnostic or fails to parse.
"use strict";

const fs = require("fs");
const { Parser, DiagnosticSeverity } = require("@asyncapi/parser");

async function check(parser, file) {
  const text = fs.readFileSync(file, "utf8");
  const { document, diagnostics } = await parser.parse(text);
  const describe = (d) => ({ code: d.code, message: d.message, path: d.path.join("/") });
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error).map(describe);
  const warnings = diagnostics
    .filter((d) => d.severity === DiagnosticSeverity.Warning)
    .map(describe);
  const summary = { file, errors, warnings, parsed: Boolean(document) };
  if (document) {
    summary.channels = document.channels().all().map((c) => c.id());
    summary.operations = document.operations().all().map((o) => o.id());
    summary.messages = document.allMessages().all().length;
  }
  return summary;
}

async function main() {
  const parser = new Parser();
  let failed = false;
  for (const file of process.argv.slice(2)) {
    const summary = await check(parser, file);
    if (!summary.parsed || summary.errors.length) failed = true;
    console.log(JSON.stringify(summary));
  }
  process.exit(failed ? 1 : 0);
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
