// `easel mcp` driven as an agent's client drives it: the MCP SDK's Client spawning `node dist/cli.js
// mcp` over stdio, with a real tiny model.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import sharp from "sharp";
import { CLI, MODELS } from "../helpers/paths";
import { readAssets } from "../../extension/engine/assets/lockfile";
import { pixelDiff, readRgb } from "../helpers/pixels";
import { runCli } from "../helpers/runCli";
import { backgroundRemoverEntry } from "../../extension/engine/matte/remover";
import { ModelStore } from "../../extension/engine/hub/store";
import { placeStoreRemover } from "../helpers/tinyMatte";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "easel-mcp-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const SD15 = path.join(MODELS, "tiny-sd15");
const SMALL = { width: 64, height: 64, steps: 2 };

interface Server {
  readonly client: Client;
  readonly transport: StdioClientTransport;
  readonly stderr: () => string;
}

/** Generations on a busy shared machine can take minutes; the SDK's default is 60 s. */
const SLOW = { timeout: 600_000 };

async function startServer(root: string, extra: readonly string[] = []): Promise<Server> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "mcp", "--root", root, "--provider", "cpu", ...extra],
    // The model store is the test's own (an empty one): nothing from the user's cache leaks in.
    env: { ...process.env, EASEL_HOME: path.join(tmp, "home") } as Record<string, string>,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  const client = new Client({ name: "easel-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport, stderr: () => stderr };
}

function textOf(result: CallToolResult): string {
  return result.content.flatMap((c) => (c.type === "text" ? [c.text] : [])).join("\n");
}

function listFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).sort();
}

describe("easel mcp", () => {
  let root: string;
  let server: Server;
  before(async () => {
    root = fs.mkdtempSync(path.join(tmp, "root-"));
    server = await startServer(root, ["--model", SD15]);
  });
  after(async () => {
    await server.client.close();
  });

  it("initializes and lists the four tools with their argument schemas", async () => {
    assert.equal(server.client.getServerVersion()?.name, "easel");
    const { tools } = await server.client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ["edit_image", "generate_image", "icon_set", "list_models"]);
    const generate = tools.find((t) => t.name === "generate_image")!;
    assert.deepEqual(generate.inputSchema.required, ["prompt"]);
    const props = generate.inputSchema.properties as Record<string, { type?: string; enum?: string[]; maximum?: number }>;
    for (const name of ["prompt", "negative_prompt", "width", "height", "steps", "guidance", "seed", "count", "scheduler", "prompt_syntax", "destination", "model"]) {
      assert.ok(props[name], `generate_image takes ${name}`);
    }
    assert.equal(props.steps.maximum, 150);
    assert.ok(props.scheduler.enum?.includes("euler-a"));
    assert.match(generate.description ?? "", /must already be downloaded/);
    const edit = tools.find((t) => t.name === "edit_image")!;
    assert.deepEqual([...(edit.inputSchema.required ?? [])].sort(), ["image", "prompt"]);
    assert.ok((edit.inputSchema.properties as Record<string, unknown>).mask);
    const icons = tools.find((t) => t.name === "icon_set")!;
    assert.equal((icons.inputSchema.properties as Record<string, unknown>).count, undefined);
    assert.deepEqual((icons.inputSchema.properties as Record<string, { enum?: string[] }>).preset.enum, ["icons", "web", "ios", "android", "vscode-extension", "social"]);
    assert.deepEqual(props.aspect.enum, ["1:1", "4:3", "3:4", "16:9", "9:16"]);
    assert.equal(props.transparent.type, "boolean");
    assert.match(generate.description ?? "", /SDXL \(its trained sizes\): 1:1 1024x1024/);
  });

  it("generates into the root with paths, seeds, a Markdown link and a PNG preview", async () => {
    const result = (await server.client.callTool({ name: "generate_image", arguments: { prompt: "a red boat", seed: 7, ...SMALL, destination: "art" } }, undefined, SLOW)) as CallToolResult;
    assert.notEqual(result.isError, true, textOf(result));
    assert.deepEqual(listFiles(path.join(root, "art")), ["a-red-boat-7.png"]);
    assert.match(textOf(result), /Recorded in easel-assets\.json/);
    const text = textOf(result);
    assert.match(text, /- art\/a-red-boat-7\.png \(seed 7\)/);
    assert.match(text, /!\[a red boat\]\(art\/a-red-boat-7\.png\)/);
    const image = result.content.find((c) => c.type === "image");
    assert.ok(image && image.type === "image");
    assert.equal(image.mimeType, "image/png");
    const meta = await sharp(Buffer.from(image.data, "base64")).metadata();
    assert.equal(meta.format, "png");
    assert.ok(meta.width! <= 512 && meta.height! <= 512);

    // The same seed again: the same pixels, under a new name (never a replaced file).
    const again = (await server.client.callTool({ name: "generate_image", arguments: { prompt: "a red boat", seed: "7", ...SMALL, destination: "art/boat.png" } }, undefined, SLOW)) as CallToolResult;
    assert.notEqual(again.isError, true, textOf(again));
    const twice = (await server.client.callTool({ name: "generate_image", arguments: { prompt: "a red boat", seed: 7, ...SMALL, destination: "art/boat.png" } }, undefined, SLOW)) as CallToolResult;
    assert.match(textOf(twice), /art\/boat-2\.png \(seed 7\)/);
    assert.deepEqual(listFiles(path.join(root, "art")), ["a-red-boat-7.png", "boat-2.png", "boat.png"]);
    const d = pixelDiff(await readRgb(path.join(root, "art", "boat.png")), await readRgb(path.join(root, "art", "a-red-boat-7.png")));
    assert.equal(d.max, 0);
  });

  it("edits an image (img2img, inpainting, outpainting) and makes an icon set beside it", async () => {
    const edit = (await server.client.callTool({ name: "edit_image", arguments: { image: "art/boat.png", prompt: "a blue boat", strength: 0.5, seed: 3, steps: 4 } }, undefined, SLOW)) as CallToolResult;
    assert.notEqual(edit.isError, true, textOf(edit));
    assert.match(textOf(edit), /- art\/a-blue-boat-3\.png \(seed 3\)/);
    await sharp({ create: { width: 64, height: 64, channels: 3, background: "#fff" } }).png().toFile(path.join(root, "art", "mask.png"));
    const inpaint = (await server.client.callTool({ name: "edit_image", arguments: { image: "art/boat.png", mask: "art/mask.png", prompt: "a sail", seed: 4, steps: 2, destination: "edits" } }, undefined, SLOW)) as CallToolResult;
    assert.notEqual(inpaint.isError, true, textOf(inpaint));
    assert.match(textOf(inpaint), /- edits\/a-sail-4\.png \(seed 4\)/);
    const outpaint = (await server.client.callTool({ name: "edit_image", arguments: { image: "art/boat.png", prompt: "sea", extend_right: 64, seed: 5, steps: 2, destination: "edits" } }, undefined, SLOW)) as CallToolResult;
    assert.notEqual(outpaint.isError, true, textOf(outpaint));
    assert.deepEqual([(await sharp(path.join(root, "edits", "sea-5.png")).metadata()).width, (await sharp(path.join(root, "edits", "sea-5.png")).metadata()).height], [128, 64]);
    const both = (await server.client.callTool({ name: "edit_image", arguments: { image: "art/boat.png", mask: "art/mask.png", prompt: "sea", extend_top: 64 } }, undefined, SLOW)) as CallToolResult;
    assert.equal(both.isError, true);
    assert.match(textOf(both), /not both/);
    const icons = (await server.client.callTool({ name: "icon_set", arguments: { image: "./art/boat.png" } }, undefined, SLOW)) as CallToolResult;
    assert.notEqual(icons.isError, true, textOf(icons));
    const made = listFiles(path.join(root, "art", "boat-icons"));
    assert.deepEqual(made, ["boat-128.png", "boat-16.png", "boat-256.png", "boat-32.png", "boat-48.png", "boat-64.png"]);
    assert.equal((await sharp(path.join(root, "art", "boat-icons", "boat-16.png")).metadata()).width, 16);
    // A second set does not touch the first.
    const again = (await server.client.callTool({ name: "icon_set", arguments: { image: "art/boat.png" } }, undefined, SLOW)) as CallToolResult;
    assert.match(textOf(again), /art\/boat-icons-2\//);

    // Every file written has its easel-assets.json entry, and each is made again identically.
    const assets = await readAssets(root);
    const written = listFiles(root).filter((f) => f.endsWith(".png") && f !== path.join("art", "mask.png"));
    assert.deepEqual([...assets.keys()].sort(), written.map((f) => f.split(path.sep).join("/")).sort());
    assert.deepEqual(assets.get("art/a-blue-boat-3.png")?.generation?.initImage?.path, "art/boat.png");
    assert.deepEqual(assets.get("edits/a-sail-4.png")?.generation?.mask?.path, "art/mask.png");
    assert.deepEqual(assets.get("edits/sea-5.png")?.generation?.outpaint, { left: 0, right: 64, top: 0, bottom: 0 });
    assert.deepEqual(assets.get("art/boat-icons/boat-32.png")?.post, [{ op: "icon", size: 32 }]);
    assert.equal(assets.get("art/boat-icons/boat-32.png")?.source?.path, "art/boat.png");
    const check = await runCli(["assets", "check", "--provider", "cpu"], { cwd: root, env: { EASEL_HOME: path.join(tmp, "home") } });
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.equal(check.stdout.split("\n").filter((l) => l.startsWith("ok ")).length, written.length);
  });

  it("refuses aspect with width, makes transparent images once the remover is downloaded, and renders asset packs", async () => {
    // (An aspect's size is the model's: 704x384 for 16:9 with tiny-sd15, minutes on a shared CPU; the sizing itself is unit-tested.)
    const both = (await server.client.callTool({ name: "generate_image", arguments: { prompt: "x", aspect: "1:1", width: 64 } }, undefined, SLOW)) as CallToolResult;
    assert.equal(both.isError, true);
    assert.equal(textOf(both), "error: give aspect or width/height, not both");

    // No remover in the store: the result says how to get it; nothing generated or downloaded.
    const before = listFiles(root);
    const missing = (await server.client.callTool({ name: "generate_image", arguments: { prompt: "a fox", transparent: true, ...SMALL } }, undefined, SLOW)) as CallToolResult;
    assert.equal(missing.isError, true);
    assert.match(textOf(missing), /^error: transparent: true needs the background-removal model .*\(birefnet-lite, .*not downloaded: ask the user to run 'easel models pull birefnet-lite'/);
    assert.deepEqual(listFiles(root), before);
    // The remover as a pull leaves it (a tiny graph of its ports): a PNG with real alpha (the graph keys on red).
    await placeStoreRemover(ModelStore.open(path.join(tmp, "home", "models")), backgroundRemoverEntry(), "1".repeat(40), { weights: [6, -1, -1], bias: 0, side: 16 });
    const cut = (await server.client.callTool({ name: "generate_image", arguments: { prompt: "a fox", transparent: true, matte: 0.5, seed: 3, ...SMALL, destination: "cut" } }, undefined, SLOW)) as CallToolResult;
    assert.notEqual(cut.isError, true, textOf(cut));
    assert.match(textOf(cut), /This model's sizes by aspect: 1:1 512x512, 4:3 592x448, 3:4 448x592, 16:9 688x384, 9:16 384x688\./);
    const { data, info } = await sharp(path.join(root, "cut", "a-fox-3.png")).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.channels, 4);
    const alphas = new Set<number>();
    for (let i = 3; i < data.length; i += 4) alphas.add(data[i]);
    assert.ok([...alphas].every((a) => a === 0 || a === 255), "the matte cut makes hard edges");
    // Recorded with its background-removal step: the remover (catalog id + file hash) and the matte cut.
    const entry = (await readAssets(root)).get("cut/a-fox-3.png");
    assert.ok(entry, "the transparent image has its lockfile entry");
    const step = entry.post[0];
    assert.equal(step.op, "removeBackground");
    assert.equal(step.op === "removeBackground" ? step.matte : undefined, 0.5);

    // Asset packs, with the one writer easel pack uses, and the <link> tags to paste.
    const web = (await server.client.callTool({ name: "icon_set", arguments: { image: "art/boat.png", preset: "web" } }, undefined, SLOW)) as CallToolResult;
    assert.notEqual(web.isError, true, textOf(web));
    const webFiles = listFiles(path.join(root, "art", "boat-web"));
    for (const f of ["favicon.ico", "favicon-16x16.png", "apple-touch-icon.png", "android-chrome-512x512.png", "site.webmanifest", "head-tags.html"]) assert.ok(webFiles.includes(f), f);
    assert.match(textOf(web), /- art\/boat-web\/favicon\.ico\n/);
    assert.match(textOf(web), /<link rel="apple-touch-icon" sizes="180x180" href="\/art\/boat-web\/apple-touch-icon\.png">/);
    const ext = (await server.client.callTool({ name: "icon_set", arguments: { image: "art/boat.png", preset: "vscode-extension", destination: "packs" } }, undefined, SLOW)) as CallToolResult;
    assert.notEqual(ext.isError, true, textOf(ext));
    assert.deepEqual(listFiles(path.join(root, "packs")), ["boat-vscode-extension", path.join("boat-vscode-extension", "icon.png")]);
    assert.equal((await sharp(path.join(root, "packs", "boat-vscode-extension", "icon.png")).metadata()).width, 128);
    assert.deepEqual(listFiles(root).filter((f) => f.includes(".tmp")), [], "no staging folder left");
  });

  it("answers bad arguments with an isError result, not a protocol error", async () => {
    const badSteps = (await server.client.callTool({ name: "generate_image", arguments: { prompt: "x", steps: 0 } }, undefined, SLOW)) as CallToolResult;
    assert.equal(badSteps.isError, true);
    assert.match(textOf(badSteps), /steps/);
    const badSize = (await server.client.callTool({ name: "generate_image", arguments: { prompt: "x", width: 100, height: 64, steps: 1 } }, undefined, SLOW)) as CallToolResult;
    assert.equal(badSize.isError, true);
    assert.match(textOf(badSize), /^error: .*(multiple|width)/);
    const noImage = (await server.client.callTool({ name: "edit_image", arguments: { prompt: "x", image: "missing.png" } }, undefined, SLOW)) as CallToolResult;
    assert.equal(noImage.isError, true);
    assert.match(textOf(noImage), /missing\.png does not exist/);
    const notDownloaded = (await server.client.callTool({ name: "generate_image", arguments: { prompt: "x", model: "sd15", ...SMALL } }, undefined, SLOW)) as CallToolResult;
    assert.equal(notDownloaded.isError, true);
    assert.match(textOf(notDownloaded), /not downloaded yet.*easel models pull/);
  });

  it("refuses any path outside --root and writes nothing there", async () => {
    const outside = fs.mkdtempSync(path.join(tmp, "outside-"));
    fs.copyFileSync(path.join(root, "art", "boat.png"), path.join(outside, "x.png"));
    fs.symlinkSync(outside, path.join(root, "link"));
    const before = listFiles(outside);
    for (const args of [
      { name: "generate_image", arguments: { prompt: "x", ...SMALL, destination: "../escape" } },
      { name: "generate_image", arguments: { prompt: "x", ...SMALL, destination: path.join(outside, "abs.png") } },
      { name: "generate_image", arguments: { prompt: "x", ...SMALL, destination: "link/sub" } },
      { name: "edit_image", arguments: { prompt: "x", image: path.join(outside, "x.png") } },
      { name: "edit_image", arguments: { prompt: "x", image: "link/x.png" } },
      { name: "icon_set", arguments: { image: "art/boat.png", destination: "link" } },
    ]) {
      const r = (await server.client.callTool(args, undefined, SLOW)) as CallToolResult;
      assert.equal(r.isError, true, `${JSON.stringify(args)}: ${textOf(r)}`);
      assert.match(textOf(r), /outside the root folder|without "\.\."/, JSON.stringify(args));
    }
    assert.deepEqual(listFiles(outside), before);
    assert.equal(fs.existsSync(path.join(path.dirname(root), "escape")), false);
  });

  it("lists the models with the default one", async () => {
    const r = (await server.client.callTool({ name: "list_models", arguments: {} }, undefined, SLOW)) as CallToolResult;
    assert.notEqual(r.isError, true, textOf(r));
    assert.match(textOf(r), new RegExp(`Default model \\(easel mcp --model\\): ${SD15.replace(/[/\\.]/g, "\\$&")}`));
    assert.match(textOf(r), /sd15/);
  });
});

describe("easel mcp without a model", () => {
  it("says how to choose one", async () => {
    const root = fs.mkdtempSync(path.join(tmp, "nomodel-"));
    const server = await startServer(root);
    try {
      const r = (await server.client.callTool({ name: "generate_image", arguments: { prompt: "x", ...SMALL } }, undefined, SLOW)) as CallToolResult;
      assert.equal(r.isError, true);
      assert.match(textOf(r), /no model: pass "model".*--model/);
      assert.deepEqual(listFiles(root), []);
    } finally {
      await server.client.close();
    }
  });
});

describe("easel mcp when the client disconnects", () => {
  it("cancels the running generation, writes nothing and exits", async () => {
    const root = fs.mkdtempSync(path.join(tmp, "disconnect-"));
    const server = await startServer(root, ["--model", SD15]);
    const pid = server.transport.pid!;
    let steps = 0;
    let sawStep!: () => void;
    const firstStep = new Promise<void>((resolve) => (sawStep = resolve));
    // 150 steps at 256²: minutes of work, so only a cancel ends it within seconds.
    const running = server.client
      .callTool({ name: "generate_image", arguments: { prompt: "a long one", width: 256, height: 256, steps: 150, seed: 1 } }, undefined, {
        onprogress: () => {
          steps++;
          sawStep();
        },
        timeout: 600_000,
      })
      .catch((error: unknown) => error);
    await firstStep;
    const closedAt = Date.now();
    await server.client.close();
    await running;
    // The SDK's close ends stdin, then sends SIGTERM after 2 s; either way the server stops the generation.
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(pid), false, "the server exited");
    assert.ok(Date.now() - closedAt < 10_000, "within seconds, not the minutes the generation needed");
    assert.ok(steps < 150);
    assert.match(server.stderr(), /easel mcp: the client closed the connection; stopping/);
    assert.deepEqual(listFiles(root), [], "no image, no temporary file, no lockfile");
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
