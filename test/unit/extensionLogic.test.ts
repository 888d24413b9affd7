// Extension logic that needs no VS Code: names, output folders, Markdown links, settings.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { expandPattern, uniqueFileName } from "../../extension/assets/naming";
import { isImageFile } from "../../extension/assets/imageFiles";
import { outputFolder } from "../../extension/assets/outputLocation";
import { altTextFor, asOwnParagraph, findEmptyImageLinks, imageLinks, paragraphAt, promptFromMarkdown, relativeLinkPath } from "../../extension/markdown/links";
import fs from "node:fs";
import path from "node:path";
import { MAX_GUIDANCE, MAX_SIDE, MAX_STEPS } from "../../extension/engine/pipeline/resolveRequest";
import { MAX_IDLE_UNLOAD_MINUTES, resolveSettings, type SettingValues } from "../../extension/settings";
import { ROOT } from "../helpers/paths";

const now = new Date(2026, 10, 24, 9, 5, 7);

describe("file naming", () => {
  it("expands the pattern", () => {
    assert.equal(expandPattern("${slug}-${seed}", { prompt: "A red Boat!", seed: 42n, model: "sd15", now }), "a-red-boat-42");
    assert.equal(expandPattern("${date}_${time}_${model}", { prompt: "x", seed: 1n, model: "sd-turbo", now }), "2026-11-24_090507_sd-turbo");
  });
  it("keeps unknown fields literally and makes names file-system safe", () => {
    assert.equal(expandPattern("${nope}-${seed}", { prompt: "x", seed: 3n, model: "m", now }), "${nope}-3");
    assert.equal(expandPattern("a/b\\c:d*${seed}", { prompt: "x", seed: 3n, model: "m", now }), "a-b-c-d-3");
    assert.equal(expandPattern("...", { prompt: "x", seed: 3n, model: "m", now }), "image-3");
  });
  it("never reuses a taken name", () => {
    assert.equal(uniqueFileName("cat-1", "png", new Set()), "cat-1.png");
    assert.equal(uniqueFileName("cat-1", "png", new Set(["CAT-1.png", "cat-1-2.png"])), "cat-1-3.png");
  });
});

describe("output folder", () => {
  it("uses the workspace folder's output folder", () => {
    assert.equal(outputFolder("workspace", "assets/generated", { workspaceFolder: "/ws", document: "/ws/docs/a.md" }), "/ws/assets/generated");
  });
  it("keeps a climbing setting inside the workspace folder", () => {
    assert.equal(outputFolder("workspace", "../../etc", { workspaceFolder: "/ws" }), "/ws/etc");
    assert.equal(outputFolder("workspace", "", { workspaceFolder: "/ws" }), "/ws/assets/generated");
    // "." (an agent's destination at the workspace root) is the folder itself, not the default.
    assert.equal(outputFolder("workspace", ".", { workspaceFolder: "/ws" }), "/ws");
  });
  it("saves beside the document in per-document mode", () => {
    assert.equal(outputFolder("document", "assets/generated", { workspaceFolder: "/ws", document: "/ws/docs/a.md" }), "/ws/docs/images");
  });
  it("has nowhere to save without a folder or document", () => {
    assert.equal(outputFolder("workspace", "x", {}), undefined);
  });
});

describe("Markdown links", () => {
  it("links relative to the document", () => {
    assert.equal(relativeLinkPath("/ws/docs/a.md", "/ws/assets/generated/cat-1.png"), "../assets/generated/cat-1.png");
    assert.equal(relativeLinkPath("/ws/a.md", "/ws/images/my cat (1).png"), "images/my%20cat%20%281%29.png");
  });
  it("writes a short alt text", () => {
    assert.equal(altTextFor("a  red\nboat [at] dawn"), "a red boat \\[at\\] dawn");
    assert.equal(altTextFor("one two three four five six seven eight nine ten eleven twelve thirteen"), "one two three four five six seven eight nine ten eleven twelve…");
    assert.equal(imageLinks([{ path: "/ws/assets/generated/a-cat-1.png", prompt: "a cat" }], "/ws/a.md"), "![a cat](assets/generated/a-cat-1.png)");
    // Without a prompt the file name is the alt text; several images make one paragraph.
    assert.equal(
      imageLinks([{ path: "/ws/img/red_boat-2.png" }, { path: "/ws/img/x (1).png", prompt: "x" }], "/ws/docs/a.md"),
      "![red boat 2](../img/red_boat-2.png)\n![x](../img/x%20%281%29.png)",
    );
  });
  it("places inserted links as their own paragraph, even in the middle of a line", () => {
    // A drop between "…png" and "Last." must not run into the next word.
    assert.equal(`First ${asOwnParagraph("![a](a.png)", "First ", "Last.")}Last.`, "First \n\n![a](a.png)\n\nLast.");
    assert.equal(asOwnParagraph("![a](a.png)", "", ""), "![a](a.png)");
    assert.equal(asOwnParagraph("![a](a.png)", "  ", "Text"), "![a](a.png)\n\n");
  });
  it("finds image links with an empty target", () => {
    const text = "x ![a cat]() y ![done](a.png) ![spaced]( ) ![]()";
    assert.deepEqual(findEmptyImageLinks(text).map((l) => [l.alt, text.slice(l.start, l.end)]), [
      ["a cat", "![a cat]()"],
      ["spaced", "![spaced]( )"],
    ]);
  });
  it("finds the paragraph around a line and cleans it into a prompt", () => {
    const lines = ["# Title", "", "A **lighthouse** at", "[dusk](x.html), foggy.", "", "next"];
    assert.deepEqual(paragraphAt(lines, 3), { first: 2, last: 3 });
    assert.equal(paragraphAt(lines, 1), undefined);
    assert.equal(promptFromMarkdown(lines.slice(2, 4).join("\n")), "A lighthouse at dusk, foggy.");
    assert.equal(promptFromMarkdown("## A heading\n- a list item"), "A heading a list item");
  });
});

describe("settings", () => {
  const values: Record<string, SettingValues> = {
    model: { defaultValue: "", globalValue: "/models/sd15", workspaceValue: "/evil" },
    "output.folder": { defaultValue: "assets/generated", workspaceValue: "art" },
    "defaults.steps": { defaultValue: 0, globalValue: 30 },
    "defaults.guidance": { defaultValue: null },
    provider: { defaultValue: "auto", globalValue: "tpu" },
  };
  const source = (key: string) => values[key];
  it("reads workspace values in a trusted workspace", () => {
    const s = resolveSettings(source, true);
    assert.equal(s.model, "/evil");
    assert.equal(s.output.folder, "art");
    assert.equal(s.defaults.steps, 30);
    assert.equal(s.defaults.guidance, undefined);
  });
  it("ignores workspace values in an untrusted workspace", () => {
    const s = resolveSettings(source, false);
    assert.equal(s.model, "/models/sd15");
    assert.equal(s.output.folder, "assets/generated");
  });
  it("clamps the idle unload time below what a timer can wait (2^31-1 ms), and numbers to the engine's limits", () => {
    const more: Record<string, SettingValues> = {
      idleUnloadMinutes: { defaultValue: 10, globalValue: 35_792 },
      "defaults.guidance": { defaultValue: null, globalValue: 101 },
      "defaults.steps": { defaultValue: 0, globalValue: 151 },
    };
    const s = resolveSettings((key) => more[key], true);
    assert.equal(s.idleUnloadMinutes, MAX_IDLE_UNLOAD_MINUTES);
    assert.ok(s.idleUnloadMinutes * 60_000 <= 2 ** 31 - 1);
    assert.equal(resolveSettings(() => ({ globalValue: Infinity }), true).idleUnloadMinutes, MAX_IDLE_UNLOAD_MINUTES);
    assert.equal(s.defaults.guidance, undefined);
    assert.equal(s.defaults.steps, undefined);
  });
  it("declares in package.json the same bounds the code enforces", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { contributes: { configuration: { properties: Record<string, { minimum?: number; maximum?: number }> } } };
    const props = pkg.contributes.configuration.properties;
    assert.deepEqual([props["easel.idleUnloadMinutes"].minimum, props["easel.idleUnloadMinutes"].maximum], [0, MAX_IDLE_UNLOAD_MINUTES]);
    assert.deepEqual([props["easel.defaults.guidance"].minimum, props["easel.defaults.guidance"].maximum], [0, MAX_GUIDANCE]);
    assert.equal(props["easel.defaults.steps"].maximum, MAX_STEPS);
    assert.equal(props["easel.defaults.width"].maximum, MAX_SIDE);
    assert.equal(props["easel.defaults.height"].maximum, MAX_SIDE);
  });
  it("falls back to defaults for invalid values", () => {
    const s = resolveSettings(source, true);
    assert.equal(s.provider, "auto");
    assert.equal(s.output.naming, "${slug}-${seed}");
    assert.equal(s.defaults.width, undefined);
  });
  it("easel.promptSyntax: a1111 unless set to plain", () => {
    assert.equal(resolveSettings(source, true).promptSyntax, "a1111");
    const plain = (key: string) => (key === "promptSyntax" ? { defaultValue: "a1111", globalValue: "plain" } : values[key]);
    assert.equal(resolveSettings(plain, true).promptSyntax, "plain");
    const bad = (key: string) => (key === "promptSyntax" ? { defaultValue: "a1111", globalValue: "comfy" } : values[key]);
    assert.equal(resolveSettings(bad, true).promptSyntax, "a1111");
  });
});

describe("requests from stored parameters", () => {
  it("reads back what the engine wrote", async () => {
    const { requestFromInfotext, schedulerFromLabel } = await import("../../extension/generation/requestFromInfotext");
    const { formatInfotext } = await import("../../extension/engine/image/infotext");
    const baseInfo = () => ({
      prompt: "a red boat,\nat dawn", negativePrompt: "blurry", steps: 12, sampler: "DPM++ 2M", karras: true, guidance: 6.5,
      seed: 18446744073709551615n, width: 640, height: 384, model: "sd15", denoisingStrength: 0.6, version: "easel-0.1.0",
    });
    const text = formatInfotext(baseInfo());
    const stored = requestFromInfotext(text);
    assert.deepEqual(stored.request, {
      prompt: "a red boat,\nat dawn", negativePrompt: "blurry", scheduler: "dpmpp-2m-karras", steps: 12, guidance: 6.5,
      seed: 18446744073709551615n, width: 640, height: 384, strength: 0.6, decoder: "vae", promptSyntax: "plain",
    });
    assert.equal(stored.model, "sd15");
    // A draft recalls as a draft, whatever easel.fastDecode says now.
    assert.equal(requestFromInfotext(formatInfotext({ ...baseInfo(), taesd: true })).request.decoder, "taesd");
    // The syntax an image was made with comes back with it, so regenerating reads the prompt the same way.
    const a1111 = formatInfotext({
      prompt: "a (red:1.2) boat", negativePrompt: "", steps: 12, sampler: "Euler a", karras: false, guidance: 7,
      seed: 1n, width: 512, height: 512, model: "sd15", promptSyntax: "a1111", version: "easel-0.1.0",
    });
    assert.equal(requestFromInfotext(a1111).request.promptSyntax, "a1111");
    // LoRAs: those named outside the prompt come back by name and weight; A1111's hashes are written for all.
    const withLoras = formatInfotext({
      ...baseInfo(),
      prompt: "a boat <lora:tagged:0.5>",
      promptSyntax: "a1111",
      loras: [
        { name: "picked, one", hash: "0123456789abcdef", unetWeight: -0.75, textWeight: -0.75, fromPrompt: false },
        { name: "tagged", hash: "fedcba9876543210", unetWeight: 0.5, textWeight: 0.5, fromPrompt: true },
      ],
    });
    assert.match(withLoras, /Lora hashes: "picked one: 0123456789ab, tagged: fedcba987654"/);
    const recalled = requestFromInfotext(withLoras).request;
    assert.equal(recalled.prompt, "a boat <lora:tagged:0.5>");
    assert.deepEqual(recalled.loras, [{ name: "picked one", weight: -0.75 }]);
    assert.equal(schedulerFromLabel("Euler a", false), "euler-a");
    assert.equal(schedulerFromLabel("PLMS", false), "pndm");
    assert.equal(schedulerFromLabel("DPM++ 2M Karras", false), "dpmpp-2m-karras");
    assert.equal(schedulerFromLabel("Heun", false), undefined);
  });
});

describe("asset pack helpers", () => {
  it("puts tags before </head>, indented like the head's lines", async () => {
    const { headInsertion } = await import("../../extension/assets/htmlHead");
    const page = "<!doctype html>\n<html>\n  <head>\n    <title>x</title>\n  </head>\n  <body></body>\n</html>\n";
    const at = headInsertion(page, "<link a>\n<link b>")!;
    const out = page.slice(0, at.offset) + at.text + page.slice(at.offset);
    assert.equal(out, "<!doctype html>\n<html>\n  <head>\n    <title>x</title>\n    <link a>\n    <link b>\n  </head>\n  <body></body>\n</html>\n");
    const inline = "<html><head><title>x</title></head><body></body></html>";
    const at2 = headInsertion(inline, "<link a>")!;
    assert.equal(inline.slice(0, at2.offset) + at2.text + inline.slice(at2.offset), "<html><head><title>x</title>\n<link a>\n</head><body></body></html>");
    assert.equal(headInsertion("<html><body></body></html>", "<link a>"), undefined);
    assert.equal(headInsertion("</head><head>", "<link a>"), undefined);
  });
  it("hrefs from the page's folder to the pack's, and cut-out names that never replace a file", async () => {
    const { hrefPrefix } = await import("../../extension/assets/htmlHead");
    assert.equal(hrefPrefix("/ws/site", "/ws/site/logo-web"), "logo-web/");
    assert.equal(hrefPrefix("/ws/site", "/ws/assets/my logo-web"), "../assets/my%20logo-web/");
    assert.equal(hrefPrefix("/ws/a", "/ws/a"), "");
    const { cutoutName } = await import("../../extension/assets/naming");
    assert.equal(cutoutName("cat.jpg", new Set()), "cat-nobg.png");
    assert.equal(cutoutName("cat.webp", new Set()), "cat-nobg.webp");
    assert.equal(cutoutName("cat.png", new Set(["cat-nobg.png"])), "cat-nobg-2.png");
  });
});

describe("icon set", () => {
  it("renders square PNGs at every icon size, centre-cropped", async () => {
    const sharp = (await import("sharp")).default;
    const { ICON_SIZES, renderIconSet } = await import("../../extension/engine/image/iconRender");
    // A 300×200 image: red left half, blue right half; the centre crop keeps both halves.
    const raw = Buffer.alloc(300 * 200 * 3);
    for (let y = 0; y < 200; y++) for (let x = 0; x < 300; x++) raw.set(x < 150 ? [255, 0, 0] : [0, 0, 255], (y * 300 + x) * 3);
    const png = await sharp(raw, { raw: { width: 300, height: 200, channels: 3 } }).png().toBuffer();
    const icons = await renderIconSet(png);
    assert.deepEqual([...icons.keys()], [...ICON_SIZES]);
    for (const [size, icon] of icons) {
      const meta = await sharp(icon).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ["png", size, size]);
    }
    const { data } = await sharp(icons.get(64)!).raw().toBuffer({ resolveWithObject: true });
    assert.ok(data[0] > 200 && data[2] < 50, "left edge red");
    assert.ok(data[(63 * 3)] < 50 && data[63 * 3 + 2] > 200, "right edge blue");
  });
  it("refuses a file that is not an image", async () => {
    const { renderIconSet } = await import("../../extension/engine/image/iconRender");
    await assert.rejects(renderIconSet(Buffer.from("nope")), /cannot make icons from this file/);
  });
});

describe("image files", () => {
  it("one list for the gallery, img2img and drops: what Easel writes and reads", () => {
    for (const name of ["a.png", "b.WEBP", "c.jpg", "d.jpeg", "dir.png/e.JPG"]) assert.ok(isImageFile(name), name);
    for (const name of ["a.gif", "b.png.txt", "c", "png", "d.svg"]) assert.ok(!isImageFile(name), name);
  });
});
