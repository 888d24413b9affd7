// The LoRA library's listing: each file's base model (or why it cannot be used), read again when the
// file changes, and only then.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { listLoras } from "../../extension/engine/lora/library";
import { CONFORMANCE } from "../helpers/paths";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-lora-library-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("listLoras", () => {
  it("lists each file with its base, and sees a file that changed in place", async () => {
    const file = path.join(tmp, "style.safetensors");
    fs.copyFileSync(path.join(CONFORMANCE, "cases", "lora-public.safetensors"), file);
    const first = await listLoras([tmp]);
    assert.equal(first.length, 1);
    assert.equal(first[0].name, "style");
    assert.equal(first[0].problem, undefined);
    assert.deepEqual(await listLoras([tmp]), first, "the same file lists the same");

    // Replaced by something that is not a LoRA (a new size and time): listed with its problem.
    fs.writeFileSync(file, "not a safetensors file at all");
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    const second = await listLoras([tmp]);
    assert.equal(second.length, 1);
    assert.equal(second[0].base, undefined);
    assert.match(second[0].problem ?? "", /not a safetensors file/);
  });
});
