// A model that cannot run on the chosen provider is refused in one line that says why and what to
// do: a catalog model whose card says so (before any session loads), and any graph holding an
// operator ONNX Runtime has no kernel for on this provider (a fused CUDA-only operator), which is
// a wrong export, not a corrupt file.
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { onnx } from "onnx-proto";
import { Engine } from "../../extension/engine/engine";
import { EaselError } from "../../extension/engine/errors";
import { entryRevision, loadCatalog } from "../../extension/engine/hub/catalog";
import { MANIFEST_NAME } from "../../extension/engine/hub/manifest";
import { ModelSession } from "../../extension/engine/onnx/session";
import { copyFixtureModel, makeVariantRoot } from "../helpers/onnxVariants";

const { DataType } = onnx.TensorProto;

/** The tiny SD 1.5 model dressed as a folder pulled from `repo` at `revision` (commit `commit`). */
async function pulledAs(root: string, repo: string, revision: string, commit: string): Promise<string> {
  const dir = await copyFixtureModel("tiny-sd15", root);
  const manifest = { format: 1, repo, commit, revision, pulledAt: new Date().toISOString(), files: [] };
  await fs.writeFile(path.join(dir, MANIFEST_NAME), JSON.stringify(manifest));
  return dir;
}

/** One node of com.microsoft's NhwcConv: a fused operator ONNX Runtime only has a CUDA kernel for. */
function nhwcConvGraph(): Uint8Array {
  const port = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: "", version: 17 }, { domain: "com.microsoft", version: 1 }],
      graph: {
        name: "fused",
        node: [{ opType: "NhwcConv", domain: "com.microsoft", name: "conv0", input: ["sample", "w"], output: ["out"], attribute: [{ name: "pads", type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 1, 1, 1] }] }],
        input: [port("sample", [1, 8, 8, 3])],
        output: [port("out", [1, 8, 8, 4])],
        initializer: [{ name: "w", dataType: DataType.FLOAT, dims: [4, 3, 3, 3], floatData: new Array<number>(108).fill(0.1) }],
      },
    }),
  ).finish();
}

describe("models that cannot run on the chosen provider", () => {
  let root: string;
  before(async () => {
    root = await makeVariantRoot();
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  const refusing = loadCatalog().models.filter((m) => m.providers.unsupported.some((u) => u.provider === "cpu"));

  it("the catalog names models that do not run on the CPU (SD-Turbo's CUDA export among them)", () => {
    assert.ok(refusing.some((m) => m.id === "sd-turbo"), refusing.map((m) => m.id).join(", "));
  });

  for (const entry of refusing) {
    it(`a pulled ${entry.id} is refused on the CPU with the catalog's reason, before any session loads`, async () => {
      const dir = await pulledAs(root, entry.repo, entryRevision(entry), entry.revision ?? "0123456789abcdef0123456789abcdef01234567");
      const created: string[] = [];
      const reason = entry.providers.unsupported.find((u) => u.provider === "cpu")!.reason;
      await assert.rejects(Engine.load(dir, { provider: "cpu", onSessionCreated: (c) => created.push(c) }), (e: unknown) => {
        assert.ok(e instanceof EaselError && e.code === "model-unsupported", String(e));
        assert.ok(e.message.startsWith(`${entry.name} (${entry.repo}) cannot run on the CPU: ${reason};`), e.message);
        assert.match(e.message, /choose a model that runs on the CPU/);
        assert.ok(!e.message.includes("\n"), "one line");
        return true;
      });
      assert.deepEqual(created, [], "no ONNX session was created");
    });
  }

  it("another revision of the same repository is another model: it loads", async () => {
    const fp16 = loadCatalog().models.find((m) => m.id === "sd21-base-fp16")!;
    const cpu = loadCatalog().models.find((m) => m.repo === fp16.repo && m.id !== fp16.id)!;
    assert.ok(fp16.providers.unsupported.some((u) => u.provider === "cpu") && cpu, "two branches of one repo in the catalog");
    const dir = await pulledAs(root, cpu.repo, entryRevision(cpu), "89abcdef0123456789abcdef0123456789abcdef");
    const engine = await Engine.load(dir, { provider: "cpu" });
    await engine.dispose();
  });

  it("a graph with an operator the CPU has no kernel for is called a wrong export, not a corrupt file", async () => {
    const file = path.join(root, "fused", "model.onnx");
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, nhwcConvGraph());
    await assert.rejects(ModelSession.create("unet", file, "cpu"), (e: unknown) => {
      assert.ok(e instanceof EaselError && e.code === "model-unsupported", String(e));
      assert.match(e.message, /^unet\/model\.onnx uses the operator NhwcConv, which ONNX Runtime cannot run on the CPU: this export was made for another provider/);
      assert.doesNotMatch(e.message, /corrupt/);
      return true;
    });
  });
});
