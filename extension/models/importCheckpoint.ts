// Easel: Import Checkpoint… — picks a .safetensors file and runs `easel models import` in its own
// Node process (the CLI bundled with the extension), so the conversion and the verifying
// generation never load ONNX Runtime into the extension host. Progress (bytes, ETA) comes back as
// JSON lines; Cancel kills the process, whose staging folder is then removed here. Without the
// architecture's graphs in the store, it first offers the catalog's graph-only template.
import { fork } from "node:child_process";
import * as path from "node:path";
import * as vscode from "vscode";
import { readSettings } from "../config";
import { ARCHITECTURE_LABELS, type ImportArchitecture } from "../engine/convert/architecture";
import { type ImportProgress, parseProgressLine, progressMessage } from "../engine/convert/importRecord";
import { checkpointArchitecture, lookUpStoreTemplate, pullTemplate } from "../engine/convert/templates";
import type { CatalogEntry, CatalogTemplate } from "../engine/hub/catalog";
import { formatProgressLine } from "../engine/hub/progress";
import { signalFor } from "../generation/generateAndSave";
import { showError } from "../errorMessages";
import { templateArgs, type TemplateChoice } from "./importTemplate";
import { downloadWithProgress, hubOptions, modelStore } from "./modelResolver";
import { fireModelsChanged } from "./modelsChanged";

interface ImportOutcome {
  readonly name: string;
  readonly baseModel: string;
}

function runImport(cli: string, args: readonly string[], token: vscode.CancellationToken, report: (p: ImportProgress) => void): Promise<ImportOutcome> {
  return new Promise((resolve, reject) => {
    const child = fork(cli, args, { execArgv: [], env: { ...process.env, ELECTRON_RUN_AS_NODE: "1" }, stdio: ["ignore", "pipe", "pipe", "ipc"] });
    let stdout = "";
    let errorLine = "";
    let pending = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr?.on("data", (d: Buffer) => {
      pending += d.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const p = parseProgressLine(line);
        if (p) report(p);
        else if (line.startsWith("error: ")) errorLine = line.slice(7);
      }
    });
    // SIGINT: the CLI aborts between tensors and removes its staging folder itself.
    const cancel = token.onCancellationRequested(() => child.kill("SIGINT"));
    child.on("error", reject);
    child.on("close", (code) => {
      cancel.dispose();
      if (token.isCancellationRequested) return reject(new vscode.CancellationError());
      if (code !== 0) return reject(new Error(errorLine || `the import stopped (exit code ${code})`));
      try {
        resolve(JSON.parse(stdout) as ImportOutcome);
      } catch {
        reject(new Error("the import said nothing readable"));
      }
    });
  });
}

async function importCheckpoint(cli: string): Promise<void> {
  const picked = await vscode.window.showOpenDialog({ title: "Easel: Import Checkpoint", canSelectMany: false, filters: { "Safetensors checkpoints": ["safetensors"] }, openLabel: "Import" });
  const file = picked?.[0]?.fsPath;
  if (!file) return;
  const settings = readSettings();
  const store = modelStore(settings);
  const template = await templateArgs(file, {
    architectureOf: checkpointArchitecture,
    lookUp: (architecture) => lookUpStoreTemplate(store, architecture),
    offer: offerTemplate,
    download: async (pull) => {
      if ("kind" in pull) await downloadTemplate(pull);
      else await downloadWithProgress(settings, pull.id);
    },
    pickFolder: async () => (await vscode.window.showOpenDialog({ title: "Easel: Import Checkpoint — template folder (a diffusers ONNX export of the same architecture)", canSelectFolders: true, canSelectFiles: false, openLabel: "Use as Template" }))?.[0]?.fsPath,
  });
  if (!template) return;
  const args = ["models", "import", file, "--json", "--store", store.root, ...template];
  const prediction = await vscode.window.showQuickPick(
    [
      { label: "From the file", description: "SD 1.x and SDXL; SD 2.x when its metadata says", value: undefined },
      { label: "v-prediction", description: "SD 2.x 768-v models", value: "v" },
      { label: "epsilon", description: "SD 2.x base models", value: "eps" },
    ],
    { title: "Easel: Import Checkpoint — prediction type" },
  );
  if (!prediction) return;
  if (prediction.value) args.push("--prediction", prediction.value);
  const precision = await vscode.window.showQuickPick(
    [
      { label: "As the template", description: "the template graphs' precision", value: undefined },
      { label: "fp16", description: "half the size, for GPUs; the VAE stays fp32 (it overflows in fp16)", value: "fp16" },
      { label: "fp32", description: "every component in fp32 (CPU)", value: "fp32" },
    ],
    { title: "Easel: Import Checkpoint — precision" },
  );
  if (!precision) return;
  if (precision.value) args.push("--dtype", precision.value);
  const outcome = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Easel: importing ${path.basename(file)}`, cancellable: true },
    async (progress, token) => {
      let shown = 0;
      return runImport(cli, args, token, (p) => {
        const pct = p.total > 0 ? Math.floor((p.bytes / p.total) * 100) : 100;
        progress.report({ message: progressMessage(p), increment: Math.max(0, pct - shown) });
        shown = Math.max(shown, pct);
      });
    },
  );
  fireModelsChanged();
  const use = await vscode.window.showInformationMessage(`Easel: imported ${outcome.name} (${outcome.baseModel}).`, "Use it now");
  if (use) await vscode.workspace.getConfiguration("easel").update("model", outcome.name, vscode.ConfigurationTarget.Global);
}

/** Offers the catalog's download for the architecture's graphs (a graph-only template where there is one), or a folder of the user's. */
async function offerTemplate(architecture: ImportArchitecture, pull: CatalogTemplate | CatalogEntry | undefined): Promise<TemplateChoice | undefined> {
  const label = ARCHITECTURE_LABELS[architecture];
  const download = "Download";
  const folder = "Choose Template Folder…";
  const what =
    pull === undefined
      ? `Easel has no ${label} graphs to import into, and its catalog has none to download: choose a diffusers ONNX folder of the same architecture.`
      : "kind" in pull
        ? `Importing an ${label} checkpoint needs the architecture's ONNX graphs: download ${pull.name} once? (${pull.description})`
        : `Importing an ${label} checkpoint needs the architecture's ONNX graphs: download ${pull.name} (${pull.id}) once? Its graphs are used; its weights are not.`;
  const answer = await vscode.window.showInformationMessage(`Easel: ${what}`, ...(pull ? [download] : []), folder);
  return answer === download ? "download" : answer === folder ? "folder" : undefined;
}

async function downloadTemplate(template: CatalogTemplate): Promise<void> {
  const settings = readSettings();
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Easel: downloading ${template.name}`, cancellable: true }, async (progress, token) => {
    await pullTemplate(template, hubOptions(settings, signalFor(token), (p) => progress.report({ message: formatProgressLine(p) })));
  });
}

export function registerImportCheckpoint(context: vscode.ExtensionContext): vscode.Disposable {
  const cli = path.join(context.extensionPath, "dist", "cli.js");
  return vscode.commands.registerCommand("easel.importCheckpoint", async () => {
    try {
      await importCheckpoint(cli);
    } catch (error) {
      if (error instanceof vscode.CancellationError) return;
      await showError(error);
    }
  });
}
