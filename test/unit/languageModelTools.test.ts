// The VS Code language model tools (easel_generate_image, easel_edit_image, easel_icon_set): the
// package.json contribution against the shared tool contract, and LmToolController with fakes for
// what needs VS Code (the generation, the workspace edit). The workspace is a real temporary
// folder, the lockfile and the images real files, the model store a real empty one, so a model
// that is not downloaded fails with the store's own error.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import sharp from "sharp";
import { type AgentJob, type CallContext, type LmToolDeps, LmToolController } from "../../extension/agents/lmToolController";
import { languageModelToolContributions } from "../../extension/agents/toolContributions";
import { expandPattern, uniqueFileName } from "../../extension/assets/naming";
import { derivedEntry } from "../../extension/engine/assets/assetRecord";
import { readAssets, updateAssets } from "../../extension/engine/assets/lockfile";
import { EaselError } from "../../extension/engine/errors";
import { resolveModel } from "../../extension/engine/hub/resolveModel";
import { ModelStore } from "../../extension/engine/hub/store";
import { ICON_SIZES } from "../../extension/engine/image/iconRender";
import { TOOL_NAMES, toolInputSchema, toolShapes, toolText } from "../../extension/engine/mcp/toolContract";
import { backgroundRemoverEntry, findStoreRemover } from "../../extension/engine/matte/remover";
import { PACK_PRESETS } from "../../extension/engine/packs/assetPack";
import { placeStoreRemover } from "../helpers/tinyMatte";
import { aspectSize, aspectSizesText, modelGeometry } from "../../extension/engine/model/imageSizes";
import { CODE_SERVER_VSCODE_VERSION } from "../e2e/env";
import { ROOT } from "../helpers/paths";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-lmtools-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Pkg {
  readonly engines: { readonly vscode: string };
  readonly devDependencies: Record<string, string>;
  readonly contributes: { readonly languageModelTools: unknown };
}
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as Pkg;
const version = (range: string) => range.replace(/^[\^~>=]+/, "").split(".").map(Number);
const atLeast = (a: number[], b: number[]) => a[0] !== b[0] ? a[0] > b[0] : a[1] !== b[1] ? a[1] > b[1] : (a[2] ?? 0) >= (b[2] ?? 0);

describe("language model tools: package.json", () => {
  it("contributes exactly what the shared tool contract says (names, model descriptions, input schemas)", () => {
    // If this fails after a contract change: node --import tsx scripts/syncLanguageModelTools.ts
    assert.deepEqual(pkg.contributes.languageModelTools, JSON.parse(JSON.stringify(languageModelToolContributions())));
    const tools = pkg.contributes.languageModelTools as { name: string; toolReferenceName: string; canBeReferencedInPrompt: boolean; modelDescription: string; inputSchema: { required: string[] } }[];
    assert.deepEqual(tools.map((t) => t.name), ["easel_generate_image", "easel_edit_image", "easel_icon_set"]);
    assert.equal(tools[0].toolReferenceName, "easelImage");
    assert.ok(tools.every((t) => t.canBeReferencedInPrompt));
    assert.deepEqual(tools[0].inputSchema.required, ["prompt"]);
    assert.match(tools[0].modelDescription, /must already be downloaded/);
    assert.match(tools[0].modelDescription, /512 for SD 1\.x.*1024 for SDXL/);
    // The sizes each aspect makes per family, from the Studio's own sizing, and the icon set's presets from the packs'.
    assert.match(tools[0].modelDescription, /SD 1\.x and turbo models: 1:1 512x512, 4:3 576x448.*SDXL \(its trained sizes\): 1:1 1024x1024, 4:3 1152x896, 3:4 896x1152, 16:9 1344x768, 9:16 768x1344/);
    assert.match(tools[0].modelDescription, /transparent: true removes the background/);
    const iconProps = (tools[2].inputSchema as unknown as { properties: Record<string, { enum?: string[] }> }).properties;
    assert.deepEqual(iconProps.preset.enum, ["icons", ...PACK_PRESETS]);
    assert.deepEqual((tools[0].inputSchema as unknown as { properties: Record<string, { enum?: string[] }> }).properties.aspect.enum, ["1:1", "4:3", "3:4", "16:9", "9:16"]);
  });
  it("uses the same parameters as easel mcp's tools, with the host's own words only", () => {
    for (const tool of ["generate", "edit", "iconSet"] as const) {
      const keys = (host: "mcp" | "vscode") => Object.keys(toolShapes(host)[tool]).sort();
      assert.deepEqual(keys("vscode"), keys("mcp"), tool);
      const props = (host: "mcp" | "vscode") => Object.fromEntries(Object.entries(toolInputSchema(tool, host).properties as Record<string, Record<string, unknown>>).map(([k, v]) => [k, { ...v, description: undefined }]));
      assert.deepEqual(props("vscode"), props("mcp"), `${tool}: the same types and limits`);
      assert.match(toolText(tool, "vscode").description, /./);
    }
    assert.deepEqual(Object.values(TOOL_NAMES.mcp), ["generate_image", "edit_image", "icon_set"]);
  });
  it("asks for a VS Code with LanguageModelDataPart (1.106) and not more than the e2e code-server has", () => {
    const engines = version(pkg.engines.vscode);
    assert.ok(atLeast(engines, [1, 106, 0]), `engines.vscode ${pkg.engines.vscode}`);
    assert.ok(atLeast(version(CODE_SERVER_VSCODE_VERSION), engines), `code-server's VS Code ${CODE_SERVER_VSCODE_VERSION} >= ${pkg.engines.vscode}`);
    // vsce refuses typings newer than engines.vscode.
    assert.deepEqual(version(pkg.devDependencies["@types/vscode"]).slice(0, 2), engines.slice(0, 2));
  });
});

/** A workspace folder with a model store beside it (empty: nothing is downloaded). */
function workspace(name: string): { readonly root: string; readonly store: ModelStore } {
  const root = path.join(tmp, name, "ws");
  fs.mkdirSync(root, { recursive: true });
  return { root, store: new ModelStore(path.join(tmp, name, "store")) };
}

async function png(width: number, height: number, colour = "#c33"): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: colour } }).png().toBuffer();
}

interface Fake {
  readonly deps: LmToolDeps;
  readonly jobs: AgentJob[];
  readonly created: string[];
  readonly icons: { source: string; files: string[] }[];
  readonly packs: { folder: string; files: string[] }[];
}

/**
 * Fakes for what needs VS Code. `generate` resolves the model as the extension does for an agent
 * (the real store, no download), then saves like planImages: the name pattern, never a taken name.
 */
function fake(root: string, store: ModelStore, opts: { readonly size?: [number, number]; readonly wait?: (ctx: CallContext) => Promise<void>; readonly record?: boolean; readonly noWorkspace?: boolean } = {}): Fake {
  const jobs: AgentJob[] = [];
  const created: string[] = [];
  const icons: Fake["icons"] = [];
  const packs: Fake["packs"] = [];
  const deps: LmToolDeps = {
    workspaceFolder: () => (opts.noWorkspace ? undefined : root),
    settings: () => ({ model: "tiny-sd15", outputFolder: "assets/generated", format: "png" }),
    generate: async (job, ctx) => {
      jobs.push(job);
      if (job.model !== undefined) await resolveModel(job.model, { store, download: false });
      ctx.onProgress("step 1/2");
      await opts.wait?.(ctx);
      ctx.signal.throwIfAborted();
      const folder = path.join(root, job.output.folder);
      fs.mkdirSync(folder, { recursive: true });
      const taken = new Set(fs.readdirSync(folder));
      const saved: { file: string; seed: bigint; png: Buffer }[] = [];
      const [width, height] = opts.size ?? [640, 384];
      for (let i = 0; i < (job.request.batch ?? 1); i++) {
        const seed = (job.request.seed ?? 0n) + BigInt(i);
        const format = job.output.format ?? "png";
        const name = uniqueFileName(expandPattern(job.output.naming ?? "${slug}-${seed}", { prompt: job.request.prompt, seed, model: "tiny-sd15", now: new Date() }), format === "jpeg" ? "jpg" : format, taken);
        taken.add(name);
        const bytes = await png(width, height);
        const file = path.join(folder, name);
        fs.writeFileSync(file, bytes, { flag: "wx" });
        saved.push({ file, seed, png: bytes });
      }
      if (opts.record !== false) {
        const entries = await Promise.all(saved.map((s) => derivedEntry({ path: "x.png", pixels: "sha256:0" }, s.png, [])));
        await updateAssets(root, (assets) => saved.forEach((s, i) => assets.set(path.relative(root, s.file).split(path.sep).join("/"), entries[i])));
      }
      return { saved, model: "tiny-sd15", width, height, steps: 2, guidance: 7.5, sampler: "euler", provider: "cpu", seconds: 0.4, recorded: opts.record !== false };
    },
    createFiles: async (files) => {
      for (const f of files) {
        fs.mkdirSync(path.dirname(f.file), { recursive: true });
        fs.writeFileSync(f.file, f.bytes, { flag: "wx" });
        created.push(path.relative(root, f.file).split(path.sep).join("/"));
      }
    },
    recordIcons: async (source, _bytes, list) => {
      icons.push({ source: path.relative(root, source), files: list.map((l) => path.basename(l.file)) });
    },
    // The store is the real (empty) one: the remover is there only when a test put it there.
    checkRemover: async () => {
      const entry = backgroundRemoverEntry();
      if (!(await findStoreRemover(entry, store))) throw new EaselError("model-missing", `transparent: true needs ${entry.name}, which is not downloaded: 'easel models pull ${entry.id}'`);
    },
    createPack: async (folder, pack) => {
      for (const f of pack.files) {
        const file = path.join(folder, ...f.path.split("/"));
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, f.bytes, { flag: "wx" });
      }
      packs.push({ folder: path.relative(root, folder).split(path.sep).join("/"), files: pack.files.map((f) => f.path) });
    },
  };
  return { deps, jobs, created, icons, packs };
}

const ctx = (signal = new AbortController().signal): CallContext => ({ signal, onProgress: () => undefined });

describe("language model tools: LmToolController", () => {
  it("generates into the destination folder and answers with paths, seeds, Markdown links and a ≤ 512 px PNG preview", async () => {
    const { root, store } = workspace("generate");
    const f = fake(root, store);
    const reply = await new LmToolController(f.deps).invoke("generate", { prompt: "a red boat", seed: 7, count: 2, destination: "art" }, ctx());
    assert.equal(reply.isError, false, reply.text);
    assert.deepEqual(fs.readdirSync(path.join(root, "art")).sort(), ["a-red-boat-7.png", "a-red-boat-8.png"]);
    assert.match(reply.text, /^Made 2 images \(640x384, 2 steps, guidance 7\.5, euler, model tiny-sd15, cpu, 0\.4 s\):/);
    assert.match(reply.text, /- art\/a-red-boat-7\.png \(seed 7\)\n- art\/a-red-boat-8\.png \(seed 8\)/);
    assert.match(reply.text, /!\[a red boat\]\(art\/a-red-boat-7\.png\)\n!\[a red boat\]\(art\/a-red-boat-8\.png\)/);
    assert.match(reply.text, /Recorded in easel-assets\.json/);
    assert.equal(reply.previews.length, 2);
    for (const p of reply.previews) {
      const meta = await sharp(p).metadata();
      assert.equal(meta.format, "png");
      assert.deepEqual([meta.width, meta.height], [512, 307]);
    }
    // What the engine got: the arguments, plain prompt syntax as the description says, the seed as a bigint.
    const job = f.jobs[0];
    assert.equal(job.request.prompt, "a red boat");
    assert.equal(job.request.seed, 7n);
    assert.equal(job.request.batch, 2);
    assert.equal(job.request.promptSyntax, "plain");
    assert.deepEqual(job.output, { folder: "art" });
    assert.equal(job.model, undefined, "no model argument: the user's choice");
  });

  it("says so when the files were not recorded in the lockfile", async () => {
    const { root, store } = workspace("unrecorded");
    const reply = await new LmToolController(fake(root, store, { record: false }).deps).invoke("generate", { prompt: "a boat" }, ctx());
    assert.equal(reply.isError, false, reply.text);
    assert.doesNotMatch(reply.text, /Recorded in/);
    assert.match(reply.text, /- assets\/generated\/a-boat-\d+\.png \(seed \d+\)/, "default: the user's output folder");
  });

  it("never replaces a file: a destination file name that is taken gets -2, -3…, and its type chooses the format", async () => {
    const { root, store } = workspace("names");
    fs.mkdirSync(path.join(root, "art"));
    fs.writeFileSync(path.join(root, "art", "hero.png"), "mine");
    const f = fake(root, store);
    const tools = new LmToolController(f.deps);
    const one = await tools.invoke("generate", { prompt: "a hero", destination: "art/hero.png" }, ctx());
    const two = await tools.invoke("generate", { prompt: "a hero", destination: "art/hero.png" }, ctx());
    assert.match(one.text, /- art\/hero-2\.png/);
    assert.match(two.text, /- art\/hero-3\.png/);
    assert.equal(fs.readFileSync(path.join(root, "art", "hero.png"), "utf8"), "mine");
    assert.deepEqual(f.jobs[0].output, { folder: "art", naming: "hero", format: "png" });
    await tools.invoke("generate", { prompt: "a hero", destination: "art/banner.webp" }, ctx());
    assert.deepEqual(f.jobs[2].output, { folder: "art", naming: "banner", format: "webp" });
    const gif = await tools.invoke("generate", { prompt: "a hero", destination: "art/hero.gif" }, ctx());
    assert.equal(gif.isError, true);
    assert.match(gif.text, /^error: the destination art\/hero\.gif must be a folder or a file name ending in \.png, \.webp, \.jpg, \.jpeg$/);
  });

  it("answers bad arguments with an error result naming the argument, and runs nothing", async () => {
    const { root, store } = workspace("bad");
    const f = fake(root, store);
    const tools = new LmToolController(f.deps);
    const cases: [Parameters<LmToolController["invoke"]>[0], unknown, RegExp][] = [
      ["generate", {}, /^error: bad argument prompt: Required$/],
      ["generate", { prompt: 5 }, /^error: bad argument prompt: Expected string, received number$/],
      ["generate", { prompt: "x", count: 9 }, /^error: bad argument count: Number must be less than or equal to 8$/],
      ["generate", { prompt: "x", width: 30 }, /^error: bad argument width: Number must be greater than or equal to 64$/],
      ["generate", { prompt: "x", seed: "-1" }, /^error: bad argument seed: /],
      ["generate", { prompt: "x", colour: "red" }, /^error: bad argument the arguments: Unrecognized key\(s\) in object: 'colour'$/],
      ["edit", { prompt: "x", image: "a.png", mask: "m.png", extend_left: 64 }, /^error: give either a mask \(inpainting\) or extend_\* sides \(outpainting\), not both$/],
      ["edit", { prompt: "x", image: "missing.png" }, /^error: the image missing\.png does not exist/],
      ["iconSet", {}, /^error: give either image .* or prompt .*, not both$/],
    ];
    fs.writeFileSync(path.join(root, "a.png"), await png(64, 64));
    fs.writeFileSync(path.join(root, "m.png"), await png(64, 64));
    for (const [tool, input, want] of cases) {
      const reply = await tools.invoke(tool, input, ctx());
      assert.equal(reply.isError, true, JSON.stringify(input));
      assert.match(reply.text, want, JSON.stringify(input));
      assert.deepEqual(reply.previews, []);
      // No confirmation for a call that cannot run.
      assert.equal((await tools.prepare(tool, input)).confirmation, undefined);
    }
    assert.equal(f.jobs.length, 0);
  });

  it("refuses destinations and images outside the workspace folder", async () => {
    const { root, store } = workspace("outside");
    const elsewhere = path.join(tmp, "outside", "elsewhere");
    fs.mkdirSync(elsewhere);
    fs.writeFileSync(path.join(elsewhere, "x.png"), await png(64, 64));
    fs.symlinkSync(elsewhere, path.join(root, "link"));
    const f = fake(root, store);
    const tools = new LmToolController(f.deps);
    for (const [tool, input] of [
      ["generate", { prompt: "x", destination: "../elsewhere" }],
      ["generate", { prompt: "x", destination: elsewhere }],
      ["generate", { prompt: "x", destination: "link/deeper" }],
      ["edit", { prompt: "x", image: path.join(elsewhere, "x.png") }],
      ["edit", { prompt: "x", image: "link/x.png" }],
      ["iconSet", { image: "../elsewhere/x.png" }],
    ] as const) {
      const reply = await tools.invoke(tool, input, ctx());
      assert.equal(reply.isError, true, JSON.stringify(input));
      assert.match(reply.text, /^error: the (destination|image) .*(outside the root folder|without "\.\.")/, reply.text);
      assert.doesNotMatch(reply.text, /easel mcp/, "the extension's words, not the CLI's");
    }
    assert.equal(f.jobs.length, 0);
    assert.deepEqual(fs.readdirSync(elsewhere), ["x.png"]);
  });

  it("says how to get a model that is not downloaded (the command to run) instead of downloading it", async () => {
    const { root, store } = workspace("missing");
    const f = fake(root, store);
    const reply = await new LmToolController(f.deps).invoke("generate", { prompt: "x", model: "sd-turbo" }, ctx());
    assert.equal(reply.isError, true);
    assert.match(reply.text, /^error: sd-turbo is not downloaded yet: download it first \('easel models pull' or 'Easel: Download Model'\)/);
    assert.match(reply.text, /the user can fix this with the command 'Easel: Choose Model' or the command 'Easel: Download Model…'\)$/);
    assert.equal(fs.existsSync(store.root), false, "nothing downloaded, the store not even created");
    assert.deepEqual(fs.readdirSync(root), []);
  });

  it("has no workspace to write into without a folder open", async () => {
    const { root, store } = workspace("none");
    const reply = await new LmToolController(fake(root, store, { noWorkspace: true }).deps).invoke("generate", { prompt: "x" }, ctx());
    assert.equal(reply.isError, true);
    assert.match(reply.text, /^error: there is no workspace folder .*open a folder/);
  });

  it("stops when cancelled: before it starts, and while it runs, with nothing written", async () => {
    const { root, store } = workspace("cancel");
    const stop = new AbortController();
    stop.abort();
    const f = fake(root, store);
    const before = await new LmToolController(f.deps).invoke("generate", { prompt: "x" }, ctx(stop.signal));
    assert.deepEqual([before.isError, before.text], [true, "error: cancelled: nothing was written"]);
    assert.equal(f.jobs.length, 0);

    const running = new AbortController();
    const slow = fake(root, store, {
      wait: (c) =>
        new Promise((_resolve, reject) => {
          c.signal.addEventListener("abort", () => reject(new EaselError("cancelled", "cancelled")), { once: true });
          setTimeout(() => running.abort(), 20);
        }),
    });
    const during = await new LmToolController(slow.deps).invoke("generate", { prompt: "x" }, ctx(running.signal));
    assert.deepEqual([during.isError, during.text], [true, "error: cancelled: nothing was written"]);
    assert.equal(slow.jobs.length, 1);
    assert.deepEqual(fs.readdirSync(root), []);
  });

  it("asks for confirmation with the prompt, the model and where the files go", async () => {
    const { root, store } = workspace("confirm");
    fs.mkdirSync(path.join(root, "pics"));
    fs.writeFileSync(path.join(root, "pics", "cat.png"), await png(100, 70));
    fs.writeFileSync(path.join(root, "pics", "mask.png"), await png(100, 70, "#fff"));
    const tools = new LmToolController(fake(root, store).deps);
    const gen = await tools.prepare("generate", { prompt: "a red\nboat", count: 2, destination: "art/hero.png", model: "sd15" });
    assert.equal(gen.confirmation?.title, "Easel: Generate image");
    assert.match(gen.confirmation?.message ?? "", /Generate 2 image\(s\) on this machine/);
    assert.match(gen.confirmation?.message ?? "", /- Prompt: "a red boat"/);
    assert.match(gen.confirmation?.message ?? "", /- Model: sd15/);
    assert.match(gen.confirmation?.message ?? "", /- Files: art\/hero\.png \(new files; nothing is replaced\)/);
    const plain = await tools.prepare("generate", { prompt: "x" });
    assert.match(plain.confirmation?.message ?? "", /- Model: tiny-sd15\n- Files: assets\/generated\//);
    const edit = await tools.prepare("edit", { prompt: "a dog", image: "pics/cat.png", mask: "pics/mask.png" });
    assert.match(edit.confirmation?.message ?? "", /from pics\/cat\.png \(inpaint\); the original is not changed/);
    assert.match(edit.confirmation?.message ?? "", /- Mask: pics\/mask\.png/);
    assert.match(edit.confirmation?.message ?? "", /- Files: pics\//);
    const icons = await tools.prepare("iconSet", { image: "pics/cat.png" });
    assert.match(icons.confirmation?.message ?? "", /- From: pics\/cat\.png\n- Files: pics\/<name>-icons\//);
    assert.deepEqual(fs.readdirSync(root), ["pics"], "preparing writes nothing");
  });

  it("edits an image: its size made a multiple of 8, the image and mask passed as bytes and as files to record, saved beside it", async () => {
    const { root, store } = workspace("edit");
    fs.mkdirSync(path.join(root, "pics"));
    const cat = await png(100, 70);
    fs.writeFileSync(path.join(root, "pics", "cat.png"), cat);
    fs.writeFileSync(path.join(root, "pics", "mask.png"), await png(100, 70, "#fff"));
    const f = fake(root, store, { size: [96, 64] });
    const tools = new LmToolController(f.deps);
    const reply = await tools.invoke("edit", { prompt: "a dog", image: "pics/cat.png", mask: "pics/mask.png", seed: 3 }, ctx());
    assert.equal(reply.isError, false, reply.text);
    assert.match(reply.text, /- pics\/a-dog-3\.png \(seed 3\)/);
    const job = f.jobs[0];
    assert.deepEqual([job.request.width, job.request.height], [96, 64]);
    assert.deepEqual(Buffer.from(job.request.initImage ?? []), cat);
    assert.ok(job.request.mask);
    assert.deepEqual(job.inputs, { initImage: fs.realpathSync(path.join(root, "pics", "cat.png")), mask: fs.realpathSync(path.join(root, "pics", "mask.png")) });
    await tools.invoke("edit", { prompt: "wider", image: "pics/cat.png", extend_left: 64, destination: "out" }, ctx());
    const out = f.jobs[1].request;
    assert.deepEqual(out.outpaint, { left: 64, right: 0, top: 0, bottom: 0 });
    assert.equal(out.width, undefined, "outpainting sizes itself");
    assert.equal(f.jobs[1].output.folder, "out");
  });

  it("makes an icon set from an image into a new <name>-icons/ folder (one edit), recorded, and never reuses a folder", async () => {
    const { root, store } = workspace("icons");
    fs.writeFileSync(path.join(root, "logo.png"), await png(300, 200, "#36c"));
    const f = fake(root, store);
    const tools = new LmToolController(f.deps);
    const reply = await tools.invoke("iconSet", { image: "logo.png" }, ctx());
    assert.equal(reply.isError, false, reply.text);
    assert.deepEqual(f.created, ICON_SIZES.map((s) => `logo-icons/logo-${s}.png`));
    assert.match(reply.text, /^Icon set from logo\.png \(16, 32, 48, 64, 128, 256 px, centre-cropped squares\) in logo-icons\/:/);
    assert.match(reply.text, /!\[logo icon\]\(logo-icons\/logo-256\.png\)/);
    assert.deepEqual(f.icons, [{ source: "logo.png", files: ICON_SIZES.map((s) => `logo-${s}.png`) }]);
    const meta = await sharp(reply.previews[0]).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ["png", 256, 256]);
    await tools.invoke("iconSet", { image: "logo.png" }, ctx());
    assert.ok(fs.existsSync(path.join(root, "logo-icons-2", "logo-16.png")));
    assert.equal(f.jobs.length, 0, "nothing generated");

    const made = await tools.invoke("iconSet", { prompt: "a fox", seed: 5 }, ctx());
    assert.equal(made.isError, false, made.text);
    assert.match(made.text, /^Made 1 image .*\n- assets\/generated\/a-fox-5\.png \(seed 5\)/);
    assert.match(made.text, /Icon set from assets\/generated\/a-fox-5\.png .* in assets\/generated\/a-fox-5-icons\/:/);
    assert.equal(f.jobs[0].request.batch, 1);
    assert.ok((await readAssets(root)).has("assets/generated/a-fox-5.png"));
  });
});

describe("language model tools: size by aspect, transparency, asset packs", () => {
  it("an aspect is the model's own size for it: SD 1.x/2.x at their native area, SDXL its nearest trained bucket", () => {
    assert.deepEqual(aspectSize("16:9", modelGeometry(512, 512, 64, "sd1")), { width: 704, height: 384 });
    assert.deepEqual(aspectSize("3:4", modelGeometry(768, 768, 64, "sd2")), { width: 640, height: 896 });
    assert.deepEqual(aspectSize("16:9", modelGeometry(1024, 1024, 32, "sdxl")), { width: 1344, height: 768 });
    assert.deepEqual(aspectSize("4:3", modelGeometry(1024, 1024, 32, "sdxl")), { width: 1152, height: 896 });
    // SDXL-Turbo (512², distilled) keeps the aspects at its own area.
    assert.deepEqual(aspectSize("1:1", modelGeometry(512, 512, 32, "sdxl-turbo")), { width: 512, height: 512 });
    assert.equal(aspectSizesText(modelGeometry(512, 512, 64, "sd1")), "1:1 512x512, 4:3 576x448, 3:4 448x576, 16:9 704x384, 9:16 384x704");
  });

  it("passes aspect to the generation (resolved there for the model that runs) and says the model's sizes; aspect with width is refused", async () => {
    const { root, store } = workspace("aspect");
    const f = fake(root, store);
    const tools = new LmToolController(f.deps);
    const reply = await tools.invoke("generate", { prompt: "a wide sea", aspect: "16:9" }, ctx());
    assert.equal(reply.isError, false, reply.text);
    assert.equal(f.jobs[0].aspect, "16:9");
    assert.equal(f.jobs[0].request.width, undefined);
    const asked = await tools.prepare("generate", { prompt: "a fox", aspect: "9:16", transparent: true });
    assert.match(asked.confirmation?.message ?? "", /- Size: 9:16 \(the model's size for that shape\)\n- Model: tiny-sd15\n.*\n- Background: removed afterwards/);
    const packAsked = await tools.prepare("iconSet", { prompt: "a fox", preset: "android" });
    assert.match(packAsked.confirmation?.message ?? "", /^Make the android asset pack \(mipmap-mdpi … mipmap-xxxhdpi/);
    const both = await tools.invoke("generate", { prompt: "x", aspect: "16:9", width: 512 }, ctx());
    assert.equal(both.text, "error: give aspect or width/height, not both");
    const bad = await tools.invoke("generate", { prompt: "x", aspect: "2:1" }, ctx());
    assert.match(bad.text, /^error: bad argument aspect: Invalid enum value\. Expected '1:1' \| '4:3'/);
    assert.equal(f.jobs.length, 1);
  });

  it("transparent: says how to get a remover that is not downloaded (nothing generated), then asks the generation for it", async () => {
    const { root, store } = workspace("transparent");
    const f = fake(root, store);
    const tools = new LmToolController(f.deps);
    const missing = await tools.invoke("generate", { prompt: "a fox", transparent: true }, ctx());
    assert.equal(missing.isError, true);
    assert.match(missing.text, /^error: transparent: true needs .*not downloaded.*easel models pull birefnet-lite/);
    assert.equal(f.jobs.length, 0, "nothing generated, nothing downloaded");
    const matteAlone = await tools.invoke("generate", { prompt: "a fox", matte: 0.5 }, ctx());
    assert.equal(matteAlone.text, "error: matte goes with transparent: true");
    const jpeg = await tools.invoke("generate", { prompt: "a fox", transparent: true, destination: "fox.jpg" }, ctx());
    assert.match(jpeg.text, /^error: JPEG has no alpha channel/);

    await placeStoreRemover(store, backgroundRemoverEntry(), "1".repeat(40), { weights: [6, -1, -1], bias: 0, side: 16 });
    const made = await tools.invoke("generate", { prompt: "a fox", transparent: true, matte: 0.5, seed: 2 }, ctx());
    assert.equal(made.isError, false, made.text);
    assert.deepEqual(f.jobs[0].transparent, { matte: 0.5 });
    const edit = await tools.invoke("edit", { image: "assets/generated/a-fox-2.png", prompt: "a fox", transparent: true }, ctx());
    assert.equal(edit.isError, false, edit.text);
    assert.deepEqual(f.jobs[1].transparent, { matte: undefined });
  });

  it("icon_set with a preset renders that asset pack into <name>-<preset>/ through the pack writer, listing the files and the <link> tags", async () => {
    const { root, store } = workspace("packs");
    fs.writeFileSync(path.join(root, "logo.png"), await png(64, 64, "#36c"));
    const f = fake(root, store);
    const tools = new LmToolController(f.deps);
    const web = await tools.invoke("iconSet", { image: "logo.png", preset: "web" }, ctx());
    assert.equal(web.isError, false, web.text);
    assert.equal(f.packs[0].folder, "logo-web");
    assert.ok(f.packs[0].files.includes("favicon.ico") && f.packs[0].files.includes("site.webmanifest"));
    assert.match(web.text, /^web asset pack from logo\.png in logo-web\/ /);
    assert.match(web.text, /- logo-web\/favicon\.ico\n/);
    assert.match(web.text, /<link rel="icon" href="\/logo-web\/favicon\.ico" sizes="16x16 32x32 48x48">/);
    assert.match(web.text, /Note: the image is 64×64, smaller than the web pack's largest file/);
    assert.equal(f.created.length, 0, "not the plain icons' writer");
    const again = await tools.invoke("iconSet", { image: "logo.png", preset: "web" }, ctx());
    assert.match(again.text, /in logo-web-2\//);
    const ios = await tools.invoke("iconSet", { image: "logo.png", preset: "ios" }, ctx());
    assert.deepEqual(f.packs[2].files, ["AppIcon.appiconset/AppIcon-1024.png", "AppIcon.appiconset/Contents.json"]);
    assert.doesNotMatch(ios.text, /<link/);
    const meta = await sharp(ios.previews[0]).metadata();
    assert.ok(meta.width! <= 512);
    // From a prompt, a social card's source is generated wide.
    const social = await tools.invoke("iconSet", { prompt: "a launch", preset: "social", seed: 1 }, ctx());
    assert.equal(social.isError, false, social.text);
    assert.equal(f.jobs[0].aspect, "16:9");
    assert.match(social.text, /social asset pack from assets\/generated\/a-launch-1\.png in assets\/generated\/a-launch-1-social\//);
    const sized = await tools.invoke("iconSet", { image: "logo.png", aspect: "1:1" }, ctx());
    assert.match(sized.text, /^error: width, height and aspect size the image generated from prompt/);
  });
});
