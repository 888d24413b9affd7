// The extension's side of easel-assets.json: images it saves are recorded in their workspace
// folder's lockfile, and renaming or deleting files in VS Code keeps the entries in step. Only
// local (file:) workspace folders have one: the lockfile is written with Node's file system.
import * as vscode from "vscode";
import { derivedEntry, generatedEntry, inlineInputImage, inputImage, loraRecords, modelRecord } from "../engine/assets/assetRecord";
import {
  type AssetEntry,
  type GenerationRecord,
  type InputChunk,
  type InputImage,
  LOCKFILE_NAME,
  moveEntries,
  type PostStep,
  readAssets,
  recordAssets,
  removeEntries,
  updateAssets,
} from "../engine/assets/lockfile";
import { firstLine } from "../engine/errors";
import type { ResultEvent } from "../engine/host/engineEvents";
import type { WireGenerateRequest } from "../engine/host/engineRequests";
import { encodeAs, type ImageFormat } from "../engine/image/convert";
import { requestFromInfotext } from "../generation/requestFromInfotext";
import type { PlannedImage } from "./saveImages";

/** The local workspace folder holding `uri` and `uri`'s path relative to it, when there is one. */
export function workspacePlace(uri: vscode.Uri): { readonly root: string; readonly rel: string } | undefined {
  const folder = vscode.workspace.getWorkspaceFolder(uri);
  if (!folder || folder.uri.scheme !== "file" || uri.scheme !== "file") return undefined;
  const rel = vscode.workspace.asRelativePath(uri, false);
  if (rel === uri.fsPath || rel.startsWith("..")) return undefined;
  return { root: folder.uri.fsPath, rel: rel.split("\\").join("/") };
}

/** Where a request's starting image or mask came from: a workspace image, or the image stored in one of its chunks. */
export interface InputOrigin {
  readonly uri: vscode.Uri;
  readonly chunk?: InputChunk;
}

export interface GeneratedExtras {
  /** Where the request's starting image and mask came from; one without an origin (a painted mask) is kept in the entry itself. */
  readonly inputs?: { readonly initImage?: InputOrigin; readonly mask?: InputOrigin };
  /** What happened to the engine's PNG before it was encoded into the file (background removal), for the workspace folder `root`. */
  readonly post?: (root: string) => Promise<readonly PostStep[]>;
}

/** An input of a generation as its entry in `root`'s lockfile names it: by path (and chunk) when it is in that folder, else kept inline. */
async function inputRecord(root: string, bytes: Uint8Array, origin: InputOrigin | undefined): Promise<InputImage> {
  const place = origin && workspacePlace(origin.uri);
  return place && place.root === root ? inputImage(root, origin.uri.fsPath, bytes, origin.chunk) : inlineInputImage(bytes);
}

/**
 * Records the images of one generation (txt2img, img2img, inpainting, outpainting, each possibly
 * made transparent) in their workspace folder's lockfile: what the palette, the Studio, Markdown
 * and the agent tools save all comes through here.
 */
export async function recordGenerated(
  saved: readonly PlannedImage[],
  result: ResultEvent,
  request: WireGenerateRequest,
  model: { readonly name: string; readonly dir: string },
  format: ImageFormat,
  extra: GeneratedExtras = {},
): Promise<number> {
  const byRoot = new Map<string, [string, AssetEntry][]>();
  const perRoot = new Map<string, { readonly initImage?: InputImage; readonly mask?: InputImage; readonly post: readonly PostStep[] }>();
  for (const s of saved) {
    const place = workspacePlace(s.uri);
    if (!place) continue;
    let inRoot = perRoot.get(place.root);
    if (!inRoot) {
      inRoot = {
        initImage: request.initImage ? await inputRecord(place.root, request.initImage, extra.inputs?.initImage) : undefined,
        mask: request.mask ? await inputRecord(place.root, request.mask, extra.inputs?.mask) : undefined,
        post: [...((await extra.post?.(place.root)) ?? []), { op: "encode", format }],
      };
      perRoot.set(place.root, inRoot);
    }
    const stored = requestFromInfotext(s.image.infotext);
    const r = stored.request;
    const generation: GenerationRecord = {
      prompt: r.prompt,
      negativePrompt: r.negativePrompt ?? "",
      promptSyntax: r.promptSyntax ?? "plain",
      seed: s.image.seed.toString(),
      model: await modelRecord(model.name, model.dir, place.root),
      scheduler: request.scheduler ?? "default",
      sampler: result.sampler,
      ...(r.timestepSpacing !== undefined ? { timestepSpacing: r.timestepSpacing } : {}),
      steps: r.steps ?? 0,
      guidance: r.guidance ?? 0,
      // A hires image records its first pass's size (its parameters hold it), as the CLI does.
      width: r.hires && r.width !== undefined ? r.width : s.image.width,
      height: r.hires && r.height !== undefined ? r.height : s.image.height,
      // The strength the engine ran with (its parameters), for img2img, inpainting and outpainting.
      ...(request.initImage ? { strength: r.strength ?? request.strength, initImage: inRoot.initImage } : {}),
      ...(inRoot.mask ? { mask: inRoot.mask } : {}),
      ...(stored.outpaint && request.outpaint ? { outpaint: { left: stored.outpaint.left ?? 0, right: stored.outpaint.right ?? 0, top: stored.outpaint.top ?? 0, bottom: stored.outpaint.bottom ?? 0, overlap: stored.outpaint.overlap, fill: stored.outpaint.fill } } : {}),
      decoder: r.decoder ?? "vae",
      ...(r.tileable ? { tileable: true } : {}),
      ...(r.hires ? { hires: { ...r.hires } } : {}),
      // The LoRAs the engine merged (whole hashes), fast mode's among them, as `easel generate --record` records them.
      ...loraRecords(result.loras),
      ...(request.fast ? { fast: true } : {}),
    };
    const entry = await generatedEntry(generation, await encodeAs(format, s.image.png), inRoot.post, result.provider);
    byRoot.set(place.root, [...(byRoot.get(place.root) ?? []), [place.rel, entry]]);
  }
  let recorded = 0;
  for (const [root, entries] of byRoot) {
    await recordAssets(root, entries);
    recorded += entries.length;
  }
  return recorded;
}

/** Says once that files were saved but not recorded (a corrupt lockfile is never overwritten), with why. */
export function warnUnrecorded(error: unknown): void {
  void vscode.window.showWarningMessage(`Easel: saved, but not recorded in ${LOCKFILE_NAME}: ${firstLine(error)}`);
}

/**
 * Records files made from the workspace image `source` by post-processing (a cut-out, an upscale, a
 * pack's icons): each entry names the source (path and pixel hash) and its steps, `post(root, i)`
 * for file i. Files outside the source's workspace folder are left out; a failure is a warning.
 */
export async function recordDerived(
  source: vscode.Uri,
  sourceBytes: Uint8Array,
  files: readonly (readonly [vscode.Uri, Uint8Array])[],
  post: (root: string, index: number) => Promise<PostStep> | PostStep,
): Promise<void> {
  try {
    const from = workspacePlace(source);
    if (!from) return;
    const input = await inputImage(from.root, source.fsPath, sourceBytes);
    const entries: [string, AssetEntry][] = [];
    for (const [i, [uri, bytes]] of files.entries()) {
      const place = workspacePlace(uri);
      if (place && place.root === from.root) entries.push([place.rel, await derivedEntry(input, bytes, [await post(from.root, i)])]);
    }
    await recordAssets(from.root, entries);
  } catch (error) {
    warnUnrecorded(error);
  }
}

/** The lockfile entry of an image in a local workspace folder, if it has one (an unreadable lockfile: none). */
export async function assetEntryFor(uri: vscode.Uri): Promise<AssetEntry | undefined> {
  const place = workspacePlace(uri);
  if (!place) return undefined;
  return (await readAssets(place.root).catch(() => undefined))?.get(place.rel);
}

/** Entries follow files renamed or moved in VS Code, and go with files deleted there. */
export function registerAssetFileSync(log: (line: string) => void): vscode.Disposable {
  const run = async (root: string, change: Parameters<typeof updateAssets>[1]) => {
    // No lockfile in that folder: nothing to keep in step (and none is created).
    const lockfile = vscode.Uri.file(`${root}/${LOCKFILE_NAME}`);
    if (!(await vscode.workspace.fs.stat(lockfile).then(() => true, () => false))) return;
    await updateAssets(root, change).catch((error: unknown) => log(`easel-assets.json in ${root} was not updated: ${firstLine(error)}`));
  };
  return vscode.Disposable.from(
    vscode.workspace.onDidRenameFiles(async (e) => {
      for (const { oldUri, newUri } of e.files) {
        const from = workspacePlace(oldUri);
        const to = workspacePlace(newUri);
        if (from && to && from.root === to.root) await run(from.root, (assets) => moveEntries(assets, from.rel, to.rel));
        else if (from) await run(from.root, (assets) => removeEntries(assets, from.rel));
      }
    }),
    vscode.workspace.onDidDeleteFiles(async (e) => {
      for (const uri of e.files) {
        const place = workspacePlace(uri);
        if (place) await run(place.root, (assets) => removeEntries(assets, place.rel));
      }
    }),
  );
}
