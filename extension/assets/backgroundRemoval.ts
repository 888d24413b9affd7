// "Easel: Remove Background" on any workspace image, and the Studio's transparent toggle: the
// catalog's background remover (downloaded once, after asking, with its size and licence) runs in
// the engine process; the result is a new PNG (or WebP) beside the image, created through one
// WorkspaceEdit and opened.
import * as vscode from "vscode";
import { commandResource } from "../activeResource";
import { readSettings } from "../config";
import { EaselError } from "../engine/errors";
import type { WireImage } from "../engine/host/engineEvents";
import { formatBytes, formatProgressLine } from "../engine/hub";
import type { CatalogBackgroundRemover } from "../engine/hub/catalog";
import { type MatteSpec, transparentJpegError } from "../engine/matte/backgroundRemoval";
import { backgroundRemoverEntry, ensureRemover, findStoreRemover, matteSpecOf } from "../engine/matte/remover";
import type { EngineService } from "../engineService";
import { showError } from "../errorMessages";
import { modelStore, vscodeProxy } from "../models/modelResolver";
import type { EaselSettings } from "../settings";
import { isImageFile } from "./imageFiles";
import { cutoutName } from "./naming";
import { applyOrThrow } from "./saveImages";
import { recordDerived } from "./assetLock";
import { removeBackgroundStep } from "../engine/assets/assetRecord";
import { readWorkspaceImage } from "../workspaceImages";

export interface EditorRemover {
  readonly file: string;
  readonly spec: MatteSpec;
  /** The catalog entry's id: recorded in the image's parameters and its lockfile entry. */
  readonly name: string;
}

async function confirmDownload(entry: CatalogBackgroundRemover, bytes: number): Promise<boolean> {
  const download = `Download (${formatBytes(bytes)})`;
  const answer = await vscode.window.showInformationMessage(
    `Removing a background needs ${entry.name} (${formatBytes(bytes)}, ${entry.license.name}, from ${entry.repo}), downloaded once into Easel's model folder. Download it now?`,
    { modal: true },
    download,
  );
  return answer === download;
}

/** The remover's graph: from the store, else downloaded after asking (cancellable, with progress). */
export async function editorRemover(settings: EaselSettings): Promise<EditorRemover> {
  const entry = backgroundRemoverEntry();
  const store = modelStore(settings);
  const have = await findStoreRemover(entry, store);
  if (have) return { file: have, spec: matteSpecOf(entry), name: entry.id };
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Easel: ${entry.name}`, cancellable: true }, async (progress, token) => {
    const controller = new AbortController();
    const sub = token.onCancellationRequested(() => controller.abort());
    try {
      let declined = false;
      const got = await ensureRemover(entry, {
        store,
        proxy: vscodeProxy(),
        signal: controller.signal,
        confirm: async (bytes) => !(declined = !(await confirmDownload(entry, bytes))),
        onProgress: (p) => progress.report({ message: `downloading: ${formatProgressLine(p)}` }),
      }).catch((error: unknown) => {
        // The user said no to the download: nothing to report (the error table would offer models).
        if (declined) throw new EaselError("cancelled", "background removal cancelled");
        throw error;
      });
      return { file: got.file, spec: matteSpecOf(entry), name: entry.id };
    } finally {
      sub.dispose();
    }
  });
}

/** For an agent: the remover's error saying how to get it when it is not downloaded (an agent never starts the download or its prompt). */
export async function requireDownloadedRemover(settings: EaselSettings): Promise<void> {
  const entry = backgroundRemoverEntry();
  if (await findStoreRemover(entry, modelStore(settings))) return;
  throw new EaselError(
    "model-missing",
    `transparent: true needs the background-removal model ${entry.name} (${entry.id}, ${entry.license.name}), which is not downloaded: ask the user to run 'Easel: Remove Background' on any image once (it asks before downloading), or 'easel models pull ${entry.id}' in a terminal`,
  );
}

/**
 * Generated images made transparent (the Studio's toggle, a recalled transparent image, an agent's transparent: true), hard-edged
 * at `matte` when given; JPEG output is refused before anything runs. Returns the remover too, for
 * the lockfile entry.
 */
export async function transparentImages(
  engine: EngineService,
  images: readonly WireImage[],
  settings: EaselSettings,
  matte: number | undefined,
  signal?: AbortSignal,
): Promise<{ readonly images: WireImage[]; readonly remover: EditorRemover }> {
  if (settings.output.format === "jpeg") throw transparentJpegError();
  const remover = await editorRemover(settings);
  const out: WireImage[] = [];
  for (const image of images) out.push({ ...image, png: (await engine.removeBackground({ image: image.png, remover, matte, format: "png" }, signal)).image });
  return { images: out, remover };
}

async function removeBackgroundOf(engine: EngineService, uri: vscode.Uri): Promise<void> {
  const name = uri.path.split("/").pop() ?? "image";
  if (!isImageFile(name)) throw new EaselError("image-invalid", `${name} is not a PNG, WebP or JPEG image: choose one of those`);
  const image = await readWorkspaceImage(uri);
  const remover = await editorRemover(readSettings(uri));
  const folder = vscode.Uri.joinPath(uri, "..");
  const taken = new Set((await vscode.workspace.fs.readDirectory(folder).then(undefined, () => [] as [string, vscode.FileType][])).map(([n]) => n));
  const target = vscode.Uri.joinPath(folder, cutoutName(name, taken));
  const format = target.path.endsWith(".webp") ? "webp" : "png";
  const cut = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Easel: removing the background of ${name}`, cancellable: true }, (_progress, token) => {
    const controller = new AbortController();
    token.onCancellationRequested(() => controller.abort());
    return engine.removeBackground({ image, remover, format }, controller.signal);
  });
  const edit = new vscode.WorkspaceEdit();
  edit.createFile(target, { contents: cut.image, overwrite: false });
  await applyOrThrow(edit, "the transparent image");
  await recordDerived(uri, image, [[target, cut.image]], (root) => removeBackgroundStep(remover.file, root, { catalogId: remover.name, format }));
  await vscode.commands.executeCommand("vscode.open", target);
}

export function registerRemoveBackground(engine: EngineService): vscode.Disposable {
  return vscode.commands.registerCommand("easel.removeBackground", async (arg?: unknown) => {
    try {
      const uri = commandResource(arg);
      if (!uri) throw new EaselError("bad-argument", "choose an image in the explorer (or open one) to remove its background");
      await removeBackgroundOf(engine, uri);
    } catch (error) {
      await showError(error);
    }
  });
}
