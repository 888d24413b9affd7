// Rewrites package.json's contributes.languageModelTools from the shared tool contract (run after
// changing a tool's parameters or descriptions; the unit test fails until package.json matches).
import fs from "node:fs";
import path from "node:path";
import { languageModelToolContributions } from "../extension/agents/toolContributions";

const file = path.join(import.meta.dirname, "..", "package.json");
const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { contributes: Record<string, unknown> };
pkg.contributes.languageModelTools = languageModelToolContributions();
fs.writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
console.log(`package.json: ${languageModelToolContributions().length} language model tools`);
