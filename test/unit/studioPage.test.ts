// The Studio page's script finds its controls with byId(id, tag) and throws when one is missing, which
// would leave the whole panel dead: every id it looks up must be in the page studioHtml.ts writes,
// on an element of that tag. (studioHtml.ts needs VS Code to run, so its template is read as text.)
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { it } from "node:test";
import { ROOT } from "../helpers/paths";

it("every control the Studio's script looks up is on the page, with its tag", () => {
  const html = fs.readFileSync(path.join(ROOT, "extension", "studio", "studioHtml.ts"), "utf8");
  const lookups: string[] = [];
  for (const file of fs.readdirSync(path.join(ROOT, "webview")).filter((n) => n.endsWith(".ts"))) {
    const source = fs.readFileSync(path.join(ROOT, "webview", file), "utf8");
    for (const [, id, tag] of source.matchAll(/byId\("([^"]+)", "([^"]+)"\)/g)) {
      lookups.push(id);
      assert.match(html, new RegExp(`<${tag}\\b[^>]*\\bid="${id}"`), `${file} looks up <${tag} id="${id}">`);
    }
  }
  assert.ok(lookups.includes("hires-steps") && lookups.includes("hires-upscaler"), "the hires fix's controls are looked up");
});
