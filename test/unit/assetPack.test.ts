// Asset packs: every file's size, format and alpha (or its absence where the platform forbids it),
// the manifest's and Contents.json's shape, the ICO decoded back by an independent decoder.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import decodeIco from "decode-ico";
import sharp from "sharp";
import { type AssetPack, PACK_PRESETS, renderAssetPack, socialGenerationSize, titleLines } from "../../extension/engine/packs/assetPack";
import { encodeIco } from "../../extension/engine/packs/ico";

/** A square picture with transparent corners (a disc of colour bands). */
async function discImage(side: number): Promise<Buffer> {
  const data = new Uint8Array(side * side * 4);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const i = (y * side + x) * 4;
      const inside = Math.hypot(x - side / 2, y - side / 2) < side * 0.45;
      data[i] = (x * 255) / side;
      data[i + 1] = (y * 255) / side;
      data[i + 2] = 128;
      data[i + 3] = inside ? 255 : 0;
    }
  }
  return sharp(data, { raw: { width: side, height: side, channels: 4 } }).png().toBuffer();
}

function file(pack: AssetPack, path: string): Buffer {
  const f = pack.files.find((x) => x.path === path);
  assert.ok(f, `${pack.preset} has ${path}`);
  return f.bytes;
}

async function expectPng(bytes: Buffer, width: number, height: number, alpha: boolean, what: string) {
  const meta = await sharp(bytes).metadata();
  assert.equal(meta.format, "png", `${what} is a PNG`);
  assert.deepEqual([meta.width, meta.height], [width, height], `${what} size`);
  assert.equal(meta.hasAlpha, alpha, `${what} ${alpha ? "has" : "has no"} alpha`);
  assert.equal(meta.channels, alpha ? 4 : 3, `${what} channels`);
}

async function pixel(bytes: Buffer, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [...data.subarray(i, i + info.channels)];
}

describe("asset packs", () => {
  let disc: Buffer;
  before(async () => {
    disc = await discImage(1100);
  });

  it("web: favicon.ico with 16/32/48, PNG favicons, opaque apple-touch and maskable icons, a manifest and link tags", async () => {
    const pack = await renderAssetPack(disc, "web", { name: "My Site", background: "#102030" });
    assert.deepEqual(pack.files.map((f) => f.path).sort(), [
      "android-chrome-192x192.png",
      "android-chrome-512x512.png",
      "apple-touch-icon.png",
      "favicon-16x16.png",
      "favicon-32x32.png",
      "favicon.ico",
      "head-tags.html",
      "maskable-icon-512x512.png",
      "site.webmanifest",
    ]);
    assert.deepEqual(pack.notes, []);
    await expectPng(file(pack, "favicon-16x16.png"), 16, 16, true, "favicon-16x16");
    await expectPng(file(pack, "favicon-32x32.png"), 32, 32, true, "favicon-32x32");
    await expectPng(file(pack, "android-chrome-192x192.png"), 192, 192, true, "android-chrome-192");
    await expectPng(file(pack, "android-chrome-512x512.png"), 512, 512, true, "android-chrome-512");
    // Apple's touch icon: never transparent, the corners filled with the background.
    await expectPng(file(pack, "apple-touch-icon.png"), 180, 180, false, "apple-touch-icon");
    assert.deepEqual(await pixel(file(pack, "apple-touch-icon.png"), 0, 0), [0x10, 0x20, 0x30]);
    // Maskable: opaque, the picture inside the central 80% (the safe zone), background around it.
    const maskable = file(pack, "maskable-icon-512x512.png");
    await expectPng(maskable, 512, 512, false, "maskable");
    assert.deepEqual(await pixel(maskable, 20, 256), [0x10, 0x20, 0x30], "the 10% margin is background");
    assert.notDeepEqual(await pixel(maskable, 256, 256), [0x10, 0x20, 0x30], "the centre is the picture");
    assert.equal((await pixel(file(pack, "favicon-32x32.png"), 0, 0))[3], 0, "the favicon's corner stays transparent");

    // favicon.ico, decoded by decode-ico: three PNG images whose pixels are the favicon PNGs'.
    const images = decodeIco(file(pack, "favicon.ico"));
    assert.deepEqual(images.map((i) => [i.width, i.height, i.type, i.bpp]), [
      [16, 16, "png", 32],
      [32, 32, "png", 32],
      [48, 48, "png", 32],
    ]);
    for (const [index, name] of [[0, "favicon-16x16.png"], [1, "favicon-32x32.png"]] as const) {
      const fromIco = await sharp(Buffer.from(images[index].data)).raw().toBuffer();
      const fromPng = await sharp(file(pack, name)).raw().toBuffer();
      assert.ok(fromIco.equals(fromPng), `the ICO's ${name} is the PNG's picture`);
    }

    const manifest = JSON.parse(file(pack, "site.webmanifest").toString("utf8")) as Record<string, unknown>;
    assert.deepEqual(Object.keys(manifest).sort(), ["background_color", "display", "icons", "name", "short_name", "theme_color"]);
    assert.equal(manifest.name, "My Site");
    assert.equal(manifest.short_name, "My Site");
    assert.equal(manifest.display, "standalone");
    assert.equal(manifest.theme_color, "#102030");
    assert.equal(manifest.background_color, "#102030");
    const icons = manifest.icons as { src: string; sizes: string; type: string; purpose?: string }[];
    assert.equal(icons.length, 3);
    for (const icon of icons) {
      assert.equal(icon.type, "image/png");
      assert.match(icon.sizes, /^\d+x\d+$/);
      const [w, h] = icon.sizes.split("x").map(Number);
      const meta = await sharp(file(pack, icon.src)).metadata();
      assert.deepEqual([meta.width, meta.height], [w, h], `${icon.src} is ${icon.sizes}`);
    }
    assert.deepEqual(icons.filter((i) => i.purpose === "maskable").map((i) => i.src), ["maskable-icon-512x512.png"]);

    const tags = pack.headTags ?? "";
    for (const href of ["/favicon.ico", "/favicon-32x32.png", "/favicon-16x16.png", "/apple-touch-icon.png", "/site.webmanifest"]) assert.ok(tags.includes(`href="${href}"`), href);
    assert.match(tags, /<link rel="apple-touch-icon" sizes="180x180"/);
    assert.equal(file(pack, "head-tags.html").toString(), `${tags}\n`);
  });

  it("web: link hrefs under a base URL, escaped", async () => {
    const pack = await renderAssetPack(disc, "web", { baseUrl: "static/i\"cons" });
    assert.match(pack.headTags ?? "", /href="static\/i&quot;cons\/favicon\.ico"/);
  });

  it("ios: AppIcon.appiconset with one opaque 1024² icon and Xcode's single-size Contents.json", async () => {
    const pack = await renderAssetPack(disc, "ios");
    assert.deepEqual(pack.files.map((f) => f.path).sort(), ["AppIcon.appiconset/AppIcon-1024.png", "AppIcon.appiconset/Contents.json"]);
    await expectPng(file(pack, "AppIcon.appiconset/AppIcon-1024.png"), 1024, 1024, false, "AppIcon-1024");
    assert.deepEqual(await pixel(file(pack, "AppIcon.appiconset/AppIcon-1024.png"), 0, 0), [255, 255, 255], "transparent corners filled white");
    const contents = JSON.parse(file(pack, "AppIcon.appiconset/Contents.json").toString()) as { images: Record<string, string>[]; info: Record<string, unknown> };
    assert.deepEqual(contents, { images: [{ filename: "AppIcon-1024.png", idiom: "universal", platform: "ios", size: "1024x1024" }], info: { author: "xcode", version: 1 } });
  });

  it("android: ic_launcher and round ic_launcher_round at every density", async () => {
    const pack = await renderAssetPack(disc, "android");
    const sizes = { mdpi: 48, hdpi: 72, xhdpi: 96, xxhdpi: 144, xxxhdpi: 192 };
    assert.equal(pack.files.length, 10);
    for (const [density, size] of Object.entries(sizes)) {
      await expectPng(file(pack, `mipmap-${density}/ic_launcher.png`), size, size, true, `${density} ic_launcher`);
      const round = file(pack, `mipmap-${density}/ic_launcher_round.png`);
      await expectPng(round, size, size, true, `${density} ic_launcher_round`);
      assert.equal((await pixel(round, 0, 0))[3], 0, "outside the circle is transparent");
      assert.equal((await pixel(round, size / 2, size / 2))[3], 255, "the centre is opaque");
    }
  });

  it("vscode-extension: a 128² icon.png", async () => {
    const pack = await renderAssetPack(disc, "vscode-extension");
    assert.deepEqual(pack.files.map((f) => f.path), ["icon.png"]);
    await expectPng(file(pack, "icon.png"), 128, 128, true, "icon.png");
  });

  it("social: a 1200×630 opaque card cropped around the subject, an optional title, and the meta tags", async () => {
    // A wide flat picture whose only detail is near its right edge: a centre crop would miss it.
    const width = 2400;
    const height = 630;
    const data = Buffer.alloc(width * height * 3, 90);
    for (let y = 150; y < 480; y++) {
      for (let x = 2050; x < 2350; x++) {
        const i = (y * width + x) * 3;
        const on = ((x >> 3) + (y >> 3)) % 2 === 0;
        data[i] = on ? 250 : 10;
        data[i + 1] = on ? 30 : 220;
        data[i + 2] = on ? 10 : 240;
      }
    }
    const wide = await sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
    const plain = await renderAssetPack(wide, "social");
    const card = file(plain, "og-image.png");
    await expectPng(card, 1200, 630, false, "og-image");
    const { data: px } = await sharp(card).raw().toBuffer({ resolveWithObject: true });
    let detailed = 0;
    for (let i = 0; i < px.length; i += 3) if (px[i] > 200 || px[i + 1] > 200) detailed++;
    assert.ok(detailed > 300 * 300 * 0.3, `the subject is in the card (${detailed} bright pixels)`);
    assert.match(plain.headTags ?? "", /<meta property="og:image" content="\/og-image\.png">/);
    assert.match(plain.headTags ?? "", /<meta name="twitter:card" content="summary_large_image">/);
    assert.match(plain.headTags ?? "", /og:image:width" content="1200"/);
    assert.doesNotMatch(plain.headTags ?? "", /og:title/);

    const titled = await renderAssetPack(wide, "social", { title: 'Ships <fast> & "safe"', baseUrl: "https://example.com" });
    const titledCard = file(titled, "og-image.png");
    await expectPng(titledCard, 1200, 630, false, "titled og-image");
    // The title band darkens the bottom of the card and its text draws light pixels there.
    const bottom = async (png: Buffer) => (await sharp(png).extract({ left: 0, top: 480, width: 1200, height: 150 }).stats()).channels[0].mean;
    assert.notEqual(Math.round(await bottom(titledCard)), Math.round(await bottom(card)));
    const band = await sharp(titledCard).extract({ left: 40, top: 480, width: 700, height: 150 }).raw().toBuffer();
    assert.ok(band.some((v) => v > 240), "the title's white text is drawn");
    assert.match(titled.headTags ?? "", /<meta property="og:title" content="Ships &lt;fast&gt; &amp; &quot;safe&quot;">/);
    assert.match(titled.headTags ?? "", /content="https:\/\/example\.com\/og-image\.png"/);
  });

  it("an image smaller than the largest file: upscaled with a note, or refused with the reason", async () => {
    const small = await discImage(100);
    const pack = await renderAssetPack(small, "web");
    assert.equal(pack.notes.length, 1);
    assert.match(pack.notes[0], /the image is 100×100, smaller than the web pack's largest file \(512×512\): upscaled 5\.12× with Lanczos/);
    await expectPng(file(pack, "android-chrome-512x512.png"), 512, 512, true, "upscaled 512");
    await assert.rejects(renderAssetPack(small, "web", { small: "refuse" }), /the image is 100×100, smaller than the web pack's largest file \(512×512\): use a larger image/);
    // The hook a super-resolution model plugs into.
    const calls: number[] = [];
    await renderAssetPack(small, "vscode-extension", {
      upscaler: async (png, w, h, factor) => {
        calls.push(factor);
        return sharp(png).resize(Math.ceil(w * factor), Math.ceil(h * factor)).png().toBuffer();
      },
    });
    assert.deepEqual(calls, [1.28]);
  });

  it("refuses a file that is not an image and bad options, one line each", async () => {
    await assert.rejects(renderAssetPack(Buffer.from("not an image"), "web"), /^EaselError: cannot make an asset pack from this file \(.*\): choose a PNG, WebP or JPEG image$/);
    await assert.rejects(renderAssetPack(disc, "web", { background: "white" }), /--background must be a colour like #1e1e1e/);
    assert.deepEqual([...PACK_PRESETS], ["web", "ios", "android", "vscode-extension", "social"]);
  });

  it("titles wrap to two lines; the social card's generation size keeps the 1200:630 aspect", () => {
    assert.deepEqual(titleLines("short"), ["short"]);
    assert.equal(titleLines("a ".repeat(60)).length, 2);
    assert.ok(titleLines("a ".repeat(60))[1].endsWith("…"));
    assert.deepEqual(socialGenerationSize(8, 1024), { width: 1024, height: 536 });
    assert.deepEqual(socialGenerationSize(64, 1024), { width: 1024, height: 512 });
  });

  it("encodeIco writes 256 as 0 and refuses sizes an ICO cannot hold", async () => {
    const png = await sharp({ create: { width: 256, height: 256, channels: 4, background: { r: 1, g: 2, b: 3, alpha: 1 } } }).png().toBuffer();
    const ico = encodeIco([{ size: 256, png }]);
    assert.equal(ico[6], 0);
    const [image] = decodeIco(ico);
    assert.deepEqual([image.width, image.height], [256, 256]);
    assert.throws(() => encodeIco([{ size: 300, png }]), /1 to 256 pixels/);
  });
});
