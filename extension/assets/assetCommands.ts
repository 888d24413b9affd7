// "Easel: Regenerate Asset" (an image with an easel-assets.json entry, made again and written
// back) and "Easel: Check Workspace Assets" (every entry made again and compared, the result as a
// list). Generations go through the engine process and its queue, like every other.
import * as vscode from "vscode";
import { commandResource } from "../activeResource";
import { compareAsset } from "../engine/assets/assetRecord";
import { LOCKFILE_NAME, readAssets } from "../engine/assets/lockfile";
import { EaselError } from "../engine/errors";
import type { EngineService } from "../engineService";
import { showError } from "../errorMessages";
import { signalFor } from "../generation/generateAndSave";
import { checkAssets } from "./assetChecks";
import { workspacePlace } from "./assetLock";
import { editorRegenerator } from "./assetRegeneration";

async function readFile(uri: vscode.Uri): Promise<Uint8Array | undefined> {
  return vscode.workspace.fs.readFile(uri).then(
    (b) => b,
    () => undefined,
  );
}

async function regenerateAsset(engine: EngineService, arg: unknown): Promise<void> {
  const uri = commandResource(arg);
  const place = uri && workspacePlace(uri);
  const assets = place && (await readAssets(place.root));
  const entry = place && assets?.get(place.rel);
  if (!uri || !place || !assets || !entry) throw new EaselError("bad-argument", `this file has no entry in ${LOCKFILE_NAME}: only images Easel recorded can be regenerated`);
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Easel: regenerating ${place.rel}`, cancellable: true }, async (_p, token) => {
    const signal = signalFor(token);
    const made = await editorRegenerator(engine, place.root, assets, signal).regenerate(entry);
    const comparison = await compareAsset(place.rel, await readFile(uri), made);
    if (comparison.status === "ok") {
      void vscode.window.showInformationMessage(`Easel: ${place.rel} already matches its entry (unchanged)`);
      return;
    }
    await vscode.workspace.fs.writeFile(uri, made);
    void vscode.window.showInformationMessage(`Easel: ${comparison.status === "missing" ? "restored" : "rewrote"} ${place.rel} from ${LOCKFILE_NAME}`);
  });
}

async function checkWorkspaceAssets(engine: EngineService): Promise<void> {
  const roots = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === "file").map((f) => f.uri.fsPath);
  const results = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: "Easel: checking workspace assets", cancellable: true }, (progress, token) =>
    checkAssets(
      roots,
      { regenerator: (root, assets, signal) => editorRegenerator(engine, root, assets, signal), readFile: (root, rel) => readFile(vscode.Uri.joinPath(vscode.Uri.file(root), ...rel.split("/"))) },
      signalFor(token),
      (done, total, rel) => progress.report({ message: `${done + 1}/${total} ${rel}`, increment: 100 / total }),
    ),
  );
  for (const r of results) engine.output.info(`assets: ${r.line}`);
  if (results.length === 0) {
    void vscode.window.showInformationMessage(`Easel: no images are recorded in ${LOCKFILE_NAME} in this workspace`);
    return;
  }
  const bad = results.filter((r) => r.status !== "ok").length;
  const icon = { ok: "$(pass)", differs: "$(diff)", missing: "$(warning)", failed: "$(error)" } as const;
  const picked = await vscode.window.showQuickPick(
    results.map((r) => ({ label: `${icon[r.status]} ${r.rel}`, description: r.status, detail: r.status === "ok" ? undefined : r.line, result: r })),
    { title: bad === 0 ? `All ${results.length} recorded images match` : `${bad} of ${results.length} recorded images do not match`, placeHolder: "Open an image" },
  );
  if (picked && picked.result.status !== "missing") await vscode.commands.executeCommand("vscode.open", vscode.Uri.joinPath(vscode.Uri.file(picked.result.root), ...picked.result.rel.split("/")));
}

export function registerAssetCommands(engine: EngineService): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand("easel.regenerateAsset", (arg?: unknown) => regenerateAsset(engine, arg).catch(showError)),
    vscode.commands.registerCommand("easel.checkAssets", () => checkWorkspaceAssets(engine).catch(showError)),
  );
}
