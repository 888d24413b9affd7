// A graph with new values for some of its initializers (a LoRA merged into its weights), for a
// session created from the graph's bytes. The model's own files are never written: small patches go
// inline into the graph, large ones into a file of merged weights in Easel's cache, which the next
// session of the same LoRA set reuses (see patchedGraph).

import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { EaselError } from "../errors";
import { externalTensor, forEachTensorBytes, type GraphWeights, type TensorInfo, tensorBytes, tensorWithoutValues } from "./graphWeights";
import { concatBytes, encodeVarint, LEN, lenField } from "./protobufWire";

/**
 * Initializers to replace when a graph's session is created (LoRA): which ones, and a producer that
 * hands over each one's new raw bytes (its own dtype and size) one at a time, so a patch the size of
 * a whole UNet is never held in memory at once.
 */
export interface WeightPatch {
  readonly graph: GraphWeights;
  readonly replaced: ReadonlySet<string>;
  readonly write: (sink: (name: string, bytes: Uint8Array) => Promise<void>) => Promise<void>;
  /** What the new values are made of (the LoRA files, their stamps and weights): with the graph files' identity, the name of their merged weights on disk. */
  readonly key: string;
  /** Where merged weights too large to go inline are kept (spilledWeights below). */
  readonly spillDir: string;
}

/** Protobuf's 2 GiB message limit, with room to spare: a graph with its patched tensors inline stays under it. */
const MAX_INLINE_GRAPH = 1.75 * 2 ** 30;

/**
 * The graph `model` (the bytes of graph.file, possibly patched in place already) with the patch's
 * initializers given their new values, and the folder ONNX Runtime must read the external weights
 * from (undefined: the graph's own folder).
 *
 * When the graph with the new values inline stays under protobuf's 2 GiB, they go inline (raw_data)
 * and every other external weight is still read from the model's folder: only the replaced tensors
 * are held, briefly. Otherwise (a LoRA that touches most of an fp32 UNet, such as LCM-LoRA) the
 * replaced tensors and the untouched external ones are written, one at a time, into one file of
 * merged weights in the patch's spill folder (spilledWeights), which later sessions of the same
 * LoRA set reuse, and the graph points at it. ONNX Runtime then loads it as it loads any model from
 * disk; giving it every weight from memory instead (its `externalData` option, which once given
 * serves every external file) peaked at 4× the UNet. The model's own files are never written.
 */
export async function patchedGraph(
  graph: GraphWeights,
  model: Uint8Array,
  patch: Pick<WeightPatch, "replaced" | "write" | "key" | "spillDir">,
  limits: { readonly maxInlineGraph?: number } = {},
): Promise<{ model: Uint8Array; weightsFolder: string | undefined }> {
  let replacedBytes = 0;
  for (const name of patch.replaced) {
    const t = graph.initializers.get(name);
    if (!t) throw new Error(`no initializer ${name} in ${graph.file}`);
    replacedBytes += tensorBytes(t);
  }
  const inline = model.length + replacedBytes < (limits.maxInlineGraph ?? MAX_INLINE_GRAPH);
  const moved = [...graph.initializers.values()].filter((t) => patch.replaced.has(t.name) || (!inline && t.data?.external === true));
  moved.sort((a, b) => a.fieldStart - b.fieldStart);
  let tensorField: (t: TensorInfo) => Uint8Array;
  let weightsFolder: string | undefined;
  if (inline) {
    const values = new Map<string, Uint8Array>();
    await patch.write(async (name, bytes) => void values.set(name, checkedValues(graph, patch.replaced, name, bytes)));
    for (const name of patch.replaced) if (!values.has(name)) throw new Error(`the patch gave no values for ${name}`);
    tensorField = (t) => concatBytes([...tensorWithoutValues(model, t), lenField(9, values.get(t.name)!)]);
  } else {
    const spilled = await spilledWeights(graph, moved, patch);
    weightsFolder = spilled.dir;
    tensorField = (t) => {
      const at = spilled.index.get(t.name)!;
      return externalTensor(model, t, spilled.file, at.offset, at.length);
    };
  }
  const graphParts: Uint8Array[] = [];
  let pos = graph.graphField.start;
  for (const t of moved) {
    graphParts.push(model.subarray(pos, t.fieldStart));
    graphParts.push(lenField(5, tensorField(t)));
    pos = t.fieldEnd;
  }
  graphParts.push(model.subarray(pos, graph.graphField.end));
  const graphPayload = concatBytes(graphParts);
  const out = concatBytes([
    model.subarray(0, graph.graphField.tagStart),
    Uint8Array.from(encodeVarint(7 * 8 + LEN)),
    Uint8Array.from(encodeVarint(graphPayload.length)),
    graphPayload,
    model.subarray(graph.graphField.end),
  ]);
  return { model: out, weightsFolder };
}

/** `bytes` as the new values of initializer `name`, after checking the patch may replace it and their size. */
export function checkedValues(graph: GraphWeights, replaced: ReadonlySet<string>, name: string, bytes: Uint8Array): Uint8Array {
  const t = graph.initializers.get(name);
  if (!t || !replaced.has(name)) throw new Error(`the patch gave values for ${name}, which it does not replace`);
  if (bytes.length !== tensorBytes(t)) throw new Error(`initializer ${name} needs ${tensorBytes(t)} bytes, got ${bytes.length}`);
  return bytes;
}

/** The merged-weights file of one spill entry, and the index (written last) that says it is complete. */
const WEIGHTS_FILE = "weights.bin";
const INDEX_FILE = "index.json";
/** Bumped when the entry's layout changes, so older entries are not reused. */
const SPILL_VERSION = 1;
/** Each tensor starts on a page boundary, as ONNX's own external-data writer aligns large tensors (ORT may map them). */
const ALIGN = 4096;
/** Entries kept (the newest): the LoRA set in use and the one before it, so switching back is cheap. */
export const SPILL_KEEP = 2;

interface SpillIndex {
  readonly version: number;
  readonly tensors: Record<string, { readonly offset: number; readonly length: number }>;
}

/**
 * The spill entry holding `moved` (the patch's replaced tensors with their new values, and the
 * graph's other external tensors copied as they are) in one file, each tensor at its own offset:
 * reused when an entry for the same patch and the same graph files is complete, else written, one
 * tensor at a time, to a partial file renamed into place and indexed last. Older entries beyond
 * SPILL_KEEP are removed.
 */
export async function spilledWeights(
  graph: GraphWeights,
  moved: readonly TensorInfo[],
  patch: Pick<WeightPatch, "replaced" | "write" | "key" | "spillDir">,
): Promise<{ dir: string; file: string; index: ReadonlyMap<string, { offset: number; length: number }> }> {
  const dir = path.join(patch.spillDir, await spillName(graph, moved, patch.key));
  const found = await readIndex(dir, moved);
  if (found) {
    // Marks the entry as recently used, for the pruning below.
    await fs.utimes(path.join(dir, INDEX_FILE), new Date(), new Date()).catch(() => undefined);
    return { dir, file: WEIGHTS_FILE, index: found };
  }
  const needed = moved.reduce((n, t) => n + tensorBytes(t) + ALIGN, 0);
  await fs.mkdir(dir, { recursive: true });
  await pruneSpill(patch.spillDir, dir, SPILL_KEEP - 1);
  await checkFreeSpace(dir, needed);
  const partial = path.join(dir, `${WEIGHTS_FILE}.${process.pid}.partial`);
  const index = new Map<string, { offset: number; length: number }>();
  const handle = await fs.open(partial, "w");
  try {
    let end = 0;
    const put = async (name: string, bytes: Uint8Array) => {
      const offset = Math.ceil(end / ALIGN) * ALIGN;
      let written = 0;
      while (written < bytes.length) written += (await handle.write(bytes, written, bytes.length - written, offset + written)).bytesWritten;
      index.set(name, { offset, length: bytes.length });
      end = offset + bytes.length;
    };
    await patch.write((name, bytes) => put(name, checkedValues(graph, patch.replaced, name, bytes)));
    for (const name of patch.replaced) if (!index.has(name)) throw new Error(`the patch gave no values for ${name}`);
    await forEachTensorBytes(
      moved.filter((t) => !patch.replaced.has(t.name)),
      (t, bytes) => put(t.name, bytes),
    );
    await handle.close();
    await fs.rename(partial, path.join(dir, WEIGHTS_FILE));
    const written: SpillIndex = { version: SPILL_VERSION, tensors: Object.fromEntries(index) };
    await fs.writeFile(path.join(dir, `${INDEX_FILE}.${process.pid}.partial`), JSON.stringify(written));
    await fs.rename(path.join(dir, `${INDEX_FILE}.${process.pid}.partial`), path.join(dir, INDEX_FILE));
  } catch (error) {
    await handle.close().catch(() => undefined);
    await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    if ((error as NodeJS.ErrnoException).code === "ENOSPC") throw noSpace(dir, needed);
    throw error;
  }
  return { dir, file: WEIGHTS_FILE, index };
}

/** The entry's folder name: the patch's key and the identity (size, modification time) of every file the graph's weights come from. */
async function spillName(graph: GraphWeights, moved: readonly TensorInfo[], key: string): Promise<string> {
  const files = [...new Set([graph.file, ...moved.flatMap((t) => (t.data ? [t.data.file] : []))])].sort();
  const identity = await Promise.all(
    files.map(async (file) => {
      const stat = await fs.stat(file);
      return [file, stat.size, stat.mtimeMs];
    }),
  );
  return createHash("sha256")
    .update(JSON.stringify([SPILL_VERSION, key, identity, moved.map((t) => t.name)]))
    .digest("hex")
    .slice(0, 32);
}

/** A complete entry's index, when it holds every moved tensor at its size. */
async function readIndex(dir: string, moved: readonly TensorInfo[]): Promise<Map<string, { offset: number; length: number }> | undefined> {
  let index: SpillIndex;
  let size: number;
  try {
    index = JSON.parse(await fs.readFile(path.join(dir, INDEX_FILE), "utf8")) as SpillIndex;
    size = (await fs.stat(path.join(dir, WEIGHTS_FILE))).size;
  } catch {
    return undefined;
  }
  if (index.version !== SPILL_VERSION || typeof index.tensors !== "object" || index.tensors === null) return undefined;
  const out = new Map<string, { offset: number; length: number }>();
  for (const t of moved) {
    const at = index.tensors[t.name];
    if (!at || at.length !== tensorBytes(t) || !Number.isSafeInteger(at.offset) || at.offset < 0 || at.offset + at.length > size) return undefined;
    out.set(t.name, { offset: at.offset, length: at.length });
  }
  return out;
}

/** Removes all but the `keep` most recently used entries other than `current`. */
async function pruneSpill(spillDir: string, current: string, keep: number): Promise<void> {
  const names = await fs.readdir(spillDir).catch(() => [] as string[]);
  const entries: Array<{ dir: string; used: number }> = [];
  for (const name of names) {
    const dir = path.join(spillDir, name);
    if (dir === current) continue;
    const used = await fs
      .stat(path.join(dir, INDEX_FILE))
      .then((s) => s.mtimeMs)
      .catch(() => 0);
    entries.push({ dir, used });
  }
  entries.sort((a, b) => b.used - a.used);
  // A session still open on a removed file keeps reading it (POSIX); where the system refuses
  // (Windows, a file in use), the entry stays until a later prune.
  for (const e of entries.slice(keep)) await fs.rm(e.dir, { recursive: true, force: true }).catch(() => undefined);
}

async function checkFreeSpace(dir: string, needed: number): Promise<void> {
  const stats = await fs.statfs(dir).catch(() => undefined);
  if (stats && stats.bavail * stats.bsize < needed) throw noSpace(dir, needed, stats.bavail * stats.bsize);
}

function noSpace(dir: string, needed: number, free?: number): EaselError {
  const gb = (n: number) => `${(n / 1e9).toFixed(1)} GB`;
  return new EaselError(
    "output-unwritable",
    `merging these LoRAs needs ${gb(needed)} free for the merged weights in ${path.dirname(dir)}${free === undefined ? "" : ` (${gb(free)} free)`}: free some disk space, or set EASEL_HOME to a disk with room`,
  );
}

/** What the spill folder holds: its entries (LoRA sets) and their bytes, for `easel models list`. */
export async function spillUsage(spillDir: string): Promise<{ sets: number; bytes: number }> {
  let sets = 0;
  let bytes = 0;
  for (const name of await fs.readdir(spillDir).catch(() => [] as string[])) {
    const dir = path.join(spillDir, name);
    const files = await fs.readdir(dir).catch(() => [] as string[]);
    if (files.includes(INDEX_FILE)) sets += 1;
    for (const f of files) bytes += await fs.stat(path.join(dir, f)).then((s) => s.size, () => 0);
  }
  return { sets, bytes };
}
