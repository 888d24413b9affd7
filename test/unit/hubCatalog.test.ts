// The shipped catalog is data checked by its schema; the schema checker itself rejects what it must.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { CATALOG_SCHEMA, loadCatalog, parseCatalog } from "../../extension/engine/hub/catalog";
import { validateSchema } from "../../extension/engine/hub/jsonSchema";
import { ROOT } from "../helpers/paths";

const raw = JSON.parse(fs.readFileSync(path.join(ROOT, "models", "catalog.json"), "utf8")) as { models: Record<string, unknown>[] };

describe("model catalog", () => {
  it("models/catalog.json conforms to models/catalog.schema.json", () => {
    assert.deepEqual(validateSchema(raw, CATALOG_SCHEMA), []);
    assert.ok(loadCatalog().models.length >= 4);
  });

  it("ids are unique and every entry cites where its values come from", () => {
    const ids = raw.models.map((m) => m.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const m of loadCatalog().models) assert.ok(m.sources.length > 0 && m.sources.every((s) => s.startsWith("https://")), m.id);
  });

  it("holds no revision or hash that was not established (none are, so far)", () => {
    // A pinned commit or sha256 may only be added with its source; this test is the reminder.
    for (const m of loadCatalog().models) {
      assert.equal(m.revision, undefined, `${m.id}: a pinned revision needs its source in "sources"`);
      assert.equal(m.files, undefined, `${m.id}: file sizes/hashes need their source in "sources"`);
    }
  });

  it("says SD-Turbo is non-commercial and does not run on the CPU", () => {
    const turbo = loadCatalog().models.find((m) => m.id === "sd-turbo")!;
    assert.equal(turbo.license.commercialUse, false);
    assert.match(turbo.license.note ?? "", /non-commercial/i);
    assert.ok(turbo.providers.unsupported.some((u) => u.provider === "cpu"));
  });

  it("rejects malformed entries with the path of each problem", () => {
    const bad = structuredClone(raw);
    bad.models[0].revision = "main";
    bad.models[0].family = "sd9";
    delete bad.models[0].license;
    bad.models[0].extra = 1;
    const errors = validateSchema(bad, CATALOG_SCHEMA);
    assert.ok(errors.some((e) => e.startsWith("$.models[0].revision:")), errors.join("\n"));
    assert.ok(errors.some((e) => e.startsWith("$.models[0].family:")));
    assert.ok(errors.some((e) => e === '$.models[0]: missing "license"'));
    assert.ok(errors.some((e) => e === '$.models[0]: unknown property "extra"'));
    assert.throws(() => parseCatalog(bad), /models\/catalog\.json is invalid/);
    const dup = structuredClone(raw);
    dup.models.push(structuredClone(dup.models[0]));
    assert.throws(() => parseCatalog(dup), /appears twice/);
  });
});
