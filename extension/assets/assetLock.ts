// The extension's side of easel-assets.json: images it saves are recorded in their workspace
// folder's lockfile, and renaming or deleting files in VS Code keeps the entries in step. Only
// local (file:) workspace folders have one: the lockfile is written with Node's file system.
import * as vscode from "vscode";
import { derivedEntry, generatedEntry, modelRecord } from "../engine/assets/assetRecord";
import { type AssetEntry, type GenerationRecord, LOCKFILE_NAME, moveEntries, pixelHash, readAssets, removeEntries, updateAssets } from "../engine/assets/lockfile";
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

/**
 * Records the images of one generation. An img2img or inpainting request's starting image came
 * as bytes, with no file to name, so those are not recorded (a lockfile entry must be able to make
 * its image again).
 */
export async function recordGenerated(
  saved: readonly PlannedImage[],
  result: ResultEvent,
  request: WireGenerateRequest,
  model: { readonly name: string; readonly dir: string },
  format: ImageFormat,
): Promise<void> {
  if (request.initImage !== undefined || request.mask !== undefined) return;
  const byRoot = new Map<string, [string, AssetEntry][]>();
  for (const s of saved) {
    const place = workspacePlace(s.uri);
    if (!place) continue;
    const stored = requestFromInfotext(s.image.infotext).request;
    const generation: GenerationRecord = {
      prompt: stored.prompt,
      negativePrompt: stored.negativePrompt ?? "",
      promptSyntax: stored.promptSyntax ?? "plain",
      seed: s.image.seed.toString(),
      model: await modelRecord(model.name, model.dir, place.root),
      scheduler: request.scheduler ?? "default",
      sampler: result.sampler,
      steps: stored.steps ?? 0,
      guidance: stored.guidance ?? 0,
      // A hires image records its first pass's size (its parameters hold it), as the CLI does.
      width: stored.hires && stored.width !== undefined ? stored.width : s.image.width,
      height: stored.hires && stored.height !== undefined ? stored.height : s.image.height,
      decoder: stored.decoder ?? "vae",
      ...(stored.tileable ? { tileable: true } : {}),
      ...(stored.hires ? { hires: { ...stored.hires } } : {}),
    };
    const entry = await generatedEntry(generation, await encodeAs(format, s.image.png), [{ op: "encode", format }], result.provider);
    byRoot.set(place.root, [...(byRoot.get(place.root) ?? []), [place.rel, entry]]);
  }
  for (const [root, entries] of byRoot) {
    await updateAssets(root, (assets) => {
      for (const [rel, entry] of entries) assets.set(rel, entry);
    });
  }
}

/** The lockfile entry of an image in a local workspace folder, if it has one (an unreadable lockfile: none). */
export async function assetEntryFor(uri: vscode.Uri): Promise<AssetEntry | undefined> {
  const place = workspacePlace(uri);
  if (!place) return undefined;
  return (await readAssets(place.root).catch(() => undefined))?.get(place.rel);
}

/** Records an icon set written from `source` (an image in the workspace): each icon's entry names its source and size. */
export async function recordIcons(source: vscode.Uri, sourceBytes: Uint8Array, icons: readonly { readonly uri: vscode.Uri; readonly size: number; readonly png: Uint8Array }[]): Promise<void> {
  const from = workspacePlace(source);
  if (!from) return;
  const input = { path: from.rel, pixels: (await pixelHash(sourceBytes)).pixels };
  const entries: [string, AssetEntry][] = [];
  for (const icon of icons) {
    const place = workspacePlace(icon.uri);
    if (place && place.root === from.root) entries.push([place.rel, await derivedEntry(input, icon.png, [{ op: "icon", size: icon.size }])]);
  }
  await updateAssets(from.root, (assets) => {
    for (const [rel, entry] of entries) assets.set(rel, entry);
  });
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
