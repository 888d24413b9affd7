import { test } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import sharp from "sharp";
import {
  MAX_PNG_TEXT_BYTES,
  crc32,
  crc32Portable,
  encodePngTextChunk,
  insertPngText,
  makeChunk,
  isLatin1Text,
  readPngText,
  readPngTextChunks,
  validatePngKeyword,
} from "../../extension/engine/image/pngChunks";

const W = 7;
const H = 5;

function testPixels(): Uint8Array {
  const rgb = new Uint8Array(W * H * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 53 + 11) & 0xff;
  return rgb;
}

async function plainPng(): Promise<Buffer> {
  return sharp(testPixels(), { raw: { width: W, height: H, channels: 3 } }).png().toBuffer();
}

/** Chunk types in file order, with their offsets. */
function chunkList(png: Buffer): Array<{ type: string; start: number; length: number }> {
  const out: Array<{ type: string; start: number; length: number }> = [];
  let pos = 8;
  while (pos < png.length) {
    const length = png.readUInt32BE(pos);
    out.push({ type: png.toString("latin1", pos + 4, pos + 8), start: pos, length });
    pos += 12 + length;
  }
  return out;
}


/** `png` with `chunk` spliced in just before IEND. */
function withChunkBeforeIend(png: Buffer, chunk: Buffer): Buffer {
  const iend = chunkList(png).find((c) => c.type === "IEND");
  assert.ok(iend);
  return Buffer.concat([png.subarray(0, iend.start), chunk, png.subarray(iend.start)]);
}

function assertOneLineError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes("\n"), `multi-line message: ${err.message}`);
    return true;
  });
}

test("crc32 matches the standard check value and the portable table version", () => {
  assert.equal(crc32(Buffer.from("123456789", "latin1")), 0xcbf43926);
  assert.equal(crc32Portable(Buffer.from("123456789", "latin1")), 0xcbf43926);
  const data = Buffer.alloc(4099);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + (i >> 3)) & 0xff;
  assert.equal(crc32Portable(data), zlib.crc32(data) >>> 0);
  // Continuation, as used for type + data.
  assert.equal(crc32Portable(data.subarray(1000), crc32Portable(data.subarray(0, 1000))), crc32Portable(data));
  assert.equal(crc32Portable(new Uint8Array(0)), 0);
});

test("isLatin1Text picks tEXt only for U+0001..U+00FF", () => {
  assert.equal(isLatin1Text("plain ascii, 42"), true);
  assert.equal(isLatin1Text("café ÿ ¡"), true);
  assert.equal(isLatin1Text(""), true);
  assert.equal(isLatin1Text("a\u0000b"), false);
  assert.equal(isLatin1Text("em — dash"), false);
  assert.equal(isLatin1Text("猫"), false);
  assert.equal(isLatin1Text("🎨"), false);
});

const cases: Array<{ name: string; text: string; type: "tEXt" | "iTXt" }> = [
  { name: "ASCII", text: "a cat, oil painting\nSteps: 20, Sampler: Euler a", type: "tEXt" },
  { name: "Latin-1", text: "café crème, señor, naïve × ÷ ÿ", type: "tEXt" },
  { name: "emoji", text: "a fox 🦊 in the snow ❄️", type: "iTXt" },
  { name: "CJK", text: "富士山の風景、浮世絵", type: "iTXt" },
  { name: "em dash", text: "sunset — dramatic lighting", type: "iTXt" },
  { name: "empty", text: "", type: "tEXt" },
];

for (const c of cases) {
  test(`PNG text round trip through sharp: ${c.name} text goes in ${c.type}`, async () => {
    const original = await plainPng();
    const png = insertPngText(original, "parameters", c.text);

    const chunks = readPngTextChunks(png);
    assert.equal(chunks.length, 1);
    assert.equal(chunks[0].type, c.type);
    assert.equal(chunks[0].keyword, "parameters");
    assert.equal(chunks[0].text, c.text);
    assert.equal(chunks[0].compressed, false);
    assert.equal(readPngText(png, "parameters"), c.text);
    assert.equal(readPngText(png, "other"), undefined);

    // The chunk sits after IHDR and before the first IDAT; the other chunks are unchanged.
    const list = chunkList(png);
    const textIndex = list.findIndex((x) => x.type === c.type);
    const idatIndex = list.findIndex((x) => x.type === "IDAT");
    assert.equal(list[0].type, "IHDR");
    assert.ok(textIndex > 0 && textIndex === idatIndex - 1);
    assert.deepEqual(
      list.filter((x) => x.type !== c.type).map((x) => x.type),
      chunkList(original).map((x) => x.type),
    );

    // sharp still decodes it, to the same pixels, and sees the same text.
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.width, W);
    assert.equal(info.height, H);
    assert.equal(info.channels, 3);
    assert.deepEqual(new Uint8Array(data), testPixels());
    const meta = await sharp(png).metadata();
    assert.equal(meta.comments?.length, 1);
    assert.equal(meta.comments?.[0].keyword, "parameters");
    // libvips decodes tEXt bytes as UTF-8 rather than Latin-1 (the PNG spec's and PIL's reading), so
    // it only agrees on the text where Latin-1 and UTF-8 coincide (ASCII) or the chunk is iTXt.
    if (c.type === "iTXt" || /^[\x00-\x7f]*$/.test(c.text)) assert.equal(meta.comments?.[0].text, c.text);
  });
}

test("iTXt layout: keyword NUL, flag 0, method 0, empty language NUL, empty translated keyword NUL, UTF-8", () => {
  const chunk = encodePngTextChunk("parameters", "é—");
  assert.equal(chunk.toString("latin1", 4, 8), "iTXt");
  const data = chunk.subarray(8, chunk.length - 4);
  assert.deepEqual(data, Buffer.concat([Buffer.from("parameters\0\0\0\0\0", "latin1"), Buffer.from("é—", "utf8")]));
  const tEXt = encodePngTextChunk("Comment", "é");
  assert.equal(tEXt.toString("latin1", 4, 8), "tEXt");
  assert.deepEqual(tEXt.subarray(8, tEXt.length - 4), Buffer.from([...Buffer.from("Comment\0", "latin1"), 0xe9]));
});

test("inserting replaces an existing chunk with the same keyword and keeps the others", async () => {
  let png = insertPngText(await plainPng(), "parameters", "first");
  png = insertPngText(png, "Software", "Easel");
  png = insertPngText(png, "parameters", "second — with a dash");
  const chunks = readPngTextChunks(png).map((c) => [c.keyword, c.text]).sort();
  assert.deepEqual(chunks, [["Software", "Easel"], ["parameters", "second — with a dash"]]);
});

test("reads zTXt and compressed iTXt chunks written by other tools", async () => {
  const longText = "masterpiece, best quality, ".repeat(50) + "crème brûlée";
  const zTXt = makeChunk(
    "zTXt",
    Buffer.concat([Buffer.from("parameters\0\0", "latin1"), zlib.deflateSync(Buffer.from(longText, "latin1"))]),
  );
  const utf8Text = "桜の木の下で — 🌸 ".repeat(20);
  const iTXt = makeChunk(
    "iTXt",
    Buffer.concat([
      Buffer.from("Description\0\x01\x00ja\0", "latin1"),
      Buffer.from("説明", "utf8"),
      Buffer.from([0]),
      zlib.deflateSync(Buffer.from(utf8Text, "utf8")),
    ]),
  );
  const png = withChunkBeforeIend(withChunkBeforeIend(await plainPng(), zTXt), iTXt);
  const chunks = readPngTextChunks(png);
  assert.deepEqual(chunks, [
    { type: "zTXt", keyword: "parameters", text: longText, compressed: true },
    {
      type: "iTXt",
      keyword: "Description",
      text: utf8Text,
      compressed: true,
      languageTag: "ja",
      translatedKeyword: "説明",
    },
  ]);
  // sharp agrees the file is intact.
  const { info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width, W);
});

test("CRC corruption is detected in the text chunk and in image data", async () => {
  const png = insertPngText(await plainPng(), "parameters", "Steps: 20, Sampler: Euler a, CFG scale: 7");
  const list = chunkList(png);
  for (const type of ["tEXt", "IDAT", "IHDR"]) {
    const chunk = list.find((c) => c.type === type);
    assert.ok(chunk);
    const bad = Buffer.from(png);
    bad[chunk.start + 8 + Math.floor(chunk.length / 2)] ^= 0x01;
    assertOneLineError(() => readPngTextChunks(bad), new RegExp(`CRC mismatch in the ${type} chunk`));
    assertOneLineError(() => insertPngText(bad, "parameters", "x"), /CRC mismatch/);
  }
  // A wrong stored CRC (rather than wrong data) as well.
  const text = list.find((c) => c.type === "tEXt");
  assert.ok(text);
  const badCrc = Buffer.from(png);
  badCrc[text.start + 8 + text.length] ^= 0x80;
  assertOneLineError(() => readPngTextChunks(badCrc), /CRC mismatch in the tEXt chunk/);
});

test("reading one text chunk checks that chunk's CRC, not the image data's", async () => {
  const png = insertPngText(await plainPng(), "parameters", "Steps: 20, Sampler: Euler a, CFG scale: 7");
  const list = chunkList(png);
  const flip = (type: string) => {
    const chunk = list.find((c) => c.type === type);
    assert.ok(chunk);
    const bad = Buffer.from(png);
    bad[chunk.start + 8 + Math.floor(chunk.length / 2)] ^= 0x01;
    return bad;
  };
  assert.equal(readPngText(flip("IDAT"), "parameters"), "Steps: 20, Sampler: Euler a, CFG scale: 7");
  assertOneLineError(() => readPngText(flip("tEXt"), "parameters"), /CRC mismatch in the tEXt chunk/);
  // The structure is still checked: a truncated file is an error, not "no parameters".
  assertOneLineError(() => readPngText(png.subarray(0, png.length - 6), "parameters"), /truncated/);
});

test("non-PNG, truncated and structurally broken inputs give one-line errors", async () => {
  const png = insertPngText(await plainPng(), "parameters", "hello");
  assertOneLineError(() => readPngTextChunks(Buffer.from("GIF89a not a png at all")), /Not a PNG file/);
  assertOneLineError(() => readPngTextChunks(Buffer.alloc(0)), /Not a PNG file/);
  assertOneLineError(() => readPngTextChunks(png.subarray(0, 8)), /truncated/);
  assertOneLineError(() => readPngTextChunks(png.subarray(0, png.length - 6)), /truncated/);
  assertOneLineError(() => readPngTextChunks(png.subarray(0, 40)), /truncated/);
  // First chunk must be IHDR.
  const noIhdr = Buffer.concat([png.subarray(0, 8), makeChunk("tEXt", Buffer.from("a\0b")), png.subarray(8)]);
  assertOneLineError(() => readPngTextChunks(noIhdr), /first chunk is tEXt, not IHDR/);
  // A text chunk whose CRC is right but whose content is not: no keyword separator.
  const noNul = withChunkBeforeIend(await plainPng(), makeChunk("tEXt", Buffer.from("keyword-without-nul")));
  assertOneLineError(() => readPngTextChunks(noNul), /no valid keyword/);
  // zTXt whose data does not inflate.
  const badZ = withChunkBeforeIend(await plainPng(), makeChunk("zTXt", Buffer.from("k\0\0not zlib data", "latin1")));
  assertOneLineError(() => readPngTextChunks(badZ), /does not inflate/);
  // iTXt with invalid UTF-8.
  const badUtf8 = withChunkBeforeIend(
    await plainPng(),
    makeChunk("iTXt", Buffer.concat([Buffer.from("k\0\0\0\0\0", "latin1"), Buffer.from([0xff, 0xfe])])),
  );
  assertOneLineError(() => readPngTextChunks(badUtf8), /not valid UTF-8/);
  // Bytes after IEND are ignored, as decoders do.
  assert.deepEqual(readPngTextChunks(Buffer.concat([png, Buffer.from("trailing")])).map((c) => c.text), ["hello"]);
});

test("keywords are validated: 1-79 printable Latin-1 characters, no stray spaces", async () => {
  const png = await plainPng();
  validatePngKeyword("parameters");
  validatePngKeyword("Größe");
  validatePngKeyword("k".repeat(79));
  for (const bad of ["", "k".repeat(80), "ключ", "tab\there", " lead", "trail ", "two  spaces", "nul\0"]) {
    assert.throws(() => insertPngText(png, bad, "text"), RangeError, JSON.stringify(bad));
  }
});

test("a lone surrogate is written as U+FFFD instead of failing the write", async () => {
  const chunk = encodePngTextChunk("parameters", "lone \ud800 surrogate, pair \ud83c\udf38");
  assert.equal(chunk.toString("latin1", 4, 8), "iTXt");
  const png = insertPngText(await plainPng(), "parameters", "lone \udc00 surrogate");
  assert.equal(readPngText(png, "parameters"), "lone \ufffd surrogate");
});

test("text containing NUL is carried as iTXt and read back intact", async () => {
  const text = "before\0after";
  const png = insertPngText(await plainPng(), "parameters", text);
  const [chunk] = readPngTextChunks(png);
  assert.equal(chunk.type, "iTXt");
  assert.equal(chunk.text, text);
});

// ---------------------------------------------------------------------------------------------
// Zip bombs: the inflate cap is per file, and only the chunk asked for is inflated

/**
 * A valid zlib stream of `mib` MiB of `byte`, built without deflating all of it: one MiB deflated
 * with a full flush (byte-aligned blocks that refer to nothing before them) repeated, an empty final
 * block, and the Adler-32 of the whole, computed in closed form. 60 MiB come to about 60 KB.
 */
function zlibOfRepeated(byte: number, mib: number): Buffer {
  const MiB = 1024 * 1024;
  const block = zlib.deflateRawSync(Buffer.alloc(MiB, byte), { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH });
  const n = BigInt(mib * MiB);
  const c = BigInt(byte);
  const a = (1n + n * c) % 65521n;
  const b = (n + (c * n * (n + 1n)) / 2n) % 65521n;
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE(Number((b << 16n) | a));
  return Buffer.concat([Buffer.from([0x78, 0xda]), ...Array<Buffer>(mib).fill(block), zlib.deflateRawSync(Buffer.alloc(0)), adler]);
}

let bombData: Buffer | undefined;
/** zlib data that inflates to 60 MiB. */
function bomb(): Buffer {
  bombData ??= zlibOfRepeated(0x61, 60);
  return bombData;
}

test("the zip-bomb builder makes a valid zlib stream", () => {
  const small = zlibOfRepeated(0x61, 3);
  assert.ok(zlib.inflateSync(small).equals(Buffer.alloc(3 * 1024 * 1024, 0x61)));
});

function zTXt(keyword: string, data: Buffer): Buffer {
  return makeChunk("zTXt", Buffer.concat([Buffer.from(`${keyword}\0\0`, "latin1"), data]));
}

/** A small PNG with twenty zTXt chunks that would inflate to 1.2 GB, then a small `parameters`. */
async function bombPng(parametersChunk: Buffer): Promise<Buffer> {
  let png = await plainPng();
  for (let i = 0; i < 20; i++) png = withChunkBeforeIend(png, zTXt(`comment${i}`, bomb()));
  return withChunkBeforeIend(png, parametersChunk);
}

test("twenty 60 MB zTXt chunks: reading parameters inflates none of them, reading all stops at the per-file cap", async () => {
  const png = await bombPng(encodePngTextChunk("parameters", "a cat\nSteps: 1, Sampler: Euler, CFG scale: 7"));
  assert.ok(png.length < 2 * 1024 * 1024, `${png.length} bytes on disk`);
  const peakBefore = process.resourceUsage().maxRSS; // KiB
  let started = performance.now();
  assert.equal(readPngText(png, "parameters"), "a cat\nSteps: 1, Sampler: Euler, CFG scale: 7");
  const onlyParameters = performance.now() - started;
  started = performance.now();
  assertOneLineError(() => readPngTextChunks(png), new RegExp(`zTXt text "comment0" is over ${MAX_PNG_TEXT_BYTES} bytes`));
  const allChunks = performance.now() - started;
  const peakGrowthMiB = (process.resourceUsage().maxRSS - peakBefore) / 1024;
  // Inflating them all (the old behaviour) took seconds and 1.2 GB or more.
  assert.ok(onlyParameters < 200, `parameters alone took ${onlyParameters.toFixed(0)} ms`);
  assert.ok(allChunks < 2000, `all chunks took ${allChunks.toFixed(0)} ms`);
  assert.ok(peakGrowthMiB < 200, `peak memory grew by ${peakGrowthMiB.toFixed(0)} MiB`);
  // The budget is shared: two chunks of 10 MB each fit one at a time, not together.
  const tenMiB = zlibOfRepeated(0x62, 10);
  const two = withChunkBeforeIend(withChunkBeforeIend(await plainPng(), zTXt("a", tenMiB)), zTXt("b", tenMiB));
  assert.equal(readPngTextChunks(two, 12 * 1024 * 1024 * 2).length, 2);
  assertOneLineError(() => readPngTextChunks(two, 12 * 1024 * 1024), /zTXt text "b" is over 12582912 bytes/);
});

test("a zip-bomb parameters chunk stops inflating at the cap and says why", async () => {
  for (const chunk of [
    zTXt("parameters", bomb()),
    makeChunk("iTXt", Buffer.concat([Buffer.from("parameters\0\x01\x00\0\0", "latin1"), bomb()])),
  ]) {
    const png = withChunkBeforeIend(await plainPng(), chunk);
    const started = performance.now();
    assertOneLineError(() => readPngText(png, "parameters", 1024 * 1024), /text "parameters" is over 1048576 bytes/);
    const ms = performance.now() - started;
    assert.ok(ms < 200, `took ${ms.toFixed(0)} ms (inflating all 60 MB takes about a second)`);
  }
  // Uncompressed text counts against the same cap.
  const plainText = withChunkBeforeIend(await plainPng(), encodePngTextChunk("parameters", "x".repeat(2000)));
  assertOneLineError(() => readPngText(plainText, "parameters", 1000), /tEXt text "parameters" is over 1000 bytes/);
  assert.equal(readPngText(plainText, "parameters", 2000), "x".repeat(2000));
});
