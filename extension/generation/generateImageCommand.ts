// Easel: Generate Image… — a prompt (with recent ones to pick from), a progress notification with
// step count and Cancel, the image saved and opened, then what to do with it.
import * as vscode from "vscode";
import { insertLinks } from "../markdown/insertLinks";
import { imageLinks } from "../markdown/links";
import type { EngineService } from "../engineService";
import { showError } from "../errorMessages";
import type { WireGenerateRequest } from "../engine/host/engineRequests";
import { generateAndSave, type GenerationJob, signalFor } from "./generateAndSave";
import { PromptHistory } from "./promptHistory";
import { readSettings } from "../config";
import { fastLoraForFamily, fastLorasForFamily, findCatalogEntry } from "../engine/hub/catalog";
import { readModelFolder } from "../engine/model/modelFolder";
import { folderFamily } from "../engine/model/modelInfo";
import { findStoreFile, pullSingleFile } from "../engine/hub/singleFile";
import { formatProgressLine } from "../engine/hub/progress";
import { hubOptions, modelStore, resolveModelChoice } from "../models/modelResolver";
import type { EaselSettings } from "../settings";

async function askPrompt(history: PromptHistory): Promise<string | undefined> {
  const pick = vscode.window.createQuickPick();
  pick.title = "Easel: Generate Image";
  pick.placeholder = "Describe the image (Enter to generate)";
  const recent = history.list().map((label) => ({ label, description: "recent" }));
  pick.items = recent;
  pick.onDidChangeValue((value) => {
    // The typed prompt is always the first choice; recent prompts that match follow it.
    const typed = value.trim() ? [{ label: value, description: "" }] : [];
    pick.items = [...typed, ...recent.filter((r) => r.label !== value && r.label.toLowerCase().includes(value.toLowerCase()))];
  });
  return new Promise((resolve) => {
    pick.onDidAccept(() => {
      resolve(pick.selectedItems[0]?.label ?? pick.value);
      pick.hide();
    });
    pick.onDidHide(() => {
      resolve(undefined);
      pick.dispose();
    });
    pick.show();
  });
}

/**
 * `showInStudio`: a texture opens in the Studio, whose preview shows it repeated 2×2. `job`: the
 * rest of the generation job (a recalled image's transparency, where its starting image came from).
 */
export async function runPaletteGeneration(
  engine: EngineService,
  request: WireGenerateRequest,
  history: PromptHistory,
  showInStudio = false,
  job: Omit<GenerationJob, "request" | "document" | "insert"> = {},
): Promise<void> {
  const markdownEditor = vscode.window.activeTextEditor?.document.languageId === "markdown" ? vscode.window.activeTextEditor : undefined;
  try {
    await history.add(request.prompt);
    const outcome = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "Easel", cancellable: true },
      (progress, token) => {
        let last = 0;
        progress.report({ message: "starting…" });
        return generateAndSave(engine, { ...job, request }, {
          signal: signalFor(token),
          onLoadProgress: (e) => progress.report({ message: `loading ${e.component} (${e.index + 1}/${e.total})…` }),
          onProgress: (e) => {
            const pct = ((e.image + e.step / e.steps) / e.images) * 100;
            const image = e.images > 1 ? `image ${e.image + 1}/${e.images}, ` : "";
            progress.report({ message: `${image}step ${e.step}/${e.steps} · ${e.itPerSec.toFixed(2)} it/s`, increment: pct - last });
            last = pct;
          },
        });
      },
    );
    const first = outcome.saved[0];
    if (!first) return;
    if (showInStudio) await vscode.commands.executeCommand("easel.openStudio", { infotext: first.image.infotext, show: first.uri.toString() });
    else await vscode.commands.executeCommand("vscode.open", first.uri, { preview: true, preserveFocus: false });
    const actions = [markdownEditor ? "Insert into Markdown" : undefined, "Reveal", "Open Studio with these settings"].filter((a): a is string => !!a);
    const name = vscode.workspace.asRelativePath(first.uri);
    const picked = await vscode.window.showInformationMessage(`Easel: saved ${name} (seed ${first.image.seed})`, ...actions);
    if (picked === "Insert into Markdown" && markdownEditor) {
      const doc = markdownEditor.document;
      await insertLinks(doc, markdownEditor.selection.active, imageLinks(outcome.saved.map((s) => ({ path: s.uri.path, prompt: request.prompt })), doc.uri.path));
    } else if (picked === "Reveal") {
      await vscode.commands.executeCommand("revealInExplorer", first.uri);
    } else if (picked === "Open Studio with these settings") {
      await vscode.commands.executeCommand("easel.openStudio", { infotext: first.image.infotext });
    }
  } catch (error) {
    await showError(error);
  }
}

/**
 * Fast mode's LoRA for a model of `family` (`id`, else easel.fastLora's when it is made for that
 * family, else the family's default), downloaded once (asked first, with its licence); its catalog
 * id, or undefined when the family has none (the engine then says why or which is missing), or
 * false when the user declined. The palette and the Studio both come here.
 */
export async function ensureFastLora(family: string | undefined, id?: string): Promise<string | undefined | false> {
  const settings = readSettings();
  const entry = family ? (id !== undefined ? fastLorasForFamily(family).find((l) => l.id === id) : fastLoraForFamily(family, settings.fastLora)) : undefined;
  if (!entry) return undefined;
  const store = modelStore(settings);
  if (await findStoreFile(store, entry)) return entry.id;
  const ok = await vscode.window.showInformationMessage(`Easel: fast mode merges ${entry.name} (${entry.license.name}, from ${entry.repo}) into the model; download it once?`, "Download");
  if (!ok) return false;
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Easel: downloading ${entry.name}`, cancellable: true }, async (progress, token) => {
    const options = hubOptions(settings, signalFor(token), (p) => progress.report({ message: formatProgressLine(p) }));
    await pullSingleFile(entry, { ...options, otherwise: "or use a LoRA file instead" });
  });
  return entry.id;
}

/**
 * The palette's model family without loading it: the catalog's for a catalog id, else what the
 * folder's configs say (the engine's folderFamily) for a model folder or a Hub repository already
 * downloaded; undefined otherwise (nothing to read yet: the engine decides, with the family's default LoRA).
 */
async function paletteFamily(settings: EaselSettings): Promise<string | undefined> {
  const entry = findCatalogEntry(settings.model);
  if (entry) return entry.family;
  try {
    const { dir } = await resolveModelChoice(settings, new AbortController().signal, undefined, false);
    return folderFamily(await readModelFolder(dir));
  } catch {
    return undefined;
  }
}

export function registerGenerateImageCommand(engine: EngineService, history: PromptHistory): vscode.Disposable {
  const command = (id: string, kind: "image" | "draft" | "texture" | "fast") =>
    vscode.commands.registerCommand(id, async (prompt?: unknown) => {
      const text = typeof prompt === "string" ? prompt : await askPrompt(history);
      if (text === undefined) return;
      let fastLora: string | undefined;
      if (kind === "fast") {
        try {
          const got = await ensureFastLora(await paletteFamily(readSettings()));
          if (got === false) return;
          fastLora = got;
        } catch (error) {
          await showError(error);
          return;
        }
      }
      // A draft decodes through TAESD (seconds instead of the VAE's tens on a CPU) and says so in its
      // metadata; a texture tiles seamlessly (Tiling: True), and the Studio shows it repeated 2×2; fast
      // mode merges the chosen step-distillation LoRA and runs its recipe (recorded as that LoRA, sampler and spacing).
      const extra = kind === "draft" ? { decoder: "taesd" as const } : kind === "texture" ? { tileable: true } : kind === "fast" ? { fast: true, ...(fastLora ? { fastLora } : {}) } : {};
      await runPaletteGeneration(engine, { prompt: text, ...extra }, history, kind === "texture");
    });
  return vscode.Disposable.from(command("easel.generateImage", "image"), command("easel.generateDraft", "draft"), command("easel.generateTexture", "texture"), command("easel.generateFast", "fast"));
}
