// Easel: Import Checkpoint…'s template offer, with fake dialogs and store: graphs in the store run
// the import as it is; without them the catalog's template is offered, downloaded, and the import
// then finds it; a folder the user picks becomes --template; backing out runs nothing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ImportArchitecture } from "../../extension/engine/convert/architecture";
import type { StoreTemplate } from "../../extension/engine/convert/templates";
import { type CatalogEntry, type CatalogTemplate, findCatalogEntry, findCatalogTemplate } from "../../extension/engine/hub/catalog";
import { templateArgs, type TemplateChoice, type TemplateOfferDeps } from "../../extension/models/importTemplate";

const template = findCatalogTemplate("sd15-template")!;

function fakes(found: StoreTemplate, answer: TemplateChoice | undefined, folder?: string) {
  const calls: string[] = [];
  const deps: TemplateOfferDeps = {
    architectureOf: async () => "sd1",
    lookUp: async (a: ImportArchitecture) => {
      calls.push(`look up ${a}`);
      return found;
    },
    offer: async (a, pull) => {
      calls.push(`offer ${a} ${pull?.id ?? "nothing"}`);
      return answer;
    },
    download: async (pull: CatalogTemplate | CatalogEntry) => {
      calls.push(`download ${pull.id}`);
    },
    pickFolder: async () => {
      calls.push("pick folder");
      return folder;
    },
  };
  return { deps, calls };
}

describe("Import Checkpoint's template offer", () => {
  it("runs the import as it is when the store has the architecture's graphs", async () => {
    for (const found of [{ found: "model", dir: "/store/m" }, { found: "template", dir: "/store/templates/t" }] as const) {
      const { deps, calls } = fakes(found, undefined);
      assert.deepEqual(await templateArgs("a.safetensors", deps), []);
      assert.deepEqual(calls, ["look up sd1"]);
    }
  });

  it("offers the catalog's template and downloads it; the import then finds it in the store", async () => {
    const { deps, calls } = fakes({ found: undefined, pull: template }, "download");
    assert.deepEqual(await templateArgs("a.safetensors", deps), []);
    assert.deepEqual(calls, ["look up sd1", "offer sd1 sd15-template", "download sd15-template"]);
  });

  it("offers a full model where the catalog has no template (SD 2.x)", async () => {
    const model = findCatalogEntry("sd21-base")!;
    const { deps, calls } = fakes({ found: undefined, pull: model }, "download");
    assert.deepEqual(await templateArgs("a.safetensors", deps), []);
    assert.deepEqual(calls, ["look up sd1", "offer sd1 sd21-base", "download sd21-base"]);
  });

  it("takes a folder the user picks as --template, and runs nothing when they back out", async () => {
    const picked = fakes({ found: undefined, pull: template }, "folder", "/exports/sd15-onnx");
    assert.deepEqual(await templateArgs("a.safetensors", picked.deps), ["--template", "/exports/sd15-onnx"]);
    const noFolder = fakes({ found: undefined, pull: undefined }, "folder", undefined);
    assert.equal(await templateArgs("a.safetensors", noFolder.deps), undefined);
    const dismissed = fakes({ found: undefined, pull: template }, undefined);
    assert.equal(await templateArgs("a.safetensors", dismissed.deps), undefined);
    assert.deepEqual(dismissed.calls, ["look up sd1", "offer sd1 sd15-template"]);
  });

  it("leaves a file it cannot read to the import, whose one-line error says what is wrong", async () => {
    const { deps, calls } = fakes({ found: undefined, pull: template }, "download");
    assert.deepEqual(await templateArgs("lora.safetensors", { ...deps, architectureOf: async () => Promise.reject(new Error("a LoRA")) }), []);
    assert.deepEqual(calls, []);
  });
});
